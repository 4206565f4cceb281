package tiered

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
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
		l := register(t, s, fastMembers(-1, 9092, t.TempDir()))
		if l.NodeID() != 0 {
			t.Errorf("first claimed node id %d; want 0", l.NodeID())
		}
		v := l.Live().View()
		if len(v.Brokers) != 1 || v.Brokers[0] != (membership.Broker{NodeID: 0, Host: "127.0.0.1", Port: 9092}) || v.Generation < 1 {
			t.Errorf("view %+v; want broker 0 alone at a generation >= 1", v)
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

		// A configured id held by a live broker is refused.
		short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := b.Register(short, fastMembers(7, 4, "")); !errors.Is(err, ErrNodeIDTaken) {
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
