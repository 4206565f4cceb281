package brokertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// groupPartitions is the size of the group tests' topic: more than the
// three members, so each gets some.
const groupPartitions = 6

// resetTo is auto.offset.reset: where a member starts in a partition its
// group has no committed offset for.
type resetTo int

const (
	resetEarliest resetTo = iota
	resetLatest
)

func (r resetTo) String() string { return [...]string{"earliest", "latest"}[r] }

// consumed is a record as a group member read it.
type consumed struct {
	partition int32
	offset    int64
	value     string
}

// member is what the tests see of a consumer group member, whatever its
// client library.
type member struct {
	name string

	mu       sync.Mutex // guards the fields below
	assigned map[int32]bool
	records  []consumed
	errs     []error

	// leave makes the member leave the group and stop, committing first
	// when it commits.
	leave     func()
	leaveOnce sync.Once
}

func newMember(name string) *member { return &member{name: name, assigned: map[int32]bool{}} }

func (m *member) assign(ps []int32, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range ps {
		if add {
			m.assigned[p] = true
		} else {
			delete(m.assigned, p)
		}
	}
}

func (m *member) read(r consumed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records = append(m.records, r)
}

func (m *member) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, err)
}

func (m *member) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Sorted(maps.Keys(m.assigned))
}

// seen is what m has read, in order.
func (m *member) seen() []consumed {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.records)
}

func (m *member) Close() { m.leaveOnce.Do(m.leave) }

// groupClient starts members of a group with one client library.
type groupClient struct {
	name string
	// join starts a member of group consuming topic, which starts at reset
	// where the group has no commit, and commits what it reads when commit
	// is set. The member is closed when the test ends.
	join func(t *testing.T, h *testutil.BrokerHandle, group, topic string, reset resetTo, commit bool) *member
	// produce produces values val-from..val-(to-1), value i to partition
	// i % groupPartitions, and waits for them to be acknowledged.
	produce func(t *testing.T, h *testutil.BrokerHandle, topic string, from, to int)
}

// heartbeat is short so that rebalances, which members learn of from
// heartbeats, take a fraction of a second.
const heartbeat = 100 * time.Millisecond

func joinKgo(t *testing.T, h *testutil.BrokerHandle, group, topic string, reset resetTo, commit bool) *member {
	m := newMember(fmt.Sprintf("franz-go member of %s", group))
	start := kgo.NewOffset().AtStart()
	if reset == resetLatest {
		start = kgo.NewOffset().AtEnd()
	}
	opts := append(h.ClientOpts(),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(start),
		kgo.HeartbeatInterval(heartbeat),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.assign(ps[topic], true) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, ps map[string][]int32) {
			if commit {
				// What kgo does by default when autocommitting.
				if err := cl.CommitUncommittedOffsets(ctx); err != nil && !errors.Is(err, context.Canceled) {
					m.fail(fmt.Errorf("commit on revoke: %w", err))
				}
			}
			m.assign(ps[topic], false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, ps map[string][]int32) { m.assign(ps[topic], false) }),
	)
	if commit {
		opts = append(opts, kgo.AutoCommitInterval(200*time.Millisecond))
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("franz-go client: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil || fs.IsClientClosed() {
				return
			}
			fs.EachError(func(topic string, p int32, err error) { m.fail(fmt.Errorf("fetch %s/%d: %w", topic, p, err)) })
			fs.EachRecord(func(r *kgo.Record) { m.read(consumed{r.Partition, r.Offset, string(r.Value)}) })
		}
	}()
	m.leave = func() {
		cancel()
		<-polled
		cl.Close() // leaves the group, revoking (and committing) first
	}
	t.Cleanup(m.Close)
	return m
}

// saramaConfig is sarama's default configuration (protocol of Kafka 2.8)
// with SASL/PLAIN.
func saramaConfig(h *testutil.BrokerHandle) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "affluent-sarama-test"
	cfg.Net.SASL.Enable = true
	cfg.Net.SASL.Mechanism = sarama.SASLTypePlaintext
	cfg.Net.SASL.User = h.Username
	cfg.Net.SASL.Password = h.Password
	return cfg
}

// saramaHandler records a sarama member's assignment and what it reads.
type saramaHandler struct {
	m      *member
	topic  string
	commit bool
}

func (s saramaHandler) Setup(sess sarama.ConsumerGroupSession) error {
	s.m.assign(sess.Claims()[s.topic], true)
	return nil
}

func (s saramaHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	s.m.assign(sess.Claims()[s.topic], false)
	return nil
}

func (s saramaHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		s.m.read(consumed{msg.Partition, msg.Offset, string(msg.Value)})
		if s.commit {
			sess.MarkMessage(msg, "")
		}
	}
	return nil
}

func joinSarama(t *testing.T, h *testutil.BrokerHandle, group, topic string, reset resetTo, commit bool) *member {
	m := newMember(fmt.Sprintf("sarama member of %s", group))
	cfg := saramaConfig(h)
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Group.Heartbeat.Interval = heartbeat
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	if reset == resetLatest {
		cfg.Consumer.Offsets.Initial = sarama.OffsetNewest
	}
	cfg.Consumer.Offsets.AutoCommit.Enable = commit
	cfg.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 250 * time.Millisecond
	g, err := sarama.NewConsumerGroup([]string{h.Addr}, group, cfg)
	if err != nil {
		t.Fatalf("sarama consumer group: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			// Consume returns at each rebalance; the loop rejoins.
			if err := g.Consume(ctx, []string{topic}, saramaHandler{m, topic, commit}); err != nil && ctx.Err() == nil {
				m.fail(fmt.Errorf("consume: %w", err))
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for err := range g.Errors() {
			m.fail(err)
		}
	}()
	m.leave = func() {
		cancel()
		if err := g.Close(); err != nil { // leaves the group
			m.fail(fmt.Errorf("close: %w", err))
		}
		wg.Wait()
	}
	t.Cleanup(m.Close)
	return m
}

// waitFor polls cond until it returns "" or 30s pass, then fails t with
// what cond last said was wrong.
func waitFor(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		problem := cond()
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 30s for %s: %s", what, problem)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// spread says what is wrong with the members' assignments, "" when each has
// at least one partition, none shares one, and together they have all.
func spread(members ...*member) string {
	owner := map[int32]string{}
	var desc []string
	var problems []string
	for _, m := range members {
		ps := m.partitions()
		desc = append(desc, fmt.Sprintf("member %d: %v", slices.Index(members, m)+1, ps))
		if len(ps) == 0 {
			problems = append(problems, fmt.Sprintf("member %d has no partition", slices.Index(members, m)+1))
		}
		for _, p := range ps {
			if o, ok := owner[p]; ok {
				problems = append(problems, fmt.Sprintf("partition %d assigned to %s and member %d", p, o, slices.Index(members, m)+1))
			}
			owner[p] = fmt.Sprintf("member %d", slices.Index(members, m)+1)
		}
	}
	if len(owner) != groupPartitions {
		problems = append(problems, fmt.Sprintf("%d of %d partitions assigned", len(owner), groupPartitions))
	}
	if len(problems) == 0 {
		return ""
	}
	return fmt.Sprintf("%s; assignments: %s", strings.Join(problems, ", "), strings.Join(desc, ", "))
}

// memberErrors fails t with the errors members met.
func memberErrors(t *testing.T, members ...*member) {
	t.Helper()
	for _, m := range members {
		m.mu.Lock()
		errs := slices.Clone(m.errs)
		m.mu.Unlock()
		if len(errs) > 0 {
			t.Errorf("%s met errors: %v", m.name, errs)
		}
	}
}

// produceSpread produces values val-from..val-(to-1), value i to partition
// i % groupPartitions.
func produceSpread(t *testing.T, h *testutil.BrokerHandle, topic string, from, to int) {
	t.Helper()
	cl := h.Client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer cl.Close()
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		rs = append(rs, &kgo.Record{Partition: int32(i % groupPartitions), Value: fmt.Appendf(nil, "val-%d", i)})
	}
	if err := cl.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
		t.Fatalf("produce %d..%d to %s: %v", from, to-1, topic, err)
	}
}

// produceSarama is produceSpread with sarama's idempotent, gzip-compressing
// synchronous producer.
func produceSarama(t *testing.T, h *testutil.BrokerHandle, topic string, from, to int) {
	t.Helper()
	cfg := saramaConfig(h)
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionGZIP
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Net.MaxOpenRequests = 1 // as sarama's idempotent producer requires
	producer, err := sarama.NewSyncProducer([]string{h.Addr}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer producer.Close()
	var msgs []*sarama.ProducerMessage
	for i := from; i < to; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: int32(i % groupPartitions), Value: sarama.StringEncoder(fmt.Sprintf("val-%d", i))})
	}
	if err := producer.SendMessages(msgs); err != nil {
		t.Fatalf("sarama produce %d..%d to %s: %v", from, to-1, topic, err)
	}
}

// waitRecords waits until m has read n distinct records and returns them
// sorted by value.
func waitRecords(t *testing.T, m *member, n int) []consumed {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s to read %d records", m.name, n), func() string {
		if got := len(distinct(m.seen())); got < n {
			return fmt.Sprintf("read %d", got)
		}
		return ""
	})
	return distinct(m.seen())
}

// distinct drops records read twice and sorts by partition and offset.
func distinct(rs []consumed) []consumed {
	sort.Slice(rs, func(i, j int) bool {
		return rs[i].partition < rs[j].partition || rs[i].partition == rs[j].partition && rs[i].offset < rs[j].offset
	})
	return slices.Compact(rs)
}

// wantRange checks that rs are exactly values val-from..val-(to-1), each at
// offset i / groupPartitions of partition i % groupPartitions.
func wantRange(t *testing.T, who string, rs []consumed, from, to int) {
	t.Helper()
	var want []consumed
	for i := from; i < to; i++ {
		want = append(want, consumed{int32(i % groupPartitions), int64(i / groupPartitions), fmt.Sprintf("val-%d", i)})
	}
	want = distinct(want) // in rs's order
	if !slices.Equal(rs, want) {
		t.Errorf("%s read %d records %s, want val-%d..val-%d (%d records) %s", who, len(rs), summarize(rs), from, to-1, len(want), summarize(want))
	}
}

// summarize shows each partition's offset range of rs.
func summarize(rs []consumed) string {
	type span struct{ first, last, n int64 }
	spans := map[int32]*span{}
	for _, r := range rs {
		s, ok := spans[r.partition]
		if !ok {
			s = &span{first: r.offset, last: r.offset}
			spans[r.partition] = s
		}
		s.first, s.last, s.n = min(s.first, r.offset), max(s.last, r.offset), s.n+1
	}
	var out []string
	for _, p := range slices.Sorted(maps.Keys(spans)) {
		s := spans[p]
		out = append(out, fmt.Sprintf("p%d:%d..%d(%d)", p, s.first, s.last, s.n))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// committed says what is wrong with the group's committed offsets, "" when
// each partition's is at.
func committed(t *testing.T, adm *kadm.Client, group, topic string, at int64) string {
	offsets, err := adm.FetchOffsets(testContext(t), group)
	if err != nil {
		return err.Error()
	}
	var wrong []string
	for p := range int32(groupPartitions) {
		if o, ok := offsets.Lookup(topic, p); !ok || o.At != at || o.Err != nil {
			wrong = append(wrong, fmt.Sprintf("partition %d at %d (committed %v, %v)", p, o.At, ok, o.Err))
		}
	}
	if len(wrong) > 0 {
		return fmt.Sprintf("want every partition at %d; %s", at, strings.Join(wrong, ", "))
	}
	return ""
}

func TestConsumerGroupsAcceptance(t *testing.T) {
	for _, c := range []groupClient{
		{"franz-go", joinKgo, produceSpread},
		{"sarama", joinSarama, produceSarama},
	} {
		t.Run(c.name, func(t *testing.T) { testConsumerGroups(t, c) })
	}
}

func testConsumerGroups(t *testing.T, c groupClient) {
	began := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(began).Seconds(), what) }
	dir := t.TempDir()
	h := testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir, Quiet: true})
	const topic, group = "payments", "ledger"
	createTopic(t, h.Admin(t), topic, groupPartitions, nil)
	c.produce(t, h, topic, 0, 60) // offsets 0..9 of each partition

	// Three members share the partitions; when one leaves, the other two
	// take its partitions over. They commit what they read.
	m1 := c.join(t, h, group, topic, resetEarliest, true)
	m2 := c.join(t, h, group, topic, resetEarliest, true)
	m3 := c.join(t, h, group, topic, resetEarliest, true)
	waitFor(t, "three members to share the partitions", func() string { return spread(m1, m2, m3) })
	step("three members share the partitions")
	left := m3.partitions()
	m3.Close()
	waitFor(t, fmt.Sprintf("the two remaining members to take over partitions %v of the one that left", left),
		func() string { return spread(m1, m2) })
	step("two members share the partitions")
	waitFor(t, "the members to read all 60 records", func() string {
		all := slices.Concat(m1.seen(), m2.seen(), m3.seen())
		if n := len(distinct(all)); n != 60 {
			return fmt.Sprintf("read %d distinct records: %s", n, summarize(distinct(all)))
		}
		return ""
	})
	wantRange(t, "the three members together", distinct(slices.Concat(m1.seen(), m2.seen(), m3.seen())), 0, 60)
	adm := h.Admin(t)
	waitFor(t, "the members to commit offset 10 everywhere", func() string { return committed(t, adm, group, topic, 10) })
	step("commits done")
	m1.Close()
	m2.Close()
	memberErrors(t, m1, m2, m3)
	step("members left")

	// The commits survive a broker restart on the same storage.
	addr := h.Addr
	h.Stop()
	h = testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir, Addr: addr, Quiet: true})
	adm = h.Admin(t)
	if problem := committed(t, adm, group, topic, 10); problem != "" {
		t.Fatalf("committed offsets after restart: %s", problem)
	}
	c.produce(t, h, topic, 60, 120) // offsets 10..19
	step("restarted")

	// A new member resumes after the commit, whatever its reset policy:
	// committed offsets win over auto.offset.reset (and so over
	// --from-beginning, which is earliest).
	for _, reset := range []resetTo{resetLatest, resetEarliest} {
		m := c.join(t, h, group, topic, reset, false)
		rs := waitRecords(t, m, 60)
		time.Sleep(300 * time.Millisecond) // anything read beyond is read twice
		wantRange(t, fmt.Sprintf("a member resuming with reset %s", reset), distinct(m.seen()), 60, 120)
		if n := len(m.seen()); n != 60 {
			t.Errorf("resuming member with reset %s read %d records (%d distinct), want each of the 60 once", reset, n, len(rs))
		}
		m.Close()
		memberErrors(t, m)
		step("resumed with reset " + reset.String())
	}

	// Without commits, earliest reads everything…
	m := c.join(t, h, "fresh-from-beginning", topic, resetEarliest, false)
	waitRecords(t, m, 120)
	wantRange(t, "a member of a new group with reset earliest", distinct(m.seen()), 0, 120)
	m.Close()
	memberErrors(t, m)
	step("new group read from the beginning")

	// … and latest only what is produced once it is assigned.
	m = c.join(t, h, "fresh-latest", topic, resetLatest, false)
	waitFor(t, "the only member of a new group to get every partition", func() string { return spread(m) })
	next := 120
	waitFor(t, "a member of a new group with reset latest to read new records", func() string {
		c.produce(t, h, topic, next, next+groupPartitions)
		next += groupPartitions
		if len(m.seen()) == 0 {
			return "read nothing"
		}
		return ""
	})
	for _, r := range m.seen() {
		if r.offset < 20 {
			t.Fatalf("a member of a new group with reset latest read %s at partition %d offset %d, which was produced before it joined", r.value, r.partition, r.offset)
		}
	}
	m.Close()
	memberErrors(t, m)
	step("new group read from the end")
}
