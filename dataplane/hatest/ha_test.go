package hatest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// TestMain lets StartBrokerProcess re-execute this binary as a broker.
func TestMain(m *testing.M) {
	testutil.MaybeServeBrokerProcess()
	code := m.Run()
	testutil.StopSharedS3()
	os.Exit(code)
}

const (
	topic      = "ha-orders"
	group      = "ha-readers"
	partitions = 24
	// Leases lapse fast so that a crash is noticed in well under the kill
	// interval; production defaults are tiered.DefaultLeaseTTL.
	heartbeat = 200 * time.Millisecond
	leaseTTL  = 1500 * time.Millisecond
)

// longTests reports whether AFFLUENT_LONG_TESTS asks for the full
// load.
func longTests() bool { return os.Getenv("AFFLUENT_LONG_TESTS") == "1" }

// cell is PostgreSQL, an S3 bucket and broker processes sharing them.
type cell struct {
	pg      *testutil.Postgres
	brokers []*testutil.BrokerProcess
}

func startCell(t *testing.T, n int) *cell {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pg, err := testutil.StartPostgres(ctx)
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	t.Cleanup(pg.Stop) // after the brokers, registered later
	db, err := pg.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Compaction runs often, so that reading the log back from the start
	// (verifyLog) finds segments rather than thousands of small WAL
	// chunks whose cache died with their broker.
	storage := testutil.StorageOptions{ObjectStoreURL: testutil.S3URL(t), MetadataURL: db,
		CompactionInterval: 3 * time.Second, WALHold: 2 * time.Second}
	c := &cell{pg: pg}
	for range n {
		c.brokers = append(c.brokers, testutil.StartBrokerProcess(t, testutil.BrokerProcessOptions{
			Storage:    storage,
			Anonymous:  true,
			Membership: &testutil.MembershipOptions{NodeID: -1, HeartbeatInterval: heartbeat, LeaseTTL: leaseTTL},
		}))
	}
	return c
}

// clientOpts reach every broker of the cell, and refresh metadata soon
// after an error, as the convergence after a membership change relies on.
func (c *cell) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	seeds := make([]string, len(c.brokers))
	for i, b := range c.brokers {
		seeds[i] = b.Addr
	}
	return append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ClientID("affluent-hatest"),
		kgo.MetadataMinAge(250 * time.Millisecond),
		kgo.RetryTimeout(2 * time.Minute),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, extra...)
}

func (c *cell) client(t *testing.T, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(c.clientOpts(extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func (c *cell) createTopic(t *testing.T) {
	t.Helper()
	adm := kadm.NewClient(c.client(t))
	resp, err := adm.CreateTopic(t.Context(), partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
}

// ledger is what the producer had acknowledged and the consumers read.
type ledger struct {
	mu        sync.Mutex // guards the fields below
	acked     [partitions][]int64
	lastAck   [partitions]time.Time
	consumed  [partitions]map[int64]bool
	reads     int64 // records delivered to consumers, duplicates included
	failed    int
	failedErr error
}

func newLedger() *ledger {
	l := &ledger{}
	for p := range l.consumed {
		l.consumed[p] = map[int64]bool{}
	}
	return l
}

func recordValue(p int32, seq int64) []byte { return fmt.Appendf(nil, "%d:%d", p, seq) }

func parseValue(v []byte) (int32, int64, error) {
	ps, ss, ok := strings.Cut(string(v), ":")
	p, err1 := strconv.ParseInt(ps, 10, 32)
	s, err2 := strconv.ParseInt(ss, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("record value %q is not partition:sequence", v)
	}
	return int32(p), s, nil
}

func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acked {
		n += len(a)
	}
	return n
}

// allAckedSince reports whether every partition had an ack after t.
func (l *ledger) allAckedSince(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, at := range l.lastAck {
		if !at.After(t) {
			return false
		}
	}
	return true
}

// missing counts acknowledged records no consumer has read.
func (l *ledger) missing() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for p, seqs := range l.acked {
		for _, s := range seqs {
			if !l.consumed[p][s] {
				n++
			}
		}
	}
	return n
}

// missingByPartition returns, per partition, the acknowledged sequences
// no consumer has read.
func (l *ledger) missingByPartition() map[int32][]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int32][]int64{}
	for p, seqs := range l.acked {
		for _, s := range seqs {
			if !l.consumed[p][s] {
				out[int32(p)] = append(out[int32(p)], s)
			}
		}
	}
	return out
}

// stallReport says, for each partition with acknowledged records no
// consumer read, where everyone stands: the log start and high watermark
// each broker answers, the group's committed offset, and how far each
// consumer has read (its uncommitted and committed offsets).
func stallReport(ctx context.Context, c *cell, missing map[int32][]int64, consumers []*kgo.Client) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(c.clientOpts()...)
	if err != nil {
		return fmt.Sprintf("no client for the report: %v", err)
	}
	defer cl.Close()
	var b strings.Builder
	adm := kadm.NewClient(cl)
	brokers, err := adm.ListBrokers(ctx)
	if err != nil {
		fmt.Fprintf(&b, "list brokers: %v\n", err)
	}
	watermarks := map[int32][]string{}
	for _, br := range brokers {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := range missing {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(br.NodeID)))
		if err != nil {
			fmt.Fprintf(&b, "list offsets on broker %d (%s:%d): %v\n", br.NodeID, br.Host, br.Port, err)
			continue
		}
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				watermarks[rp.Partition] = append(watermarks[rp.Partition],
					fmt.Sprintf("broker %d: high watermark %d (%v)", br.NodeID, rp.Offset, kerr.ErrorForCode(rp.ErrorCode)))
			}
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		fmt.Fprintf(&b, "fetch committed offsets: %v\n", err)
	}
	for _, p := range slices.Sorted(maps.Keys(missing)) {
		seqs := missing[p]
		fmt.Fprintf(&b, "partition %d: %d sequences unread (%v); %s", p, len(seqs), seqs[:min(len(seqs), 10)],
			strings.Join(watermarks[p], ", "))
		if o, ok := committed.Lookup(topic, p); ok {
			fmt.Fprintf(&b, "; group committed %d (%v)", o.At, o.Err)
		}
		for i, cc := range consumers {
			if o, ok := cc.UncommittedOffsets()[topic][p]; ok {
				fmt.Fprintf(&b, "; consumer %d read up to %d", i, o.Offset)
			}
			if o, ok := cc.CommittedOffsets()[topic][p]; ok {
				fmt.Fprintf(&b, "; consumer %d committed %d", i, o.Offset)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// produce writes records spread over the partitions, record i being
// sequence i/partitions of partition i%partitions, paced to take about
// pace, and waits for every acknowledgement.
func produce(ctx context.Context, cl *kgo.Client, l *ledger, records int, pace time.Duration) {
	start := time.Now()
	var wg sync.WaitGroup
	for i := range records {
		if due := start.Add(time.Duration(int64(pace) * int64(i) / int64(records))); time.Until(due) > time.Millisecond {
			select {
			case <-time.After(time.Until(due)):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		p, seq := int32(i%partitions), int64(i/partitions)
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Value: recordValue(p, seq)}, func(r *kgo.Record, err error) {
			defer wg.Done()
			l.mu.Lock()
			defer l.mu.Unlock()
			if err != nil {
				l.failed++
				l.failedErr = err
				return
			}
			l.acked[p] = append(l.acked[p], seq)
			l.lastAck[p] = time.Now()
		})
	}
	wg.Wait()
}

// consume reads the topic in the group until ctx ends.
func consume(ctx context.Context, cl *kgo.Client, l *ledger) {
	for ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		fetches.EachRecord(func(r *kgo.Record) {
			p, seq, err := parseValue(r.Value)
			l.mu.Lock()
			defer l.mu.Unlock()
			l.reads++
			if err == nil && p == r.Partition {
				l.consumed[p][seq] = true
			}
		})
	}
}

// offsetWatch polls the group's committed offsets and remembers any that
// went back.
type offsetWatch struct {
	mu         sync.Mutex // guards the fields below
	highest    map[int32]int64
	backwards  []string
	polls      int
	pollErrors int
}

func (w *offsetWatch) run(ctx context.Context, adm *kadm.Client) {
	w.highest = map[int32]int64{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		offsets, err := adm.FetchOffsets(ctx, group)
		w.mu.Lock()
		w.polls++
		if err == nil {
			err = offsets.Error()
		}
		if err != nil {
			w.pollErrors++
			w.mu.Unlock()
			continue
		}
		offsets.Each(func(o kadm.OffsetResponse) {
			if o.Topic != topic || o.Err != nil {
				return
			}
			if prev, ok := w.highest[o.Partition]; ok && o.At < prev {
				w.backwards = append(w.backwards, fmt.Sprintf("partition %d: %d after %d", o.Partition, o.At, prev))
			}
			w.highest[o.Partition] = max(w.highest[o.Partition], o.At)
		})
		w.mu.Unlock()
	}
}

// verifyLog reads the whole topic and checks it against the ledger: every
// acknowledged record is there once, and each partition holds its
// sequences in increasing order (none twice, order kept). It returns the
// offset of each sequence of each partition.
func verifyLog(t *testing.T, c *cell, l *ledger) []map[int64]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(c.client(t))
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v %v", err, ends.Error())
	}
	want := map[int32]kgo.Offset{}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) {
		want[o.Partition] = kgo.NewOffset().AtStart()
		total += o.Offset
	})
	reader := c.client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}),
		// A broker reads each small WAL chunk it did not write with a
		// GET of its own: a smaller partition share keeps each fetch
		// well within the request timeout.
		kgo.FetchMaxBytes(16<<20), kgo.FetchMaxPartitionBytes(128<<10))
	logs := make([][]int64, partitions)
	offsets := make([]map[int64]int64, partitions)
	for p := range offsets {
		offsets[p] = map[int64]int64{}
	}
	read := int64(0)
	for read < total {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			var stuck []string
			ends.Each(func(o kadm.ListedOffset) {
				if n := int64(len(logs[o.Partition])); n < o.Offset {
					stuck = append(stuck, fmt.Sprintf("%d: %d of %d", o.Partition, n, o.Offset))
				}
			})
			t.Fatalf("read %d of %d records of the log before timing out; partitions behind: %v", read, total, stuck)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("read %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			read++
			p, seq, err := parseValue(r.Value)
			if err != nil || p != r.Partition {
				t.Errorf("offset %d of partition %d holds %q", r.Offset, r.Partition, r.Value)
				return
			}
			logs[p] = append(logs[p], seq)
			offsets[p][seq] = r.Offset
		})
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for p := range int32(partitions) {
		seqs := logs[p]
		for i := 1; i < len(seqs); i++ {
			if seqs[i] <= seqs[i-1] {
				t.Errorf("partition %d: sequence %d at log position %d after %d (duplicate or reordered)", p, seqs[i], i, seqs[i-1])
				break
			}
		}
		for _, s := range l.acked[p] {
			if _, found := slices.BinarySearch(seqs, s); !found {
				t.Errorf("partition %d: acknowledged sequence %d not in the log (%d records there)", p, s, len(seqs))
				break
			}
		}
	}
	return offsets
}

// TestBrokerKills runs three brokers under an idempotent producer writing
// 24 partitions and a consumer group of three, SIGKILLs a random broker
// every 10 s, and restarts it once its partitions have moved to the
// others: every acknowledged record is read, the log holds it once and in
// order, and the group's committed offsets never go back.
func TestBrokerKills(t *testing.T) {
	records, pace := 200_000, 45*time.Second
	if longTests() {
		records, pace = 2_000_000, 5*time.Minute
	}
	const killEvery = 10 * time.Second
	c := startCell(t, 3)
	c.createTopic(t)
	l := newLedger()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	var consumers []*kgo.Client
	for range 3 {
		cl := c.client(t, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(4<<20))
		consumers = append(consumers, cl)
		bg.Go(func() { consume(ctx, cl, l) })
	}
	watch := &offsetWatch{}
	watchAdm := kadm.NewClient(c.client(t))
	bg.Go(func() { watch.run(ctx, watchAdm) })

	producer := c.client(t, kgo.ProducerLinger(50*time.Millisecond), kgo.MaxBufferedRecords(20_000),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produced := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(produced)
		produce(ctx, producer, l, records, pace)
	}()

	// The killer runs here, where t.Fatal may be called.
	var kills int
	var worstDown, worstJoin time.Duration
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	next := time.Now().Add(killEvery)
	for done := false; !done; {
		select {
		case <-produced:
			done = true
			continue
		case <-time.After(time.Until(next)):
		}
		next = next.Add(killEvery)
		i := rng.IntN(len(c.brokers))
		killedAt := time.Now()
		c.brokers[i].Kill()
		kills++
		down := waitAllAcked(t, l, killedAt, produced)
		worstDown = max(worstDown, down)
		restartedAt := time.Now()
		c.brokers[i].Restart()
		join := waitAllAcked(t, l, restartedAt, produced)
		worstJoin = max(worstJoin, join)
		t.Logf("kill %d: broker %d (%s) SIGKILLed; every partition written again %v later; restarted, every partition written again %v after the restart began",
			kills, i, c.brokers[i].Addr, down.Round(time.Millisecond), join.Round(time.Millisecond))
	}
	elapsed := time.Since(start)

	deadline := time.Now().Add(2 * time.Minute)
	for l.missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	caughtUp := time.Since(start) - elapsed
	var stall string
	missing := l.missingByPartition()
	if len(missing) > 0 {
		stall = stallReport(t.Context(), c, missing, consumers)
	}
	cancel()
	bg.Wait()

	l.mu.Lock()
	failed, failedErr, reads := l.failed, l.failedErr, l.reads
	l.mu.Unlock()
	acked := l.ackedCount()
	if failed > 0 {
		t.Errorf("%d records failed to produce (last: %v); want every one acknowledged in the end", failed, failedErr)
	}
	if n := l.missing(); n > 0 {
		t.Errorf("%d of %d acknowledged records never consumed", n, acked)
	}
	watch.mu.Lock()
	if len(watch.backwards) > 0 {
		t.Errorf("committed offsets went back %d times: %v", len(watch.backwards), watch.backwards[:min(len(watch.backwards), 5)])
	}
	if len(watch.highest) == 0 {
		t.Errorf("no committed offset seen in %d polls (%d failed)", watch.polls, watch.pollErrors)
	}
	polls, pollErrors := watch.polls, watch.pollErrors
	watch.mu.Unlock()
	verifyStart := time.Now()
	offsets := verifyLog(t, c, l)
	if len(missing) > 0 {
		var at strings.Builder
		for _, p := range slices.Sorted(maps.Keys(missing)) {
			fmt.Fprintf(&at, "partition %d: unread sequences at offsets", p)
			for _, seq := range missing[p][:min(len(missing[p]), 10)] {
				if o, ok := offsets[p][seq]; ok {
					fmt.Fprintf(&at, " %d", o)
				} else {
					at.WriteString(" (not in the log)")
				}
			}
			at.WriteString("\n")
		}
		t.Logf("where the unread records are:\n%s%s", stall, at.String())
	}
	t.Logf("%d records acknowledged in %v (%.0f records/s) across %d broker kills; worst time until every partition "+
		"was written again: %v after a kill, %v after a restart; consumers caught up %v after the last ack and read "+
		"%d records (%d re-reads); committed offsets polled %d times (%d failed polls); log verified in %v",
		acked, elapsed.Round(time.Millisecond), float64(acked)/elapsed.Seconds(), kills, worstDown.Round(time.Millisecond),
		worstJoin.Round(time.Millisecond), caughtUp.Round(time.Millisecond), reads, reads-int64(acked), polls, pollErrors,
		time.Since(verifyStart).Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("brokers and PostgreSQL stopping") })
}

// waitAllAcked waits until every partition has had an acknowledgement after
// since, and returns how long that took; it stops waiting when production
// ends.
func waitAllAcked(t *testing.T, l *ledger, since time.Time, produced <-chan struct{}) time.Duration {
	t.Helper()
	deadline := since.Add(time.Minute)
	for !l.allAckedSince(since) {
		select {
		case <-produced:
			return time.Since(since)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("some partition not written for a minute after %v", since.Format(time.TimeOnly))
		}
	}
	return time.Since(since)
}

// TestPostgresOutage stops PostgreSQL for 10 s under produce: produce
// fails with retriable errors meanwhile, and once the DB is back the
// producer carries on and nothing acknowledged is lost or doubled.
func TestPostgresOutage(t *testing.T) {
	records, pace := 40_000, 24*time.Second
	if longTests() {
		records, pace = 300_000, 60*time.Second
	}
	const outage = 10 * time.Second
	c := startCell(t, 3)
	c.createTopic(t)
	l := newLedger()

	producer := c.client(t, kgo.ProducerLinger(50*time.Millisecond), kgo.MaxBufferedRecords(20_000),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produced := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(produced)
		produce(t.Context(), producer, l, records, pace)
	}()
	// A producer that does not retry sees what the brokers answer.
	probe := c.client(t, kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second), kgo.DisableIdempotentWrite(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))

	time.Sleep(pace / 4)
	before := l.ackedCount()
	c.pg.Halt()
	haltedAt := time.Now()
	var probeErr error
	for time.Since(haltedAt) < outage/2 {
		probeErr = probe.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Partition: 0, Value: []byte("probe")}).FirstErr()
		if probeErr != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	var ke *kerr.Error
	if probeErr == nil {
		t.Error("produce succeeded with PostgreSQL down")
	} else if !errors.As(probeErr, &ke) || !ke.Retriable {
		t.Errorf("produce with PostgreSQL down failed with %v; want a retriable Kafka error", probeErr)
	}
	time.Sleep(time.Until(haltedAt.Add(outage)))
	during := l.ackedCount() - before
	if err := c.pg.Start(t.Context()); err != nil {
		t.Fatalf("restart PostgreSQL: %v", err)
	}
	back := time.Now()
	recovered := waitAllAcked(t, l, back, produced)
	<-produced
	elapsed := time.Since(start)

	l.mu.Lock()
	failed, failedErr := l.failed, l.failedErr
	l.mu.Unlock()
	if failed > 0 {
		t.Errorf("%d records failed to produce (last: %v); want every one acknowledged in the end", failed, failedErr)
	}
	if acked := l.ackedCount(); acked != records {
		t.Errorf("%d of %d records acknowledged", acked, records)
	}
	verifyLog(t, c, l)
	t.Logf("%d records in %v; PostgreSQL down %v: %d records acknowledged meanwhile (in flight before), probe error %v; "+
		"every partition written again %v after it came back",
		records, elapsed.Round(time.Millisecond), outage, during, probeErr, recovered.Round(time.Millisecond))
}
