// Package brokerconfig is the control plane's internal service for
// brokers: a watch of versioned snapshots of what brokers need to
// authenticate and authorize Kafka clients (tenants, credential verifiers,
// role bindings, limits), the unary checks a broker falls back to for a
// credential newer than its snapshot, and the audit of failed Kafka
// authentications. Brokers authenticate with the shared broker secret.
package brokerconfig

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// AuthFailure is a failed Kafka authentication a broker reports.
type AuthFailure struct {
	Time                                                   time.Time
	Remote, Listener, Mechanism, Identity, Cluster, Reason string
}

// Backend is what the service asks of the control plane.
type Backend interface {
	VerifyKafkaKey(ctx context.Context, key, secret string) (kafkaauth.Identity, error)
	VerifyKafkaToken(ctx context.Context, token, cluster string) (kafkaauth.Identity, error)
	AuthenticateKafkaCertificate(ctx context.Context, chain []*x509.Certificate) (kafkaauth.Identity, error)
	RecordKafkaAuthFailure(AuthFailure)
	// WriteSequence is the shared database's count of configuration
	// writes (store.Store.WriteSequence): what snapshots are ordered by.
	WriteSequence(ctx context.Context) (uint64, error)
	// UsageStore takes the usage brokers report (ReportUsage).
	UsageStore
}

// Service implements BrokerConfigService.
type Service struct {
	bpb.UnimplementedBrokerConfigServiceServer
	pub     *Publisher
	backend Backend
	log     *slog.Logger
	// secret is the SHA-256 of the broker secret; zero when none is
	// configured, and then every call is refused.
	secret    [sha256.Size]byte
	hasSecret bool
	// usage and batches store usage reports once per batch (usage.go).
	usage   UsageStore
	batches usageBatches
}

var _ bpb.BrokerConfigServiceServer = (*Service)(nil)

// New returns the service over pub and backend; brokers must present
// secret (empty: the service refuses everyone).
func New(pub *Publisher, backend Backend, secret string, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{pub: pub, backend: backend, usage: backend, log: log}
	if secret != "" {
		s.secret, s.hasSecret = sha256.Sum256([]byte(secret)), true
	}
	return s
}

// MethodPrefix starts the full gRPC method name of every RPC of the
// service: the control plane's server routes them past the API's gate.
var MethodPrefix = "/" + bpb.BrokerConfigService_ServiceDesc.ServiceName + "/"

// Authenticate admits a broker presenting the broker secret as gRPC
// metadata `authorization: Bearer <secret>`; default deny.
func (s *Service) Authenticate(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	var given string
	if v := md.Get("authorization"); len(v) == 1 {
		given, _ = strings.CutPrefix(v[0], "Bearer ")
	}
	sum := sha256.Sum256([]byte(given))
	if !s.hasSecret || given == "" || subtle.ConstantTimeCompare(sum[:], s.secret[:]) != 1 {
		return status.Error(codes.Unauthenticated, "broker secret required")
	}
	return nil
}

// UnaryInterceptor authenticates the service's unary RPCs and passes
// every other method to next.
func (s *Service) UnaryInterceptor(next grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !strings.HasPrefix(info.FullMethod, MethodPrefix) {
			return next(ctx, req, info, handler)
		}
		if err := s.Authenticate(ctx); err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamInterceptor authenticates the watch; the public API has no
// streaming RPC, so any other stream is refused.
func (s *Service) StreamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !strings.HasPrefix(info.FullMethod, MethodPrefix) {
		return status.Errorf(codes.Unimplemented, "unknown stream %s", info.FullMethod)
	}
	if err := s.Authenticate(ss.Context()); err != nil {
		return err
	}
	return handler(srv, ss)
}

// ErrShuttingDown ends the watches of a server that is stopping
// (EndWatchesWith).
var ErrShuttingDown = errors.New("control plane shutting down")

// EndWatchesWith is a server option that ends the server's watches when
// stop ends, with Unavailable, so that brokers reconnect (to another
// replica) at once. A watch never ends on its own: without this, a
// graceful stop waits for them until it gives up and cuts the API calls
// still in flight as well.
func EndWatchesWith(stop context.Context) grpc.ServerOption {
	return grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !strings.HasPrefix(info.FullMethod, MethodPrefix) {
			return handler(srv, ss)
		}
		ctx, cancel := context.WithCancelCause(ss.Context())
		defer cancel(nil)
		unregister := context.AfterFunc(stop, func() { cancel(ErrShuttingDown) })
		defer unregister()
		return handler(srv, stoppableStream{ServerStream: ss, ctx: ctx})
	})
}

// stoppableStream is a server stream whose context also ends with the
// server (EndWatchesWith).
type stoppableStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s stoppableStream) Context() context.Context { return s.ctx }

// WatchBrokerConfig sends the newest snapshot at once, then each newer
// one, until the broker goes away or the server stops.
func (s *Service) WatchBrokerConfig(req *bpb.WatchBrokerConfigRequest, stream grpc.ServerStreamingServer[bpb.WatchBrokerConfigResponse]) error {
	ctx := stream.Context()
	s.log.Info("broker watching config", "broker", req.GetBrokerId(), "known_version", req.GetKnownVersion())
	defer s.log.Info("broker stopped watching config", "broker", req.GetBrokerId())
	var sent uint64
	for {
		snap, changed := s.pub.Latest()
		if snap != nil && snap.GetVersion() != sent {
			if err := stream.Send(&bpb.WatchBrokerConfigResponse{Snapshot: snap}); err != nil {
				return err
			}
			sent = snap.GetVersion()
		}
		select {
		case <-ctx.Done():
			if errors.Is(context.Cause(ctx), ErrShuttingDown) {
				return status.Error(codes.Unavailable, ErrShuttingDown.Error())
			}
			return nil
		case <-changed:
		}
	}
}

// publishedVersion is the version of the newest snapshot published, read
// before a check: every snapshot above it is built after the check.
func (s *Service) publishedVersion() uint64 {
	snap, _ := s.pub.Latest()
	return snap.GetVersion()
}

// writeSequence is the shared database's write sequence read after a
// check accepted a credential (see the responses' store_sequence).
func (s *Service) writeSequence(ctx context.Context) (uint64, error) {
	seq, err := s.backend.WriteSequence(ctx)
	if err != nil {
		return 0, status.Errorf(codes.Unavailable, "check failed: %v", err)
	}
	return seq, nil
}

// refusedOr turns a refusal into an answer and keeps other errors.
func refusedOr(err error, refusals ...error) (string, error) {
	for _, r := range refusals {
		if errors.Is(err, r) {
			return err.Error(), nil
		}
	}
	return "", status.Errorf(codes.Unavailable, "check failed: %v", err)
}

func identity(id kafkaauth.Identity) *bpb.KafkaIdentity {
	out := &bpb.KafkaIdentity{Principal: id.Principal, Cluster: id.Cluster, Identity: id.Identity,
		ApiKey: id.Grant.APIKey, Pool: id.Grant.Pool}
	if !id.Expiry.IsZero() {
		out.ExpireTime = timestamppb.New(id.Expiry)
	}
	return out
}

// VerifyKafkaKey checks a key the broker's snapshot does not hold.
func (s *Service) VerifyKafkaKey(ctx context.Context, req *bpb.VerifyKafkaKeyRequest) (*bpb.VerifyKafkaKeyResponse, error) {
	published := s.publishedVersion()
	id, err := s.backend.VerifyKafkaKey(ctx, req.GetKey(), req.GetSecret())
	if err != nil {
		refused, err := refusedOr(err, kafkaauth.ErrInvalidKey)
		return &bpb.VerifyKafkaKeyResponse{Refused: refused}, err
	}
	seq, err := s.writeSequence(ctx)
	if err != nil {
		return nil, err
	}
	return &bpb.VerifyKafkaKeyResponse{Identity: identity(id), SnapshotVersion: published, StoreSequence: seq}, nil
}

// VerifyKafkaToken checks a token the broker's snapshot cannot decide.
func (s *Service) VerifyKafkaToken(ctx context.Context, req *bpb.VerifyKafkaTokenRequest) (*bpb.VerifyKafkaTokenResponse, error) {
	published := s.publishedVersion()
	id, err := s.backend.VerifyKafkaToken(ctx, req.GetToken(), req.GetCluster())
	if err != nil {
		refused, err := refusedOr(err, kafkaauth.ErrInvalidToken)
		return &bpb.VerifyKafkaTokenResponse{Refused: refused}, err
	}
	seq, err := s.writeSequence(ctx)
	if err != nil {
		return nil, err
	}
	return &bpb.VerifyKafkaTokenResponse{Identity: identity(id), SnapshotVersion: published, StoreSequence: seq}, nil
}

// AuthenticateKafkaCertificate maps a chain no pool of the broker's
// snapshot accepts.
func (s *Service) AuthenticateKafkaCertificate(ctx context.Context, req *bpb.AuthenticateKafkaCertificateRequest) (*bpb.AuthenticateKafkaCertificateResponse, error) {
	if len(req.GetChain()) > 10 {
		return nil, status.Error(codes.InvalidArgument, "certificate chain longer than 10")
	}
	chain := make([]*x509.Certificate, 0, len(req.GetChain()))
	for i, der := range req.GetChain() {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return &bpb.AuthenticateKafkaCertificateResponse{Refused: fmt.Sprintf("certificate %d: %v", i, err)}, nil
		}
		chain = append(chain, c)
	}
	published := s.publishedVersion()
	id, err := s.backend.AuthenticateKafkaCertificate(ctx, chain)
	if err != nil {
		refused, err := refusedOr(err, kafkaauth.ErrInvalidCertificate)
		return &bpb.AuthenticateKafkaCertificateResponse{Refused: refused}, err
	}
	seq, err := s.writeSequence(ctx)
	if err != nil {
		return nil, err
	}
	return &bpb.AuthenticateKafkaCertificateResponse{Identity: identity(id), SnapshotVersion: published, StoreSequence: seq}, nil
}

// maxFailuresPerCall bounds one report; brokers batch and drop beyond.
const maxFailuresPerCall = 256

// RecordKafkaAuthFailures queues failures for the audit log.
func (s *Service) RecordKafkaAuthFailures(_ context.Context, req *bpb.RecordKafkaAuthFailuresRequest) (*bpb.RecordKafkaAuthFailuresResponse, error) {
	fs := req.GetFailures()
	if len(fs) > maxFailuresPerCall {
		fs = fs[:maxFailuresPerCall]
	}
	for _, f := range fs {
		s.backend.RecordKafkaAuthFailure(AuthFailure{Time: f.GetTime().AsTime(), Remote: f.GetRemote(),
			Listener: f.GetListener(), Mechanism: f.GetMechanism(), Identity: f.GetIdentity(),
			Cluster: f.GetCluster(), Reason: f.GetReason()})
	}
	return &bpb.RecordKafkaAuthFailuresResponse{}, nil
}

// Keepalive: a broker must notice a control plane that vanished without
// closing its connection (a crashed host, a partition) to stop trusting
// the watch — until it does, a credential its snapshot lacks is still
// asked of the dead control plane, and revocations cannot arrive — and
// the control plane must drop the watches of vanished brokers. Both ends
// ping an idle connection every KeepaliveTime and give up after
// KeepaliveTimeout without an answer, so a vanished peer is noticed within
// about 15 s. The server must permit pings that often (gRPC's default
// refuses pings more often than every 5 minutes with GOAWAY).
const (
	KeepaliveTime    = 10 * time.Second
	KeepaliveTimeout = 5 * time.Second
)

// MaxSnapshotBytes bounds one snapshot message on the wire, both ways
// (the client's receive limit in internal/cpwatch). gRPC's default 4 MiB
// is about 10,000 API keys with their bindings; a broker refused a
// snapshot would reconnect forever serving a stale one.
const MaxSnapshotBytes = 256 << 20

// ServerOptions are the gRPC server options the brokers' watch needs.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxSendMsgSize(MaxSnapshotBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveTime / 2, PermitWithoutStream: true}),
	}
}
