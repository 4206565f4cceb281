package controlplane

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/test/bufconn"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/acl"
	"github.com/affluent-io/affluent/controlplane/apikey"
	"github.com/affluent-io/affluent/controlplane/audit"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/brokerconfig"
	"github.com/affluent-io/affluent/controlplane/certificateauthority"
	"github.com/affluent-io/affluent/controlplane/certificatepool"
	"github.com/affluent-io/affluent/controlplane/clientquota"
	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/environment"
	"github.com/affluent-io/affluent/controlplane/identitypool"
	"github.com/affluent-io/affluent/controlplane/identityprovider"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/operation"
	"github.com/affluent-io/affluent/controlplane/organization"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rolebinding"
	"github.com/affluent-io/affluent/controlplane/scramcredential"
	"github.com/affluent-io/affluent/controlplane/serviceaccount"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/topic"
	"github.com/affluent-io/affluent/controlplane/user"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// Options configure a control plane.
type Options struct {
	// MetadataURL is the database: sqlite:///path/metadata.db or postgres://….
	MetadataURL string
	// Provisioner makes clusters real. Default: serverless clusters on the
	// shared fleet at SharedBootstrap, whose data DataDropper deletes, and
	// DEDICATED ones through DedicatedProvisioner (nil: they fail), whose
	// calls run in the background (cluster.Background): they take seconds.
	Provisioner          cluster.Provisioner
	SharedBootstrap      string
	DataDropper          cluster.DataDropper
	DedicatedProvisioner cluster.Provisioner
	// KafkaAdmin reaches clusters' brokers for topics, ACLs and client
	// quotas; without it those APIs answer CLUSTER_UNAVAILABLE.
	KafkaAdmin kafka.Admin
	// RESTEndpoint is the REST base URL clusters report (status.rest_endpoint).
	RESTEndpoint string
	// TokenVerifier checks bearer tokens of the API; nil means the OAuth
	// service's (see OAuthIssuer), or refusing them when there is none.
	TokenVerifier access.TokenVerifier
	// OAuthIssuer is the iss of the OAuth tokens the control plane issues,
	// the base URL of the REST API (default RESTEndpoint; no tokens when
	// both are empty).
	OAuthIssuer string
	// TokenLifetime (default 1h) and KeyRotation (default 24h) are the
	// OAuth service's; see oauth.Options.
	TokenLifetime time.Duration
	KeyRotation   time.Duration
	// Metrics registers the control plane's metrics (nil: unexported).
	Metrics prometheus.Registerer
	// RateLimit is each principal's requests per second (default 50) and
	// RateBurst its burst (default 100); a negative RateLimit disables limits.
	RateLimit float64
	RateBurst int
	// HashParams are argon2id's costs for new secrets (default
	// credential.DefaultParams; tests use cheaper ones).
	HashParams *credential.Params
	// ReconcileInterval is the period of the reconciler's passes (default 2s).
	ReconcileInterval time.Duration
	// BrokerSecret is what brokers present to watch their config
	// (brokerconfig); empty refuses every broker.
	BrokerSecret string
	// InternalCredentialHash is the argon2id hash of the secret of the
	// control plane's own Kafka admin connections, handed to brokers.
	InternalCredentialHash string
	// BrokerConfigResync is how often brokers' snapshots are rebuilt
	// without a write to cue it (default brokerconfig.DefaultResync).
	BrokerConfigResync time.Duration
	Logger             *slog.Logger
}

// ControlPlane is Affluent's control plane: the gRPC services over one
// store, the gate every RPC passes (authentication, rate limits,
// authorization, audit) and the cluster reconciler.
type ControlPlane struct {
	opts       Options
	log        *slog.Logger
	store      *store.Store
	verifier   *credential.Verifier
	auth       *access.Authenticator
	gate       *access.Interceptor
	reconciler *cluster.Reconciler
	// dedicated runs the DEDICATED clusters' provisioner (nil without one).
	dedicated *cluster.Background
	register  func(grpc.ServiceRegistrar)
	tokens    *oauth.Service // nil without an issuer
	audit     *auditQueue    // audit events from outside RPCs
	rules     *kafkaauth.Rules
	brokerPub *brokerconfig.Publisher
	brokerSvc *brokerconfig.Service
	// providerKeys are identity providers' JWKS for brokers (brokers.go).
	providerKeys *providerKeys
	// rpcMetrics count and time every RPC (grpc_server_*), of both the
	// network server and the in-process one the gateway calls.
	rpcMetrics *grpcprom.ServerMetrics

	// local serves the in-process connection the REST gateway uses.
	local     *grpc.Server
	localLis  *bufconn.Listener
	localConn *grpc.ClientConn
	localDone chan struct{}
	closeOnce sync.Once
}

// Open connects to the metadata database (migrating it) and assembles the
// services. Call Run to reconcile clusters, ServeGRPC to serve gRPC, and
// Close when done.
func Open(ctx context.Context, opts Options) (*ControlPlane, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HashParams == nil {
		opts.HashParams = &credential.DefaultParams
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = 50
	}
	if opts.RateBurst == 0 {
		opts.RateBurst = 100
	}
	var dedicated *cluster.Background
	if opts.Provisioner == nil {
		router := cluster.Router{Serverless: cluster.NewSharedProvisioner(opts.SharedBootstrap, opts.DataDropper)}
		if opts.DedicatedProvisioner != nil {
			dedicated = cluster.NewBackground(opts.DedicatedProvisioner, 0)
			router.Dedicated = dedicated
		}
		opts.Provisioner = router
	}
	st, err := store.Open(ctx, opts.MetadataURL)
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{opts: opts, log: opts.Logger, store: st, dedicated: dedicated}
	cp.rpcMetrics = grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets(prometheus.ExponentialBuckets(0.0005, 2.5, 12))))
	if opts.Metrics != nil {
		if err := opts.Metrics.Register(cp.rpcMetrics); err != nil {
			st.Close()
			return nil, fmt.Errorf("register RPC metrics: %w", err)
		}
	}
	cp.verifier = credential.NewVerifier(5*time.Minute, 10000)
	cp.audit = &auditQueue{events: make(chan func(context.Context) (resource.AuditEvent, bool), 256), store: st, log: opts.Logger}
	if issuer := cmp.Or(opts.OAuthIssuer, opts.RESTEndpoint); issuer != "" {
		clients := func(ctx context.Context, key, secret string) (resource.APIKey, error) {
			return cp.auth.VerifyAPIKey(ctx, key, secret)
		}
		cp.tokens, err = oauth.New(st, clients, oauth.Options{Issuer: issuer, TokenLifetime: opts.TokenLifetime,
			KeyRotation: opts.KeyRotation, Logger: opts.Logger, Metrics: opts.Metrics})
		if err != nil {
			st.Close()
			return nil, err
		}
		if opts.TokenVerifier == nil {
			opts.TokenVerifier = restTokens{cp}
		}
	}
	cp.auth = access.NewAuthenticator(st, cp.verifier, opts.TokenVerifier)
	var kafkaTokens kafkaauth.TokenVerifier
	if cp.tokens != nil {
		kafkaTokens = cp.tokens
	}
	cp.rules = kafkaauth.New(storeDirectory{st}, cp.verifier, kafkaTokens, opts.Logger)
	var limiter *access.Limiter
	if opts.RateLimit > 0 {
		limiter = access.NewLimiter(opts.RateLimit, opts.RateBurst)
	}
	cp.gate = access.NewInterceptor(access.InterceptorOptions{
		Authenticator:  cp.auth,
		Audit:          st,
		Limiter:        limiter,
		Logger:         opts.Logger,
		TrustForwarded: isLocalPeer,
	})
	cp.reconciler = cluster.NewReconciler(st, opts.Provisioner, cluster.ReconcilerOptions{
		RestEndpoint: opts.RESTEndpoint, Interval: opts.ReconcileInterval, Logger: opts.Logger, Metrics: opts.Metrics,
	})
	if dedicated != nil {
		dedicated.OnDone(cp.reconciler.Notify)
	}

	guard := access.NewGuard(bindingSource{st})
	kc := kafka.NewClusters(st.Clusters(), opts.KafkaAdmin)
	services := struct {
		operation            *operation.Service
		organization         *organization.Service
		environment          *environment.Service
		cluster              *cluster.Service
		topic                *topic.Service
		acl                  *acl.Service
		clientQuota          *clientquota.Service
		serviceAccount       *serviceaccount.Service
		user                 *user.Service
		apiKey               *apikey.Service
		roleBinding          *rolebinding.Service
		identityProvider     *identityprovider.Service
		identityPool         *identitypool.Service
		certificateAuthority *certificateauthority.Service
		certificatePool      *certificatepool.Service
		scramCredential      *scramcredential.Service
		audit                *audit.Service
	}{
		operation.New(guard, st.Operations()),
		organization.New(guard, st.Organizations()),
		environment.New(guard, st.Environments()),
		cluster.New(guard, st.Clusters(), st.Environments(), st, cp.reconciler),
		topic.New(guard, kc),
		acl.New(guard, kc, st),
		clientquota.New(guard, st.ClientQuotas(), kc, st),
		serviceaccount.New(guard, st.ServiceAccounts()),
		user.New(guard, st.Users()),
		apikey.New(guard, st.APIKeys(), st, st.Clusters(), cp.verifier, *opts.HashParams),
		rolebinding.New(guard, st.RoleBindings(), st),
		identityprovider.New(guard, st.IdentityProviders()),
		identitypool.New(guard, st.IdentityPools(), st.IdentityProviders()),
		certificateauthority.New(guard, st.CertificateAuthorities()),
		certificatepool.New(guard, st.CertificatePools(), st.CertificateAuthorities(), st.Clusters()),
		scramcredential.New(guard, kc),
		audit.New(guard, st),
	}
	cp.brokerPub = brokerconfig.NewPublisher(cp.brokerSnapshot, st.Commits, opts.BrokerConfigResync, opts.Logger)
	if cp.tokens != nil {
		cp.providerKeys = newProviderKeys(cp.tokens.ProviderJWKS, cp.brokerPub.Notify, opts.Logger)
	}
	st.OnCommit(cp.brokerPub.Notify)
	cp.brokerSvc = brokerconfig.New(cp.brokerPub, brokerBackend{cp}, opts.BrokerSecret, opts.Logger)
	cp.register = func(s grpc.ServiceRegistrar) {
		bpb.RegisterBrokerConfigServiceServer(s, cp.brokerSvc)
		pb.RegisterOperationServiceServer(s, services.operation)
		pb.RegisterOrganizationServiceServer(s, services.organization)
		pb.RegisterEnvironmentServiceServer(s, services.environment)
		pb.RegisterClusterServiceServer(s, services.cluster)
		pb.RegisterTopicServiceServer(s, services.topic)
		pb.RegisterAclServiceServer(s, services.acl)
		pb.RegisterClientQuotaServiceServer(s, services.clientQuota)
		pb.RegisterServiceAccountServiceServer(s, services.serviceAccount)
		pb.RegisterUserServiceServer(s, services.user)
		pb.RegisterApiKeyServiceServer(s, services.apiKey)
		pb.RegisterRoleBindingServiceServer(s, services.roleBinding)
		pb.RegisterIdentityProviderServiceServer(s, services.identityProvider)
		pb.RegisterIdentityPoolServiceServer(s, services.identityPool)
		pb.RegisterCertificateAuthorityServiceServer(s, services.certificateAuthority)
		pb.RegisterCertificatePoolServiceServer(s, services.certificatePool)
		pb.RegisterScramCredentialServiceServer(s, services.scramCredential)
		pb.RegisterAuditEventServiceServer(s, services.audit)
	}

	if err := cp.startLocal(); err != nil {
		st.Close()
		return nil, err
	}
	return cp, nil
}

// bindingSource reads role bindings for the authorization guard.
type bindingSource struct{ st *store.Store }

func (b bindingSource) BindingsOf(ctx context.Context, org, principal string) ([]authz.Binding, error) {
	rbs, err := b.st.RoleBindings().ListAll(ctx, org, store.Query{Filters: []store.Filter{store.Eq("principal", principal)}})
	if err != nil {
		return nil, err
	}
	out := make([]authz.Binding, len(rbs))
	for i, rb := range rbs {
		out[i] = authz.Binding{Principal: rb.Principal, RoleName: rb.RoleName, CRNPattern: rb.CRNPattern}
	}
	return out, nil
}

// NewGRPCServer returns a gRPC server with every service registered behind
// the gate (authentication from metadata `authorization`, rate limits,
// audit, errors from the catalogue). The brokers' service is behind the
// broker secret instead.
func (cp *ControlPlane) NewGRPCServer(opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		// Traces join the caller's (the gateway's HTTP request, an SDK
		// call) when it sent a trace context; the metrics see every call,
		// refused ones included.
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(cp.rpcMetrics.UnaryServerInterceptor(),
			cp.brokerSvc.UnaryInterceptor(cp.gate.Unary), cp.publishedWrites),
		grpc.ChainStreamInterceptor(cp.rpcMetrics.StreamServerInterceptor(), cp.brokerSvc.StreamInterceptor),
		grpc.MaxRecvMsgSize(4 << 20),
	}, append(brokerconfig.ServerOptions(), opts...)...)
	s := grpc.NewServer(opts...)
	cp.register(s)
	cp.rpcMetrics.InitializeMetrics(s)
	return s
}

// ServeGRPC serves the gRPC API on lis until ctx ends, then stops
// gracefully (at most 5s).
func (cp *ControlPlane) ServeGRPC(ctx context.Context, lis net.Listener) error {
	// Brokers' watches never end on their own: they are ended first, so
	// that the graceful stop waits for API calls only.
	stopping, stopWatches := context.WithCancel(context.Background())
	defer stopWatches()
	s := cp.NewGRPCServer(brokerconfig.EndWatchesWith(stopping))
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc server: %w", err)
	case <-ctx.Done():
	}
	stopWatches()
	stopped := make(chan struct{})
	go func() { s.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		s.Stop()
	}
	if err := <-errc; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc server: %w", err)
	}
	return nil
}

// maxPublishWait bounds how long an API call waits for its writes to
// reach the brokers' snapshot.
const maxPublishWait = time.Second

// publishedWrites answers an API call only once the writes committed
// before it returned are in the snapshot brokers are sent, so that a
// client told "created" (an API key, a role binding, a running cluster)
// finds brokers knowing it.
func (cp *ControlPlane) publishedWrites(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err == nil && !strings.HasPrefix(info.FullMethod, brokerconfig.MethodPrefix) {
		wctx, cancel := context.WithTimeout(ctx, maxPublishWait)
		cp.brokerPub.WaitPublished(wctx)
		cancel()
	}
	return resp, err
}

// localNetwork names the in-process connection; its peer is trusted to
// forward the REST caller's address.
const localNetwork = "bufconn"

func isLocalPeer(ctx context.Context) bool {
	p, ok := peer.FromContext(ctx)
	return ok && p.Addr != nil && p.Addr.Network() == localNetwork
}

func (cp *ControlPlane) startLocal() error {
	cp.localLis = bufconn.Listen(1 << 20)
	cp.local = cp.NewGRPCServer()
	cp.localDone = make(chan struct{})
	go func() {
		defer close(cp.localDone)
		_ = cp.local.Serve(cp.localLis)
	}()
	conn, err := grpc.NewClient("passthrough:///affluent-controlplane",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return cp.localLis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	)
	if err != nil {
		cp.local.Stop()
		<-cp.localDone
		return fmt.Errorf("in-process grpc connection: %w", err)
	}
	cp.localConn = conn
	return nil
}

// Conn is an in-process connection to the control plane, for the REST
// gateway (gateway.New). It stays valid until Close.
func (cp *ControlPlane) Conn() *grpc.ClientConn { return cp.localConn }

// Run reconciles clusters, rotates OAuth signing keys and writes the audit
// events of outside RPCs until ctx ends.
func (cp *ControlPlane) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { cp.audit.run(ctx) })
	wg.Go(func() { cp.brokerPub.Run(ctx) })
	if cp.tokens != nil {
		wg.Go(func() { _ = cp.tokens.Run(ctx) })
		wg.Go(func() { cp.providerKeys.run(ctx) })
	}
	return cp.reconciler.Run(ctx)
}

// Store is the metadata store (for tests and tools).
func (cp *ControlPlane) Store() *store.Store { return cp.store }

// Close stops the in-process server and closes the store.
func (cp *ControlPlane) Close() error {
	var err error
	cp.closeOnce.Do(func() {
		if cp.dedicated != nil {
			cp.dedicated.Close()
		}
		cp.localConn.Close()
		cp.local.Stop()
		<-cp.localDone
		err = cp.store.Close()
	})
	return err
}
