package tiered

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/membership"
)

// forEachLeaseDB runs test on a fresh SQLite file and a fresh
// PostgreSQL database (objects on files: membership does not use them).
func forEachLeaseDB(t *testing.T, test func(t *testing.T, cfg Config)) {
	for _, b := range testBackends {
		if b.objects == "file" {
			t.Run(b.name, func(t *testing.T) { test(t, backendConfig(t, b)) })
		}
	}
}

// fastMembers renews every 50ms and lets leases lapse after 300ms.
func fastMembers(id int32, port int32, dir string) MemberConfig {
	cfg := MemberConfig{NodeID: id, Host: "127.0.0.1", Port: port, HeartbeatInterval: 50 * time.Millisecond,
		LeaseTTL: 300 * time.Millisecond}
	if dir != "" {
		cfg.IdentityFile = filepath.Join(dir, "broker.id")
	}
	return cfg
}

func register(t *testing.T, s *Store, cfg MemberConfig) *Lease {
	t.Helper()
	l, err := s.Register(context.Background(), cfg)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	t.Cleanup(func() { _ = l.Close(context.Background()) })
	return l
}

// waitView waits until l's view holds exactly the brokers ids.
func waitView(t *testing.T, l *Lease, ids ...int32) membership.View {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v := l.Live().View()
		if slices.Equal(nodeIDs(v), ids) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker %d sees brokers %v at generation %d; want %v", l.NodeID(), nodeIDs(v), v.Generation, ids)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSingleBrokerLease(t *testing.T) {
	forEachLeaseDB(t, func(t *testing.T, cfg Config) {
		s := openStore(t, cfg)
		mc := fastMembers(-1, 9092, t.TempDir())
		mc.Listeners = []membership.Listener{{Name: "SASL_SSL", Host: "kafka.example", Port: 9093},
			{Name: "SASL_PLAINTEXT", Host: "127.0.0.1", Port: 9092}}
		l := register(t, s, mc)
		if l.NodeID() != 0 {
			t.Errorf("first claimed node id %d; want 0", l.NodeID())
		}
		v := l.Live().View()
		want := membership.Broker{NodeID: 0, Host: "127.0.0.1", Port: 9092, Listeners: []membership.Listener{
			{Name: "SASL_PLAINTEXT", Host: "127.0.0.1", Port: 9092}, {Name: "SASL_SSL", Host: "kafka.example", Port: 9093}}}
		if len(v.Brokers) != 1 || !reflect.DeepEqual(v.Brokers[0], want) || v.Generation < 1 {
			t.Errorf("view %+v; want broker 0 alone (%+v) at a generation >= 1", v, want)
		}
		if h, p := v.Brokers[0].Endpoint("SASL_SSL"); h != "kafka.example" || p != 9093 {
			t.Errorf("SASL_SSL endpoint %s:%d; want kafka.example:9093", h, p)
		}
		if h, p := v.Brokers[0].Endpoint("MTLS"); h != "127.0.0.1" || p != 9092 {
			t.Errorf("endpoint of a listener not registered %s:%d; want the plain 127.0.0.1:9092", h, p)
		}
		// Renewals alone change nothing.
		time.Sleep(200 * time.Millisecond)
		if got := l.Live().View(); got.Generation != v.Generation {
			t.Errorf("generation moved from %d to %d without a change", v.Generation, got.Generation)
		}
	})
}

func TestLeasesComeAndGo(t *testing.T) {
	forEachLeaseDB(t, func(t *testing.T, cfg Config) {
		a, b, c := openStore(t, cfg), openStore(t, cfg), openStore(t, cfg)
		dirA, dirB := t.TempDir(), t.TempDir()
		la := register(t, a, fastMembers(-1, 1, dirA))
		lb := register(t, b, fastMembers(-1, 2, dirB))
		if la.NodeID() == lb.NodeID() {
			t.Fatalf("both brokers claimed node id %d", la.NodeID())
		}
		lc := register(t, c, fastMembers(7, 3, ""))
		v := waitView(t, la, 0, 1, 7)
		waitView(t, lb, 0, 1, 7)

		// A configured id held by a live broker is refused: Register
		// gives up after two lease TTLs, well within the context's time
		// (a context ending first, on a loaded machine, would cut a DB
		// call short and fail the registration for that reason instead).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := b.Register(ctx, fastMembers(7, 4, "")); !errors.Is(err, ErrNodeIDTaken) {
			t.Errorf("second broker 7: %v; want ErrNodeIDTaken", err)
		}

		// A clean stop is seen at once, a crash once the lease lapses.
		if err := lc.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		v2 := waitView(t, la, 0, 1)
		if v2.Generation <= v.Generation {
			t.Errorf("generation %d after broker 7 left; want above %d", v2.Generation, v.Generation)
		}
		lb.halt() // the heartbeats of b stop, as in a crash
		start := time.Now()
		v3 := waitView(t, la, la.NodeID())
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("crashed broker removed after %v", took)
		}

		// Restarted on its data directory before or after its lease
		// lapsed, a broker gets its id back.
		lb2 := register(t, b, fastMembers(-1, 2, dirB))
		if lb2.NodeID() != lb.NodeID() {
			t.Errorf("restarted broker got node id %d; want its %d back", lb2.NodeID(), lb.NodeID())
		}
		v4 := waitView(t, la, 0, 1)
		if v4.Generation <= v3.Generation {
			t.Errorf("generation %d after a restart; want above %d", v4.Generation, v3.Generation)
		}
		lb2.halt()
		lb3 := register(t, b, fastMembers(-1, 2, dirB)) // lease of lb2 still live
		if lb3.NodeID() != lb.NodeID() {
			t.Errorf("broker restarted within its lease got node id %d; want %d", lb3.NodeID(), lb.NodeID())
		}
		waitView(t, lb3, 0, 1)
	})
}

func TestBadMemberConfig(t *testing.T) {
	s := openStore(t, testConfig(t, t.TempDir()))
	_, err := s.Register(context.Background(), MemberConfig{NodeID: -5, Port: 70000, HeartbeatInterval: time.Second, LeaseTTL: time.Second})
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"node id -5", "port 70000", "lease TTL 1s"} {
		if !contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// stallable returns member settings whose heartbeats stall while the
// returned stall is set, as in a process paused (SIGSTOP) or cut off from
// the DB while it still serves requests.
func stallable(cfg MemberConfig) (MemberConfig, *atomic.Bool) {
	stalled := new(atomic.Bool)
	cfg.beforeRenew = func() {
		for stalled.Load() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return cfg, stalled
}

// A broker whose lease lapsed leads and coordinates nothing until it
// renews, and if its node id was taken meanwhile it learns that its lease
// is lost for good.
func TestLapsedLeaseLeadsNothing(t *testing.T) {
	forEachLeaseDB(t, func(t *testing.T, cfg Config) {
		a, b, c := openStore(t, cfg), openStore(t, cfg), openStore(t, cfg)
		var changes atomic.Int32
		acfg, stalled := stallable(fastMembers(0, 1, ""))
		acfg.OnChange = func(_, _ membership.View) { changes.Add(1) }
		la := register(t, a, acfg)
		lb := register(t, b, fastMembers(1, 2, ""))
		waitView(t, la, 0, 1)
		v := waitView(t, lb, 0, 1)

		// Broker 0 leads some partitions and coordinates some groups.
		leads := func(v membership.View) (partitions, groups int) {
			for p := range int32(64) {
				if l, _ := v.Leader("c", "orders", p); l.NodeID == 0 {
					partitions++
				}
				if c, _ := v.Coordinator("c", membership.CoordinatorGroup, fmt.Sprint("g", p)); c.NodeID == 0 {
					groups++
				}
			}
			return partitions, groups
		}
		if p, g := leads(la.Live().View()); p == 0 || g == 0 {
			t.Fatalf("broker 0 leads %d of 64 partitions and coordinates %d of 64 groups; want some of each", p, g)
		}

		// Its heartbeats stall past the TTL: from the deadline on, its own
		// view leaves it out, though nothing has told it of a change, and
		// its listeners are told at the next heartbeat.
		before := changes.Load()
		stalled.Store(true)
		time.Sleep(acfg.LeaseTTL + acfg.HeartbeatInterval)
		if p, g := leads(la.Live().View()); p != 0 || g != 0 || la.Live().Coordinates("c", membership.CoordinatorGroup, "g1") {
			t.Fatalf("lapsed broker 0 still leads %d partitions and coordinates %d groups", p, g)
		}
		if got := la.Live().View().Generation; got != v.Generation {
			t.Fatalf("lapsed broker's view moved to generation %d; want %d still", got, v.Generation)
		}
		waitView(t, lb, 1) // broker 1 removed the lapsed lease
		stalled.Store(false)
		v2 := waitView(t, la, 0, 1)
		if v2.Generation <= v.Generation {
			t.Errorf("generation %d after re-registering; want above %d", v2.Generation, v.Generation)
		}
		if changes.Load() < before+2 {
			t.Errorf("listeners told of %d changes through the lapse; want the lapse and the return", changes.Load()-before)
		}
		select {
		case <-la.Lost():
			t.Fatal("lease lost though its node id was free")
		default:
		}

		// Stalled again while another process takes its node id: it
		// never serves again under it.
		waitView(t, lb, 0, 1)
		stalled.Store(true)
		waitView(t, lb, 1)
		lc := register(t, c, fastMembers(0, 3, ""))
		waitView(t, lc, 0, 1)
		stalled.Store(false)
		select {
		case <-la.Lost():
		case <-time.After(5 * time.Second):
			t.Fatal("the lease of a broker whose node id was taken is not lost")
		}
		if _, ok := la.Live().View().Broker(0); ok {
			t.Error("a broker whose lease was lost still sees itself live")
		}
		if b0, _ := waitView(t, lb, 0, 1).Broker(0); b0.Port != 3 {
			t.Errorf("node 0 at port %d after the id was taken; want the new holder's 3", b0.Port)
		}
		time.Sleep(3 * acfg.HeartbeatInterval)
		if b0, _ := lb.Live().View().Broker(0); b0.Port != 3 {
			t.Errorf("the lost lease's broker wrote its lease back: node 0 at port %d", b0.Port)
		}
	})
}
