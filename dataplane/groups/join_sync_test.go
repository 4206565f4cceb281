package groups

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestThreeMembersJoinAndSync(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b, c := h.newClient("g", "app-a"), h.newClient("g", "app-b"), h.newClient("g", "app-c")

	// KIP-394: a new member gets an id to join with, clientID-uuid.
	for _, cl := range []*client{a, b, c} {
		resp := cl.joinOnce(ctx)
		if resp.ErrorCode != kerr.MemberIDRequired.Code {
			t.Fatalf("first join: error %d, want MEMBER_ID_REQUIRED", resp.ErrorCode)
		}
		if !strings.HasPrefix(resp.MemberID, cl.clientID+"-") || len(resp.MemberID) != len(cl.clientID)+1+36 {
			t.Fatalf("member id %q, want %s-<uuid>", resp.MemberID, cl.clientID)
		}
	}
	if v := h.view(testCluster, "g"); v.state != stateEmpty || v.pending != 3 {
		t.Fatalf("after MEMBER_ID_REQUIRED: %+v, want Empty with 3 pending", v)
	}

	ja := a.joinAsync(ctx)
	eventually(t, "a joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	jb, jc := b.joinAsync(ctx), c.joinAsync(ctx)
	eventually(t, "all joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 3 })

	// The initial rebalance delay holds the first generation back.
	h.clock.Advance(testInitialDelay - time.Millisecond)
	assertPending(t, "join during the initial delay", ja)
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance {
		t.Fatalf("state %v, want PreparingRebalance", v.state)
	}
	// b and c joined during the delay: Kafka waits one more delay for more.
	h.clock.Advance(time.Millisecond)
	assertPending(t, "join during the extended initial delay", ja)
	h.clock.Advance(testInitialDelay)

	var leaders int
	for _, tc := range []struct {
		cl *client
		ch <-chan *kmsg.JoinGroupResponse
	}{{a, ja}, {b, jb}, {c, jc}} {
		resp := receive(t, "join", tc.ch)
		tc.cl.absorb(resp)
		if resp.ErrorCode != 0 || resp.Generation != 1 || derefString(resp.Protocol) != "cooperative-sticky" || derefString(resp.ProtocolType) != "consumer" {
			t.Fatalf("join: %+v", resp)
		}
		if resp.LeaderID == resp.MemberID {
			leaders++
			if len(resp.Members) != 3 {
				t.Fatalf("leader got %d members, want 3", len(resp.Members))
			}
			for _, m := range resp.Members {
				var meta kmsg.ConsumerMemberMetadata
				if err := meta.ReadFrom(m.ProtocolMetadata); err != nil || meta.Topics[0] != "orders" {
					t.Fatalf("leader got member metadata %x (%v)", m.ProtocolMetadata, err)
				}
			}
		} else if len(resp.Members) != 0 {
			t.Fatalf("follower got %d members", len(resp.Members))
		}
	}
	if leaders != 1 {
		t.Fatalf("%d leaders, want 1", leaders)
	}
	if v := h.view(testCluster, "g"); v.state != stateCompletingRebalance {
		t.Fatalf("state %v, want CompletingRebalance", v.state)
	}

	// Followers wait in SyncGroup for the leader's assignment.
	clients := []*client{a, b, c}
	var leader *client
	var followers []*client
	for _, cl := range clients {
		if cl.memberID == cl.leaderID {
			leader = cl
		} else {
			followers = append(followers, cl)
		}
	}
	f0 := followers[0].syncAsync(ctx, nil)
	f1 := followers[1].syncAsync(ctx, nil)
	eventually(t, "followers wait in SyncGroup", func() bool { return h.view(testCluster, "g").syncWaiting == 2 })
	assertPending(t, "follower sync before the leader's", f0)
	if code := followers[0].heartbeat(); code != 0 {
		t.Fatalf("heartbeat during CompletingRebalance: %d", code)
	}

	assignments := map[string][]byte{}
	for _, cl := range clients {
		assignments[cl.memberID] = []byte("for " + cl.clientID)
	}
	lr := receive(t, "leader sync", leader.syncAsync(ctx, assignments))
	for _, got := range []struct {
		cl   *client
		resp *kmsg.SyncGroupResponse
	}{{leader, lr}, {followers[0], receive(t, "sync", f0)}, {followers[1], receive(t, "sync", f1)}} {
		if got.resp.ErrorCode != 0 || string(got.resp.MemberAssignment) != "for "+got.cl.clientID ||
			derefString(got.resp.Protocol) != "cooperative-sticky" {
			t.Fatalf("sync of %s: %+v", got.cl.clientID, got.resp)
		}
	}
	if v := h.view(testCluster, "g"); v.state != stateStable {
		t.Fatalf("state %v, want Stable", v.state)
	}
	for _, cl := range clients {
		if code := cl.heartbeat(); code != 0 {
			t.Fatalf("heartbeat when Stable: %d", code)
		}
	}

	// The completed generation is saved with its assignments.
	rec, ok := h.store.record(testCluster, "g")
	if !ok || rec.Generation != 1 || rec.Protocol != "cooperative-sticky" || rec.Leader != leader.memberID ||
		rec.State != "Stable" || len(rec.Members) != 3 {
		t.Fatalf("saved record: %+v", rec)
	}
	for _, m := range rec.Members {
		if string(m.Assignment) != string(assignments[m.MemberID]) || len(m.Metadata) == 0 {
			t.Fatalf("saved member %+v", m)
		}
	}

	desc := h.c.DescribeGroups(ctx, testCluster, &kmsg.DescribeGroupsRequest{Version: 5, Groups: []string{"g"}})
	dg := desc.Groups[0]
	if dg.ErrorCode != 0 || dg.State != "Stable" || dg.Protocol != "cooperative-sticky" || dg.ProtocolType != "consumer" || len(dg.Members) != 3 {
		t.Fatalf("describe: %+v", dg)
	}
	for _, m := range dg.Members {
		if m.ClientHost != "/10.0.0.1" || len(m.MemberAssignment) == 0 || len(m.ProtocolMetadata) == 0 {
			t.Fatalf("described member %+v", m)
		}
	}
}

func TestProtocolSelection(t *testing.T) {
	meta := consumerMetadata("t")
	protocols := func(names ...string) []kmsg.JoinGroupRequestProtocol {
		var out []kmsg.JoinGroupRequestProtocol
		for _, n := range names {
			out = append(out, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: meta})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		members [][]kmsg.JoinGroupRequestProtocol
		want    string
	}{
		{"one member's first choice", [][]kmsg.JoinGroupRequestProtocol{protocols("range", "sticky")}, "range"},
		{"majority vote", [][]kmsg.JoinGroupRequestProtocol{protocols("range", "sticky"), protocols("sticky", "range"), protocols("sticky", "range")}, "sticky"},
		{"only protocol all support", [][]kmsg.JoinGroupRequestProtocol{protocols("a", "b"), protocols("a", "b"), protocols("b")}, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, Options{})
			var clients []*client
			for i, ps := range tc.members {
				cl := h.newClient("g", "c"+string(rune('0'+i)))
				cl.protocols = ps
				clients = append(clients, cl)
			}
			h.stableGroup(clients...)
			for _, cl := range clients {
				if cl.protocol != tc.want {
					t.Fatalf("protocol %q, want %q", cl.protocol, tc.want)
				}
			}
		})
	}
}

func TestJoinRejectsInconsistentProtocols(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("g", "a")
	h.stableGroup(a)

	for _, tc := range []struct {
		name         string
		protocolType string
		protocols    []kmsg.JoinGroupRequestProtocol
	}{
		{"other protocol type", "connect", a.protocols},
		{"no protocol in common", "consumer", []kmsg.JoinGroupRequestProtocol{{Name: "roundrobin"}}},
		{"no protocols", "consumer", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := h.newClient("g", "b")
			req := b.joinRequest()
			req.ProtocolType, req.Protocols = tc.protocolType, tc.protocols
			resp := h.c.JoinGroup(ctx, testCluster, ClientInfo{ClientID: "b"}, req)
			if resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
				t.Fatalf("error %d, want INCONSISTENT_GROUP_PROTOCOL", resp.ErrorCode)
			}
		})
	}
	// A new group needs a protocol type and protocols.
	req := h.newClient("fresh", "x").joinRequest()
	req.ProtocolType = ""
	if resp := h.c.JoinGroup(ctx, testCluster, ClientInfo{}, req); resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("empty protocol type: error %d", resp.ErrorCode)
	}
	if v := h.view(testCluster, "g"); v.state != stateStable || v.members != 1 {
		t.Fatalf("group disturbed: %+v", v)
	}
}

func TestLeaveTriggersRebalance(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)
	// The follower leaves; the leader stays.
	stay, leave := a, b
	if b.memberID == b.leaderID {
		stay, leave = b, a
	}

	resp := h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 5, Group: "g", Members: []kmsg.LeaveGroupRequestMember{
		{MemberID: leave.memberID, Reason: kmsg.StringPtr("shutting down")},
		{MemberID: "nobody"},
	}})
	if resp.ErrorCode != 0 || len(resp.Members) != 2 || resp.Members[0].ErrorCode != 0 || resp.Members[1].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", resp)
	}
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance || v.members != 1 {
		t.Fatalf("after leave: %+v", v)
	}
	if code := stay.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if code := leave.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the member that left: %d, want UNKNOWN_MEMBER_ID", code)
	}
	// The remaining member rejoins: all known members joined, so the
	// rebalance completes at once (no initial delay: the group is not new).
	r := stay.joinOnce(ctx)
	if r.ErrorCode != 0 || r.Generation != 2 || r.LeaderID != stay.memberID || len(r.Members) != 1 {
		t.Fatalf("rejoin: %+v", r)
	}
	h.syncAll(stay)
	if v := h.view(testCluster, "g"); v.state != stateStable || v.generation != 2 {
		t.Fatalf("after rebalance: %+v", v)
	}

	// v0-v2: one member, its error is the response's.
	old := h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 1, Group: "g", MemberID: "nobody"})
	if old.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("v1 leave of unknown member: %d", old.ErrorCode)
	}
	old = h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 1, Group: "g", MemberID: stay.memberID})
	if old.ErrorCode != 0 {
		t.Fatalf("v1 leave: %d", old.ErrorCode)
	}
	if v := h.view(testCluster, "g"); v.state != stateEmpty || v.generation != 3 {
		t.Fatalf("after the last member left: %+v, want Empty generation 3", v)
	}
	if rec, _ := h.store.record(testCluster, "g"); rec.State != "Empty" || rec.Generation != 3 || len(rec.Members) != 0 {
		t.Fatalf("saved record: %+v", rec)
	}
	// Unknown group: per-member UNKNOWN_MEMBER_ID.
	unknown := h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 3, Group: "nope", Members: []kmsg.LeaveGroupRequestMember{{MemberID: "x"}}})
	if unknown.ErrorCode != 0 || unknown.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave of unknown group: %+v", unknown)
	}
}

func TestRebalanceTimeoutRemovesMembersThatDidNotRejoin(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)

	// A third member arrives: the group rebalances; only a rejoins.
	c := h.newClient("g", "c")
	c.joinOnce(ctx)
	jc := c.joinAsync(ctx)
	eventually(t, "c waits", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	ja := a.joinAsync(ctx)
	eventually(t, "a rejoined", func() bool { return h.view(testCluster, "g").awaitingJoin == 2 })
	// b keeps heartbeating (REBALANCE_IN_PROGRESS) but never rejoins.
	for range 5 {
		h.clock.Advance(testRebalance / 6)
		if code := b.heartbeat(); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	assertPending(t, "join before the rebalance timeout", ja)
	h.clock.Advance(testRebalance / 6)

	ra, rc := receive(t, "join a", ja), receive(t, "join c", jc)
	if ra.ErrorCode != 0 || rc.ErrorCode != 0 || ra.Generation != 2 || rc.Generation != 2 {
		t.Fatalf("joins: %+v %+v", ra, rc)
	}
	if v := h.view(testCluster, "g"); v.members != 2 || v.state != stateCompletingRebalance {
		t.Fatalf("after rebalance timeout: %+v", v)
	}
	if code := b.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of removed member: %d, want UNKNOWN_MEMBER_ID", code)
	}
	// b's old generation is refused for commits too.
	if code := b.commit("orders", 0, 5); code != kerr.UnknownMemberID.Code {
		t.Fatalf("commit of removed member: %d", code)
	}
}

func TestSessionTimeoutExpiresMember(t *testing.T) {
	h := newHarness(t, nil, Options{})
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)

	// a heartbeats every 3s, b never: b expires after its 10s session.
	for range 3 {
		h.clock.Advance(3 * time.Second)
		if code := a.heartbeat(); code != 0 {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	if v := h.view(testCluster, "g"); v.state != stateStable || v.members != 2 {
		t.Fatalf("before the session timeout: %+v", v)
	}
	h.clock.Advance(2 * time.Second)
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance || v.members != 1 {
		t.Fatalf("after b's session timeout: %+v", v)
	}
	if code := a.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if code := b.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of expired member: %d", code)
	}
}

func TestHeartbeatAndSyncErrors(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("g", "a")
	h.stableGroup(a)

	hb := func(group string, generation int32, memberID string, instanceID *string) int16 {
		return h.c.Heartbeat(ctx, testCluster, &kmsg.HeartbeatRequest{Version: 4, Group: group, Generation: generation, MemberID: memberID, InstanceID: instanceID}).ErrorCode
	}
	for _, tc := range []struct {
		name       string
		group      string
		generation int32
		member     string
		instance   *string
		want       int16
	}{
		{"ok", "g", 1, a.memberID, nil, 0},
		{"old generation", "g", 0, a.memberID, nil, kerr.IllegalGeneration.Code},
		{"unknown member", "g", 1, "who", nil, kerr.UnknownMemberID.Code},
		{"unknown group", "nope", 1, a.memberID, nil, kerr.UnknownMemberID.Code},
		{"empty group id", "", 1, a.memberID, nil, kerr.InvalidGroupID.Code},
		{"unknown instance", "g", 1, a.memberID, kmsg.StringPtr("i-1"), kerr.UnknownMemberID.Code},
	} {
		t.Run("heartbeat "+tc.name, func(t *testing.T) {
			if got := hb(tc.group, tc.generation, tc.member, tc.instance); got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}

	sync := func(mutate func(*kmsg.SyncGroupRequest)) int16 {
		req := a.syncRequest(nil)
		mutate(req)
		return h.c.SyncGroup(ctx, testCluster, req).ErrorCode
	}
	for _, tc := range []struct {
		name   string
		mutate func(*kmsg.SyncGroupRequest)
		want   int16
	}{
		{"stable returns assignment", func(*kmsg.SyncGroupRequest) {}, 0},
		{"old generation", func(r *kmsg.SyncGroupRequest) { r.Generation = 7 }, kerr.IllegalGeneration.Code},
		{"unknown member", func(r *kmsg.SyncGroupRequest) { r.MemberID = "x" }, kerr.UnknownMemberID.Code},
		{"other protocol type", func(r *kmsg.SyncGroupRequest) { r.ProtocolType = kmsg.StringPtr("connect") }, kerr.InconsistentGroupProtocol.Code},
		{"other protocol", func(r *kmsg.SyncGroupRequest) { r.Protocol = kmsg.StringPtr("range") }, kerr.InconsistentGroupProtocol.Code},
		{"unknown group", func(r *kmsg.SyncGroupRequest) { r.Group = "nope" }, kerr.UnknownMemberID.Code},
		{"empty group id", func(r *kmsg.SyncGroupRequest) { r.Group = "" }, kerr.InvalidGroupID.Code},
	} {
		t.Run("sync "+tc.name, func(t *testing.T) {
			if got := sync(tc.mutate); got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}
}

func TestLeaderThatNeverSyncsIsRemoved(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	a.joinOnce(ctx)
	b.joinOnce(ctx)
	ja, jb := a.joinAsync(ctx), b.joinAsync(ctx)
	eventually(t, "joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 2 })
	h.clock.Advance(2 * testInitialDelay)
	a.absorb(receive(t, "join", ja))
	b.absorb(receive(t, "join", jb))
	leader, follower := a, b
	if b.memberID == b.leaderID {
		leader, follower = b, a
	}
	fs := follower.syncAsync(ctx, nil)
	eventually(t, "follower waits", func() bool { return h.view(testCluster, "g").syncWaiting == 1 })
	// The leader heartbeats but never sends SyncGroup: the rebalance
	// timeout after the join phase expels it.
	for range 5 {
		h.clock.Advance(5 * time.Second)
		if code := leader.heartbeat(); code != 0 {
			t.Fatalf("leader heartbeat: %d", code)
		}
	}
	h.clock.Advance(5 * time.Second)
	if code := leader.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("leader heartbeat after the sync timeout: %d, want UNKNOWN_MEMBER_ID", code)
	}
	if r := receive(t, "follower sync", fs); r.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("follower sync: %d, want REBALANCE_IN_PROGRESS", r.ErrorCode)
	}
	if v := h.view(testCluster, "g"); v.members != 1 || v.state != statePreparingRebalance {
		t.Fatalf("after the leader failed to sync: %+v", v)
	}
}

func TestAssignmentSaveFailure(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("g", "a")
	a.joinOnce(ctx)
	ja := a.joinAsync(ctx)
	eventually(t, "joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	h.clock.Advance(testInitialDelay)
	a.absorb(receive(t, "join", ja))

	h.store.setFailSave(errInjected)
	resp := receive(t, "sync", a.syncAsync(ctx, map[string][]byte{a.memberID: []byte("x")}))
	if resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("sync with failing store: %d, want COORDINATOR_NOT_AVAILABLE", resp.ErrorCode)
	}
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance {
		t.Fatalf("state %v, want PreparingRebalance", v.state)
	}
	h.store.setFailSave(nil)
	r := a.joinOnce(ctx)
	if r.ErrorCode != 0 || r.Generation != 2 {
		t.Fatalf("rejoin: %+v", r)
	}
	h.syncAll(a)
	if rec, _ := h.store.record(testCluster, "g"); rec.Generation != 2 {
		t.Fatalf("saved generation %d, want 2", rec.Generation)
	}
}

func TestPendingMemberThatNeverRejoinsExpires(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("g", "a")
	h.stableGroup(a)
	ghost := h.newClient("g", "ghost")
	if r := ghost.joinOnce(ctx); r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("join: %d", r.ErrorCode)
	}
	// The group waits for the pending member, not for a: a rejoins (as the
	// leader, forcing a rebalance).
	ja := a.joinAsync(ctx)
	eventually(t, "a rejoined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	assertPending(t, "join while a member id is pending", ja)
	h.clock.Advance(testSession)
	if r := receive(t, "join", ja); r.ErrorCode != 0 || r.Generation != 2 {
		t.Fatalf("join after the pending member expired: %+v", r)
	}
	// Its id is no longer valid.
	if r := ghost.joinOnce(ctx); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("join with expired pending id: %d", r.ErrorCode)
	}
}

func TestJoinWithdrawnWhenClientGoes(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)
	if b.memberID == b.leaderID {
		a, b = b, a
	}

	// The follower b rejoins with a new subscription, which starts a
	// rebalance, and its connection closes while its JoinGroup waits: it
	// is dropped rather than holding the rebalance for the full timeout.
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMetadata("orders", "payments")}}
	bctx, cancel := context.WithCancel(ctx)
	jb := b.joinAsync(bctx)
	eventually(t, "b rejoined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	cancel()
	if r := receive(t, "cancelled join", jb); r.ErrorCode != kerr.RebalanceInProgress.Code {
		t.Fatalf("cancelled join: %d", r.ErrorCode)
	}
	r := a.joinOnce(ctx)
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("join: %+v", r)
	}
}

func TestCloseAnswersWaitingRequests(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("g", "a")
	a.joinOnce(ctx)
	ja := a.joinAsync(ctx)
	eventually(t, "joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	h.c.Close()
	if r := receive(t, "join", ja); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("join after close: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if code := a.heartbeat(); code != kerr.NotCoordinator.Code {
		t.Fatalf("heartbeat after close: %d", code)
	}
}

func TestGroupMaxSize(t *testing.T) {
	h := newHarness(t, nil, Options{MaxGroupSize: 1})
	ctx := context.Background()
	a := h.newClient("g", "a")
	h.stableGroup(a)
	b := h.newClient("g", "b")
	b.joinOnce(ctx)
	if r := b.joinOnce(ctx); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("join beyond group.max.size: %d", r.ErrorCode)
	}
}

func TestOldJoinVersions(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	// v0-v3 have no MEMBER_ID_REQUIRED round trip; v0 has no rebalance
	// timeout (the session timeout is used).
	a := h.newClient("g", "a")
	a.version = 0
	ja := a.joinAsync(ctx)
	eventually(t, "joined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	h.clock.Advance(testInitialDelay)
	r := receive(t, "join", ja)
	if r.ErrorCode != 0 || r.Generation != 1 || r.Version != 0 || !strings.HasPrefix(r.MemberID, "a-") {
		t.Fatalf("v0 join: %+v", r)
	}
	r.AppendTo(nil) // encodable at its version
}
