package cpwatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/dataplane/broker"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// runClient runs a client of addr until the test ends.
func runClient(t *testing.T, opts Options) *Client {
	t.Helper()
	opts.Logger, opts.MinBackoff, opts.MaxBackoff = quiet, 20*time.Millisecond, 100*time.Millisecond
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait(); c.Close() })
	return c
}

func unusedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// TestSnapshotsOrderedAcrossReplicas: a broker holding a snapshot from one
// control-plane replica takes the snapshot of another that holds more
// writes even when that replica's clock (its versions) runs behind, and
// refuses one that holds fewer even when its clock runs ahead. Versions
// were wall-clock nanoseconds of each replica, so the first revocation
// was ignored and the second undone.
func TestSnapshotsOrderedAcrossReplicas(t *testing.T) {
	path := filepath.Join(t.TempDir(), SnapshotFile)
	// What a replica whose clock ran far ahead published, before key
	// revoked was deleted (write 7): persisted, as a broker restarted
	// after watching that replica finds it.
	revoked := newTenant(0)
	ahead := revoked.snap
	ahead.Version, ahead.StoreSequence = math.MaxUint64/2, 6
	if err := saveSnapshot(path, ahead); err != nil {
		t.Fatal(err)
	}

	// The replica the broker reaches now has the deletion; its versions
	// come from the publisher (its clock, far below the persisted one).
	current := newTenant(0)
	current.snap.StoreSequence = 7
	var mu sync.Mutex
	snapshot := func() *bpb.BrokerSnapshot {
		mu.Lock()
		defer mu.Unlock()
		return current.snap
	}
	addr := unusedAddr(t)
	cp := startControlPlane(t, addr, "s3cret", &fakeBackend{}, snapshot)
	c := runClient(t, Options{Addr: addr, Secret: "s3cret", SnapshotPath: path})
	if c.Version() != ahead.Version {
		t.Fatalf("persisted snapshot not served at start: version %d", c.Version())
	}
	waitFor(t, "the current replica's snapshot (store sequence 7) to replace the persisted one", func() bool {
		return c.current.Load().snap.GetStoreSequence() == 7
	})
	ctx := context.Background()
	if _, err := c.AuthenticatePlain(ctx, revoked.key, revoked.secret); !errors.Is(err, broker.ErrInvalidCredentials) {
		t.Errorf("key deleted in write 7: got %v, want refused", err)
	}
	if _, err := c.AuthenticatePlain(ctx, current.key, current.secret); err != nil {
		t.Errorf("key of the current snapshot: %v", err)
	}
	loaded, err := loadSnapshot(path)
	if err != nil || loaded.GetStoreSequence() != 7 {
		t.Errorf("persisted store sequence %d (%v), want 7", loaded.GetStoreSequence(), err)
	}

	// Another replica, behind (it last built at write 6, before the
	// deletion), with a clock far ahead: the broker moving to it keeps
	// what it has.
	cp.close()
	waitFor(t, "the watch to notice the replica gone", func() bool { return !c.Connected() })
	served := c.Version()
	stale := newTenant(6)
	stale.snap.ApiKeys = revoked.snap.ApiKeys
	mu.Lock()
	current = stale
	mu.Unlock()
	startControlPlane(t, addr, "s3cret", &fakeBackend{}, snapshot)
	waitFor(t, "the watch to reconnect", c.Connected)
	time.Sleep(200 * time.Millisecond) // a snapshot it would apply arrives at once
	if c.Version() != served {
		t.Errorf("a replica behind in writes replaced the snapshot: version %d, was %d", c.Version(), served)
	}
	if _, err := c.AuthenticatePlain(ctx, revoked.key, revoked.secret); !errors.Is(err, broker.ErrInvalidCredentials) {
		t.Errorf("deleted key after reaching a replica behind: got %v, want refused", err)
	}
}

// TestLargeSnapshot: a snapshot above gRPC's default 4 MiB message limit
// (about 10,000 API keys with bindings) reaches the broker — it looped
// reconnecting on a stale snapshot — and its size, version and age are
// exported as metrics.
func TestLargeSnapshot(t *testing.T) {
	big := newTenant(0).snap
	hash := big.ApiKeys[0].SecretHash
	for i := range 30000 {
		id := fmt.Sprintf("K%015d", i)
		big.ApiKeys = append(big.ApiKeys, &bpb.ApiKey{Id: id, OrgId: "org", Owner: "sa-" + id, Resource: "lkc-a", SecretHash: hash})
		big.RoleBindings = append(big.RoleBindings, &bpb.RoleBinding{Id: "rb-" + id, OrgId: "org", Principal: "User:sa-" + id,
			RoleName: "DeveloperWrite", CrnPattern: big.RoleBindings[0].CrnPattern})
	}
	const defaultLimit = 4 << 20
	addr := unusedAddr(t)
	startControlPlane(t, addr, "s3cret", &fakeBackend{}, func() *bpb.BrokerSnapshot { return big })
	reg := prometheus.NewRegistry()
	c := runClient(t, Options{Addr: addr, Secret: "s3cret", Metrics: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("a snapshot of %d API keys never arrived: %v", len(big.ApiKeys), err)
	}
	metrics := gather(t, reg)
	if got := metrics["affluent_broker_config_snapshot_bytes"]; got <= defaultLimit {
		t.Errorf("snapshot bytes %v, want above %d (the test's point)", got, defaultLimit)
	}
	if got := metrics["affluent_broker_config_snapshot_version"]; got != float64(c.Version()) || got == 0 {
		t.Errorf("version metric %v, want %d", got, c.Version())
	}
	if got := metrics["affluent_broker_config_watch_connected"]; got != 1 {
		t.Errorf("connected metric %v, want 1", got)
	}
	if got := metrics["affluent_broker_config_snapshot_applied_timestamp_seconds"]; time.Since(time.Unix(int64(got), 0)) > time.Minute {
		t.Errorf("applied timestamp %v, want about now", got)
	}
	if got, ok := metrics["affluent_broker_config_snapshot_age_seconds"]; !ok || got < 0 || got > 60 {
		t.Errorf("age %v (exported %v), want a few seconds at most", got, ok)
	}
}

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestUnknownKeyCostsACheck: with no control plane to ask, a broker's
// refusal of an unknown API key takes as long as that of a known key
// with a wrong secret (one argon2id check), so timing does not tell
// which keys exist. It was refused at once.
func TestUnknownKeyCostsACheck(t *testing.T) {
	known := newTenant(1)
	known.snap.ApiKeys[0].SecretHash = credential.Hash(known.secret, credential.DefaultParams)
	c, err := New(Options{Addr: "127.0.0.1:1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.apply(known.snap, true)
	ctx := context.Background()
	fastest := func(key string) time.Duration {
		best := time.Duration(math.MaxInt64)
		for range 3 {
			start := time.Now()
			if _, err := c.AuthenticatePlain(ctx, key, credential.NewSecret()); !errors.Is(err, broker.ErrInvalidCredentials) {
				t.Fatalf("key %s with a wrong secret: got %v, want refused", key, err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	wrongSecret, unknown := fastest(known.key), fastest(credential.NewKey())
	t.Logf("refusal of a known key with a wrong secret %v, of an unknown key %v", wrongSecret, unknown)
	if unknown < wrongSecret/3 {
		t.Errorf("an unknown key is refused in %v, a known one with a wrong secret in %v: timing tells keys apart", unknown, wrongSecret)
	}
}
