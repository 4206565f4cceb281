package brokertest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/internal/testutil"
)

// fastConsumerGroups makes KIP-848 members heartbeat every 300ms, so that
// partitions move within a second instead of Kafka's 5s steps.
func fastConsumerGroups(o *groups.Options) {
	o.ConsumerHeartbeatInterval = 300 * time.Millisecond
}

// member848 is a franz-go consumer of the KIP-848 protocol that records
// every partition it is given, revoked and loses, and every record it reads.
type member848 struct {
	name string
	cl   *kgo.Client

	mu       sync.Mutex // guards the fields below
	owned    map[int32]bool
	revoked  []int32 // every partition revoked from it, in order
	lost     []int32
	consumed map[string]int // record value → times read
	errs     []error
}

func startMember848(t *testing.T, h *testutil.BrokerHandle, name, group, topic string, extra ...kgo.Opt) *member848 {
	t.Helper()
	return startGroupMember(t, h, name, group, topic, append([]kgo.Opt{kgo.ServerSideBalancer()}, extra...)...)
}

// startGroupMember starts a franz-go group consumer, of the classic
// protocol unless extra opts into the consumer protocol.
func startGroupMember(t *testing.T, h *testutil.BrokerHandle, name, group, topic string, extra ...kgo.Opt) *member848 {
	t.Helper()
	m := &member848{name: name, owned: map[int32]bool{}, consumed: map[string]int{}}
	opts := append(h.ClientOpts(),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(), kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			// Commit what was read before the partitions move on.
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				m.fail(fmt.Errorf("commit on revoke: %w", err))
			}
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				delete(m.owned, p)
				m.revoked = append(m.revoked, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range ps[topic] {
				delete(m.owned, p)
				m.lost = append(m.lost, p)
			}
		}),
	)
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	m.cl = cl
	return m
}

func (m *member848) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, err)
}

// poll reads one batch, records it and commits it.
func (m *member848) poll(ctx context.Context) {
	fs := m.cl.PollRecords(ctx, 500)
	defer m.cl.AllowRebalance()
	fs.EachError(func(topic string, p int32, err error) {
		if ctx.Err() == nil {
			m.fail(fmt.Errorf("fetch %s/%d: %w", topic, p, err))
		}
	})
	m.mu.Lock()
	fs.EachRecord(func(r *kgo.Record) { m.consumed[string(r.Value)]++ })
	m.mu.Unlock()
	if len(fs.Records()) > 0 {
		if err := m.cl.CommitUncommittedOffsets(ctx); err != nil && ctx.Err() == nil {
			m.fail(fmt.Errorf("commit: %w", err))
		}
	}
}

// revocations is how many partitions were revoked from the member so far,
// a mark for revokedSince.
func (m *member848) revocations() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.revoked)
}

// revokedSince returns the partitions revoked after mark.
func (m *member848) revokedSince(mark int) []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.revoked[mark:])
}

func (m *member848) ownedPartitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.owned))
}

// run polls until ctx ends.
func (m *member848) run(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			m.poll(ctx)
		}
	}()
}

// checkHealthy asserts that the member lost no partition (a rebalance
// without failures revokes, never loses) and saw no errors.
func (m *member848) checkHealthy(t *testing.T) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.lost) > 0 {
		t.Errorf("%s lost partitions %v: a rebalance without failures must revoke, not lose", m.name, m.lost)
	}
	for _, e := range m.errs {
		t.Errorf("%s: %v", m.name, e)
	}
}

func produceValues(t *testing.T, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// describe848 describes a consumer group with ConsumerGroupDescribe.
func describe848(t *testing.T, cl *kgo.Client, group string) kmsg.ConsumerGroupDescribeResponseGroup {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	// A coordinator that just went away takes the client a few tries to
	// find again.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := req.RequestWith(testContext(t), cl)
		if err == nil && len(resp.Groups) == 1 {
			return resp.Groups[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("ConsumerGroupDescribe %s: %v", group, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ownership is who owns each partition among the members, how many each
// owns, and whether some partition is owned twice.
func ownership(members []*member848) (owners map[int32]string, counts []int, double bool) {
	owners = map[int32]string{}
	for _, m := range members {
		ps := m.ownedPartitions()
		counts = append(counts, len(ps))
		for _, p := range ps {
			if _, dup := owners[p]; dup {
				double = true
			}
			owners[p] = m.name
		}
	}
	return owners, counts, double
}

// waitAssigned waits until the members own every partition between them,
// each owning want[i] partitions, and the group is Stable.
func waitAssigned(t *testing.T, admin *kgo.Client, group string, partitions int, members ...*member848) map[int32]string {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		owners, counts, double := ownership(members)
		balanced := slices.Max(counts)-slices.Min(counts) <= 1
		if !double && len(owners) == partitions && balanced && describe848(t, admin, group).State == "Stable" {
			return owners
		}
		if time.Now().After(deadline) {
			for _, m := range members {
				m.checkHealthy(t)
			}
			t.Fatalf("group %s: members own %v (counts %v, some partition twice: %v), want all %d balanced; described %+v",
				group, owners, counts, double, partitions, describe848(t, admin, group))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestConsumerProtocolIncrementalRebalance runs a KIP-848 group of franz-go
// consumers beside a classic group on the same broker: members join and
// leave while records flow, partitions that stay with a member are never
// revoked from it, and each record is read exactly once.
func TestConsumerProtocolIncrementalRebalance(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	const topic, classicTopic, partitions = "orders-848", "orders-classic", 12
	adm := h.Admin(t)
	createTopic(t, adm, topic, partitions, nil)
	createTopic(t, adm, classicTopic, 4, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	admin := h.Client(t)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	// A classic group on the same broker, consuming all along.
	classicCl := h.Client(t, kgo.ConsumerGroup("classic-group"), kgo.ConsumeTopics(classicTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	produceValues(t, producer, classicTopic, 0, 100)

	produceValues(t, producer, topic, 0, 600)
	a := startMember848(t, h, "a", "group-848", topic)
	b := startMember848(t, h, "b", "group-848", topic)
	a.run(ctx, &wg)
	b.run(ctx, &wg)
	waitAssigned(t, admin, "group-848", partitions, a, b)

	var classicRead int
	for classicRead < 100 {
		fs := classicCl.PollFetches(testContext(t))
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("classic fetch %s/%d: %v", topic, p, err) })
		classicRead += len(fs.Records())
	}

	// A third member joins: a and b give up only what moves to c, 4 of
	// their 12, and keep consuming the rest.
	produceValues(t, producer, topic, 600, 1200)
	markA, markB := a.revocations(), b.revocations()
	c := startMember848(t, h, "c", "group-848", topic)
	c.run(ctx, &wg)
	owners := waitAssigned(t, admin, "group-848", partitions, a, b, c)
	moved := append(a.revokedSince(markA), b.revokedSince(markB)...)
	t.Logf("after c joined: owners %v; revoked from a %v, from b %v", owners, a.revokedSince(markA), b.revokedSince(markB))
	if len(moved) != partitions/3 {
		t.Errorf("%d partitions revoked from a and b when c joined (%v), want the %d that c took", len(moved), moved, partitions/3)
	}
	for _, p := range moved {
		if owners[p] != "c" {
			t.Errorf("partition %d was revoked but is now owned by %s, not the new member c: it did not need to move", p, owners[p])
		}
	}
	for _, m := range []*member848{a, b, c} {
		m.checkHealthy(t)
		if n := len(m.ownedPartitions()); n != partitions/3 {
			t.Errorf("%s owns %d partitions after c joined, want %d", m.name, n, partitions/3)
		}
	}
	aBefore, cBefore := a.ownedPartitions(), c.ownedPartitions()

	// b leaves: a and c only gain partitions, none is revoked from them.
	produceValues(t, producer, topic, 1200, 1800)
	waitConsumed(t, 1200, a, b, c)
	markA, markC := a.revocations(), c.revocations()
	b.cl.Close()
	owners = waitAssigned(t, admin, "group-848", partitions, a, c)
	t.Logf("after b left: owners %v", owners)
	if r := append(a.revokedSince(markA), c.revokedSince(markC)...); len(r) > 0 {
		t.Errorf("partitions %v revoked from a or c when b left, want none", r)
	}
	for _, kept := range []struct {
		m      *member848
		before []int32
	}{{a, aBefore}, {c, cBefore}} {
		kept.m.checkHealthy(t)
		now := kept.m.ownedPartitions()
		for _, p := range kept.before {
			if !slices.Contains(now, p) {
				t.Errorf("%s lost partition %d when b left; it owned %v, now %v", kept.m.name, p, kept.before, now)
			}
		}
	}

	produceValues(t, producer, topic, 1800, 2400)
	waitConsumed(t, 2400, a, b, c)
	cancel()
	wg.Wait()
	checkGroupReadEachOnce(t, 2400, a, b, c)

	// The classic group and the consumer group are listed side by side.
	listed, err := adm.ListGroups(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, g := range listed.Sorted() {
		types[g.Group] = g.ProtocolType
	}
	if types["group-848"] != "consumer" || types["classic-group"] != "consumer" {
		t.Errorf("listed groups %v, want both groups of protocol type consumer", types)
	}
	req := kmsg.NewPtrListGroupsRequest()
	req.TypesFilter = []string{"consumer"}
	resp, err := req.RequestWith(testContext(t), admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 1 || resp.Groups[0].Group != "group-848" || resp.Groups[0].GroupType != "consumer" {
		t.Errorf("ListGroups of type consumer: %+v, want group-848 only", resp.Groups)
	}
	a.cl.Close()
	c.cl.Close()
}

// waitConsumed waits until the members together have read n distinct values.
func waitConsumed(t *testing.T, n int, members ...*member848) {
	t.Helper()
	deadline := time.Now().Add(45 * time.Second)
	for {
		seen := map[string]bool{}
		for _, m := range members {
			m.mu.Lock()
			for v := range m.consumed {
				seen[v] = true
			}
			m.mu.Unlock()
		}
		if len(seen) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group read %d distinct records, want %d", len(seen), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkGroupReadEachOnce asserts that values 0..n-1 were each read exactly once
// by the members together.
func checkGroupReadEachOnce(t *testing.T, n int, members ...*member848) {
	t.Helper()
	total := map[string]int{}
	for _, m := range members {
		m.mu.Lock()
		for v, k := range m.consumed {
			total[v] += k
		}
		m.mu.Unlock()
	}
	dups := 0
	for i := range n {
		switch k := total[strconv.Itoa(i)]; {
		case k == 0:
			t.Errorf("record %d was never read", i)
		case k > 1:
			dups++
			if dups <= 10 {
				t.Errorf("record %d was read %d times", i, k)
			}
		}
	}
	if len(total) != n {
		t.Errorf("read %d distinct records, want %d", len(total), n)
	}
	if dups > 0 {
		t.Errorf("%d records read more than once", dups)
	}
}

// TestConsumerProtocolAdvertised checks that ApiVersions offers the KIP-848
// APIs at the versions clients need (franz-go and librdkafka want
// ConsumerGroupHeartbeat v1 for client-chosen member ids and regexes).
func TestConsumerProtocolAdvertised(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	req.ClientSoftwareName, req.ClientSoftwareVersion = "affluent-test", "1.0"
	resp, err := req.RequestWith(testContext(t), h.Client(t))
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions: %v %v", err, resp)
	}
	want := map[int16]int16{int16(kmsg.ConsumerGroupHeartbeat): 1, int16(kmsg.ConsumerGroupDescribe): 1}
	for _, k := range resp.ApiKeys {
		if max, ok := want[k.ApiKey]; ok {
			if k.MinVersion != 0 || k.MaxVersion != max {
				t.Errorf("API %s advertised v%d-%d, want v0-%d", kmsg.NameForKey(k.ApiKey), k.MinVersion, k.MaxVersion, max)
			}
			delete(want, k.ApiKey)
		}
	}
	for k := range want {
		t.Errorf("API %s not advertised", kmsg.NameForKey(k))
	}
}

// TestConsumerProtocolRegexSubscription has a franz-go consumer subscribe
// by regex (resolved by the coordinator): it reads the matching topics,
// not the others, and a matching topic created later joins its assignment.
func TestConsumerProtocolRegexSubscription(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	adm := h.Admin(t)
	for _, topic := range []string{"metrics-cpu", "metrics-mem", "logs"} {
		createTopic(t, adm, topic, 2, nil)
	}
	producer := h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	produceValues(t, producer, "metrics-cpu", 0, 50)
	produceValues(t, producer, "metrics-mem", 50, 100)
	produceValues(t, producer, "logs", 1000, 1050)

	cl := h.Client(t, kgo.ConsumerGroup("regex-group"), kgo.ConsumeRegex(), kgo.ConsumeTopics("metrics-.*"),
		kgo.ServerSideBalancer(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.MetadataMinAge(200*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	seen := map[string]string{}
	read := func(n int) {
		ctx := testContext(t)
		for len(seen) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d records: %v", len(seen), n, seen)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = r.Topic })
		}
	}
	read(100)
	createTopic(t, adm, "metrics-disk", 1, nil)
	produceValues(t, producer, "metrics-disk", 100, 120)
	read(120)
	for v, topic := range seen {
		if topic == "logs" {
			t.Errorf("read %s from logs, which metrics-.* does not match", v)
		}
	}
	d := describe848(t, h.Client(t), "regex-group")
	if len(d.Members) != 1 || d.Members[0].SubscribedTopicRegex == nil {
		t.Fatalf("described %+v, want one member subscribed by regex", d)
	}
	var topics []string
	for _, tp := range d.Members[0].Assignment.TopicPartitions {
		topics = append(topics, tp.Topic)
	}
	slices.Sort(topics)
	if !slices.Equal(topics, []string{"metrics-cpu", "metrics-disk", "metrics-mem"}) {
		t.Errorf("assigned topics %v, want the three metrics topics", topics)
	}
}

// TestConsumerProtocolStaticMember restarts a franz-go consumer with a
// group.instance.id: leaving with epoch -2 keeps its partitions for it, so
// it comes back to the same ones without the group rebalancing.
func TestConsumerProtocolStaticMember(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: os.Getenv("KIP848_DEBUG") == "", Groups: fastConsumerGroups})
	const topic, group, partitions = "static-848", "static-group", 6
	createTopic(t, h.Admin(t), topic, partitions, nil)
	admin := h.Client(t)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	a := startMember848(t, h, "a", group, topic, kgo.InstanceID("instance-a"))
	b := startMember848(t, h, "b", group, topic)
	a.run(ctx, &wg)
	b.run(ctx, &wg)
	waitAssigned(t, admin, group, partitions, a, b)
	before := describe848(t, admin, group)
	aOwned := a.ownedPartitions()
	markB := b.revocations()

	// a's process stops (a static member leaves with epoch -2)...
	a.cl.Close()
	d := describe848(t, admin, group)
	if len(d.Members) != 2 || d.Epoch != before.Epoch {
		t.Fatalf("after the static member left: %d members at epoch %d, want it kept (2 members) at epoch %d", len(d.Members), d.Epoch, before.Epoch)
	}
	// ...and starts again with the same instance id.
	a2 := startMember848(t, h, "a2", group, topic, kgo.InstanceID("instance-a"))
	a2.run(ctx, &wg)
	waitAssigned(t, admin, group, partitions, a2, b)
	if got := a2.ownedPartitions(); !slices.Equal(got, aOwned) {
		t.Errorf("the restarted static member owns %v, it owned %v", got, aOwned)
	}
	if r := b.revokedSince(markB); len(r) > 0 {
		t.Errorf("b had %v revoked while the static member restarted, want nothing", r)
	}
	if d := describe848(t, admin, group); d.Epoch != before.Epoch {
		t.Errorf("group epoch %d after the static member returned, want %d (no rebalance)", d.Epoch, before.Epoch)
	}
	b.checkHealthy(t)
	a2.checkHealthy(t)
	cancel()
	wg.Wait()
	a2.cl.Close()
	b.cl.Close()
}

// TestConsumerProtocolOfflineMigration moves one group id from the classic
// protocol to KIP-848 and back with real consumers, each time after the
// group emptied: the offsets committed under one protocol are where the
// other resumes, so no record is read twice or skipped.
func TestConsumerProtocolOfflineMigration(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	const topic, group = "migrating", "migrating-group"
	createTopic(t, h.Admin(t), topic, 3, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	admin := h.Client(t)

	// consume reads want records as one group member and commits them.
	consume := func(want int, extra ...kgo.Opt) map[string]bool {
		t.Helper()
		cl, err := kgo.NewClient(append(h.ClientOpts(),
			append([]kgo.Opt{kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
				kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit()}, extra...)...)...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx := testContext(t)
		seen := map[string]bool{}
		for len(seen) < want {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("read %d of %d records", len(seen), want)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) {
				if seen[string(r.Value)] {
					t.Errorf("record %s read twice", r.Value)
				}
				seen[string(r.Value)] = true
			})
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		return seen
	}
	checkRange := func(seen map[string]bool, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if !seen[strconv.Itoa(i)] {
				t.Errorf("record %d not read", i)
			}
		}
		if len(seen) != to-from {
			t.Errorf("read %d records, want the %d from %d", len(seen), to-from, from)
		}
	}

	produceValues(t, producer, topic, 0, 90)
	checkRange(consume(90), 0, 90) // classic
	if d := describe848(t, admin, group); d.ErrorCode == 0 {
		t.Fatalf("the classic group is described as a consumer group: %+v", d)
	}

	produceValues(t, producer, topic, 90, 180)
	checkRange(consume(90, kgo.ServerSideBalancer()), 90, 180) // KIP-848, from the classic offsets
	if d := describe848(t, admin, group); d.ErrorCode != 0 || d.State != "Empty" {
		t.Fatalf("after the KIP-848 members left: %+v, want an Empty consumer group", d)
	}

	produceValues(t, producer, topic, 180, 270)
	checkRange(consume(90), 180, 270) // classic again, from the KIP-848 offsets
	if d := describe848(t, admin, group); d.ErrorCode == 0 {
		t.Fatalf("the group is still a consumer group after classic members joined: %+v", d)
	}
}

// TestConsumerProtocolNewPartitions grows a topic a KIP-848 group reads:
// the coordinator assigns the new partitions and their records are read.
func TestConsumerProtocolNewPartitions(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	const topic, group = "growing", "growing-group"
	adm := h.Admin(t)
	createTopic(t, adm, topic, 2, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceTo := func(partition int32, from, to int) {
		t.Helper()
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: partition, Value: []byte(strconv.Itoa(i))})
		}
		if err := producer.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
			t.Fatalf("produce to partition %d: %v", partition, err)
		}
	}
	produceTo(0, 0, 10)
	produceTo(1, 10, 20)

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	a := startMember848(t, h, "a", group, topic, kgo.MetadataMinAge(200*time.Millisecond), kgo.MetadataMaxAge(time.Second))
	a.run(ctx, &wg)
	waitConsumed(t, 20, a)

	if resps, err := adm.CreatePartitions(testContext(t), 2, topic); err != nil || resps[topic].Err != nil {
		t.Fatalf("add partitions: %v %v", err, resps[topic].Err)
	}
	producer = h.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())) // knows the new partitions
	produceTo(2, 20, 30)
	produceTo(3, 30, 40)
	waitConsumed(t, 40, a)
	if got := a.ownedPartitions(); !slices.Equal(got, []int32{0, 1, 2, 3}) {
		t.Errorf("a owns %v after the topic grew, want [0 1 2 3]", got)
	}
	cancel()
	wg.Wait()
	a.checkHealthy(t)
	checkGroupReadEachOnce(t, 40, a)
	a.cl.Close()
}
