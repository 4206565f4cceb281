package groups

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func commitRequest(group string, generation int32, memberID string, offsets map[string]map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.Generation, req.MemberID = group, generation, memberID
	for topic, partitions := range offsets {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p, o := range partitions {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, o
			rp.Metadata = kmsg.StringPtr("m")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// commitCode commits and returns the single error code all partitions got.
func commitCode(t *testing.T, h *harness, cluster string, req *kmsg.OffsetCommitRequest) int16 {
	t.Helper()
	resp := h.c.OffsetCommit(context.Background(), cluster, req)
	code := int16(-1)
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if code != -1 && rp.ErrorCode != code {
				t.Fatalf("mixed partition errors: %+v", resp)
			}
			code = rp.ErrorCode
		}
	}
	return code
}

// fetchV8 fetches offsets of one group in the v8+ form; topics nil is all.
func fetchV8(h *harness, cluster, group string, topics map[string][]int32) kmsg.OffsetFetchResponseGroup {
	rg := kmsg.NewOffsetFetchRequestGroup()
	rg.Group = group
	if topics != nil {
		rg.Topics = []kmsg.OffsetFetchRequestGroupTopic{}
		for topic, partitions := range topics {
			rg.Topics = append(rg.Topics, kmsg.OffsetFetchRequestGroupTopic{Topic: topic, Partitions: partitions})
		}
	}
	resp := h.c.OffsetFetch(context.Background(), cluster, &kmsg.OffsetFetchRequest{Version: 8, Groups: []kmsg.OffsetFetchRequestGroup{rg}})
	return resp.Groups[0]
}

func offsetsOf(g kmsg.OffsetFetchResponseGroup) map[string]int64 {
	out := map[string]int64{}
	for _, t := range g.Topics {
		for _, p := range t.Partitions {
			out[t.Topic+"/"+string(rune('0'+p.Partition))] = p.Offset
		}
	}
	return out
}

func TestOffsetCommitByGroupState(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	one := map[string]map[int32]int64{"orders": {0: 10}}

	// A simple consumer (generation -1, no member) may commit to a group
	// that does not exist, which creates it Empty; a generation of a
	// nonexistent group is refused.
	if code := commitCode(t, h, testCluster, commitRequest("simple", -1, "", one)); code != 0 {
		t.Fatalf("simple commit: %d", code)
	}
	if v := h.view(testCluster, "simple"); !v.exists || v.state != stateEmpty {
		t.Fatalf("group created by commit: %+v", v)
	}
	if _, ok := h.store.record(testCluster, "simple"); !ok {
		t.Fatalf("group created by commit was not saved")
	}
	if code := commitCode(t, h, testCluster, commitRequest("ghost", 3, "m", one)); code != kerr.IllegalGeneration.Code {
		t.Fatalf("generation commit to unknown group: %d", code)
	}
	if code := commitCode(t, h, testCluster, commitRequest("", -1, "", one)); code != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", code)
	}

	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)
	for _, tc := range []struct {
		name       string
		generation int32
		member     string
		want       int16
	}{
		{"member of the generation", 1, a.memberID, 0},
		{"old generation", 0, a.memberID, kerr.IllegalGeneration.Code},
		{"unknown member", 1, "stranger", kerr.UnknownMemberID.Code},
		{"admin commit to a group with members", -1, "", kerr.UnknownMemberID.Code},
	} {
		t.Run("stable "+tc.name, func(t *testing.T) {
			if got := commitCode(t, h, testCluster, commitRequest("g", tc.generation, tc.member, one)); got != tc.want {
				t.Fatalf("error %d, want %d", got, tc.want)
			}
		})
	}

	// While preparing a rebalance members may still commit (consumers
	// commit before giving up partitions); once the join phase is over and
	// the new generation is not yet synced, REBALANCE_IN_PROGRESS.
	leader, follower := a, b
	if b.memberID == b.leaderID {
		leader, follower = b, a
	}
	jl := leader.joinAsync(ctx)
	eventually(t, "leader rejoined", func() bool { return h.view(testCluster, "g").state == statePreparingRebalance })
	if code := follower.commit("orders", 1, 5); code != 0 {
		t.Fatalf("commit while preparing a rebalance: %d", code)
	}
	jf := follower.joinAsync(ctx)
	leader.absorb(receive(t, "join", jl))
	follower.absorb(receive(t, "join", jf))
	if code := follower.commit("orders", 1, 6); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("commit while completing a rebalance: %d, want REBALANCE_IN_PROGRESS", code)
	}
	h.syncAll(leader, follower)
	if code := follower.commit("orders", 1, 7); code != 0 {
		t.Fatalf("commit with the new generation: %d", code)
	}

	// The members leave: the group is Empty and admins may commit again.
	h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 3, Group: "g", Members: []kmsg.LeaveGroupRequestMember{{MemberID: a.memberID}, {MemberID: b.memberID}}})
	if code := commitCode(t, h, testCluster, commitRequest("g", -1, "", one)); code != 0 {
		t.Fatalf("admin commit to an Empty group: %d", code)
	}
}

func TestOffsetCommitPartitionErrors(t *testing.T) {
	h := newHarness(t, nil, Options{OffsetMetadataMaxBytes: 8})
	req := commitRequest("g", -1, "", map[string]map[int32]int64{"orders": {0: 1}})
	big := kmsg.NewOffsetCommitRequestTopicPartition()
	big.Partition, big.Offset, big.Metadata = 1, 2, kmsg.StringPtr(strings.Repeat("x", 9))
	negative := kmsg.NewOffsetCommitRequestTopicPartition()
	negative.Partition = -3
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, big, negative)
	req.Topics = append(req.Topics, kmsg.OffsetCommitRequestTopic{Topic: "", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0}}})

	resp := h.c.OffsetCommit(context.Background(), testCluster, req)
	got := []int16{resp.Topics[0].Partitions[0].ErrorCode, resp.Topics[0].Partitions[1].ErrorCode, resp.Topics[0].Partitions[2].ErrorCode, resp.Topics[1].Partitions[0].ErrorCode}
	want := []int16{0, kerr.OffsetMetadataTooLarge.Code, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("partition errors %v, want %v", got, want)
		}
	}
	if n := h.store.offsetCount(testCluster, "g"); n != 1 {
		t.Fatalf("%d offsets stored, want 1", n)
	}

	// v10 names topics by id: without a resolver they are unknown.
	req10 := commitRequest("g", -1, "", map[string]map[int32]int64{"": {0: 1}})
	req10.Version = 10
	req10.Topics[0].TopicID = [16]byte{1}
	if code := h.c.OffsetCommit(context.Background(), testCluster, req10).Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicID.Code {
		t.Fatalf("v10 commit by unknown id: %d", code)
	}
}

type staticTopicIDs map[string][16]byte

func (s staticTopicIDs) TopicName(_ string, id [16]byte) (string, bool) {
	for name, tid := range s {
		if tid == id {
			return name, true
		}
	}
	return "", false
}

func (s staticTopicIDs) TopicID(_ string, topic string) ([16]byte, bool) {
	id, ok := s[topic]
	return id, ok
}

func TestOffsetFetch(t *testing.T) {
	ids := staticTopicIDs{"orders": {1}, "payments": {2}}
	h := newHarness(t, nil, Options{TopicIDs: ids})
	ctx := context.Background()
	commitCode(t, h, testCluster, commitRequest("g", -1, "", map[string]map[int32]int64{"orders": {0: 10, 1: 11}, "payments": {0: 20}}))

	// Requested partitions: -1 where nothing is committed.
	g := fetchV8(h, testCluster, "g", map[string][]int32{"orders": {0, 1, 2}})
	if got := offsetsOf(g); g.ErrorCode != 0 || got["orders/0"] != 10 || got["orders/1"] != 11 || got["orders/2"] != -1 || len(got) != 3 {
		t.Fatalf("fetch: %v (error %d)", got, g.ErrorCode)
	}
	if md := g.Topics[0].Partitions[0].Metadata; md == nil || *md != "m" {
		t.Fatalf("metadata %v", md)
	}
	// Null topics: everything committed.
	if got := offsetsOf(fetchV8(h, testCluster, "g", nil)); len(got) != 3 || got["payments/0"] != 20 {
		t.Fatalf("fetch all: %v", got)
	}
	// Unknown group: no error, -1.
	if got := offsetsOf(fetchV8(h, testCluster, "nope", map[string][]int32{"orders": {0}})); got["orders/0"] != -1 {
		t.Fatalf("fetch of unknown group: %v", got)
	}

	// The v0-v7 single-group form.
	v5 := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 5, Group: "g", Topics: []kmsg.OffsetFetchRequestTopic{{Topic: "payments", Partitions: []int32{0, 3}}}})
	if v5.ErrorCode != 0 || len(v5.Topics) != 1 || v5.Topics[0].Partitions[0].Offset != 20 || v5.Topics[0].Partitions[1].Offset != -1 {
		t.Fatalf("v5 fetch: %+v", v5)
	}
	all := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 7, Group: "g"})
	if len(all.Topics) != 2 {
		t.Fatalf("v7 fetch all: %+v", all)
	}
	// Errors: top-level from v2, per partition before.
	if r := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 3, Group: ""}); r.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("v3 empty group: %+v", r)
	}
	r1 := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 1, Group: "", Topics: []kmsg.OffsetFetchRequestTopic{{Topic: "orders", Partitions: []int32{0}}}})
	if r1.Topics[0].Partitions[0].ErrorCode != kerr.InvalidGroupID.Code || r1.Topics[0].Partitions[0].Offset != -1 {
		t.Fatalf("v1 empty group: %+v", r1)
	}
	// Several groups at once (v8+), one of them invalid.
	multi := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 9, Groups: []kmsg.OffsetFetchRequestGroup{{Group: "g"}, {Group: ""}}})
	if len(multi.Groups) != 2 || multi.Groups[0].ErrorCode != 0 || len(multi.Groups[0].Topics) != 2 || multi.Groups[1].ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("multi-group fetch: %+v", multi)
	}
	// v10 by topic id.
	v10 := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 10, Groups: []kmsg.OffsetFetchRequestGroup{{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{TopicID: [16]byte{2}, Partitions: []int32{0}}, {TopicID: [16]byte{9}, Partitions: []int32{0}}}}}})
	vt := v10.Groups[0].Topics
	if vt[0].TopicID != [16]byte{2} || vt[0].Partitions[0].Offset != 20 || vt[1].Partitions[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("v10 fetch: %+v", v10)
	}
	// v10 fetch of everything answers with topic ids.
	v10all := h.c.OffsetFetch(ctx, testCluster, &kmsg.OffsetFetchRequest{Version: 10, Groups: []kmsg.OffsetFetchRequestGroup{{Group: "g"}}})
	if ts := v10all.Groups[0].Topics; len(ts) != 2 || ts[0].TopicID != ([16]byte{1}) || ts[1].TopicID != ([16]byte{2}) {
		t.Fatalf("v10 fetch all: %+v", v10all)
	}
	// A failing Store is a retriable error, not a crash.
	h.store.mu.Lock()
	h.store.failFetch = errInjected
	h.store.mu.Unlock()
	if g := fetchV8(h, testCluster, "g", nil); g.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("fetch with failing store: %d", g.ErrorCode)
	}
}

func TestOffsetDelete(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	del := func(group string, topics ...string) *kmsg.OffsetDeleteResponse {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		for _, topic := range topics {
			req.Topics = append(req.Topics, kmsg.OffsetDeleteRequestTopic{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
		}
		return h.c.OffsetDelete(ctx, testCluster, req)
	}

	// A consumer group subscribed to "orders" keeps those offsets.
	a := h.newClient("g", "a", "orders")
	h.stableGroup(a)
	a.commit("orders", 0, 1)
	commitCode(t, h, testCluster, func() *kmsg.OffsetCommitRequest {
		r := commitRequest("g", 1, a.memberID, map[string]map[int32]int64{"old-topic": {0: 3}})
		return r
	}())
	resp := del("g", "orders", "old-topic")
	if resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || resp.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete from stable group: %+v", resp)
	}
	if n := h.store.offsetCount(testCluster, "g"); n != 1 {
		t.Fatalf("%d offsets left, want 1", n)
	}

	// Once Empty, any offset may go; an Empty group left without offsets
	// is deleted.
	h.c.LeaveGroup(ctx, testCluster, &kmsg.LeaveGroupRequest{Version: 3, Group: "g", Members: []kmsg.LeaveGroupRequestMember{{MemberID: a.memberID}}})
	if resp := del("g", "orders"); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete from empty group: %+v", resp)
	}
	if v := h.view(testCluster, "g"); v.exists {
		t.Fatalf("group without offsets still exists: %+v", v)
	}
	if _, ok := h.store.record(testCluster, "g"); ok {
		t.Fatalf("group without offsets still saved")
	}
	if resp := del("g", "orders"); resp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete from deleted group: %d", resp.ErrorCode)
	}
	if resp := del("", "orders"); resp.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("empty group id: %d", resp.ErrorCode)
	}

	// A group of another protocol type with members: NON_EMPTY_GROUP.
	c := h.newClient("connect-group", "worker")
	c.protocols = []kmsg.JoinGroupRequestProtocol{{Name: "sessioned", Metadata: []byte{1}}}
	joinAndSyncOther(t, h, c, "connect")
	if resp := del("connect-group", "orders"); resp.ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete from non-consumer group: %d", resp.ErrorCode)
	}
}

// joinAndSyncOther forms a one-member group of another protocol type.
func joinAndSyncOther(t *testing.T, h *harness, c *client, protocolType string) {
	t.Helper()
	ctx := context.Background()
	req := c.joinRequest()
	req.ProtocolType = protocolType
	r := h.c.JoinGroup(ctx, testCluster, ClientInfo{ClientID: c.clientID}, req)
	c.absorb(r)
	req.MemberID = c.memberID
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- h.c.JoinGroup(ctx, testCluster, ClientInfo{ClientID: c.clientID}, req) }()
	eventually(t, "joined", func() bool { return h.view(testCluster, c.group).awaitingJoin == 1 })
	h.clock.Advance(testInitialDelay)
	c.absorb(receive(t, "join", ch))
	sreq := c.syncRequest(map[string][]byte{c.memberID: {1}})
	sreq.ProtocolType = kmsg.StringPtr(protocolType)
	if code := h.c.SyncGroup(ctx, testCluster, sreq).ErrorCode; code != 0 {
		t.Fatalf("sync: %d", code)
	}
}

func TestRestartResumesFromStore(t *testing.T) {
	store := newMemStore()
	h1 := newHarness(t, store, Options{})
	a, b := h1.newClient("g", "a"), h1.newClient("g", "b")
	h1.stableGroup(a, b)
	if code := a.commit("orders", 0, 42); code != 0 {
		t.Fatalf("commit: %d", code)
	}
	commitCode(t, h1, testCluster, commitRequest("simple", -1, "", map[string]map[int32]int64{"orders": {3: 7}}))
	h1.c.Close()

	// A new coordinator on the same Store: the group is Stable with its
	// members, generation and assignments; offsets are kept.
	h2 := newHarness(t, store, Options{})
	a.h, b.h = h2, h2
	if code := a.heartbeat(); code != 0 {
		t.Fatalf("heartbeat after restart: %d", code)
	}
	if code := b.heartbeat(); code != 0 {
		t.Fatalf("heartbeat after restart: %d", code)
	}
	sr := h2.c.SyncGroup(context.Background(), testCluster, a.syncRequest(nil))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != string(a.assignment) {
		t.Fatalf("sync after restart: %+v (want assignment %q)", sr, a.assignment)
	}
	if code := a.commit("orders", 0, 43); code != 0 {
		t.Fatalf("commit after restart: %d", code)
	}
	if got := offsetsOf(fetchV8(h2, testCluster, "simple", nil)); got["orders/3"] != 7 {
		t.Fatalf("offsets after restart: %v", got)
	}
	list := h2.c.ListGroups(context.Background(), testCluster, &kmsg.ListGroupsRequest{Version: 4})
	if len(list.Groups) != 2 || list.Groups[0].Group != "g" || list.Groups[0].GroupState != "Stable" || list.Groups[1].GroupState != "Empty" {
		t.Fatalf("groups after restart: %+v", list.Groups)
	}

	// Sessions restarted at load: a member that stops heartbeating expires.
	for range 2 {
		h2.clock.Advance(4 * time.Second)
		if code := a.heartbeat(); code != 0 {
			t.Fatalf("heartbeat: %d", code)
		}
	}
	h2.clock.Advance(3 * time.Second)
	if v := h2.view(testCluster, "g"); v.members != 1 || v.state != statePreparingRebalance {
		t.Fatalf("after b's session expired: %+v", v)
	}
}

func TestRestoreIgnoresBadRecords(t *testing.T) {
	store := newMemStore()
	store.groups[testCluster] = map[string]GroupRecord{
		"":          {Name: ""},
		"no-proto":  {Name: "no-proto", ProtocolType: "consumer", Generation: 4, Members: []MemberRecord{{MemberID: "m"}}},
		"bad-parts": {Name: "bad-parts", ProtocolType: "consumer", Protocol: "range", Generation: 2, Leader: "gone", Members: []MemberRecord{{MemberID: ""}, {MemberID: "x", Metadata: []byte{0xff}}, {MemberID: "x"}}},
	}
	h := newHarness(t, store, Options{})
	list := h.c.ListGroups(context.Background(), testCluster, &kmsg.ListGroupsRequest{Version: 4})
	if len(list.Groups) != 2 {
		t.Fatalf("groups: %+v", list.Groups)
	}
	if v := h.view(testCluster, "no-proto"); v.state != stateEmpty || v.members != 0 {
		t.Fatalf("record without protocol: %+v", v)
	}
	if v := h.view(testCluster, "bad-parts"); v.state != stateStable || v.members != 1 || v.leader != "x" {
		t.Fatalf("record with bad members: %+v", v)
	}
	// Unparsable consumer metadata: subscriptions unknown, so OffsetDelete
	// must assume the topic is consumed.
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "bad-parts"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	if code := h.c.OffsetDelete(context.Background(), testCluster, req).Topics[0].Partitions[0].ErrorCode; code != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("offset delete with unknown subscriptions: %d", code)
	}
}

func TestStoreLoadFailureIsRetried(t *testing.T) {
	store := newMemStore()
	store.failLoad = errInjected
	h := newHarness(t, store, Options{})
	list := h.c.ListGroups(context.Background(), testCluster, &kmsg.ListGroupsRequest{Version: 4})
	if list.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("list with failing store: %d", list.ErrorCode)
	}
	store.mu.Lock()
	store.failLoad = nil
	store.mu.Unlock()
	if list := h.c.ListGroups(context.Background(), testCluster, &kmsg.ListGroupsRequest{Version: 4}); list.ErrorCode != 0 {
		t.Fatalf("list after the store recovered: %d", list.ErrorCode)
	}
}

func TestOffsetRetention(t *testing.T) {
	// The test runs the retention passes itself: the background pass,
	// due as the clock advances, would race with its joins (a retried
	// COORDINATOR_NOT_AVAILABLE for a client, a failed step here).
	h := newHarness(t, nil, Options{OffsetsRetention: time.Hour, OffsetsRetentionCheckInterval: 1000 * time.Hour})
	commitCode(t, h, testCluster, commitRequest("simple", -1, "", map[string]map[int32]int64{"orders": {0: 1}}))
	h.clock.Advance(30 * time.Minute)
	commitCode(t, h, testCluster, commitRequest("simple", -1, "", map[string]map[int32]int64{"orders": {1: 2}}))

	a := h.newClient("consumers", "a", "orders")
	h.stableGroup(a)
	a.commit("orders", 0, 5)
	a.commit("retired", 0, 5)

	keepAlive(t, h, 31*time.Minute, a)
	h.c.expireOffsets()
	// The offsets-only group keeps only its recent commit.
	if got := offsetsOf(fetchV8(h, testCluster, "simple", nil)); len(got) != 1 || got["orders/1"] != 2 {
		t.Fatalf("offsets-only group after retention: %v", got)
	}
	keepAlive(t, h, 30*time.Minute, a)
	h.c.expireOffsets()
	if v := h.view(testCluster, "simple"); v.exists {
		t.Fatalf("empty group without offsets not deleted: %+v", v)
	}
	// The Stable consumer group loses only unsubscribed topics' offsets.
	got := offsetsOf(fetchV8(h, testCluster, "consumers", nil))
	if len(got) != 1 || got["orders/0"] != 5 {
		t.Fatalf("consumer group after retention: %v", got)
	}
}

// keepAlive advances the clock by d while the clients heartbeat.
func keepAlive(t *testing.T, h *harness, d time.Duration, clients ...*client) {
	t.Helper()
	const step = 5 * time.Second
	for ; d > 0; d -= step {
		h.clock.Advance(min(step, d))
		for _, cl := range clients {
			if code := cl.heartbeat(); code != 0 {
				t.Fatalf("heartbeat of %s: %d", cl.clientID, code)
			}
		}
	}
}

func TestDeleteGroups(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	commitCode(t, h, testCluster, commitRequest("empty", -1, "", map[string]map[int32]int64{"orders": {0: 1}}))
	a := h.newClient("busy", "a")
	h.stableGroup(a)

	resp := h.c.DeleteGroups(ctx, testCluster, &kmsg.DeleteGroupsRequest{Version: 2, Groups: []string{"empty", "busy", "nope", "", "empty"}})
	want := []int16{0, kerr.NonEmptyGroup.Code, kerr.GroupIDNotFound.Code, kerr.InvalidGroupID.Code, kerr.GroupIDNotFound.Code}
	for i, g := range resp.Groups {
		if g.ErrorCode != want[i] {
			t.Fatalf("group %q: error %d, want %d", g.Group, g.ErrorCode, want[i])
		}
	}
	if n := h.store.offsetCount(testCluster, "empty"); n != 0 {
		t.Fatalf("%d offsets left after delete", n)
	}
	if got := offsetsOf(fetchV8(h, testCluster, "empty", map[string][]int32{"orders": {0}})); got["orders/0"] != -1 {
		t.Fatalf("offsets after delete: %v", got)
	}
	// The name can be used again.
	if code := commitCode(t, h, testCluster, commitRequest("empty", -1, "", map[string]map[int32]int64{"orders": {0: 9}})); code != 0 {
		t.Fatalf("commit to re-created group: %d", code)
	}
}

func TestDescribeAndListGroups(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	commitCode(t, h, testCluster, commitRequest("offsets-only", -1, "", map[string]map[int32]int64{"orders": {0: 1}}))
	a := h.newClient("consumers", "a")
	h.stableGroup(a)

	desc := h.c.DescribeGroups(ctx, testCluster, &kmsg.DescribeGroupsRequest{Version: 5, Groups: []string{"unknown", "offsets-only", ""}})
	if g := desc.Groups[0]; g.ErrorCode != 0 || g.State != "Dead" || len(g.Members) != 0 {
		t.Fatalf("describe unknown group: %+v", g)
	}
	if g := desc.Groups[1]; g.ErrorCode != 0 || g.State != "Empty" || g.ProtocolType != "" {
		t.Fatalf("describe offsets-only group: %+v", g)
	}
	if g := desc.Groups[2]; g.ErrorCode != kerr.InvalidGroupID.Code {
		t.Fatalf("describe empty group id: %+v", g)
	}

	names := func(resp *kmsg.ListGroupsResponse) string {
		var out []string
		for _, g := range resp.Groups {
			out = append(out, g.Group+":"+g.GroupState+":"+g.ProtocolType+":"+g.GroupType)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.ListGroupsRequest
		want string
	}{
		{"all", &kmsg.ListGroupsRequest{Version: 5}, "consumers:Stable:consumer:classic,offsets-only:Empty::classic"},
		{"states filter", &kmsg.ListGroupsRequest{Version: 4, StatesFilter: []string{"stable"}}, "consumers:Stable:consumer:classic"},
		{"types filter classic", &kmsg.ListGroupsRequest{Version: 5, TypesFilter: []string{"Classic"}}, "consumers:Stable:consumer:classic,offsets-only:Empty::classic"},
		{"types filter consumer", &kmsg.ListGroupsRequest{Version: 5, TypesFilter: []string{"consumer"}}, ""},
		{"states filter ignored before v4", &kmsg.ListGroupsRequest{Version: 3, StatesFilter: []string{"Dead"}}, "consumers:Stable:consumer:classic,offsets-only:Empty::classic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(h.c.ListGroups(ctx, testCluster, tc.req)); got != tc.want {
				t.Fatalf("groups %q, want %q", got, tc.want)
			}
		})
	}
}

func TestClustersAreIsolated(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a := h.newClient("shared-name", "a")
	h.stableGroup(a)
	a.commit("orders", 0, 100)

	// Another tenant uses the same group name: a different group.
	other := h.newClient("shared-name", "b")
	other.cluster = "lkc-other"
	if r := other.joinOnce(ctx); r.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("join in other cluster: %d", r.ErrorCode)
	}
	if code := a.heartbeat(); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	// Member ids and offsets do not cross clusters.
	hb := &kmsg.HeartbeatRequest{Version: 4, Group: "shared-name", Generation: a.generation, MemberID: a.memberID}
	if code := h.c.Heartbeat(ctx, "lkc-other", hb).ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of a's member id in other cluster: %d", code)
	}
	if got := offsetsOf(fetchV8(h, "lkc-other", "shared-name", nil)); len(got) != 0 {
		t.Fatalf("other cluster sees offsets %v", got)
	}
	list := h.c.ListGroups(ctx, "lkc-third", &kmsg.ListGroupsRequest{Version: 4})
	if len(list.Groups) != 0 {
		t.Fatalf("third cluster sees %+v", list.Groups)
	}

	// Deleting a cluster drops its groups and offsets only.
	if err := h.c.DeleteCluster(ctx, testCluster); err != nil {
		t.Fatalf("delete cluster: %v", err)
	}
	if _, ok := h.store.record(testCluster, "shared-name"); ok || h.store.offsetCount(testCluster, "shared-name") != 0 {
		t.Fatalf("cluster data left in store")
	}
	if code := a.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat after cluster deletion: %d", code)
	}
	if v := h.view("lkc-other", "shared-name"); !v.exists {
		t.Fatalf("other cluster's group deleted")
	}
}

func TestRestoredGroupsStayPassiveUntilUsed(t *testing.T) {
	store := newMemStore()
	h1 := newHarness(t, store, Options{})
	a, b := h1.newClient("g", "a"), h1.newClient("g", "b")
	h1.stableGroup(a, b)
	h1.c.Close()
	saved, _ := store.record(testCluster, "g")

	// Another broker loads the cluster (to list its groups) but does not
	// coordinate "g": its copy must not expire members nor save over the
	// record, however long it waits.
	h2 := newHarness(t, store, Options{OffsetsRetention: time.Hour})
	h2.c.ListGroups(context.Background(), testCluster, &kmsg.ListGroupsRequest{Version: 4})
	h2.clock.Advance(24 * time.Hour)
	h2.c.expireOffsets()
	if v := h2.view(testCluster, "g"); v.state != stateStable || v.members != 2 {
		t.Fatalf("passive copy changed: %+v", v)
	}
	if rec, _ := store.record(testCluster, "g"); rec.Generation != saved.Generation || len(rec.Members) != 2 {
		t.Fatalf("passive copy saved over the record: %+v", rec)
	}

	// Once a request for the group arrives, sessions run.
	a.h, b.h = h2, h2
	if code := a.heartbeat(); code != 0 {
		t.Fatalf("heartbeat: %d", code)
	}
	keepAlive(t, h2, testSession-time.Second, a)
	h2.clock.Advance(2 * time.Second)
	if v := h2.view(testCluster, "g"); v.members != 1 {
		t.Fatalf("b did not expire once the group was active: %+v", v)
	}
}

func TestReleaseReloadsFromStore(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ctx := context.Background()
	a, b := h.newClient("g", "a"), h.newClient("g", "b")
	h.stableGroup(a, b)
	leader, follower := a, b
	if b.memberID == b.leaderID {
		leader, follower = b, a
	}
	jl := leader.joinAsync(ctx)
	eventually(t, "leader rejoined", func() bool { return h.view(testCluster, "g").awaitingJoin == 1 })

	// Coordination moves: waiting requests are sent to find the
	// coordinator again, and the next request reloads the saved state,
	// the rebalance the leader began included.
	h.c.Release(testCluster)
	if r := receive(t, "join", jl); r.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("waiting join after release: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if code := follower.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat after reload: %d, want REBALANCE_IN_PROGRESS", code)
	}
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance || v.generation != 1 || v.members != 2 {
		t.Fatalf("reloaded group: %+v", v)
	}
	joins := []<-chan *kmsg.JoinGroupResponse{leader.joinAsync(ctx), follower.joinAsync(ctx)}
	for i, cl := range []*client{leader, follower} {
		r := receive(t, "join", joins[i])
		if r.ErrorCode != 0 || r.Generation != 2 {
			t.Fatalf("join of the resumed rebalance: error %d generation %d, want generation 2", r.ErrorCode, r.Generation)
		}
		cl.absorb(r)
	}
	h.syncAll(leader, follower)
	h.c.ReleaseAll()
	if code := leader.heartbeat(); code != 0 {
		t.Fatalf("heartbeat after ReleaseAll: %d", code)
	}
}
