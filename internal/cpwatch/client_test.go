package cpwatch

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/affluent-io/affluent/controlplane/brokerconfig"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/broker"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var cheap = credential.Params{Time: 1, Memory: 64, Threads: 1}

// tenant is one cluster with a Kafka API key and a role binding.
type tenant struct {
	key, secret string
	snap        *bpb.BrokerSnapshot
}

// newTenant's snapshot has version and store sequence seq.
func newTenant(seq uint64) tenant {
	key, secret := credential.NewKey(), credential.NewSecret()
	return tenant{key: key, secret: secret, snap: &bpb.BrokerSnapshot{
		Version: seq, StoreSequence: seq,
		Clusters: []*bpb.Cluster{{Id: "lkc-a", OrgId: "org", EnvironmentId: "env-a", Phase: resource.PhaseRunning, Limits: &bpb.ClusterLimits{MaxConnections: 7}}},
		ApiKeys:  []*bpb.ApiKey{{Id: key, OrgId: "org", Owner: "sa-a", Resource: "lkc-a", SecretHash: credential.Hash(secret, cheap)}},
		RoleBindings: []*bpb.RoleBinding{{Id: "rb-a", OrgId: "org", Principal: "User:sa-a", RoleName: "DeveloperRead",
			CrnPattern: resource.KafkaCRN("org", "env-a", "lkc-a").String() + "/topic=*"}},
	}}
}

func TestSnapshotPersistenceRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), SnapshotFile)
	want := newTenant(42).snap
	if err := saveSnapshot(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot file mode %v, want 0600", fi.Mode().Perm())
	}
	got, err := loadSnapshot(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetVersion() != 42 || len(got.GetApiKeys()) != 1 || got.GetApiKeys()[0].GetSecretHash() != want.GetApiKeys()[0].GetSecretHash() {
		t.Errorf("loaded %v, want %v", got, want)
	}
	matches, _ := filepath.Glob(path + ".tmp-*")
	if len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
	if _, err := loadSnapshot(filepath.Join(t.TempDir(), "absent")); !errors.Is(err, ErrNoSnapshot) {
		t.Errorf("missing file: got %v, want ErrNoSnapshot", err)
	}
}

func TestCorruptSnapshotIsRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SnapshotFile)
	if err := saveSnapshot(path, newTenant(7).snap); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	for name, content := range map[string][]byte{
		"truncated":    good[:len(good)/2],
		"flipped":      []byte(strings.Replace(string(good), `"snapshot":"`, `"snapshot":"AA`, 1)),
		"not json":     []byte("garbage"),
		"new format":   []byte(strings.Replace(string(good), `"format":1`, `"format":9`, 1)),
		"empty":        {},
		"wrong digest": []byte(strings.Replace(string(good), `"sha256":"`, `"sha256":"00`, 1)),
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadSnapshot(path)
			if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error saying %s is corrupt", err, path)
			}
			if _, err := New(Options{Addr: "127.0.0.1:1", SnapshotPath: path, Logger: quiet}); err == nil {
				t.Fatal("a client started on a corrupt snapshot")
			}
		})
	}
}

func TestVersionsOnlyMoveForward(t *testing.T) {
	path := filepath.Join(t.TempDir(), SnapshotFile)
	c, err := New(Options{Addr: "127.0.0.1:1", SnapshotPath: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	newer, older := newTenant(20), newTenant(10)
	if !c.apply(newer.snap, true) {
		t.Fatal("first snapshot not applied")
	}
	if c.apply(older.snap, false) || c.apply(newTenant(20).snap, false) {
		t.Error("an older or equal version was applied")
	}
	// Nor from another stream (another replica) behind in writes.
	if c.apply(older.snap, true) {
		t.Error("the first snapshot of a stream older in store sequence was applied")
	}
	if c.Version() != 20 {
		t.Errorf("version %d, want 20", c.Version())
	}
	ctx := context.Background()
	if _, err := c.AuthenticatePlain(ctx, older.key, older.secret); !errors.Is(err, broker.ErrInvalidCredentials) {
		t.Errorf("key of the ignored snapshot: got %v, want refused", err)
	}
	if _, err := c.AuthenticatePlain(ctx, newer.key, newer.secret); err != nil {
		t.Errorf("key of the served snapshot: %v", err)
	}
	// The persisted file follows what is served.
	got, err := loadSnapshot(path)
	if err != nil || got.GetVersion() != 20 {
		t.Errorf("persisted version %d (%v), want 20", got.GetVersion(), err)
	}
}

// fakeBackend answers fallback checks: it knows one extra key.
type fakeBackend struct {
	mu       sync.Mutex
	key      string
	asked    int
	failures []brokerconfig.AuthFailure
	usage    []store.UsageRecord
}

func (f *fakeBackend) VerifyKafkaKey(_ context.Context, key, _ string) (kafkaauth.Identity, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	if key == f.key {
		return kafkaauth.Identity{Principal: "User:sa-new", Cluster: "lkc-a"}, nil
	}
	return kafkaauth.Identity{}, kafkaauth.ErrInvalidKey
}

func (f *fakeBackend) VerifyKafkaToken(context.Context, string, string) (kafkaauth.Identity, error) {
	return kafkaauth.Identity{}, kafkaauth.ErrInvalidToken
}

func (f *fakeBackend) AuthenticateKafkaCertificate(context.Context, []*x509.Certificate) (kafkaauth.Identity, error) {
	return kafkaauth.Identity{}, kafkaauth.ErrInvalidCertificate
}

func (f *fakeBackend) RecordKafkaAuthFailure(a brokerconfig.AuthFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = append(f.failures, a)
}

func (f *fakeBackend) WriteSequence(context.Context) (uint64, error) { return 0, nil }

func (f *fakeBackend) AddUsage(_ context.Context, records []store.UsageRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usage = append(f.usage, records...)
	return nil
}

// controlPlane serves the broker config service on addr with snapshots
// of *current.
type controlPlane struct {
	srv  *grpc.Server
	pub  *brokerconfig.Publisher
	stop context.CancelFunc
	done sync.WaitGroup
}

func startControlPlane(t *testing.T, addr, secret string, backend brokerconfig.Backend, snap func() *bpb.BrokerSnapshot) *controlPlane {
	t.Helper()
	var lis net.Listener
	var err error
	for range 50 { // the previous server's port may take a moment to free
		if lis, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{}
	cp.pub = brokerconfig.NewPublisher(func(context.Context) (*bpb.BrokerSnapshot, error) { return snap(), nil },
		func() uint64 { return 0 }, 50*time.Millisecond, quiet)
	svc := brokerconfig.New(cp.pub, backend, secret, quiet)
	cp.srv = grpc.NewServer(grpc.ChainUnaryInterceptor(svc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		return h(ctx, req)
	})), grpc.ChainStreamInterceptor(svc.StreamInterceptor))
	bpb.RegisterBrokerConfigServiceServer(cp.srv, svc)
	ctx, cancel := context.WithCancel(context.Background())
	cp.stop = cancel
	cp.done.Go(func() { cp.pub.Run(ctx) })
	cp.done.Go(func() { _ = cp.srv.Serve(lis) })
	t.Cleanup(cp.close)
	return cp
}

func (cp *controlPlane) close() {
	cp.stop()
	cp.srv.Stop()
	cp.done.Wait()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestWatchReconnectsAndServesWhileControlPlaneIsDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	var mu sync.Mutex
	current := newTenant(0).snap
	snapshot := func() *bpb.BrokerSnapshot {
		mu.Lock()
		defer mu.Unlock()
		return current
	}
	first := newTenant(0)
	mu.Lock()
	current = first.snap
	mu.Unlock()
	backend := &fakeBackend{key: credential.NewKey()}
	cp := startControlPlane(t, addr, "s3cret", backend, snapshot)

	path := filepath.Join(t.TempDir(), SnapshotFile)
	c, err := New(Options{Addr: addr, Secret: "s3cret", SnapshotPath: path, Logger: quiet,
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	defer func() { cancel(); wg.Wait(); c.Close() }()
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := c.WaitReady(waitCtx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AuthenticatePlain(ctx, first.key, first.secret); err != nil {
		t.Fatalf("key of the snapshot: %v", err)
	}
	p, err := c.KafkaPolicy(ctx, "lkc-a", "User:sa-a")
	if err != nil || !p.Allows(acl.ResourceTopic, "orders", acl.OpRead) || p.Allows(acl.ResourceTopic, "orders", acl.OpWrite) {
		t.Errorf("DeveloperRead policy: err %v", err)
	}
	if got := c.ClusterLimits("lkc-a").MaxConnections; got != 7 {
		t.Errorf("max connections %d, want 7", got)
	}
	// A key the snapshot lacks is asked of the control plane once.
	if pr, err := c.AuthenticatePlain(ctx, backend.key, credential.NewSecret()); err != nil || pr.Name != "User:sa-new" {
		t.Errorf("key only the control plane knows: %v %v", pr, err)
	}
	// Failures reach the control plane's audit.
	c.ReportAuthFailure(broker.AuthFailure{Time: time.Now(), Mechanism: "PLAIN", Identity: first.key, Reason: "test"})
	waitFor(t, "the failure report", func() bool {
		backend.mu.Lock()
		defer backend.mu.Unlock()
		return len(backend.failures) == 1
	})

	// The control plane goes away: the snapshot alone decides, and a key
	// it lacks is refused without asking.
	cp.close()
	waitFor(t, "the watch to notice", func() bool { return !c.Connected() })
	if _, err := c.AuthenticatePlain(ctx, first.key, first.secret); err != nil {
		t.Errorf("key of the snapshot while the control plane is down: %v", err)
	}
	backend.mu.Lock()
	asked := backend.asked
	backend.mu.Unlock()
	if _, err := c.AuthenticatePlain(ctx, backend.key, credential.NewSecret()); !errors.Is(err, broker.ErrInvalidCredentials) {
		t.Errorf("unknown key while the control plane is down: got %v, want refused", err)
	}
	if backend.asked != asked {
		t.Error("the control plane was asked while down")
	}

	// It comes back with a change: the client reconnects and serves it.
	second := newTenant(0)
	mu.Lock()
	current = second.snap
	mu.Unlock()
	before := c.Version()
	startControlPlane(t, addr, "s3cret", backend, snapshot)
	waitFor(t, "the new snapshot", func() bool { return c.Version() > before })
	if _, err := c.AuthenticatePlain(ctx, first.key, first.secret); !errors.Is(err, broker.ErrInvalidCredentials) {
		t.Errorf("key deleted while the control plane was down: got %v, want refused", err)
	}
	if _, err := c.AuthenticatePlain(ctx, second.key, second.secret); err != nil {
		t.Errorf("key of the new snapshot: %v", err)
	}
	// It is persisted right after it is served.
	waitFor(t, "the new snapshot on disk", func() bool {
		persisted, err := loadSnapshot(path)
		return err == nil && persisted.GetVersion() == c.Version()
	})
}

func TestWatchNeedsTheBrokerSecret(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	snap := newTenant(0).snap
	startControlPlane(t, addr, "right", &fakeBackend{}, func() *bpb.BrokerSnapshot { return snap })
	for _, secret := range []string{"wrong", ""} {
		c, err := New(Options{Addr: addr, Secret: secret, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = c.watch(ctx)
		cancel()
		c.Close()
		if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
			t.Errorf("secret %q: got %v, want Unauthenticated", secret, err)
		}
	}
	// A control plane without a secret refuses everyone.
	lis2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr2 := lis2.Addr().String()
	lis2.Close()
	startControlPlane(t, addr2, "", &fakeBackend{}, func() *bpb.BrokerSnapshot { return snap })
	c, err := New(Options{Addr: addr2, Secret: "", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.watch(ctx); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("no secret configured: got %v, want Unauthenticated", err)
	}
}

// TestBrokerServesItsClusters: a broker of the shared fleet refuses the
// credentials of a DEDICATED cluster, a dedicated cluster's broker those
// of every other cluster, the internal credential included.
func TestBrokerServesItsClusters(t *testing.T) {
	serverless, dedicated := newTenant(1), newTenant(1)
	snap := serverless.snap
	snap.InternalCredentialHash = credential.Hash("internal-secret", cheap)
	snap.Clusters = append(snap.Clusters, &bpb.Cluster{Id: "lkc-d", OrgId: "org", EnvironmentId: "env-a",
		Phase: resource.PhaseRunning, Type: resource.ClusterDedicated})
	snap.ApiKeys = append(snap.ApiKeys, &bpb.ApiKey{Id: dedicated.key, OrgId: "org", Owner: "sa-d", Resource: "lkc-d",
		SecretHash: credential.Hash(dedicated.secret, cheap)})
	ctx := context.Background()
	for _, tc := range []struct {
		own                 string
		serverlessOK, dedOK bool
	}{
		{"", true, false},
		{"lkc-d", false, true},
		{"lkc-other", false, false},
	} {
		c, err := New(Options{Addr: "127.0.0.1:1", DedicatedCluster: tc.own, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if !c.apply(snap, true) {
			t.Fatal("snapshot not applied")
		}
		for _, try := range []struct {
			what, user, pass string
			ok               bool
		}{
			{"serverless key", serverless.key, serverless.secret, tc.serverlessOK},
			{"dedicated key", dedicated.key, dedicated.secret, tc.dedOK},
			{"internal credential for lkc-a", InternalUserPrefix + "lkc-a", "internal-secret", tc.serverlessOK},
			{"internal credential for lkc-d", InternalUserPrefix + "lkc-d", "internal-secret", tc.dedOK},
		} {
			_, err := c.AuthenticatePlain(ctx, try.user, try.pass)
			if try.ok && err != nil {
				t.Errorf("broker of %q: %s refused: %v", tc.own, try.what, err)
			}
			if !try.ok && !errors.Is(err, broker.ErrInvalidCredentials) {
				t.Errorf("broker of %q: %s: %v, want refused as invalid credentials", tc.own, try.what, err)
			}
		}
		c.Close()
	}
}
