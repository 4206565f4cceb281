package groups

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRealClockSessionExpiry runs the public constructor on real timers:
// a member that stops heartbeating leaves the group Empty.
func TestRealClockSessionExpiry(t *testing.T) {
	store := newMemStore()
	c := NewCoordinator(store, Options{InitialRebalanceDelay: -1, MinSessionTimeout: 10 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()

	join := kmsg.NewPtrJoinGroupRequest()
	join.Version = 3 // no MEMBER_ID_REQUIRED round trip
	join.Group = "g"
	join.SessionTimeoutMillis = 100
	join.RebalanceTimeoutMillis = 100
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: consumerMetadata("t")}}
	jr := c.JoinGroup(ctx, testCluster, ClientInfo{ClientID: "rt"}, join)
	if jr.ErrorCode != 0 || jr.Generation != 1 {
		t.Fatalf("join: %+v", jr)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = "g", jr.Generation, jr.MemberID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{1}}}
	if sr := c.SyncGroup(ctx, testCluster, sync); sr.ErrorCode != 0 {
		t.Fatalf("sync: %+v", sr)
	}
	describe := func() string {
		return c.DescribeGroups(ctx, testCluster, &kmsg.DescribeGroupsRequest{Groups: []string{"g"}}).Groups[0].State
	}
	if s := describe(); s != "Stable" {
		t.Fatalf("state %s, want Stable", s)
	}
	eventually(t, "the member's session expired", func() bool { return describe() == "Empty" })
	// The save is written once the group's lock is released, after the
	// state changed.
	eventually(t, "the Empty group saved", func() bool {
		rec, _ := store.record(testCluster, "g")
		return rec.State == "Empty"
	})
	if rec, _ := store.record(testCluster, "g"); rec.Generation != 2 {
		t.Fatalf("saved record: %+v", rec)
	}
}
