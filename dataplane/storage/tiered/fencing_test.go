package tiered

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/groups"
)

// Two brokers on one PostgreSQL database each believe they coordinate the
// same group, as while their views of the cell disagree: the deposed one
// (a) must not write over what the new one (b) saved, nor move back the
// offsets b's members committed, and once refused it answers
// NOT_COORDINATOR and then serves the latest state.
func TestDeposedCoordinatorIsFenced(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, t.TempDir())
	cfg.MetadataURL = TestPostgresURL(t)
	opts := groups.Options{InitialRebalanceDelay: -1, OffsetsRetention: -1}
	a := groups.NewCoordinator(openStore(t, cfg), opts)
	t.Cleanup(a.Close)
	b := groups.NewCoordinator(openStore(t, cfg), opts)
	t.Cleanup(b.Close)

	const cluster, group = "c", "billing"
	// join makes a member the only one of a new generation through co.
	join := func(co *groups.Coordinator, memberID, clientID string) (string, int32) {
		t.Helper()
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 3 // no MEMBER_ID_REQUIRED round trip
		req.Group, req.MemberID, req.ProtocolType = group, memberID, "consumer"
		req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = 30000, 30000
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{1}}}
		jr := co.JoinGroup(ctx, cluster, groups.ClientInfo{ClientID: clientID, ClientHost: "/127.0.0.1"}, req)
		if jr.ErrorCode != 0 || jr.LeaderID != jr.MemberID {
			t.Fatalf("join of %s: error %v, leader %q, member %q", clientID, kerr.ErrorForCode(jr.ErrorCode), jr.LeaderID, jr.MemberID)
		}
		sreq := kmsg.NewPtrSyncGroupRequest()
		sreq.Version = 3
		sreq.Group, sreq.MemberID, sreq.Generation = group, jr.MemberID, jr.Generation
		sreq.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{2}}}
		if sr := co.SyncGroup(ctx, cluster, sreq); sr.ErrorCode != 0 {
			t.Fatalf("sync of %s: %v", clientID, kerr.ErrorForCode(sr.ErrorCode))
		}
		return jr.MemberID, jr.Generation
	}
	commit := func(co *groups.Coordinator, memberID string, generation int32, offset int64) int16 {
		t.Helper()
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 7
		req.Group, req.MemberID, req.Generation = group, memberID, generation
		req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "orders",
			Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: offset, LeaderEpoch: -1}}}}
		return co.OffsetCommit(ctx, cluster, req).Topics[0].Partitions[0].ErrorCode
	}
	leave := func(co *groups.Coordinator, memberID string) int16 {
		t.Helper()
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Version = 3
		req.Group = group
		req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: memberID}}
		resp := co.LeaveGroup(ctx, cluster, req)
		if resp.ErrorCode != 0 {
			return resp.ErrorCode
		}
		return resp.Members[0].ErrorCode
	}
	committed := func() int64 {
		t.Helper()
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 7
		req.Group = group
		resp := b.OffsetFetch(ctx, cluster, req)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
			t.Fatalf("offset fetch: %v %+v", kerr.ErrorForCode(resp.ErrorCode), resp.Topics)
		}
		return resp.Topics[0].Partitions[0].Offset
	}
	describe := func(co *groups.Coordinator) kmsg.DescribeGroupsResponseGroup {
		t.Helper()
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		return co.DescribeGroups(ctx, cluster, req).Groups[0]
	}

	// a coordinates: m1 joins generation 1 and commits.
	m1, gen1 := join(a, "", "first")
	if code := commit(a, m1, gen1, 10); code != 0 {
		t.Fatalf("commit through a: %v", kerr.ErrorForCode(code))
	}

	// The group moves to b, which a does not know yet. m1 leaves there
	// and m2 joins a later generation and commits further.
	if code := leave(b, m1); code != 0 {
		t.Fatalf("leave through b: %v", kerr.ErrorForCode(code))
	}
	m2, gen2 := join(b, "", "second")
	if gen2 <= gen1 {
		t.Fatalf("generation through b %d, want above %d", gen2, gen1)
	}
	if code := commit(b, m2, gen2, 50); code != 0 {
		t.Fatalf("commit through b: %v", kerr.ErrorForCode(code))
	}

	// m1, a zombie of generation 1 still talking to a, commits an older
	// offset: a's copy of the group accepts m1, the Store must not.
	if code := commit(a, m1, gen1, 20); code != kerr.NotCoordinator.Code {
		t.Fatalf("stale commit through the deposed coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if got := committed(); got != 50 {
		t.Fatalf("committed offset %d after a deposed coordinator's commit, want 50", got)
	}

	// a let go of the group and loaded it afresh: it now sees b's
	// generation, and refuses m1's commit on its own (m1 is not a member).
	if d := describe(a); d.ErrorCode != 0 || len(d.Members) != 1 || d.Members[0].MemberID != m2 {
		t.Fatalf("a's group after the refused commit: %v %+v, want b's generation with %s", kerr.ErrorForCode(d.ErrorCode), d.Members, m2)
	}
	if code := commit(a, m1, gen1, 20); code != kerr.UnknownMemberID.Code {
		t.Fatalf("stale commit after reloading: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}

	// A deposed coordinator's save is refused too. a, at b's generation
	// again, is deposed once more while b moves on (m2 leaves, m3 joins);
	// a then lets m2 leave its copy, which saves an Empty group over b's
	// record.
	if code := leave(b, m2); code != 0 {
		t.Fatalf("leave through b: %v", kerr.ErrorForCode(code))
	}
	m3, gen3 := join(b, "", "third")
	if code := leave(a, m2); code != kerr.NotCoordinator.Code && code != 0 {
		t.Fatalf("leave through the deposed coordinator: %v", kerr.ErrorForCode(code))
	}
	if d := describe(b); d.ErrorCode != 0 || d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != m3 {
		t.Fatalf("b's group after a deposed coordinator's save: %v state %s members %+v, want Stable with %s",
			kerr.ErrorForCode(d.ErrorCode), d.State, d.Members, m3)
	}
	// Whatever a answered, its save did not land, and it let go: the
	// group it serves now is the stored one, generation gen3 with m3.
	reloaded := groups.NewCoordinator(openStore(t, cfg), opts)
	t.Cleanup(reloaded.Close)
	for _, co := range []*groups.Coordinator{a, reloaded} {
		if d := describe(co); d.ErrorCode != 0 || len(d.Members) != 1 || d.Members[0].MemberID != m3 {
			t.Fatalf("group as loaded after the refused save: %v state %s %+v, want generation %d with %s",
				kerr.ErrorForCode(d.ErrorCode), d.State, d.Members, gen3, m3)
		}
	}
	if code := commit(b, m3, gen3, 60); code != 0 || committed() != 60 {
		t.Fatalf("commit through b after the deposed coordinator's attempts: %v, offset %d", kerr.ErrorForCode(code), committed())
	}

	// A deposed coordinator that saw the group Empty must not delete it,
	// offsets and all, once its successor has members in it again.
	if code := leave(b, m3); code != 0 {
		t.Fatalf("leave through b: %v", kerr.ErrorForCode(code))
	}
	a.ReleaseAll() // as on a change of a's view: it loads the Empty group
	if d := describe(a); d.State != "Empty" {
		t.Fatalf("a's group: state %s, want Empty", d.State)
	}
	m4, gen4 := join(b, "", "fourth")
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Groups = []string{group}
	if code := a.DeleteGroups(ctx, cluster, del).Groups[0].ErrorCode; code != kerr.NotCoordinator.Code {
		t.Fatalf("delete through the deposed coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if d := describe(b); d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != m4 {
		t.Fatalf("b's group after a deposed coordinator's delete: state %s %+v", d.State, d.Members)
	}
	if code := commit(b, m4, gen4, 70); code != 0 || committed() != 70 {
		t.Fatalf("commit through b after the deposed coordinator's delete: %v, offset %d", kerr.ErrorForCode(code), committed())
	}
	// The coordinator that holds it deletes it once Empty.
	if code := leave(b, m4); code != 0 {
		t.Fatalf("leave through b: %v", kerr.ErrorForCode(code))
	}
	if code := b.DeleteGroups(ctx, cluster, del).Groups[0].ErrorCode; code != 0 {
		t.Fatalf("delete through b: %v", kerr.ErrorForCode(code))
	}
}
