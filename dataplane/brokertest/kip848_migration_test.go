package brokertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// waitOwnedBalanced waits until the members own every partition between
// them, none twice, balanced, and groupReady holds.
func waitOwnedBalanced(t *testing.T, what string, partitions int, groupReady func() bool, members ...*member848) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		owners, counts, double := ownership(members)
		if double {
			t.Fatalf("%s: a partition is owned twice: %v", what, ownedBy(members))
		}
		if len(owners) == partitions && slices.Max(counts)-slices.Min(counts) <= 1 && groupReady() {
			t.Logf("%s: owners %v", what, owners)
			return
		}
		if time.Now().After(deadline) {
			for _, m := range members {
				m.checkHealthy(t)
			}
			t.Fatalf("%s: members own %v (counts %v), want all %d balanced", what, ownedBy(members), counts, partitions)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ownedBy(members []*member848) map[string][]int32 {
	out := map[string][]int32{}
	for _, m := range members {
		out[m.name] = m.ownedPartitions()
	}
	return out
}

// TestConsumerGroupOnlineMigration upgrades a group of classic franz-go
// consumers to the consumer protocol one consumer at a time while records
// flow, then downgrades it back: every record is read once, the group is a
// consumer group once a consumer-protocol member is in it, and a classic
// group again when only classic members remain. The classic consumers
// rebalance cooperatively, or eagerly (giving up every partition before
// they rejoin).
func TestConsumerGroupOnlineMigration(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	for _, balancer := range []kgo.GroupBalancer{kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()} {
		t.Run(balancer.ProtocolName(), func(t *testing.T) { testOnlineMigration(t, h, balancer) })
	}
}

func testOnlineMigration(t *testing.T, h *testutil.BrokerHandle, balancer kgo.GroupBalancer) {
	topic, group := "orders-"+balancer.ProtocolName(), "group-"+balancer.ProtocolName()
	const partitions = 6
	createTopic(t, h.Admin(t), topic, partitions, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	admin := h.Client(t)

	// Each member polls until stopped; leave stops it, then closes it (a
	// classic member leaves the group, a consumer-protocol one too).
	stops := map[*member848]func(){}
	start := func(m *member848) {
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		m.run(ctx, &wg)
		stops[m] = func() { cancel(); wg.Wait() }
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	leave := func(m *member848) {
		stops[m]()
		delete(stops, m)
		m.cl.Close()
	}
	classic := func(name string) *member848 {
		m := startGroupMember(t, h, name, group, topic, kgo.HeartbeatInterval(300*time.Millisecond), kgo.Balancers(balancer))
		start(m)
		return m
	}
	modern := func(name string) *member848 {
		m := startMember848(t, h, name, group, topic)
		start(m)
		return m
	}
	isConsumerGroup := func() bool {
		d := describe848(t, admin, group)
		return d.ErrorCode == 0 && d.State == "Stable"
	}
	isClassicGroup := func() bool {
		return describe848(t, admin, group).ErrorCode == kerr.GroupIDNotFound.Code
	}
	var all []*member848
	produced := 0
	produce := func(n int) {
		produceValues(t, producer, topic, produced, produced+n)
		produced += n
	}

	// A classic group of two.
	produce(300)
	a, b := classic("classic-a"), classic("classic-b")
	all = append(all, a, b)
	waitOwnedBalanced(t, "classic group", partitions, isClassicGroup, a, b)
	waitConsumed(t, produced, all...)

	// Upgrade: a consumer-protocol member joins the classic members.
	produce(300)
	c := modern("modern-c")
	all = append(all, c)
	waitOwnedBalanced(t, "modern-c joined", partitions, isConsumerGroup, a, b, c)
	if d := describe848(t, admin, group); len(d.Members) != 3 {
		t.Fatalf("consumer group described with %d members, want 3: %+v", len(d.Members), d)
	}
	waitConsumed(t, produced, all...)

	// The classic members are replaced one at a time.
	produce(300)
	leave(a)
	waitOwnedBalanced(t, "classic-a left", partitions, isConsumerGroup, b, c)
	d := modern("modern-d")
	all = append(all, d)
	waitOwnedBalanced(t, "modern-d joined", partitions, isConsumerGroup, b, c, d)
	produce(300)
	leave(b)
	waitOwnedBalanced(t, "classic-b left", partitions, isConsumerGroup, c, d)
	waitConsumed(t, produced, all...)
	for _, m := range all {
		m.checkHealthy(t)
	}
	checkGroupReadEachOnce(t, produced, all...)

	// Downgrade: classic members join, and the consumer-protocol members
	// leave.
	produce(300)
	e := classic("classic-e")
	all = append(all, e)
	waitOwnedBalanced(t, "classic-e joined", partitions, isConsumerGroup, c, d, e)
	leave(c)
	waitOwnedBalanced(t, "modern-c left", partitions, isConsumerGroup, d, e)
	f := classic("classic-f")
	all = append(all, f)
	waitOwnedBalanced(t, "classic-f joined", partitions, isConsumerGroup, d, e, f)
	produce(300)
	leave(d)
	waitOwnedBalanced(t, "modern-d left", partitions, isClassicGroup, e, f)
	produce(300)
	waitConsumed(t, produced, all...)
	leave(e)
	leave(f)
	for _, m := range all {
		m.checkHealthy(t)
	}
	checkGroupReadEachOnce(t, produced, all...)
}
