// Package broker is the Kafka protocol server of the dataplane: it accepts
// client connections, authenticates them with SASL, decodes requests and
// answers them from storage (topics and partition logs) and the group
// coordinator. It keeps no durable state of its own.
//
// Authentication (auth.go, sasl.go, tls.go, certauth.go): SASL/PLAIN,
// SCRAM-SHA-256/512, OAUTHBEARER with re-authentication (KIP-368) on every
// listener; TLS listeners (SASL_SSL) and mTLS listeners, whose connections
// authenticate by client certificate (ServeListener).
//
// Protocol plumbing (server.go, conn.go, handler.go, sasl.go) is apart from
// the handlers, one file per Kafka API named after its key (00_produce.go,
// 01_fetch.go, …). Every handler works inside the cluster (tenant) of the
// connection's authenticated principal; nothing in a request names it.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage"
	"github.com/affluent-io/affluent/dataplane/usage"
)

// Defaults of Config.
const (
	DefaultMaxFrameBytes     = 100 << 20 // socket.request.max.bytes of Kafka
	DefaultMaxInFlight       = 16
	DefaultAuthTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 10 * time.Minute // connections.max.idle.ms of Kafka
	DefaultFailedAuthDelay   = 100 * time.Millisecond
	DefaultDefaultPartitions = 1 // num.partitions of Kafka
	// DefaultTransactionalIDExpiration is Kafka's
	// transactional.id.expiration.ms.
	DefaultTransactionalIDExpiration = 7 * 24 * time.Hour
)

// Config configures a Broker. Catalog, Log and Groups are required; so is a
// way to authenticate (Authenticator, or Anonymous for development).
type Config struct {
	// NodeID is this broker's id in Metadata, FindCoordinator and
	// DescribeCluster.
	NodeID int32
	// AdvertisedAddr is the host:port clients are told to connect to.
	// Empty means the local address of each accepted connection, which is
	// right for a single broker reached directly.
	AdvertisedAddr string
	// Membership is the view of the cell's live brokers (routing.go):
	// Metadata lists them, partitions are led and groups coordinated by
	// the broker placement names, and requests for what another broker
	// leads are refused so that clients go there. Nil: this broker alone
	// serves everything. Its Self must be NodeID.
	Membership *membership.Live
	Logger     *slog.Logger

	Catalog storage.Catalog
	Log     storage.Log
	// Groups is the classic group coordinator (*groups.Coordinator).
	Groups GroupCoordinator
	// Transactions keeps the transaction coordinator's state and the
	// partitions' transactional index (txn.go); nil: the Log's, when it
	// keeps them, else transactional ids are refused.
	Transactions storage.Transactions
	// TransactionalIDExpiration is how long a transactional id with no
	// transaction under way is kept after its last change
	// (transactional.id.expiration.ms); then it is forgotten, and its
	// producer, if it comes back, starts afresh with a new producer id.
	TransactionalIDExpiration time.Duration

	// ACLs turns authorization on (authorize.go): every request is
	// authorized against the cluster's Kafka ACLs kept here and the
	// principal's role bindings, default deny, and the ACL APIs manage
	// them. Nil: every authenticated principal may do everything in its
	// own cluster (Kafka without an authorizer), for development and tests.
	ACLs storage.ACLs
	// Policies gives principals' role bindings; nil: ACLs alone decide.
	// It needs ACLs.
	Policies Policies
	// SuperUsers are principals allowed everything in the cluster they
	// connect to, whatever the ACLs (Kafka's super.users).
	SuperUsers []string
	// AuthzCacheTTL is how long role bindings and ACLs are used before
	// being read again: how soon a revocation reaches connected clients.
	AuthzCacheTTL time.Duration
	// ClientQuotas stores the client quotas of DescribeClientQuotas and
	// AlterClientQuotas; nil: those APIs fail.
	ClientQuotas storage.ClientQuotas
	// Limits gives each cluster's limits; nil: clusters are unlimited.
	// It is asked at every use, so a changed limit applies at once.
	Limits LimitSource
	// StorageUsage measures what clusters keep in storage; without it
	// MaxStorageBytes is not enforced and stored bytes are not metered.
	StorageUsage storage.Usage
	// UsageSink receives each cluster's usage per principal and hour
	// (dataplane/usage); nil: usage is exported to Prometheus only.
	UsageSink usage.Sink
	// UsageFlushInterval is how often usage is flushed to UsageSink.
	UsageFlushInterval time.Duration
	// QuotaWindowSamples and QuotaWindowSize are the sliding window byte
	// and request rates are measured over (Kafka's quota.window.num and
	// quota.window.size.seconds).
	QuotaWindowSamples int
	QuotaWindowSize    time.Duration

	// Authenticator checks SASL/PLAIN credentials. When nil, Anonymous
	// must be set.
	Authenticator Authenticator
	// Anonymous, for development and tests only, is the principal of every
	// connection when Authenticator is nil: clients may skip SASL, and
	// SASL/PLAIN with any credentials authenticates as this principal.
	Anonymous *Principal
	// Tokens checks SASL/OAUTHBEARER tokens; OAUTHBEARER is offered when
	// it is set.
	Tokens TokenAuthenticator
	// Scram holds SCRAM credentials; SCRAM-SHA-256 and SCRAM-SHA-512 are
	// offered, and the Admin API manages them, when it is set.
	Scram ScramStore
	// ScramDecoyKey makes the salts of unknown SCRAM users; brokers of a
	// cell should share it, so that no broker's answer tells who exists.
	// Default: random per broker.
	ScramDecoyKey []byte
	// Certificates authenticates the connections of listeners with
	// ClientCertificates (mTLS).
	Certificates CertificateAuthenticator
	// MaxReauth bounds every session (connections.max.reauth.ms): a client
	// must re-authenticate within it (KIP-368). Zero: only expiring
	// credentials (tokens, certificates) bound sessions.
	MaxReauth time.Duration
	// OnAuthFailure, when set, is told of every failed authentication
	// (for the audit log). It must not block.
	OnAuthFailure func(AuthFailure)
	// Metrics registers the broker's metrics; nil keeps them unexported.
	Metrics prometheus.Registerer

	// AutoCreateTopics honours allow_auto_topic_creation in Metadata
	// requests (auto.create.topics.enable; off by default).
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of a topic created with -1
	// partitions or auto-created (num.partitions).
	DefaultPartitions int32

	// MaxFrameBytes bounds the size of a request; a larger size prefix
	// closes the connection before anything is allocated.
	MaxFrameBytes int32
	// MaxInFlight bounds the requests of one connection being processed
	// or waiting to be written; the connection is not read beyond it.
	MaxInFlight int
	// AuthTimeout is how long a new connection has to authenticate.
	AuthTimeout time.Duration
	// IdleTimeout closes an authenticated connection that sends nothing
	// and awaits nothing for this long; it also bounds each write.
	IdleTimeout time.Duration
	// FailedAuthDelay delays the answer to failed authentication, to slow
	// down guessing (connection.failed.authentication.delay.ms).
	FailedAuthDelay time.Duration
}

// SetDefaults fills the zero fields that have defaults.
func (c *Config) SetDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = DefaultDefaultPartitions
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = DefaultAuthTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.FailedAuthDelay == 0 {
		c.FailedAuthDelay = DefaultFailedAuthDelay
	}
	if c.AuthzCacheTTL == 0 {
		c.AuthzCacheTTL = DefaultAuthzCacheTTL
	}
	if c.UsageFlushInterval == 0 {
		c.UsageFlushInterval = usage.DefaultFlushInterval
	}
	if c.QuotaWindowSamples == 0 {
		c.QuotaWindowSamples = DefaultQuotaWindowSamples
	}
	if c.QuotaWindowSize == 0 {
		c.QuotaWindowSize = DefaultQuotaWindowSize
	}
	if c.TransactionalIDExpiration == 0 {
		c.TransactionalIDExpiration = DefaultTransactionalIDExpiration
	}
}

// Validate reports every problem of the configuration at once.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node id %d: must be >= 0", c.NodeID))
	}
	if c.AdvertisedAddr != "" {
		if _, err := parseEndpoint(c.AdvertisedAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertised addr: %w", err))
		}
	}
	if c.Membership != nil && c.Membership.Self() != c.NodeID {
		errs = append(errs, fmt.Errorf("membership: registered as node %d, not node id %d", c.Membership.Self(), c.NodeID))
	}
	if c.Catalog == nil {
		errs = append(errs, errors.New("catalog: required"))
	}
	if c.Log == nil {
		errs = append(errs, errors.New("log: required"))
	}
	if c.Groups == nil {
		errs = append(errs, errors.New("groups: required"))
	}
	if c.Policies != nil && c.ACLs == nil {
		errs = append(errs, errors.New("policies: need ACLs, which turn authorization on"))
	}
	if c.AuthzCacheTTL < 0 {
		errs = append(errs, fmt.Errorf("authz cache ttl %v: must not be negative", c.AuthzCacheTTL))
	}
	if c.Authenticator == nil && c.Anonymous == nil {
		errs = append(errs, errors.New("authenticator: required unless anonymous access is configured"))
	}
	if c.Anonymous != nil && c.Anonymous.Cluster == "" {
		errs = append(errs, errors.New("anonymous principal: cluster required"))
	}
	if c.DefaultPartitions < 1 {
		errs = append(errs, fmt.Errorf("default partitions %d: must be >= 1", c.DefaultPartitions))
	}
	if c.MaxFrameBytes < minFrameLimit {
		errs = append(errs, fmt.Errorf("max frame bytes %d: must be >= %d", c.MaxFrameBytes, minFrameLimit))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("max in flight %d: must be >= 1", c.MaxInFlight))
	}
	if c.QuotaWindowSamples < 2 {
		errs = append(errs, fmt.Errorf("quota window samples %d: must be >= 2", c.QuotaWindowSamples))
	}
	if c.QuotaWindowSize < time.Millisecond {
		errs = append(errs, fmt.Errorf("quota window size %v: must be >= 1ms", c.QuotaWindowSize))
	}
	if c.TransactionalIDExpiration < time.Millisecond {
		errs = append(errs, fmt.Errorf("transactional id expiration %v: must be >= 1ms", c.TransactionalIDExpiration))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"auth timeout", c.AuthTimeout}, {"idle timeout", c.IdleTimeout}, {"failed auth delay", c.FailedAuthDelay}, {"max reauth", c.MaxReauth},
		{"usage flush interval", c.UsageFlushInterval}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v: must not be negative", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// minFrameLimit keeps MaxFrameBytes above what any ordinary request needs.
const minFrameLimit = 64 << 10

// Broker serves the Kafka protocol on the listeners given to Serve.
type Broker struct {
	cfg        Config
	log        *slog.Logger
	advertised *endpoint // from cfg.AdvertisedAddr; nil means each connection's local address

	// authz decides requests (authorize.go); nil when authorization is
	// off (no Config.ACLs).
	authz *authorizer

	mu        sync.Mutex                 // guards serving, nextServe and closed
	serving   map[int]context.CancelFunc // stops each running Serve
	nextServe int
	closed    bool
	wg        sync.WaitGroup // running Serve calls

	// onPanic, when set (by tests), sees every panic a connection
	// recovered from.
	onPanic func(v any)

	// sessions are the authenticated connections, checked again when
	// credentials change (sessions.go).
	sessions sessionRegistry

	// Authentication, fixed by New (sasl.go).
	mechanisms    []string // offered by SaslHandshake
	scramDecoyKey []byte
	metrics       *authMetrics

	// Quotas, limits and usage (quotas.go, limits.go), fixed by New.
	quotas       *quotas
	meter        *usage.Meter
	storedBytes  *freshCache[int64] // nil without Config.StorageUsage
	limitMetrics *limitMetrics
	requests     *requestMetrics
	topics       *topicMetrics

	// The meter flushes while the broker serves: started by the first
	// Serve, stopped (with a last flush) when the last one returns.
	txns txnCoordinator

	meterMu     sync.Mutex // guards the fields below
	meterServes int
	meterStop   context.CancelFunc
	meterDone   chan struct{}
}

// New checks cfg (after filling its defaults) and returns a Broker.
func New(cfg Config) (*Broker, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	b := &Broker{cfg: cfg, log: cfg.Logger, serving: make(map[int]context.CancelFunc)}
	if cfg.ACLs != nil {
		b.authz = newAuthorizer(cfg, cfg.Logger)
	}
	if cfg.AdvertisedAddr != "" {
		ep, _ := parseEndpoint(cfg.AdvertisedAddr) // checked by Validate
		b.advertised = &ep
	}
	b.initAuth()
	b.initLimits()
	b.requests = newRequestMetrics(b.cfg.Metrics)
	b.topics = newTopicMetrics(b.cfg.Metrics)
	return b, nil
}

// ErrBrokerClosed is returned by Serve after Close.
var ErrBrokerClosed = errors.New("broker closed")

// Serve accepts connections on lis until ctx is done or Close is called,
// then closes lis and every connection it accepted, waits for their
// goroutines, and returns nil (ErrBrokerClosed if the broker was already
// closed). Another error means lis failed. Its connections speak
// SASL_PLAINTEXT and are told Config.AdvertisedAddr; ServeListener serves
// other listeners.
func (b *Broker) Serve(ctx context.Context, lis net.Listener) error {
	return b.serve(ctx, lis, &listener{Listener: Listener{Name: ListenerSASLPlaintext}, advertised: b.advertised})
}

func (b *Broker) serve(ctx context.Context, lis net.Listener, ls *listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = lis.Close()
		return ErrBrokerClosed
	}
	id := b.nextServe
	b.nextServe++
	b.serving[id] = cancel
	b.wg.Add(1)
	b.mu.Unlock()
	b.startMeter()
	defer func() {
		b.stopMeter()
		b.mu.Lock()
		delete(b.serving, id)
		b.mu.Unlock()
		b.wg.Done()
	}()

	stopListening := context.AfterFunc(ctx, func() { _ = lis.Close() })
	defer stopListening()

	var conns sync.WaitGroup
	defer conns.Wait()
	defer cancel() // runs before conns.Wait: connections stop on it

	b.log.Info("kafka listener serving", "addr", lis.Addr().String(), "listener", ls.Name)
	var backoff time.Duration
	for {
		nc, err := lis.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("accept on %s: %w", lis.Addr(), err)
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			b.log.Warn("kafka accept failed; retrying", "addr", lis.Addr().String(), "err", err, "backoff", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		backoff = 0
		conns.Add(1)
		go func() {
			defer conns.Done()
			c := newConn(b, nc)
			c.lis = ls
			c.serve(ctx)
		}()
	}
}

// Close stops every Serve, closing listeners and connections, and waits for
// them. A closed broker serves no more.
func (b *Broker) Close() error {
	b.mu.Lock()
	b.closed = true
	for _, cancel := range b.serving {
		cancel()
	}
	b.mu.Unlock()
	b.wg.Wait()
	return nil
}

// endpoint is a host and port as Metadata and FindCoordinator carry them.
type endpoint struct {
	host string
	port int32
}

func parseEndpoint(hostport string) (endpoint, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return endpoint{}, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil || port == 0 {
		return endpoint{}, fmt.Errorf("%q: port must be 1..65535", hostport)
	}
	if host == "" {
		return endpoint{}, fmt.Errorf("%q: host required", hostport)
	}
	return endpoint{host: host, port: int32(port)}, nil
}
