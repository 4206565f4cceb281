package groups

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func staticClients(h *harness) (*client, *client) {
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	a.instanceID, b.instanceID = "instance-a", "instance-b"
	return a, b
}

func TestStaticMemberRejoinsWithoutRebalance(t *testing.T) {
	for _, version := range []int16{5, 9} {
		t.Run("v"+string(rune('0'+version)), func(t *testing.T) {
			h := newHarness(t, nil, Options{})
			ctx := context.Background()
			a, b := staticClients(h)
			a.version, b.version = version, version
			h.stableGroup(a, b)
			// The leader restarts: it comes back with no member id.
			leader, follower := a, b
			if b.memberID == b.leaderID {
				leader, follower = b, a
			}
			oldID, assignment := leader.memberID, leader.assignment
			savesBefore := h.store.saves

			restarted := *leader
			restarted.memberID = ""
			resp := restarted.joinOnce(ctx)
			if resp.ErrorCode != 0 || resp.MemberID == oldID || resp.Generation != 1 {
				t.Fatalf("static rejoin: %+v", resp)
			}
			if version >= 9 {
				// The leader is told it leads but must not assign.
				if resp.LeaderID != resp.MemberID || !resp.SkipAssignment || len(resp.Members) != 2 {
					t.Fatalf("v9 static leader rejoin: %+v", resp)
				}
			} else if resp.LeaderID != oldID || len(resp.Members) != 0 {
				// Before v9 the old leader id keeps it from assigning.
				t.Fatalf("v5 static leader rejoin: %+v", resp)
			}
			if v := h.view(testCluster, "g"); v.state != stateStable || v.generation != 1 || v.members != 2 {
				t.Fatalf("group after static rejoin: %+v", v)
			}
			if h.store.saves != savesBefore+1 {
				t.Fatalf("the replacement was not saved")
			}
			if rec, _ := h.store.record(testCluster, "g"); rec.Leader != restarted.memberID {
				t.Fatalf("saved leader %q, want %q", rec.Leader, restarted.memberID)
			}

			// The new id syncs to its old assignment; the old id is fenced.
			sr := h.c.SyncGroup(ctx, testCluster, restarted.syncRequest(nil))
			if sr.ErrorCode != 0 || string(sr.MemberAssignment) != string(assignment) {
				t.Fatalf("sync after static rejoin: %+v", sr)
			}
			if code := restarted.heartbeat(); code != 0 {
				t.Fatalf("heartbeat with new id: %d", code)
			}
			if code := leader.heartbeat(); code != kerr.FencedInstanceID.Code {
				t.Fatalf("heartbeat with old id: %d, want FENCED_INSTANCE_ID", code)
			}
			if code := leader.commit("orders", 0, 1); code != kerr.FencedInstanceID.Code {
				t.Fatalf("commit with old id: %d, want FENCED_INSTANCE_ID", code)
			}
			if code := follower.heartbeat(); code != 0 {
				t.Fatalf("follower heartbeat: %d", code)
			}
		})
	}
}

func TestStaticMemberChangedProtocolRebalances(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := staticClients(h)
	h.stableGroup(a, b)
	// b comes back preferring only "range": the group's protocol must
	// change, which needs a rebalance.
	b.memberID = ""
	b.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMetadata("orders")}}
	jb := b.joinAsync(ctx)
	eventually(t, "b waits", func() bool { return h.view(testCluster, "g").state == statePreparingRebalance })
	ra := a.joinOnce(ctx)
	rb := receive(t, "b join", jb)
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || derefString(ra.Protocol) != "range" || ra.Generation != 2 {
		t.Fatalf("joins: %+v %+v", ra, rb)
	}
}

func TestStaticMemberKeptWhenNotRejoining(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := staticClients(h)
	h.stableGroup(a, b)
	if b.memberID == b.leaderID {
		a, b = b, a
	}
	// a (the leader) rejoins, b (static, restarting) does not within the
	// rebalance timeout: unlike a dynamic member it stays in the group.
	ja := a.joinAsync(ctx)
	eventually(t, "a rejoined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })
	for range 6 {
		assertPending(t, "join before the rebalance timeout", ja)
		h.clock.Advance(testRebalance / 6)
		b.heartbeat()
	}
	r := receive(t, "join", ja)
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 2 {
		t.Fatalf("join: %+v", r)
	}
}

func TestStaticMemberLeaveByInstanceID(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := staticClients(h)
	h.stableGroup(a, b)

	resp := h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 4, Group: "g", Members: []kmsg.LeaveGroupRequestMember{
		{InstanceID: kmsg.StringPtr("instance-b")},                       // admin removal
		{MemberID: "stale-id", InstanceID: kmsg.StringPtr("instance-a")}, // fenced
		{InstanceID: kmsg.StringPtr("instance-z")},                       // unknown
	}})
	want := []int16{0, kerr.FencedInstanceID.Code, kerr.UnknownMemberID.Code}
	for i, m := range resp.Members {
		if m.ErrorCode != want[i] {
			t.Fatalf("member %d: error %d, want %d", i, m.ErrorCode, want[i])
		}
	}
	if v := h.view(testCluster, "g"); v.members != 1 || v.state != statePreparingRebalance {
		t.Fatalf("after removing b: %+v", v)
	}
}

func TestStaticMemberSyncFencing(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, _ := staticClients(h)
	h.stableGroup(a)
	req := a.syncRequest(nil)
	req.MemberID = "impostor"
	if code := h.c.SyncGroup(ctx, testCluster, req).ErrorCode; code != kerr.FencedInstanceID.Code {
		t.Fatalf("sync with another member id: %d, want FENCED_INSTANCE_ID", code)
	}
	// A JoinGroup with a known instance and a stale member id is fenced too.
	stale := *a
	stale.memberID = "impostor"
	if r := stale.joinOnce(ctx); r.ErrorCode != kerr.FencedInstanceID.Code {
		t.Fatalf("join with stale id: %d", r.ErrorCode)
	}
}

func TestStaticReplacementRevertedWhenSaveFails(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, _ := staticClients(h)
	h.stableGroup(a)
	h.store.setFailSave(errInjected)
	restarted := *a
	restarted.memberID = ""
	if r := restarted.joinOnce(ctx); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("join with failing store: %d", r.ErrorCode)
	}
	// The old member id is still the member.
	if code := a.heartbeat(); code != 0 {
		t.Fatalf("heartbeat of original member after revert: %d", code)
	}
}
