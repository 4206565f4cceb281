package groups

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCoordinationMovesBetweenBrokers runs two coordinators on one Store,
// as two brokers do, with the group placed on one then the other: the one
// that does not coordinate it answers NOT_COORDINATOR and lists nothing,
// and the one taking over resumes the group and its offsets from the Store
// without a rebalance.
func TestCoordinationMovesBetweenBrokers(t *testing.T) {
	store := newMemStore()
	ha, hb, owner := twoBrokers(t, store)

	m1, m2 := ha.newClient("g", "m1"), ha.newClient("g", "m2")
	ha.stableGroup(m1, m2)
	if code := m1.commit("orders", 0, 10); code != 0 {
		t.Fatalf("commit on the coordinator: %d", code)
	}
	if code := (&client{h: hb, cluster: testCluster, group: "g", memberID: m1.memberID, generation: m1.generation}).heartbeat(); code != kerr.NotCoordinator.Code {
		t.Errorf("heartbeat on the other broker: %d, want NOT_COORDINATOR", code)
	}
	if n := len(listGroups(hb)); n != 0 {
		t.Errorf("the other broker lists %d groups, want none", n)
	}

	// The placement moves to b: a lets go, b takes the group from the Store.
	owner.Store(1)
	ha.c.ReleaseAll()
	hb.c.ReleaseAll()
	if code := m2.heartbeat(); code != kerr.NotCoordinator.Code {
		t.Errorf("heartbeat on the old coordinator: %d, want NOT_COORDINATOR", code)
	}
	m1.h, m2.h = hb, hb
	for _, m := range []*client{m1, m2} {
		if code := m.heartbeat(); code != 0 {
			t.Fatalf("heartbeat of %s on the new coordinator: %d, want the group resumed", m.clientID, code)
		}
	}
	if code := m2.commit("orders", 0, 20); code != 0 {
		t.Fatalf("commit on the new coordinator: %d", code)
	}
	if v := hb.view(testCluster, "g"); v.state != stateStable || v.generation != m1.generation {
		t.Errorf("resumed group %+v; want Stable at generation %d", v, m1.generation)
	}
	if groups := listGroups(hb); len(groups) != 1 || groups[0].Group != "g" {
		t.Errorf("new coordinator lists %+v; want g", groups)
	}

	// And back: a reloads what b saved.
	owner.Store(0)
	ha.c.ReleaseAll()
	hb.c.ReleaseAll()
	m1.h = ha
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = "g"
	resp := ha.c.OffsetFetch(context.Background(), testCluster, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].Offset != 20 {
		t.Errorf("offsets on a after moving back: %+v; want orders/0 at 20", resp)
	}
	if code := m1.commit("orders", 0, 30); code != 0 {
		t.Errorf("commit after moving back: %d", code)
	}
}

// twoBrokers is two coordinators on one Store, as two brokers of a cell:
// owner says which one coordinates every group (0: ha, 1: hb).
func twoBrokers(t *testing.T, store *memStore) (ha, hb *harness, owner *atomic.Int32) {
	owner = new(atomic.Int32)
	placed := func(id int32) func(string, string) bool {
		return func(string, string) bool { return owner.Load() == id }
	}
	return newHarness(t, store, Options{Coordinates: placed(0)}), newHarness(t, store, Options{Coordinates: placed(1)}), owner
}

func listGroups(h *harness) []kmsg.ListGroupsResponseGroup {
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 4
	return h.c.ListGroups(context.Background(), testCluster, req).Groups
}

// TestPlacementChangeLetsGoOnlyOfWhatMoved changes which broker coordinates
// some groups while another group is mid-rebalance: the rebalance goes on
// undisturbed on the broker that keeps its group, the groups that moved are
// served by their new coordinator at their latest state (one of them
// created after that broker read the cluster's groups, one of which it
// held an outdated copy), and the old coordinator refuses them.
func TestPlacementChangeLetsGoOnlyOfWhatMoved(t *testing.T) {
	store := newMemStore()
	var mu sync.Mutex
	owner := map[string]string{"stay": "a", "moved": "b", "late": "b", "keep-b": "b"}
	placed := func(broker string) func(string, string) bool {
		return func(_, group string) bool {
			mu.Lock()
			defer mu.Unlock()
			return owner[group] == broker
		}
	}
	ha := newHarness(t, store, Options{Coordinates: placed("a")})
	hb := newHarness(t, store, Options{Coordinates: placed("b")})

	s1, s2 := ha.newClient("stay", "s1"), ha.newClient("stay", "s2")
	ha.stableGroup(s1, s2)
	m1 := hb.newClient("moved", "m1")
	hb.stableGroup(m1)
	// a reads the cluster's groups again, "moved" among them, at m1's first
	// generation; b then moves "moved" on to a second one.
	ha.c.ReleaseAll()
	if code := s1.heartbeat(); code != 0 {
		t.Fatalf("heartbeat of s1 after a reread its groups: %d", code)
	}
	if code := m1.joinOnce(context.Background()).ErrorCode; code != 0 {
		t.Fatalf("rejoin of m1: %d", code)
	}
	hb.syncAll(m1)
	// "late" exists only after a read the groups.
	l1, k1 := hb.newClient("late", "l1"), hb.newClient("keep-b", "k1")
	hb.stableGroup(l1)
	if code := m1.heartbeat(); code != 0 { // b's clock moved on forming "late"
		t.Fatalf("heartbeat of m1: %d", code)
	}
	hb.stableGroup(k1)
	for _, cl := range []*client{m1, l1} {
		if code := cl.heartbeat(); code != 0 {
			t.Fatalf("heartbeat of %s: %d", cl.clientID, code)
		}
	}

	// s1 rejoins: "stay" waits for s2 in PreparingRebalance.
	ctx := context.Background()
	join1 := s1.joinAsync(ctx)
	eventually(t, "s1 waits in the join phase", func() bool { return ha.view(testCluster, "stay").awaitingJoin == 1 })

	mu.Lock()
	before := maps.Clone(owner)
	owner["moved"], owner["late"] = "a", "a"
	after := maps.Clone(owner)
	mu.Unlock()
	kept := func(broker string) func(string, string) bool {
		return func(_, group string) bool { return before[group] == broker && after[group] == broker }
	}
	ha.c.PlacementChanged(kept("a"), true)
	hb.c.PlacementChanged(kept("b"), false)

	assertPending(t, "s1's join across a change that left its group in place", join1)
	join2 := s2.joinAsync(ctx)
	for i, join := range []<-chan *kmsg.JoinGroupResponse{join1, join2} {
		if resp := receive(t, "join response", join); resp.ErrorCode != 0 || resp.Generation != s1.generation+1 {
			t.Fatalf("join %d of the rebalance begun before the change: error %d generation %d, want generation %d",
				i+1, resp.ErrorCode, resp.Generation, s1.generation+1)
		}
	}

	for _, cl := range []*client{m1, l1} {
		if code := cl.heartbeat(); code != kerr.NotCoordinator.Code {
			t.Errorf("heartbeat of %s on its old coordinator: %d, want NOT_COORDINATOR", cl.clientID, code)
		}
		cl.h = ha
		if code := cl.heartbeat(); code != 0 {
			t.Errorf("heartbeat of %s (generation %d) on its new coordinator: %d, want the group resumed", cl.clientID, cl.generation, code)
		}
	}
	if code := k1.heartbeat(); code != 0 {
		t.Errorf("heartbeat of k1 on b, whose group stayed: %d", code)
	}
}

// TestRebalanceSurvivesCoordinatorMove moves a group to another broker
// while it rebalances because a member left: the new coordinator neither
// brings the member back nor restarts the rebalance's clock, so the join
// phase ends by the deadline the first coordinator set and members that do
// not rejoin are dropped, however often the coordinator moves.
func TestRebalanceSurvivesCoordinatorMove(t *testing.T) {
	store := newMemStore()
	ha, hb, owner := twoBrokers(t, store)
	ctx := context.Background()

	s1, s2, s3 := ha.newClient("g", "s1"), ha.newClient("g", "s2"), ha.newClient("g", "s3")
	ha.stableGroup(s1, s2, s3)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: s3.memberID}}
	if resp := ha.c.LeaveGroup(ctx, testCluster, leave); resp.ErrorCode != 0 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave of s3: %+v", resp)
	}
	deadline := ha.clock.now().Add(testRebalance)
	rec, _ := store.record(testCluster, "g")
	if rec.State != "PreparingRebalance" || len(rec.Members) != 2 || rec.RebalanceDeadlineMs != deadline.UnixMilli() {
		t.Fatalf("record after s3 left: state %s, %d members, deadline %d; want PreparingRebalance, 2, %d",
			rec.State, len(rec.Members), rec.RebalanceDeadlineMs, deadline.UnixMilli())
	}

	// b's clock is 14 s ahead of a's: the join phase has 16 s left there.
	hb.clock.Advance(20 * time.Second)
	owner.Store(1)
	ha.c.ReleaseAll()
	hb.c.ReleaseAll()
	s1.h, s2.h = hb, hb
	if code := s1.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat of s1 on the new coordinator: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if v := hb.view(testCluster, "g"); v.state != statePreparingRebalance || v.members != 2 {
		t.Fatalf("group on the new coordinator: %+v, want PreparingRebalance with s1 and s2", v)
	}
	join := s1.joinAsync(ctx)
	eventually(t, "s1 waits in the join phase", func() bool { return hb.view(testCluster, "g").awaitingJoin == 1 })
	// s2 heartbeats (so its session holds) but does not rejoin.
	hb.clock.Advance(8 * time.Second)
	if code := s2.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat of s2: %d, want REBALANCE_IN_PROGRESS", code)
	}
	hb.clock.Advance(deadline.Sub(hb.clock.now()) - time.Second)
	assertPending(t, "s1's join before the deadline", join)
	hb.clock.Advance(2 * time.Second)
	resp := receive(t, "s1's join", join)
	if resp.ErrorCode != 0 || resp.Generation != s1.generation+1 || len(resp.Members) != 1 {
		t.Fatalf("join at the deadline: error %d generation %d members %d; want generation %d with s1 alone",
			resp.ErrorCode, resp.Generation, len(resp.Members), s1.generation+1)
	}
}

// TestRequestsWaitForGroupsMovingHere sends requests for a group that moved
// to a broker while that broker reads the cluster's groups again, and
// changes the placement once more (moving nothing to it) during that read:
// the requests wait for the group rather than finding it missing, a
// JoinGroup does not create a new group in its place, and the read that a
// change overtook is done again.
func TestRequestsWaitForGroupsMovingHere(t *testing.T) {
	store := newMemStore()
	ha, hb, owner := twoBrokers(t, store)
	owner.Store(1)
	m1 := hb.newClient("g", "m1")
	hb.stableGroup(m1)
	if n := len(listGroups(ha)); n != 0 { // a has read the cluster's groups
		t.Fatalf("a lists %d groups before the move", n)
	}

	reading, resume := make(chan struct{}), make(chan struct{})
	var loads atomic.Int32
	store.mu.Lock()
	store.beforeLoad = func() {
		if loads.Add(1) == 1 {
			close(reading)
			<-resume
		}
	}
	store.mu.Unlock()
	owner.Store(0)
	ha.c.PlacementChanged(func(string, string) bool { return false }, true)
	hb.c.PlacementChanged(func(string, string) bool { return false }, false)

	m1.h = ha
	first := make(chan int16, 1)
	go func() { first <- m1.heartbeat() }()
	receive(t, "a read of the groups", reading)
	second := make(chan int16, 1)
	go func() { second <- m1.heartbeat() }()
	newcomer := ha.newClient("g", "m2")
	joined := newcomer.joinAsync(context.Background())
	assertPending(t, "a heartbeat while the groups are read", second)
	assertPending(t, "a JoinGroup while the groups are read", joined)

	// A change that moves nothing here lands during the read.
	ha.c.PlacementChanged(func(_, group string) bool { return group == "g" }, false)
	close(resume)
	for _, ch := range []chan int16{first, second} {
		if code := receive(t, "heartbeat", ch); code != 0 {
			t.Errorf("heartbeat of m1 on its new coordinator: %d, want the group resumed", code)
		}
	}
	if resp := receive(t, "join", joined); resp.ErrorCode != kerr.MemberIDRequired.Code {
		t.Errorf("join of a new member: %d, want MEMBER_ID_REQUIRED", resp.ErrorCode)
	}
	if v := ha.view(testCluster, "g"); v.generation != m1.generation || v.members != 1 {
		t.Errorf("group on a: %+v, want m1's generation %d with m1", v, m1.generation)
	}
	if n := loads.Load(); n < 2 {
		t.Errorf("%d reads of the groups; the one a change overtook must be done again", n)
	}
}
