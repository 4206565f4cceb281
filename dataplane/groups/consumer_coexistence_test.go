package groups

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitAs commits one offset as a consumer group member (or an admin with
// memberID "" and epoch -1), with the given OffsetCommit version.
func (h *harness) commitAs(version int16, group, memberID string, epoch int32, topic string, partition int32, offset int64) int16 {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = version
	req.Group = group
	req.Generation = epoch
	req.MemberID = memberID
	req.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: partition, Offset: offset, LeaderEpoch: -1}}}}
	return h.c.OffsetCommit(context.Background(), testCluster, req).Topics[0].Partitions[0].ErrorCode
}

// fetchAs fetches a group's offsets with OffsetFetch v9 as a member.
func (h *harness) fetchAs(group string, memberID *string, epoch int32) (int16, map[int32]int64) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group, rg.MemberID, rg.MemberEpoch = group, memberID, epoch
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	resp := h.c.OffsetFetch(context.Background(), testCluster, req)
	offsets := map[int32]int64{}
	for _, t := range resp.Groups[0].Topics {
		for _, p := range t.Partitions {
			offsets[p.Partition] = p.Offset
		}
	}
	return resp.Groups[0].ErrorCode, offsets
}

// An Empty classic group keeping only offsets becomes a consumer group on
// the first heartbeat, keeping them; and back on a classic JoinGroup once
// the consumer group is Empty again.
func TestConsumerGroupOfflineMigration(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 2})
	if code := h.commitAs(8, "g", "", -1, "orders", 0, 42); code != 0 {
		t.Fatalf("admin commit: %v", kerr.ErrorForCode(code))
	}

	m := h.member848(topics, "g", "member-a", "orders")
	m.heartbeat(t)
	if code, offsets := h.fetchAs("g", kmsg.StringPtr("member-a"), m.epoch); code != 0 || offsets[0] != 42 {
		t.Fatalf("offsets after the upgrade: %v %v, want partition 0 at 42", kerr.ErrorForCode(code), offsets)
	}

	cl := h.newClient("g", "classic")
	leave := m.request()
	leave.MemberEpoch = leaveEpoch
	m.send(leave)
	h.stableGroup(cl)
	if v := h.view(testCluster, "g"); v.state != stateStable || v.members != 1 {
		t.Fatalf("after the downgrade: %+v, want a Stable classic group", v)
	}
	if code, offsets := h.fetchAs("g", nil, -1); code != 0 || offsets[0] != 42 {
		t.Fatalf("offsets after the downgrade: %v %v", kerr.ErrorForCode(code), offsets)
	}
	// A classic group whose assignments are not of the consumer protocol
	// is not converted online.
	m2 := h.member848(topics, "g", "member-b", "orders")
	if resp := m2.send(m2.request()); resp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("heartbeat to a classic group with members: %v, want GROUP_ID_NOT_FOUND", kerr.ErrorForCode(resp.ErrorCode))
	}
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{"g", "missing"}
	for _, g := range h.c.ConsumerGroupDescribe(context.Background(), testCluster, req).Groups {
		if g.ErrorCode != kerr.GroupIDNotFound.Code {
			t.Errorf("ConsumerGroupDescribe of %s (classic or unknown): %v, want GROUP_ID_NOT_FOUND", g.Group, kerr.ErrorForCode(g.ErrorCode))
		}
	}
}

func TestConsumerGroupOffsets(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 2, "audit": 1})
	a := h.member848(topics, "g", "member-a", "orders")
	a.heartbeat(t) // epoch 1, both partitions
	b := h.member848(topics, "g", "member-b", "orders")
	b.heartbeat(t)
	settle(t, a, b) // epoch 2
	var aPartition int32 = -1
	for _, ps := range a.owned {
		aPartition = ps[0]
	}

	for _, tc := range []struct {
		name    string
		version int16
		member  string
		epoch   int32
		want    int16
	}{
		{"current epoch", 9, "member-a", a.epoch, 0},
		// a has held this partition since epoch 1.
		{"older epoch, partition held since", 9, "member-a", 1, 0},
		{"epoch ahead", 9, "member-a", a.epoch + 1, kerr.StaleMemberEpoch.Code},
		{"unknown member", 9, "nobody", 1, kerr.UnknownMemberID.Code},
		{"admin while members are in", 9, "", -1, kerr.UnknownMemberID.Code},
		{"classic generation version", 8, "member-a", a.epoch, kerr.UnsupportedVersion.Code},
	} {
		if code := h.commitAs(tc.version, "g", tc.member, tc.epoch, "orders", aPartition, 10); code != tc.want {
			t.Errorf("commit, %s: %v, want %v", tc.name, kerr.ErrorForCode(code), kerr.ErrorForCode(tc.want))
		}
	}
	// b got its partition at epoch 2: a commit of epoch 1 for it is stale.
	var bPartition int32
	for _, ps := range b.owned {
		bPartition = ps[0]
	}
	if code := h.commitAs(9, "g", "member-b", 1, "orders", bPartition, 10); code != kerr.StaleMemberEpoch.Code {
		t.Errorf("commit of an epoch older than the partition's assignment: %v, want STALE_MEMBER_EPOCH", kerr.ErrorForCode(code))
	}

	if code, _ := h.fetchAs("g", kmsg.StringPtr("member-a"), a.epoch); code != 0 {
		t.Errorf("fetch at the current epoch: %v", kerr.ErrorForCode(code))
	}
	if code, _ := h.fetchAs("g", kmsg.StringPtr("member-a"), a.epoch-1); code != kerr.StaleMemberEpoch.Code {
		t.Errorf("fetch at an old epoch: %v, want STALE_MEMBER_EPOCH", kerr.ErrorForCode(code))
	}
	if code, _ := h.fetchAs("g", kmsg.StringPtr("nobody"), 3); code != kerr.UnknownMemberID.Code {
		t.Errorf("fetch by an unknown member: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}
	if code, offsets := h.fetchAs("g", nil, -1); code != 0 || offsets[aPartition] != 10 {
		t.Errorf("admin fetch: %v %v, want partition %d at 10", kerr.ErrorForCode(code), offsets, aPartition)
	}

	// OffsetDelete: not for a subscribed topic while the group has members.
	if code := h.commitAs(9, "g", "member-a", a.epoch, "audit", 0, 5); code != kerr.StaleMemberEpoch.Code && code != 0 {
		t.Fatalf("commit to audit: %v", kerr.ErrorForCode(code))
	}
	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = "g"
	del.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: aPartition}}}}
	if resp := h.c.OffsetDelete(context.Background(), testCluster, del); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code {
		t.Errorf("OffsetDelete of a subscribed topic: %+v, want GROUP_SUBSCRIBED_TO_TOPIC", resp)
	}

	// DeleteGroups: not while members are in; then it goes.
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"g"}
	if resp := h.c.DeleteGroups(context.Background(), testCluster, dg); resp.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code {
		t.Errorf("DeleteGroups with members: %v, want NON_EMPTY_GROUP", kerr.ErrorForCode(resp.Groups[0].ErrorCode))
	}
	for _, m := range []*member848{a, b} {
		leave := m.request()
		leave.MemberEpoch = leaveEpoch
		m.send(leave)
	}
	if code := h.commitAs(9, "g", "", -1, "orders", 0, 77); code != 0 {
		t.Errorf("admin commit to the Empty consumer group: %v", kerr.ErrorForCode(code))
	}
	if resp := h.c.DeleteGroups(context.Background(), testCluster, dg); resp.Groups[0].ErrorCode != 0 {
		t.Errorf("DeleteGroups of the Empty group: %v", kerr.ErrorForCode(resp.Groups[0].ErrorCode))
	}
	if code, offsets := h.fetchAs("g", nil, -1); code != 0 || len(offsets) != 0 {
		t.Errorf("offsets after DeleteGroups: %v %v, want none", kerr.ErrorForCode(code), offsets)
	}
}

func TestConsumerGroupListedAndDescribedWithClassicGroups(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 2})
	classic := h.newClient("classic", "classic-client")
	h.stableGroup(classic)
	m := h.member848(topics, "modern", "member-a", "orders")
	m.heartbeat(t)

	list := kmsg.NewPtrListGroupsRequest()
	list.Version = 5
	got := map[string]kmsg.ListGroupsResponseGroup{}
	for _, g := range h.c.ListGroups(context.Background(), testCluster, list).Groups {
		got[g.Group] = g
	}
	if g := got["modern"]; g.GroupType != "consumer" || g.ProtocolType != "consumer" || g.GroupState != "Stable" {
		t.Errorf("listed consumer group %+v", g)
	}
	if g := got["classic"]; g.GroupType != "classic" || g.GroupState != "Stable" {
		t.Errorf("listed classic group %+v", g)
	}
	list.TypesFilter = []string{"Consumer"}
	if groups := h.c.ListGroups(context.Background(), testCluster, list).Groups; len(groups) != 1 || groups[0].Group != "modern" {
		t.Errorf("listed with type filter consumer: %+v", groups)
	}
	list.TypesFilter = nil
	list.StatesFilter = []string{"reconciling"}
	if groups := h.c.ListGroups(context.Background(), testCluster, list).Groups; len(groups) != 0 {
		t.Errorf("listed Reconciling groups: %+v, want none", groups)
	}

	// DescribeGroups (the classic API) describes a consumer group as Kafka
	// does before v6: Dead, no error, nothing else.
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.Version = 5
	describe.Groups = []string{"modern", "classic"}
	described := h.c.DescribeGroups(context.Background(), testCluster, describe).Groups
	if dg := described[0]; dg.ErrorCode != 0 || dg.State != "Dead" || dg.ProtocolType != "" || len(dg.Members) != 0 {
		t.Errorf("DescribeGroups of a consumer group: %+v, want Dead and nothing else", dg)
	}
	if dg := described[1]; dg.ErrorCode != 0 || dg.State != "Stable" || len(dg.Members) != 1 {
		t.Errorf("DescribeGroups of the classic group: %+v", dg)
	}
}
