// Package cpwatch is the broker's side of the control plane's config
// watch (controlplane/brokerconfig): a client that keeps the newest
// snapshot of tenants, credential verifiers, role bindings and limits in
// memory and on disk, reconnects with backoff, and serves from the
// persisted snapshot while the control plane is unreachable. Over the
// snapshot it implements what the broker asks about credentials and
// permissions (broker.Authenticator, TokenAuthenticator,
// CertificateAuthenticator, Policies, LimitSource, the check of open
// sessions against each new snapshot) with the control plane's own rules
// (controlplane/kafkaauth), asking the control plane once about a
// credential the snapshot does not know yet, and it carries the broker's
// metered usage back (usage.Sink). It lives in
// internal/ because it joins the two sides: the dataplane does not import
// the control plane.
package cpwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/protobuf/proto"

	"github.com/affluent-io/affluent/controlplane/brokerconfig"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// SnapshotFile is the name of the persisted snapshot in the data dir.
const SnapshotFile = "broker-config.snapshot"

// Options configure a Client.
type Options struct {
	// Addr is the control plane's gRPC address (host:port).
	Addr string
	// Secret is the shared broker secret the control plane requires.
	Secret string
	// SnapshotPath is where the newest snapshot is persisted ("": not
	// persisted).
	SnapshotPath string
	// BrokerID names this broker in the control plane's logs.
	BrokerID string
	// DedicatedCluster, when set, is the one DEDICATED cluster this broker
	// serves; without it the broker is of the shared fleet and serves the
	// SERVERLESS clusters. Connections of any other cluster fail
	// authentication.
	DedicatedCluster string
	// MinBackoff and MaxBackoff bound the wait between reconnections
	// (defaults 100ms and 5s).
	MinBackoff, MaxBackoff time.Duration
	// FallbackTimeout bounds a check asked of the control plane (default 3s).
	FallbackTimeout time.Duration
	// Metrics registers the watch's metrics (nil: unexported).
	Metrics prometheus.Registerer
	Logger  *slog.Logger
}

// Client keeps the newest snapshot and answers the broker from it.
type Client struct {
	opts  Options
	log   *slog.Logger
	conn  *grpc.ClientConn
	rpc   bpb.BrokerConfigServiceClient
	rules *kafkaauth.Rules
	// keys checks secrets against the snapshot's hashes and caches
	// successes (keyed by an HMAC of the secret), so reconnecting clients
	// do not pay argon2 each time.
	keys *credential.Verifier

	// current is the index of the newest snapshot (nil before any).
	current atomic.Pointer[index]
	// connected is set while a watch stream delivers.
	connected atomic.Bool
	// fallbacks bounds the checks asked of the control plane at once.
	fallbacks chan struct{}
	failures  *failureQueue
	usage     *usageReporter
	// vouched are credentials the control plane accepted that the
	// snapshot lacked (sessions.go).
	vouched vouched
	// onSnapshot, when set, is called after each snapshot is served.
	onSnapshot func()
	// snapshotBytes and appliedAt describe the snapshot served (metrics).
	snapshotBytes atomic.Int64
	appliedAt     atomic.Int64 // Unix nanoseconds; 0: none applied by this process

	mu sync.Mutex // guards updated
	// updated is closed (and replaced) when current changes.
	updated chan struct{}
}

// ErrNoSnapshotYet is returned by lookups before any snapshot is held.
var ErrNoSnapshotYet = errors.New("no broker config snapshot yet (control plane not reached and none persisted)")

// New returns a client; it serves the persisted snapshot (if any) at once
// and the control plane's once Run has reached it. A persisted snapshot
// that cannot be read is an error: the operator decides (deleting it makes
// the broker wait for the control plane).
func New(opts Options) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	if opts.FallbackTimeout <= 0 {
		opts.FallbackTimeout = 3 * time.Second
	}
	if opts.Addr == "" {
		return nil, errors.New("control plane address required")
	}
	c := &Client{opts: opts, log: opts.Logger, fallbacks: make(chan struct{}, 8), updated: make(chan struct{})}
	c.keys = credential.NewVerifier(5*time.Minute, 10000)
	c.rules = kafkaauth.New(directory{c}, c.keys, tokens{c}, opts.Logger)
	c.failures = newFailureQueue()
	c.usage = newUsageReporter()
	if opts.SnapshotPath != "" {
		snap, err := loadSnapshot(opts.SnapshotPath)
		switch {
		case errors.Is(err, ErrNoSnapshot):
		case err != nil:
			return nil, err
		default:
			c.current.Store(newIndex(snap, c.log))
			c.snapshotBytes.Store(int64(proto.Size(snap)))
			c.log.Info("serving persisted broker config until the control plane answers", "version", snap.GetVersion(),
				"created", snap.GetCreateTime().AsTime())
		}
	}
	conn, err := grpc.NewClient(opts.Addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(brokerSecret(opts.Secret)),
		// A snapshot is the whole state: tens of thousands of keys and
		// bindings exceed gRPC's default 4 MiB.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(brokerconfig.MaxSnapshotBytes)),
		// A control plane that vanished without closing the connection
		// is noticed within about 15 s (brokerconfig.ServerOptions).
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: brokerconfig.KeepaliveTime,
			Timeout: brokerconfig.KeepaliveTimeout, PermitWithoutStream: true}))
	if err != nil {
		return nil, fmt.Errorf("control plane client %s: %w", opts.Addr, err)
	}
	c.conn, c.rpc = conn, bpb.NewBrokerConfigServiceClient(conn)
	if opts.Metrics != nil {
		if err := c.registerMetrics(opts.Metrics); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// brokerSecret sends the broker secret with every call.
type brokerSecret string

func (s brokerSecret) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(s)}, nil
}

// RequireTransportSecurity is false: the control plane's gRPC listener is
// plaintext today (a private network); TLS is for later.
func (brokerSecret) RequireTransportSecurity() bool { return false }

// Close releases the connection; call it after Run returned.
func (c *Client) Close() error { return c.conn.Close() }

// Version is the version of the snapshot served (0: none).
func (c *Client) Version() uint64 {
	if x := c.current.Load(); x != nil {
		return x.snap.GetVersion()
	}
	return 0
}

// Connected reports whether a watch stream is delivering.
func (c *Client) Connected() bool { return c.connected.Load() }

// Updated returns a channel closed when the next snapshot is applied.
func (c *Client) Updated() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updated
}

// Run watches the control plane until ctx ends, reconnecting with
// backoff, and reports failed authentications to it.
func (c *Client) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.failures.run(ctx, c.rpc, c.log) })
	backoff := c.opts.MinBackoff
	for ctx.Err() == nil {
		delivered, err := c.watch(ctx)
		c.connected.Store(false)
		if ctx.Err() != nil {
			break
		}
		if delivered {
			backoff = c.opts.MinBackoff
		}
		c.log.Warn("control plane config watch interrupted; serving the last snapshot", "addr", c.opts.Addr,
			"version", c.Version(), "retry_in", backoff, "err", err)
		// Jitter spreads a fleet's reconnections after a control plane
		// restart.
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
	return nil
}

// watch runs one stream until it fails; delivered says whether it
// brought at least one snapshot.
func (c *Client) watch(ctx context.Context) (delivered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.rpc.WatchBrokerConfig(ctx, &bpb.WatchBrokerConfigRequest{KnownVersion: c.Version(), BrokerId: c.opts.BrokerID})
	if err != nil {
		return false, err
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return delivered, err
		}
		if !delivered {
			c.log.Info("control plane config watch connected", "addr", c.opts.Addr, "version", resp.GetSnapshot().GetVersion(),
				"store_sequence", resp.GetSnapshot().GetStoreSequence())
		}
		c.connected.Store(true)
		c.apply(resp.GetSnapshot(), !delivered)
		delivered = true
	}
}

// apply serves snap unless it is older than the snapshot held, and
// persists it; first says snap is the first of a new stream.
//
// Snapshots are ordered by store sequence first: the write count of the
// database every control-plane replica shares, so one of a lower
// sequence is the state before writes the held one has (a replica that
// has not rebuilt since a revocation) and is ignored, whichever replica
// sent either. Versions are each replica's own clock and only order the
// snapshots of one stream (one replica); at an equal sequence the first
// snapshot of a new stream is taken whatever its version, as the replica
// now watched holds the same writes (its versions may run behind the
// other's clock), and so is a restarted broker's first after its
// persisted one. The database's sequence never goes back, so the control
// plane's current snapshot is never refused in favour of a persisted one.
func (c *Client) apply(snap *bpb.BrokerSnapshot, first bool) bool {
	if snap == nil || snap.GetVersion() == 0 {
		return false
	}
	if cur := c.current.Load(); cur != nil {
		held := cur.snap
		switch {
		case snap.GetStoreSequence() < held.GetStoreSequence():
			c.log.Info("broker config snapshot older than the one served (a control-plane replica behind); ignored",
				"store_sequence", snap.GetStoreSequence(), "served_store_sequence", held.GetStoreSequence())
			return false
		case snap.GetStoreSequence() == held.GetStoreSequence() && !first && snap.GetVersion() <= held.GetVersion():
			c.log.Debug("broker config snapshot not newer than the one served; ignored", "version", snap.GetVersion(),
				"served", held.GetVersion())
			return false
		}
	}
	c.current.Store(newIndex(snap, c.log))
	c.snapshotBytes.Store(int64(proto.Size(snap)))
	c.appliedAt.Store(time.Now().UnixNano())
	c.mu.Lock()
	close(c.updated)
	c.updated = make(chan struct{})
	c.mu.Unlock()
	c.vouched.forgetBefore(snap.GetStoreSequence())
	if c.onSnapshot != nil {
		c.onSnapshot()
	}
	if c.opts.SnapshotPath != "" {
		if err := saveSnapshot(c.opts.SnapshotPath, snap); err != nil {
			c.log.Warn("persisting broker config snapshot failed; serving it from memory", "err", err)
		}
	}
	return true
}

// WaitReady waits until a snapshot is served (persisted or received), or
// ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		updated := c.Updated()
		if c.current.Load() != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the control plane's broker config: %w", ctx.Err())
		case <-updated:
		}
	}
}
