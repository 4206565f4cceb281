package groups

import (
	"context"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// classicConsumer is a cooperative classic consumer of topic "orders": it
// owns what its last SyncGroup gave it, and says so when it rejoins.
type classicConsumer struct {
	*client
	owned []int32
	// releasing are partitions a SyncGroup took away, which the consumer
	// still owns until it has revoked them (by its next request).
	releasing []int32
	// eager consumers give up every partition before they rejoin.
	eager bool
}

func (h *harness) classicConsumer(group, clientID string) *classicConsumer {
	return &classicConsumer{client: h.newClient(group, clientID, "orders")}
}

// setOwned records the partitions the consumer owns and puts them in its
// JoinGroup metadata.
func (cc *classicConsumer) setOwned(ps []int32) {
	cc.owned = slices.Sorted(slices.Values(ps))
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 1
	meta.Topics = []string{"orders"}
	if len(cc.owned) > 0 {
		meta.OwnedPartitions = []kmsg.ConsumerMemberMetadataOwnedPartition{{Topic: "orders", Partitions: cc.owned}}
	}
	b := meta.AppendTo(nil)
	for i := range cc.protocols {
		cc.protocols[i].Metadata = b
	}
}

// takeAssignment reads a SyncGroup assignment into owned.
func (cc *classicConsumer) takeAssignment(t *testing.T, b []byte) {
	t.Helper()
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(b); err != nil {
		t.Fatalf("%s: assignment %x is not a ConsumerMemberAssignment: %v", cc.clientID, b, err)
	}
	var ps []int32
	for _, at := range a.Topics {
		if at.Topic != "orders" {
			t.Fatalf("%s assigned topic %q", cc.clientID, at.Topic)
		}
		ps = append(ps, at.Partitions...)
	}
	for _, p := range cc.owned {
		if !slices.Contains(ps, p) {
			cc.releasing = append(cc.releasing, p)
		}
	}
	cc.setOwned(ps)
}

// rejoin joins and syncs with the consumer group, which answers at once.
func (cc *classicConsumer) rejoin(t *testing.T) {
	t.Helper()
	if cc.eager {
		cc.setOwned(nil)
	}
	resp := cc.joinOnce(context.Background())
	if resp.ErrorCode == kerr.MemberIDRequired.Code {
		resp = cc.joinOnce(context.Background())
	}
	if resp.ErrorCode != 0 {
		t.Fatalf("%s JoinGroup: %v", cc.clientID, kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp.LeaderID == cc.memberID || len(resp.Members) > 0 {
		t.Fatalf("%s JoinGroup to a consumer group: leader %q with %d members, want no assigning", cc.clientID, resp.LeaderID, len(resp.Members))
	}
	sync := receive(t, "sync", cc.syncAsync(context.Background(), nil))
	if sync.ErrorCode != 0 {
		t.Fatalf("%s SyncGroup: %v", cc.clientID, kerr.ErrorForCode(sync.ErrorCode))
	}
	cc.takeAssignment(t, sync.MemberAssignment)
}

// step heartbeats, and rejoins when told to.
func (cc *classicConsumer) step(t *testing.T) {
	t.Helper()
	cc.releasing = nil
	switch code := cc.heartbeat(); code {
	case 0:
	case kerr.RebalanceInProgress.Code:
		cc.rejoin(t)
	default:
		t.Fatalf("%s heartbeat: %v", cc.clientID, kerr.ErrorForCode(code))
	}
}

// formClassicGroup forms a Stable classic group of the consumers, the
// leader giving the i-th consumer the "orders" partitions parts[i].
func (h *harness) formClassicGroup(ccs []*classicConsumer, parts [][]int32) {
	h.t.Helper()
	ctx := context.Background()
	var joins []<-chan *kmsg.JoinGroupResponse
	for _, cc := range ccs {
		if cc.instanceID != "" {
			// Static members join without the MEMBER_ID_REQUIRED round trip.
		} else if resp := cc.joinOnce(ctx); resp.ErrorCode != kerr.MemberIDRequired.Code {
			h.t.Fatalf("first join of %s: %v, want MEMBER_ID_REQUIRED", cc.clientID, kerr.ErrorForCode(resp.ErrorCode))
		}
		joins = append(joins, cc.joinAsync(ctx))
	}
	group := ccs[0].group
	eventually(h.t, "all members joined", func() bool { return h.view(testCluster, group).awaitingJoin == len(ccs) })
	h.clock.Advance(2 * testInitialDelay)
	assignments := map[string][]byte{}
	for i, cc := range ccs {
		resp := receive(h.t, "join response", joins[i])
		if resp.ErrorCode != 0 {
			h.t.Fatalf("join of %s: %v", cc.clientID, kerr.ErrorForCode(resp.ErrorCode))
		}
		cc.absorb(resp)
		assignments[cc.memberID] = encodeAssignment(parts[i])
	}
	var syncs []<-chan *kmsg.SyncGroupResponse
	for _, cc := range ccs {
		var give map[string][]byte
		if cc.memberID == cc.leaderID {
			give = assignments
		}
		syncs = append(syncs, cc.syncAsync(ctx, give))
	}
	for i, cc := range ccs {
		resp := receive(h.t, "sync response", syncs[i])
		if resp.ErrorCode != 0 {
			h.t.Fatalf("sync of %s: %v", cc.clientID, kerr.ErrorForCode(resp.ErrorCode))
		}
		cc.takeAssignment(h.t, resp.MemberAssignment)
	}
}

func encodeAssignment(ps []int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 1
	if len(ps) > 0 {
		a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "orders", Partitions: ps}}
	}
	return a.AppendTo(nil)
}

// checkOwnership fails when a partition of "orders" is owned twice; it
// reports whether all n are owned.
func checkOwnership(t *testing.T, step string, topic [16]byte, n int32, ccs []*classicConsumer, ms []*member848) bool {
	t.Helper()
	owner := map[int32]string{}
	own := func(who string, p int32) {
		if prev, dup := owner[p]; dup {
			t.Fatalf("%s: partition %d owned by %s and %s", step, p, prev, who)
		}
		owner[p] = who
	}
	for _, cc := range ccs {
		for _, p := range slices.Concat(cc.owned, cc.releasing) {
			own(cc.clientID, p)
		}
	}
	for _, m := range ms {
		for _, p := range m.owned[topic] {
			own(m.id, p)
		}
	}
	return int32(len(owner)) == n
}

// settleMixed runs classic and consumer-protocol members until every
// partition is owned and each owns its share, checking at every request
// that no partition is owned twice.
func settleMixed(t *testing.T, step string, topic [16]byte, n int32, ccs []*classicConsumer, ms []*member848) {
	t.Helper()
	for range 20 {
		for _, cc := range ccs {
			cc.step(t)
			checkOwnership(t, step, topic, n, ccs, ms)
		}
		for _, m := range ms {
			m.heartbeat(t)
			checkOwnership(t, step, topic, n, ccs, ms)
		}
	}
	if !checkOwnership(t, step, topic, n, ccs, ms) {
		t.Fatalf("%s: not every partition owned after settling", step)
	}
	share := int(n) / (len(ccs) + len(ms))
	for _, cc := range ccs {
		if len(cc.owned) < share {
			t.Fatalf("%s: %s owns %v, want at least %d", step, cc.clientID, cc.owned, share)
		}
	}
	for _, m := range ms {
		if m.count() < share {
			t.Fatalf("%s: %s owns %v, want at least %d", step, m.id, m.owned, share)
		}
	}
}

func isConsumerGroup(h *harness, group string) bool {
	rec, ok := h.store.record(testCluster, group)
	return ok && rec.Consumer != nil
}

// TestOnlineMigration upgrades a Stable classic group when a
// consumer-protocol member joins, runs it with classic members across a
// coordinator change, and downgrades it when the last consumer-protocol
// member leaves.
func TestOnlineMigration(t *testing.T) {
	store := newMemStore()
	h := newHarness(t, store, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 6})
	orders := topics.id("orders")
	c1, c2 := h.classicConsumer("g", "classic-1"), h.classicConsumer("g", "classic-2")
	ccs := []*classicConsumer{c1, c2}
	h.formClassicGroup(ccs, [][]int32{{0, 1, 2}, {3, 4, 5}})
	c2.eager = true
	generation := c1.generation
	if code := c1.commit("orders", 0, 7); code != 0 {
		t.Fatalf("classic commit: %v", kerr.ErrorForCode(code))
	}

	// Upgrade: the classic members keep their partitions at first.
	m := h.member848(topics, "g", "member-a", "orders")
	resp := m.heartbeat(t)
	if !isConsumerGroup(h, "g") {
		t.Fatalf("after a consumer-protocol member joined: not a consumer group")
	}
	if resp.MemberEpoch <= generation {
		t.Fatalf("new member epoch %d, want above the classic generation %d", resp.MemberEpoch, generation)
	}
	d := h.describe848("g")
	if len(d.Members) != 3 {
		t.Fatalf("described %d members, want 3", len(d.Members))
	}
	for _, dm := range d.Members {
		if dm.MemberID == c1.memberID && (len(dm.Assignment.TopicPartitions) != 1 || dm.MemberType != memberTypeClassic) {
			t.Fatalf("classic member described as type %d with assignment %+v, want a classic member with its partitions", dm.MemberType, dm.Assignment)
		}
		if dm.MemberID == m.id && dm.MemberType != memberTypeConsumer {
			t.Fatalf("consumer-protocol member described as type %d", dm.MemberType)
		}
	}
	ms := []*member848{m}
	checkOwnership(t, "upgrade", orders, 6, ccs, ms)
	// reload has another coordinator take the group over from the Store.
	reload := func() {
		t.Helper()
		h.c.Close()
		h = newHarness(t, store, Options{})
		for _, cc := range []*classicConsumer{c1, c2} {
			cc.h = h
		}
		for _, cc := range ccs {
			cc.h = h
		}
		m.h = h
	}
	// A classic member still at the classic generation is told to rejoin.
	if code := c1.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("classic heartbeat after the upgrade: %v, want REBALANCE_IN_PROGRESS", kerr.ErrorForCode(code))
	}
	settleMixed(t, "after the upgrade", orders, 6, ccs, ms)
	// A new classic member joins the consumer group, and another
	// coordinator takes the group over while partitions move to it.
	c3 := h.classicConsumer("g", "classic-3")
	c3.rejoin(t)
	ccs = append(ccs, c3)
	checkOwnership(t, "classic-3 joined", orders, 6, ccs, ms)
	c1.step(t)
	checkOwnership(t, "classic-1 rejoined", orders, 6, ccs, ms)
	reload()
	settleMixed(t, "after classic-3 joined", orders, 6, ccs, ms)
	if code := c1.commit("orders", c1.owned[0], 11); code != 0 {
		t.Fatalf("classic member commit at its epoch %d: %v", c1.generation, kerr.ErrorForCode(code))
	}
	if code := c1.client.heartbeat(); code != 0 {
		t.Fatalf("settled classic heartbeat: %v", kerr.ErrorForCode(code))
	}

	// Another coordinator takes the group over from the Store.
	reload()
	for _, cc := range ccs {
		if code := cc.heartbeat(); code != 0 {
			t.Fatalf("%s heartbeat after the reload: %v", cc.clientID, kerr.ErrorForCode(code))
		}
	}
	m.heartbeat(t)
	checkOwnership(t, "reload", orders, 6, ccs, ms)

	// The classic members leave one by one; the last stays.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: c1.memberID}}
	if lr := h.c.LeaveGroup(context.Background(), testCluster, leave); lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 {
		t.Fatalf("classic LeaveGroup: %+v", lr)
	}
	c1.owned = nil
	ccs = []*classicConsumer{c2, c3}
	if !isConsumerGroup(h, "g") {
		t.Fatalf("a classic member left: the group must stay a consumer group")
	}
	settleMixed(t, "after classic-1 left", orders, 6, ccs, ms)
	if code := c1.heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("heartbeat of the member that left: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: c3.memberID}}
	if lr := h.c.LeaveGroup(context.Background(), testCluster, leave); lr.ErrorCode != 0 || lr.Members[0].ErrorCode != 0 {
		t.Fatalf("classic LeaveGroup: %+v", lr)
	}
	c3.owned, c3.releasing = nil, nil
	ccs = []*classicConsumer{c2}
	settleMixed(t, "after classic-3 left", orders, 6, ccs, ms)

	// Downgrade: the last consumer-protocol member leaves.
	bye := m.request()
	bye.MemberEpoch = leaveEpoch
	if r := m.send(bye); r.ErrorCode != 0 {
		t.Fatalf("consumer leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	m.owned = nil
	if isConsumerGroup(h, "g") {
		t.Fatalf("the last consumer-protocol member left: want a classic group")
	}
	if v := h.view(testCluster, "g"); v.state != statePreparingRebalance || v.members != 1 {
		t.Fatalf("after the downgrade: %+v, want a rebalancing classic group of one member", v)
	}
	if code := c2.heartbeat(); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("classic heartbeat after the downgrade: %v, want REBALANCE_IN_PROGRESS", kerr.ErrorForCode(code))
	}
	join := receive(t, "classic rejoin", c2.joinAsync(context.Background()))
	if join.ErrorCode != 0 || join.LeaderID != c2.memberID {
		t.Fatalf("classic rejoin after the downgrade: %v leader %q, want %s to lead", kerr.ErrorForCode(join.ErrorCode), join.LeaderID, c2.memberID)
	}
	c2.absorb(join)
	sync := receive(t, "sync", c2.syncAsync(context.Background(), map[string][]byte{c2.memberID: encodeAssignment([]int32{0, 1, 2, 3, 4, 5})}))
	if sync.ErrorCode != 0 {
		t.Fatalf("sync after the downgrade: %v", kerr.ErrorForCode(sync.ErrorCode))
	}
	if v := h.view(testCluster, "g"); v.state != stateStable {
		t.Fatalf("classic group after the downgrade: %+v, want Stable", v)
	}
	if code, offsets := h.fetchAs("g", nil, -1); code != 0 || len(offsets) == 0 {
		t.Fatalf("offsets after the migrations: %v %v", kerr.ErrorForCode(code), offsets)
	}
}

// TestOnlineMigrationRefused covers the groups and requests that do not
// migrate.
func TestOnlineMigrationRefused(t *testing.T) {
	h := newHarness(t, nil, Options{})
	topics := newFakeTopics(map[string]int32{"orders": 4})

	// Assignments that are not ConsumerMemberAssignments: not upgraded.
	a, b := h.newClient("opaque", "a"), h.newClient("opaque", "b")
	h.stableGroup(a, b)
	m := h.member848(topics, "opaque", "member-x", "orders")
	if r := m.send(m.request()); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("heartbeat to a classic group with opaque assignments: %v, want GROUP_ID_NOT_FOUND", kerr.ErrorForCode(r.ErrorCode))
	}
	// A rebalancing classic group: retried once Stable.
	leader := a
	if b.memberID == b.leaderID {
		leader = b
	}
	_ = leader.joinAsync(context.Background()) // answered when the harness closes
	eventually(t, "the classic group rebalances", func() bool { return h.view(testCluster, "opaque").state == statePreparingRebalance })
	if r := m.send(m.request()); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("heartbeat to a rebalancing classic group: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(r.ErrorCode))
	}
	if isConsumerGroup(h, "opaque") {
		t.Fatalf("a refused upgrade converted the group")
	}

	// A consumer-protocol member taking a classic static member's
	// instance id is refused, and the group stays classic.
	st := h.classicConsumer("static", "static-1")
	st.instanceID = "instance-1"
	h.formClassicGroup([]*classicConsumer{st}, [][]int32{{0, 1, 2, 3}})
	taker := h.member848(topics, "static", "member-s", "orders")
	taker.inst = "instance-1"
	if r := taker.send(taker.request()); r.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Fatalf("consumer member with a classic member's instance id: %v, want UNRELEASED_INSTANCE_ID", kerr.ErrorForCode(r.ErrorCode))
	}
	if v := h.view(testCluster, "static"); v.members != 1 || isConsumerGroup(h, "static") {
		t.Fatalf("after the refused upgrade: %+v, want a classic group of its one member", v)
	}

	// A consumer group with members answers classic members.
	c1 := h.classicConsumer("g", "classic-1")
	h.formClassicGroup([]*classicConsumer{c1}, [][]int32{{0, 1, 2, 3}})
	m = h.member848(topics, "g", "member-a", "orders")
	m.heartbeat(t)
	if !isConsumerGroup(h, "g") {
		t.Fatalf("not upgraded")
	}
	bad := h.newClient("g", "bad")
	bad.protocols[0].Metadata = []byte{0xff}
	bad.protocols = bad.protocols[:1]
	bad.memberID = "bad-member"
	if r := bad.joinOnce(context.Background()); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("JoinGroup with unreadable metadata: %v, want INCONSISTENT_GROUP_PROTOCOL", kerr.ErrorForCode(r.ErrorCode))
	}
	other := h.newClient("g", "other")
	req := other.joinRequest()
	req.ProtocolType = "connect"
	if r := h.c.JoinGroup(context.Background(), testCluster, ClientInfo{ClientID: "other"}, req); r.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("JoinGroup of protocol type connect: %v, want INCONSISTENT_GROUP_PROTOCOL", kerr.ErrorForCode(r.ErrorCode))
	}
	stale := *c1.client
	stale.generation--
	if code := stale.heartbeat(); code != kerr.IllegalGeneration.Code {
		t.Fatalf("heartbeat of an old generation: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
	}
	if code := stale.commit("orders", 0, 1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("commit of an old generation: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(code))
	}
	if s := receive(t, "sync", stale.syncAsync(context.Background(), nil)); s.ErrorCode != kerr.IllegalGeneration.Code {
		t.Fatalf("sync of an old generation: %v, want ILLEGAL_GENERATION", kerr.ErrorForCode(s.ErrorCode))
	}
	// A classic member's id is not a consumer-protocol member's.
	impostor := h.member848(topics, "g", c1.memberID, "orders")
	impostor.epoch = c1.generation
	if r := impostor.send(impostor.request()); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("consumer heartbeat with a classic member's id: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(r.ErrorCode))
	}
	// A consumer-protocol member is no classic member.
	if code := (&client{h: h, cluster: testCluster, group: "g", memberID: m.id, generation: m.epoch}).heartbeat(); code != kerr.UnknownMemberID.Code {
		t.Fatalf("classic heartbeat with a consumer member's id: %v, want UNKNOWN_MEMBER_ID", kerr.ErrorForCode(code))
	}
	// A classic member's session expires like any other.
	h.clock.Advance(testSession + 1)
	eventually(t, "the classic member's session expired", func() bool {
		return c1.heartbeat() == kerr.UnknownMemberID.Code
	})
	if !isConsumerGroup(h, "g") {
		t.Fatalf("a classic member expired: the group must stay a consumer group")
	}
}
