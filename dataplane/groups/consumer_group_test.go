package groups

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeTopics is a TopicLister the tests change as they go.
type fakeTopics struct {
	mu     sync.Mutex
	topics map[string]TopicInfo
	fail   error
}

func newFakeTopics(counts map[string]int32) *fakeTopics {
	ft := &fakeTopics{topics: map[string]TopicInfo{}}
	for name, n := range counts {
		ft.set(name, n)
	}
	return ft
}

func (ft *fakeTopics) set(name string, partitions int32) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if partitions <= 0 {
		delete(ft.topics, name)
		return
	}
	t, ok := ft.topics[name]
	if !ok {
		t = TopicInfo{Name: name, ID: [16]byte{byte(len(name)), name[0], byte(len(ft.topics) + 1)}}
	}
	t.Partitions = partitions
	ft.topics[name] = t
}

func (ft *fakeTopics) id(name string) [16]byte {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.topics[name].ID
}

func (ft *fakeTopics) ListTopics(context.Context, string) ([]TopicInfo, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.fail != nil {
		return nil, ft.fail
	}
	var out []TopicInfo
	for _, t := range ft.topics {
		out = append(out, t)
	}
	return out, nil
}

// member848 is a test client of the consumer protocol: it owns what it was
// last assigned, minus what it revoked.
type member848 struct {
	h      *harness
	topics *fakeTopics
	group  string
	id     string
	epoch  int32
	inst   string
	subs   []string
	owned  map[[16]byte][]int32
	client ClientInfo
}

func (h *harness) member848(topics *fakeTopics, group, id string, subs ...string) *member848 {
	return &member848{h: h, topics: topics, group: group, id: id, subs: subs,
		owned: map[[16]byte][]int32{}, client: ClientInfo{ClientID: "client-" + id, ClientHost: "/127.0.0.1"}}
}

func (m *member848) request() *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group = m.group
	req.MemberID = m.id
	req.MemberEpoch = m.epoch
	req.RebalanceTimeoutMillis = int32(testRebalance.Milliseconds())
	req.SubscribedTopicNames = m.subs
	if m.inst != "" {
		req.InstanceID = kmsg.StringPtr(m.inst)
	}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if m.epoch != 0 {
		for id, ps := range m.owned {
			t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			t.TopicID, t.Partitions = id, slices.Clone(ps)
			req.Topics = append(req.Topics, t)
		}
	}
	return req
}

func (m *member848) send(req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	resp := m.h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, m.client, m.topics, req)
	if resp.ErrorCode == 0 && req.MemberEpoch >= 0 {
		m.epoch = resp.MemberEpoch
		if resp.Assignment != nil {
			// Revoking is immediate here: the member owns exactly
			// what it was last told.
			m.owned = map[[16]byte][]int32{}
			for _, t := range resp.Assignment.Topics {
				m.owned[t.TopicID] = slices.Clone(t.Partitions)
			}
		}
	}
	return resp
}

// heartbeat sends a full heartbeat and expects success.
func (m *member848) heartbeat(t *testing.T) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	resp := m.send(m.request())
	if resp.ErrorCode != 0 {
		t.Fatalf("%s heartbeat: %v %s", m.id, kerr.ErrorForCode(resp.ErrorCode), derefString(resp.ErrorMessage))
	}
	return resp
}

func (m *member848) count() int {
	n := 0
	for _, ps := range m.owned {
		n += len(ps)
	}
	return n
}

func (m *member848) has(topic [16]byte, p int32) bool { return slices.Contains(m.owned[topic], p) }

// settle heartbeats every member until none changes (at most 10 rounds).
func settle(t *testing.T, members ...*member848) {
	t.Helper()
	for range 10 {
		for _, m := range members {
			m.heartbeat(t)
		}
	}
}

func checkDisjointAndComplete(t *testing.T, topic [16]byte, partitions int32, members ...*member848) {
	t.Helper()
	seen := map[int32]string{}
	for _, m := range members {
		for _, p := range m.owned[topic] {
			if prev, dup := seen[p]; dup {
				t.Fatalf("partition %d owned by %s and %s", p, prev, m.id)
			}
			seen[p] = m.id
		}
	}
	if int32(len(seen)) != partitions {
		t.Fatalf("members own %v, want all %d partitions", seen, partitions)
	}
}

func TestConsumerGroupIncrementalReconciliation(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 6})
	orders := topics.id("orders")

	a := h.member848(topics, "g", "member-a", "orders")
	resp := a.heartbeat(t)
	if resp.MemberEpoch != 1 || a.count() != 6 || *resp.MemberID != "member-a" {
		t.Fatalf("first member: epoch %d, owns %v; want epoch 1 with all 6 partitions", resp.MemberEpoch, a.owned)
	}
	if resp.HeartbeatIntervalMillis != 5000 {
		t.Errorf("heartbeat interval %d ms, want Kafka's 5000", resp.HeartbeatIntervalMillis)
	}

	// b joins: it is at the new epoch at once, but gets nothing until a
	// has revoked.
	b := h.member848(topics, "g", "member-b", "orders")
	resp = b.heartbeat(t)
	if resp.MemberEpoch != 2 || b.count() != 0 {
		t.Fatalf("second member: epoch %d, owns %v; want epoch 2 and nothing yet", resp.MemberEpoch, b.owned)
	}
	before := slices.Clone(a.owned[orders])
	resp = a.heartbeat(t)
	if resp.MemberEpoch != 1 || a.count() != 3 {
		t.Fatalf("a told to revoke: epoch %d, owns %v; want epoch 1 (unchanged) keeping 3", resp.MemberEpoch, a.owned)
	}
	for _, p := range a.owned[orders] {
		if !slices.Contains(before, p) {
			t.Fatalf("a was given partition %d while revoking", p)
		}
	}
	resp = b.heartbeat(t)
	if b.count() != 0 && resp.Assignment != nil {
		// a has not confirmed the revocation yet: nothing may move.
		t.Fatalf("b got %v before a confirmed its revocation", b.owned)
	}
	// a confirms (its next heartbeat lists only what it kept).
	if resp = a.heartbeat(t); resp.MemberEpoch != 2 {
		t.Fatalf("a after revoking: epoch %d, want 2", resp.MemberEpoch)
	}
	b.heartbeat(t)
	checkDisjointAndComplete(t, orders, 6, a, b)
	if a.count() != 3 || b.count() != 3 {
		t.Fatalf("a owns %v, b owns %v; want 3 each", a.owned, b.owned)
	}
	d := h.describe848("g")
	if d.State != "Stable" || d.Epoch != 2 || d.AssignmentEpoch != 2 || d.AssignorName != "uniform" || len(d.Members) != 2 {
		t.Fatalf("described %+v, want Stable at epoch 2 with 2 members", d)
	}

	// b leaves: a keeps its 3 and gets b's 3 without revoking anything.
	kept := slices.Clone(a.owned[orders])
	leave := b.request()
	leave.MemberEpoch = leaveEpoch
	if resp := b.send(leave); resp.ErrorCode != 0 || resp.MemberEpoch != leaveEpoch {
		t.Fatalf("leave: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	resp = a.heartbeat(t)
	if resp.MemberEpoch != 3 || a.count() != 6 {
		t.Fatalf("after b left: a at epoch %d owns %v, want epoch 3 with all 6", resp.MemberEpoch, a.owned)
	}
	for _, p := range kept {
		if !a.has(orders, p) {
			t.Fatalf("a lost partition %d when b left", p)
		}
	}
}

func TestConsumerGroupEpochFencing(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 4})
	a := h.member848(topics, "g", "member-a", "orders")
	a.heartbeat(t)
	b := h.member848(topics, "g", "member-b", "orders")
	b.heartbeat(t)
	settle(t, a, b) // a at epoch 2 now, previous epoch 1

	for _, tc := range []struct {
		name   string
		change func(*kmsg.ConsumerGroupHeartbeatRequest)
		want   int16
	}{
		{"epoch ahead", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 7 }, kerr.FencedMemberEpoch.Code},
		{"unknown member", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "nobody" }, kerr.UnknownMemberID.Code},
		{"unknown member leaving", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "nobody"; r.MemberEpoch = leaveEpoch }, kerr.UnknownMemberID.Code},
		{"wrong instance id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = kmsg.StringPtr("other") }, kerr.FencedInstanceID.Code},
	} {
		req := a.request()
		tc.change(req)
		if resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, a.client, topics, req); resp.ErrorCode != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, kerr.ErrorForCode(resp.ErrorCode), kerr.ErrorForCode(tc.want))
		}
	}

	// The previous epoch passes when the member owns nothing it should
	// not (it missed the response that moved it on)...
	req := a.request()
	req.MemberEpoch = 1
	if resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, a.client, topics, req); resp.ErrorCode != 0 || resp.MemberEpoch != 2 || resp.Assignment == nil {
		t.Errorf("previous epoch with owned partitions of the current assignment: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	// ...but not when it claims partitions it no longer has.
	req = a.request()
	req.MemberEpoch = 1
	req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: topics.id("orders"), Partitions: []int32{0, 1, 2, 3}})
	if resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, a.client, topics, req); resp.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("previous epoch owning partitions it lost: %v, want FENCED_MEMBER_EPOCH", kerr.ErrorForCode(resp.ErrorCode))
	}
	// An epoch older still is fenced.
	b.heartbeat(t)
	req = b.request()
	req.MemberEpoch = 1
	if b.epoch == 1 {
		t.Fatalf("b is still at epoch 1")
	}
	req.MemberEpoch = b.epoch - 2
	if req.MemberEpoch > 0 {
		if resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, b.client, topics, req); resp.ErrorCode != kerr.FencedMemberEpoch.Code {
			t.Errorf("epoch two behind: %v, want FENCED_MEMBER_EPOCH", kerr.ErrorForCode(resp.ErrorCode))
		}
	}
}

func TestConsumerGroupHeartbeatBadInput(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 2})
	join := func() *kmsg.ConsumerGroupHeartbeatRequest {
		return h.member848(topics, "g", "member-x", "orders").request()
	}
	long := strings.Repeat("x", maxMemberIDBytes+1)
	for _, tc := range []struct {
		name   string
		change func(*kmsg.ConsumerGroupHeartbeatRequest)
		want   int16
	}{
		{"empty group", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.Group = "" }, kerr.InvalidRequest.Code},
		{"epoch below -2", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -3 }, kerr.InvalidRequest.Code},
		{"very negative epoch", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = -1 << 31 }, kerr.InvalidRequest.Code},
		{"no member id at epoch 1", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = ""; r.MemberEpoch = 1 }, kerr.InvalidRequest.Code},
		{"no member id in v1", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = "" }, kerr.InvalidRequest.Code},
		{"join without rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -1 }, kerr.InvalidRequest.Code},
		{"negative rebalance timeout", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RebalanceTimeoutMillis = -5 }, kerr.InvalidRequest.Code},
		{"join owning partitions", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{{TopicID: topics.id("orders"), Partitions: []int32{0}}}
		}, kerr.InvalidRequest.Code},
		{"join without subscription", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicNames = nil }, kerr.InvalidRequest.Code},
		{"names and regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.SubscribedTopicRegex = kmsg.StringPtr("o.*") }, kerr.InvalidRequest.Code},
		{"unknown assignor", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.ServerAssignor = kmsg.StringPtr("sticky") }, kerr.UnsupportedAssignor.Code},
		{"bad regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.SubscribedTopicNames = nil
			r.SubscribedTopicRegex = kmsg.StringPtr("(unclosed")
		}, kerr.InvalidRegularExpression.Code},
		{"oversized member id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberID = long }, kerr.InvalidRequest.Code},
		{"oversized instance id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.InstanceID = &long }, kerr.InvalidRequest.Code},
		{"oversized rack id", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.RackID = &long }, kerr.InvalidRequest.Code},
		{"oversized regex", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.SubscribedTopicNames = nil
			r.SubscribedTopicRegex = kmsg.StringPtr(strings.Repeat("a", maxRegexBytes+1))
		}, kerr.InvalidRequest.Code},
		{"too many topics", func(r *kmsg.ConsumerGroupHeartbeatRequest) {
			r.SubscribedTopicNames = make([]string, maxSubscribedNames+1)
		}, kerr.InvalidRequest.Code},
		{"unknown member at epoch 5", func(r *kmsg.ConsumerGroupHeartbeatRequest) { r.MemberEpoch = 5 }, kerr.UnknownMemberID.Code},
	} {
		req := join()
		tc.change(req)
		resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, ClientInfo{}, topics, req)
		if resp.ErrorCode != tc.want {
			t.Errorf("%s: %v (%s), want %v", tc.name, kerr.ErrorForCode(resp.ErrorCode), derefString(resp.ErrorMessage), kerr.ErrorForCode(tc.want))
		}
	}
	if v := h.view(testCluster, "g"); v.exists {
		t.Errorf("a refused join created group g: %+v", v)
	}

	// Negative partitions in what a member says it owns are ignored.
	m := h.member848(topics, "g", "member-y", "orders")
	m.heartbeat(t)
	req := m.request()
	req.Topics = append(req.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: topics.id("orders"), Partitions: []int32{-1, -1 << 31}})
	if resp := m.send(req); resp.ErrorCode != 0 {
		t.Errorf("negative owned partitions: %v", kerr.ErrorForCode(resp.ErrorCode))
	}

	// Only a static member may leave with epoch -2.
	req = m.request()
	req.MemberEpoch = staticLeaveEpoch
	if resp := m.send(req); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("dynamic member leaving with -2: %v, want INVALID_REQUEST", kerr.ErrorForCode(resp.ErrorCode))
	}

	// A v0 member without id gets one from the coordinator.
	req = h.member848(topics, "g", "", "orders").request()
	req.Version = 0
	resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, ClientInfo{}, topics, req)
	if resp.ErrorCode != 0 || resp.MemberID == nil || *resp.MemberID == "" {
		t.Errorf("v0 join without member id: %v, member id %v", kerr.ErrorForCode(resp.ErrorCode), resp.MemberID)
	}

	// Topics failing to list is retriable for the client.
	topics.fail = context.DeadlineExceeded
	h.clock.Advance(defaultConsumerTopicsRefresh)
	if resp := m.send(m.request()); resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Errorf("topics not listable: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(resp.ErrorCode))
	}
}

func TestConsumerGroupTimeouts(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 4})
	a := h.member848(topics, "g", "member-a", "orders")
	a.heartbeat(t)
	b := h.member848(topics, "g", "member-b", "orders")
	b.heartbeat(t)

	// a is told to revoke, then never heartbeats again: after its
	// rebalance timeout it is removed and b gets everything.
	resp := a.send(a.request())
	if resp.ErrorCode != 0 || a.count() != 2 {
		t.Fatalf("a told to revoke: %v, owns %v", kerr.ErrorForCode(resp.ErrorCode), a.owned)
	}
	for range 3 {
		h.clock.Advance(testRebalance / 3)
		b.heartbeat(t)
	}
	if b.count() != 4 {
		t.Fatalf("b owns %v after a exceeded its rebalance timeout, want all 4", b.owned)
	}
	if resp := a.send(a.request()); resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("a after being fenced: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(resp.ErrorCode))
	}

	// b stops heartbeating: after the session timeout the group is Empty.
	h.clock.Advance(defaultConsumerSessionTimeout - time.Second)
	if d := h.describe848("g"); len(d.Members) != 1 {
		t.Fatalf("b removed before its session timed out: %+v", d)
	}
	h.clock.Advance(2 * time.Second)
	if d := h.describe848("g"); len(d.Members) != 0 || d.State != "Empty" {
		t.Fatalf("after b's session: %+v, want an Empty group", d)
	}
}

func TestConsumerGroupStaticMembers(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 4})
	a := h.member848(topics, "g", "member-a", "orders")
	a.inst = "instance-a"
	a.heartbeat(t)
	b := h.member848(topics, "g", "member-b", "orders")
	b.heartbeat(t)
	settle(t, a, b)
	kept := slices.Clone(a.owned[topics.id("orders")])
	epoch := h.describe848("g").Epoch

	// Another process with a's instance id cannot join while a is there.
	a2 := h.member848(topics, "g", "member-a2", "orders")
	a2.inst = "instance-a"
	if resp := a2.send(a2.request()); resp.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("second holder of an instance id: %v, want UNRELEASED_INSTANCE_ID", kerr.ErrorForCode(resp.ErrorCode))
	}

	// a leaves for now (-2): it keeps its partitions, nothing moves. (The
	// request names the member only, as some clients send it.)
	leave := a.request()
	leave.MemberEpoch = staticLeaveEpoch
	leave.InstanceID = nil
	if resp := a.send(leave); resp.ErrorCode != 0 || resp.MemberEpoch != staticLeaveEpoch {
		t.Fatalf("static leave: %v epoch %d", kerr.ErrorForCode(resp.ErrorCode), resp.MemberEpoch)
	}
	b.heartbeat(t)
	if b.count() != 2 || h.describe848("g").Epoch != epoch {
		t.Fatalf("after a static leave: b owns %v, epoch %d; want 2 partitions, epoch still %d", b.owned, h.describe848("g").Epoch, epoch)
	}

	// It comes back with a new member id and gets the same partitions.
	a2.heartbeat(t)
	if !slices.Equal(slices.Sorted(slices.Values(a2.owned[topics.id("orders")])), slices.Sorted(slices.Values(kept))) {
		t.Fatalf("returning static member owns %v, want its old %v", a2.owned, kept)
	}
	if d := h.describe848("g"); d.Epoch != epoch || len(d.Members) != 2 {
		t.Fatalf("after the static member returned: epoch %d, %d members; want epoch %d, 2 members", d.Epoch, len(d.Members), epoch)
	}

	// A static member that does not come back is removed with its session.
	leave = a2.request()
	leave.MemberEpoch = staticLeaveEpoch
	a2.send(leave)
	for range 10 {
		h.clock.Advance(defaultConsumerSessionTimeout / 9)
		b.heartbeat(t)
	}
	if b.count() != 4 {
		t.Fatalf("b owns %v after the static member's session expired, want all 4", b.owned)
	}
}

func TestConsumerGroupTopicChanges(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 2, "audit": 2, "other": 3})
	a := h.member848(topics, "g", "member-a", "orders", "audit")
	a.heartbeat(t)
	b := h.member848(topics, "g", "member-b", "orders", "audit")
	b.heartbeat(t)
	settle(t, a, b)

	topics.set("orders", 6) // partitions added
	h.clock.Advance(defaultConsumerTopicsRefresh)
	settle(t, a, b)
	checkDisjointAndComplete(t, topics.id("orders"), 6, a, b)
	if a.count()+b.count() != 8 {
		t.Fatalf("after orders grew to 6: a %v b %v, want 8 partitions between them", a.owned, b.owned)
	}

	audit := topics.id("audit")
	topics.set("audit", 0) // deleted
	h.clock.Advance(defaultConsumerTopicsRefresh)
	settle(t, a, b)
	if a.count()+b.count() != 6 || len(a.owned[audit])+len(b.owned[audit]) != 0 {
		t.Fatalf("after audit was deleted: a %v b %v, want only orders' 6", a.owned, b.owned)
	}

	// A regex subscription follows topics as they come.
	r := h.member848(topics, "rg", "member-r")
	req := r.request()
	req.SubscribedTopicNames = nil
	req.SubscribedTopicRegex = kmsg.StringPtr("o.*")
	if resp := r.send(req); resp.ErrorCode != 0 {
		t.Fatalf("regex join: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if r.count() != 9 { // orders (6) + other (3), whole-name matches only
		t.Fatalf("regex o.* owns %v, want orders and other (9 partitions)", r.owned)
	}
	topics.set("orders-eu", 1)
	h.clock.Advance(defaultConsumerTopicsRefresh)
	r.subs = nil
	resp := r.send(r.request())
	if resp.ErrorCode != 0 || r.count() != 10 {
		t.Fatalf("after orders-eu was created: %v, owns %v; want 10 partitions", kerr.ErrorForCode(resp.ErrorCode), r.owned)
	}
	d := h.describe848("rg")
	if len(d.Members) != 1 || derefString(d.Members[0].SubscribedTopicRegex) != "o.*" {
		t.Fatalf("described %+v, want the regex", d)
	}
}

func TestConsumerGroupRangeAssignor(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"a": 4, "b": 4})
	var members []*member848
	for _, id := range []string{"m1", "m2"} {
		m := h.member848(topics, "g", id, "a", "b")
		req := m.request()
		req.ServerAssignor = kmsg.StringPtr("range")
		if resp := m.send(req); resp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(resp.ErrorCode))
		}
		members = append(members, m)
	}
	settle(t, members...)
	if d := h.describe848("g"); d.AssignorName != "range" {
		t.Fatalf("assignor %q, want range", d.AssignorName)
	}
	for _, topic := range []string{"a", "b"} {
		if got := slices.Sorted(slices.Values(members[0].owned[topics.id(topic)])); !slices.Equal(got, []int32{0, 1}) {
			t.Errorf("m1 owns %v of %s, want [0 1]", got, topic)
		}
	}
}

// A coordinator restarted on the same Store (or another broker taking the
// group over) resumes the group: members keep their epochs and partitions.
func TestConsumerGroupSurvivesRestart(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 4})
	a := h.member848(topics, "g", "member-a", "orders")
	a.heartbeat(t)
	b := h.member848(topics, "g", "member-b", "orders")
	b.heartbeat(t)
	settle(t, a, b)
	before := h.describe848("g")
	h.c.Close()

	h2 := newHarness(t, store, Options{})
	a.h, b.h = h2, h2
	after := h2.describe848("g")
	if after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 || after.State != "Stable" {
		t.Fatalf("restored %+v, want %+v", after, before)
	}
	epochA, ownedA := a.epoch, a.count()
	if resp := a.heartbeat(t); resp.MemberEpoch != epochA || a.count() != ownedA {
		t.Fatalf("a after restart: epoch %d owns %d, want %d owning %d", resp.MemberEpoch, a.count(), epochA, ownedA)
	}
	// It still knows what its members subscribe to.
	del := kmsg.NewPtrOffsetDeleteRequest()
	del.Group = "g"
	del.Topics = []kmsg.OffsetDeleteRequestTopic{{Topic: "orders", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}
	if resp := h2.c.OffsetDelete(context.Background(), testCluster, del); resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code {
		t.Fatalf("OffsetDelete of a subscribed topic after restart: %+v, want GROUP_SUBSCRIBED_TO_TOPIC", resp)
	}
	// The restored group goes on: b leaves and a takes everything.
	leave := b.request()
	leave.MemberEpoch = leaveEpoch
	b.send(leave)
	a.heartbeat(t)
	if a.count() != 4 {
		t.Fatalf("a owns %v after b left the restored group, want 4", a.owned)
	}
	if rec, ok := store.record(testCluster, "g"); !ok || rec.Consumer == nil || len(rec.Consumer.Members) != 1 {
		t.Fatalf("stored record %+v, want a consumer group with one member", rec)
	}
}

func (h *harness) describe848(group string) kmsg.ConsumerGroupDescribeResponseGroup {
	h.t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Version = 1
	req.Groups = []string{group}
	resp := h.c.ConsumerGroupDescribe(context.Background(), testCluster, req)
	if len(resp.Groups) != 1 || resp.Groups[0].ErrorCode != 0 {
		h.t.Fatalf("ConsumerGroupDescribe %s: %+v", group, resp.Groups)
	}
	return resp.Groups[0]
}

// TestConsumerGroupNeverDoubleAssigns drives a group through random joins,
// leaves, heartbeats, session expiries and topic growth, checking after
// every step that no partition is owned by two live members at once, and
// at the end that the settled group owns every partition, balanced.
func TestConsumerGroupNeverDoubleAssigns(t *testing.T) {
	for seed := range int64(20) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(seed), 848))
			h := newHarness(t, nil, Options{})
			topics := newFakeTopics(map[string]int32{"orders": 8, "audit": 3})
			var live []*member848
			next := 0
			for step := range 200 {
				switch op := rng.IntN(10); {
				case op < 2 && len(live) < 6:
					m := h.member848(topics, "g", fmt.Sprintf("m%03d", next), "orders", "audit")
					next++
					m.heartbeat(t)
					live = append(live, m)
				case op == 2 && len(live) > 0:
					i := rng.IntN(len(live))
					leave := live[i].request()
					leave.MemberEpoch = leaveEpoch
					live[i].send(leave)
					live = slices.Delete(live, i, i+1)
				case op == 3:
					h.clock.Advance(time.Duration(rng.IntN(20)) * time.Second)
					// Members whose session or revocation timed out
					// find out on their next heartbeat.
					kept := live[:0]
					for _, m := range live {
						if resp := m.send(m.request()); resp.ErrorCode == 0 {
							kept = append(kept, m)
						}
					}
					live = kept
				case op == 4 && step%20 == 0:
					topics.set("orders", int32(8+step/20))
				default:
					if len(live) > 0 {
						live[rng.IntN(len(live))].heartbeat(t)
					}
				}
				checkNoPartitionTwice(t, step, live)
			}
			if len(live) == 0 {
				return
			}
			h.clock.Advance(defaultConsumerTopicsRefresh)
			settle(t, live...)
			checkNoPartitionTwice(t, -1, live)
			total := 0
			c := make([]int, 0, len(live))
			for _, m := range live {
				total += m.count()
				c = append(c, m.count())
			}
			topics.mu.Lock()
			want := int(topics.topics["orders"].Partitions + topics.topics["audit"].Partitions)
			topics.mu.Unlock()
			if total != want || slices.Max(c)-slices.Min(c) > 1 {
				t.Fatalf("settled members own %v partitions (total %d), want all %d balanced", c, total, want)
			}
		})
	}
}

func checkNoPartitionTwice(t *testing.T, step int, live []*member848) {
	t.Helper()
	owner := map[topicPartitionID]string{}
	for _, m := range live {
		for id, ps := range m.owned {
			for _, p := range ps {
				tp := topicPartitionID{id, p}
				if prev, dup := owner[tp]; dup {
					t.Fatalf("step %d: partition %v owned by %s and %s", step, tp, prev, m.id)
				}
				owner[tp] = m.id
			}
		}
	}
}

// countingTopics counts the reads of a TopicLister.
type countingTopics struct {
	*fakeTopics
	mu    sync.Mutex
	reads int
}

func (c *countingTopics) ListTopics(ctx context.Context, cluster string) ([]TopicInfo, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.fakeTopics.ListTopics(ctx, cluster)
}

// Heartbeats read the cluster's topics once per refresh interval, and at
// once when a member joins or changes its subscription.
func TestConsumerGroupReadsTopicsOncePerInterval(t *testing.T) {
	h := newHarness(t, nil, Options{})
	ct := &countingTopics{fakeTopics: newFakeTopics(map[string]int32{"orders": 2, "audit": 1})}
	m := &member848{h: h, group: "g", id: "member-a", subs: []string{"orders"}, owned: map[[16]byte][]int32{}}
	send := func() {
		t.Helper()
		resp := h.c.ConsumerGroupHeartbeat(context.Background(), testCluster, m.client, ct, m.request())
		if resp.ErrorCode != 0 {
			t.Fatalf("heartbeat: %v", kerr.ErrorForCode(resp.ErrorCode))
		}
		m.epoch = resp.MemberEpoch
	}
	send() // join: read
	for range 5 {
		send()
	}
	if ct.reads != 1 {
		t.Fatalf("%d topic reads for a join and 5 heartbeats within the interval, want 1", ct.reads)
	}
	m.subs = []string{"orders", "audit"}
	send() // subscription changed: read
	h.clock.Advance(defaultConsumerTopicsRefresh)
	send() // interval passed: read
	send()
	if ct.reads != 3 {
		t.Fatalf("%d topic reads, want 3", ct.reads)
	}
}
