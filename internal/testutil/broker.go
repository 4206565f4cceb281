package testutil

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/membership"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
)

// Tenant is a cluster of a test broker and a Kafka credential for it.
type Tenant struct {
	Cluster  string
	Username string
	Password string
}

// BrokerOptions configure StartBroker. The zero value is a broker with two
// tenants on fresh storage in a temporary directory.
type BrokerOptions struct {
	// DataDir holds the storage (objects and metadata DB); empty means a
	// new t.TempDir(). Pass the DataDir of a stopped broker to restart it.
	DataDir string
	// Addr is the listen address; empty means a free loopback port.
	// Restart tests pass the previous address so clients can reconnect.
	Addr string
	// Tenants replaces the two default tenants (lkc-test and lkc-other).
	Tenants []Tenant
	// Configure may change the broker config last (auto-creation, limits,
	// anonymous access…).
	Configure func(*broker.Config)
	// Quiet drops the broker's logs instead of writing them to the test.
	Quiet bool
	// Storage chooses and tunes the storage; the zero value is
	// BrokerBackend's.
	Storage StorageOptions
	// Membership, when set, makes the broker one of a cell sharing the
	// metadata DB (give them all one PostgreSQL MetadataURL).
	Membership *MembershipOptions
	// Anonymous lets clients in without SASL, as the first tenant's
	// User:anonymous.
	Anonymous bool
	// Groups may change the group coordinator's options last (heartbeat
	// intervals, session timeouts…).
	Groups func(*groups.Options)
}

// MembershipOptions make a test broker one of a cell: it holds a lease in
// the metadata DB, advertises its listen address, routes by the view of
// the live brokers (dataplane/membership) and coordinates only the groups
// placed on it. Its node id is kept in its data directory across restarts.
// It crosses process boundaries as JSON.
type MembershipOptions struct {
	// NodeID is the broker's id; -1 claims the smallest free one.
	NodeID int32
	Rack   string `json:",omitempty"`
	// Zero values take tiered's defaults.
	HeartbeatInterval time.Duration `json:",omitempty"`
	LeaseTTL          time.Duration `json:",omitempty"`
}

// StorageOptions choose and tune the storage of a test broker. The zero
// value is tiered.DirConfig(DataDir) (file:// objects and SQLite in the
// data directory, the engine's defaults), or an S3 bucket for the objects
// when BrokerBackend is "s3". It crosses process boundaries as JSON.
type StorageOptions struct {
	// ObjectStoreURL and MetadataURL replace the object store and the
	// metadata DB of the data directory (a bucket of S3URL, a database of
	// PostgresURL). Restarts must pass the same ones.
	ObjectStoreURL string `json:",omitempty"`
	MetadataURL    string `json:",omitempty"`
	// Non-zero fields replace the engine's defaults (tiered.Config).
	CompactionInterval  time.Duration `json:",omitempty"`
	WALHold             time.Duration `json:",omitempty"`
	GCGrace             time.Duration `json:",omitempty"`
	DefaultSegmentBytes int64         `json:",omitempty"`
	SegmentIndexBytes   int64         `json:",omitempty"`
	LocalCacheDir       string        `json:",omitempty"`
}

// Object stores BrokerBackend can name.
const (
	BackendFile = "file"
	BackendS3   = "s3"
)

// BrokerBackend is the object store of brokers whose StorageOptions name
// none: BackendFile (or empty), the data directory, or BackendS3, a bucket
// of this test binary's S3 server (S3URL) per data directory, recorded in
// it so that a broker restarted on the directory, in this process or in a
// broker process, finds its objects. A suite's TestMain sets it between
// runs to run the same tests on each backend; tests never change it.
var BrokerBackend string

// objectStoreFile, in a broker's data directory, records the URL of the
// bucket BrokerBackend gave the directory.
const objectStoreFile = "object-store.url"

// resolve fills ObjectStoreURL for dataDir when BrokerBackend asks for a
// bucket: the one recorded in dataDir, or a new one, recorded.
func (o StorageOptions) resolve(t testing.TB, dataDir string) StorageOptions {
	t.Helper()
	if o.ObjectStoreURL != "" {
		return o
	}
	path := filepath.Join(dataDir, objectStoreFile)
	if raw, err := os.ReadFile(path); err == nil {
		o.ObjectStoreURL = strings.TrimSpace(string(raw))
		return o
	} else if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read the object store of %s: %v", dataDir, err)
	}
	switch BrokerBackend {
	case "", BackendFile:
		return o
	case BackendS3:
		o.ObjectStoreURL = S3URL(t)
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			t.Fatalf("data dir: %v", err)
		}
		if err := os.WriteFile(path, []byte(o.ObjectStoreURL+"\n"), 0o644); err != nil {
			t.Fatalf("record the object store of %s: %v", dataDir, err)
		}
		return o
	default:
		t.Fatalf("unknown test broker backend %q: want %s or %s", BrokerBackend, BackendFile, BackendS3)
		return o
	}
}

// apply sets what o says in c.
func (o StorageOptions) apply(c *tiered.Config) {
	if o.ObjectStoreURL != "" {
		c.ObjectStoreURL = o.ObjectStoreURL
	}
	if o.MetadataURL != "" {
		c.MetadataURL = o.MetadataURL
	}
	if o.CompactionInterval != 0 {
		c.CompactionInterval = o.CompactionInterval
	}
	if o.WALHold != 0 {
		c.WALHold = o.WALHold
	}
	if o.GCGrace != 0 {
		c.GCGrace = o.GCGrace
	}
	if o.DefaultSegmentBytes != 0 {
		c.DefaultSegmentBytes = o.DefaultSegmentBytes
	}
	if o.SegmentIndexBytes != 0 {
		c.SegmentIndexBytes = o.SegmentIndexBytes
	}
	if o.LocalCacheDir != "" {
		c.LocalCacheDir = o.LocalCacheDir
	}
}

// BrokerHandle is a running in-process broker on real storage.
type BrokerHandle struct {
	// Addr is the host:port clients bootstrap from.
	Addr string
	// Username, Password and Cluster are Tenants[0], the usual one.
	Username, Password, Cluster string
	Tenants                     []Tenant
	DataDir                     string

	Broker *broker.Broker
	Store  *tiered.Store
	Groups *groups.Coordinator
	// Lease is the broker's membership, with BrokerOptions.Membership.
	Lease *tiered.Lease

	t        testing.TB
	stopOnce sync.Once
	stop     func()
}

// DefaultTenants are the tenants of a broker started without Tenants.
var DefaultTenants = []Tenant{
	{Cluster: "lkc-test", Username: "test-key", Password: "test-secret"},
	{Cluster: "lkc-other", Username: "other-key", Password: "other-secret"},
}

// StartBroker starts a broker in this process, with tiered storage in
// opts.DataDir (a file:// object store and SQLite, unless opts.Storage or
// BrokerBackend say otherwise), the group coordinator,
// and SASL/PLAIN credentials for each tenant, serving on loopback. It is
// stopped when the test ends (or earlier by Stop).
func StartBroker(t testing.TB, opts BrokerOptions) *BrokerHandle {
	t.Helper()
	h := &BrokerHandle{t: t, DataDir: opts.DataDir, Tenants: opts.Tenants}
	if h.DataDir == "" {
		h.DataDir = t.TempDir()
	}
	if len(h.Tenants) == 0 {
		h.Tenants = DefaultTenants
	}
	h.Username, h.Password, h.Cluster = h.Tenants[0].Username, h.Tenants[0].Password, h.Tenants[0].Cluster

	logger := slog.New(slog.DiscardHandler)
	if !opts.Quiet {
		logger = TestLogger(t)
	}
	storeCfg, err := tiered.DirConfig(h.DataDir)
	if err != nil {
		t.Fatalf("storage config: %v", err)
	}
	storeCfg.Logger = logger
	opts.Storage.resolve(t, h.DataDir).apply(&storeCfg)
	ctx := context.Background()
	h.Store, err = tiered.Open(ctx, storeCfg)
	if err != nil {
		t.Fatalf("open storage in %s: %v", h.DataDir, err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := listenRetrying(addr)
	if err != nil {
		_ = h.Store.Close()
		t.Fatalf("listen on %s: %v", addr, err)
	}
	h.Addr = lis.Addr().String()
	groupOpts := groups.Options{Logger: logger, InitialRebalanceDelay: -1}
	nodeID := int32(1)
	if m := opts.Membership; m != nil {
		h.Lease = register(t, h, *m)
		nodeID = h.Lease.NodeID()
		live := h.Lease.Live()
		groupOpts.Coordinates = func(cluster, group string) bool {
			return live.Coordinates(cluster, membership.CoordinatorGroup, group)
		}
	}
	if opts.Groups != nil {
		opts.Groups(&groupOpts)
	}
	h.Groups = groups.NewCoordinator(h.Store, groupOpts)
	if h.Lease != nil {
		// A group whose coordinator moved is loaded afresh when it comes
		// back; the others go on undisturbed.
		groups.FollowPlacement(h.Groups, h.Lease.Live())
	}

	users := broker.StaticAuthenticator{}
	for _, tn := range h.Tenants {
		users[tn.Username] = broker.StaticCredential{
			Password:  tn.Password,
			Principal: broker.Principal{Name: "User:" + tn.Username, Cluster: tn.Cluster},
		}
	}
	cfg := broker.Config{
		NodeID:        nodeID,
		Logger:        logger,
		Catalog:       h.Store,
		Log:           h.Store,
		Groups:        h.Groups,
		Authenticator: users,
	}
	if h.Lease != nil {
		cfg.Membership = h.Lease.Live()
		cfg.AdvertisedAddr = h.Addr
	}
	if opts.Anonymous {
		cfg.Authenticator = nil
		cfg.Anonymous = &broker.Principal{Name: "User:anonymous", Cluster: h.Cluster}
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	h.Broker, err = broker.New(cfg)
	if err != nil {
		t.Fatalf("broker: %v", err)
	}

	serveCtx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- h.Broker.Serve(serveCtx, lis) }()

	h.stop = func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("broker Serve: %v", err)
		}
		if h.Lease != nil {
			if err := h.Lease.Close(context.Background()); err != nil {
				t.Errorf("release broker lease: %v", err)
			}
		}
		h.Groups.Close()
		if err := h.Store.Close(); err != nil {
			t.Errorf("close storage: %v", err)
		}
	}
	t.Cleanup(h.Stop)
	return h
}

// brokerIdentityFile, in a test broker's data directory, keeps its node id.
const brokerIdentityFile = "broker-id.json"

// register takes the lease of a broker listening on h.Addr.
func register(t testing.TB, h *BrokerHandle, m MembershipOptions) *tiered.Lease {
	t.Helper()
	host, portText, err := net.SplitHostPort(h.Addr)
	if err != nil {
		t.Fatalf("listen address %s: %v", h.Addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("listen address %s: %v", h.Addr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lease, err := h.Store.Register(ctx, tiered.MemberConfig{
		NodeID:            m.NodeID,
		IdentityFile:      filepath.Join(h.DataDir, brokerIdentityFile),
		Host:              host,
		Port:              int32(port),
		Rack:              m.Rack,
		HeartbeatInterval: m.HeartbeatInterval,
		LeaseTTL:          m.LeaseTTL,
	})
	if err != nil {
		_ = h.Store.Close()
		t.Fatalf("register broker: %v", err)
	}
	return lease
}

// listenRetrying listens on addr, retrying for a while when it is still in
// use (a restarted broker taking its predecessor's port).
func listenRetrying(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return lis, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops the broker, the coordinator and the storage, cleanly (Close
// flushes what is buffered). It is safe to call more than once.
func (h *BrokerHandle) Stop() { h.stopOnce.Do(h.stop) }

// ClientOpts are the franz-go options to reach the broker as tenant
// (Tenants[0] when none is given).
func (h *BrokerHandle) ClientOpts(tenant ...Tenant) []kgo.Opt {
	tn := h.Tenants[0]
	if len(tenant) > 0 {
		tn = tenant[0]
	}
	return []kgo.Opt{
		kgo.SeedBrokers(h.Addr),
		kgo.SASL(plain.Auth{User: tn.Username, Pass: tn.Password}.AsMechanism()),
		kgo.ClientID("affluent-test"),
		kgo.RequestRetries(5),
		kgo.RetryTimeout(20 * time.Second),
		// Long polls shorter than the default 5s keep tests quick when a
		// consumer's first fetch finds nothing.
		kgo.FetchMaxWait(time.Second),
	}
}

// Client returns a franz-go client of Tenants[0] with extra options, closed
// when the test ends.
func (h *BrokerHandle) Client(t testing.TB, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(h.ClientOpts(), extra...)...)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns a kadm client of Tenants[0], closed when the test ends.
func (h *BrokerHandle) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(h.Client(t))
}

// TestLogger logs to the test's output while the test runs and discards
// what comes after (goroutines still finishing), which testing forbids.
func TestLogger(t testing.TB) *slog.Logger {
	w := &testWriter{out: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu      sync.Mutex // guards out and stopped
	out     io.Writer
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
}

// RequireTool returns the path of a program the tests need, failing the test
// with how to get it when it is missing: `make test` installs it, and a
// silently skipped test would hide a gap.
func RequireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found on PATH (%v): install the Debian package %s (`apt-get install -y %s`, which `make test` does)",
			name, err, debianPackage, debianPackage)
	}
	return path
}
