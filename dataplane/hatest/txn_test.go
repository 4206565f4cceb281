package hatest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

const (
	eosIn         = "eos-in"
	eosOut        = "eos-out"
	eosGroup      = "eos-pipeline"
	eosPartitions = 12
	// eosRecordsEnv sets how many input records the pipeline copies.
	eosRecordsEnv = "AFFLUENT_EOS_RECORDS"
)

// eosRecords is the input size: $AFFLUENT_EOS_RECORDS, else the issue's
// million with AFFLUENT_LONG_TESTS=1, else a size for CI.
func eosRecords(t *testing.T) int {
	if v := os.Getenv(eosRecordsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("$%s=%q: want a positive number of records", eosRecordsEnv, v)
		}
		return n
	}
	if longTests() {
		return 1_000_000
	}
	return 20_000
}

// TestTransactionsUnderBrokerKills runs a consume-transform-produce
// pipeline of three franz-go GroupTransactSessions over three brokers
// while a random broker is SIGKILLed and restarted every few seconds, and
// checks that the output topic, read with read_committed, holds every input
// record exactly once: no transaction half applied, no input offset
// committed without its output, none twice, whichever broker died
// coordinating a transaction, a group or leading a partition.
func TestTransactionsUnderBrokerKills(t *testing.T) {
	records, pace := eosRecords(t), 30*time.Second
	if longTests() {
		pace = 5 * time.Minute
	}
	const killEvery, downFor = 6 * time.Second, 2 * time.Second
	c := startCell(t, 3)
	adm := kadm.NewClient(c.client(t))
	for _, name := range []string{eosIn, eosOut} {
		resp, err := adm.CreateTopic(t.Context(), eosPartitions, 1, nil, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", name, err)
		}
	}
	start := time.Now()
	var members []*testutil.Transformer
	for i := range 3 {
		members = append(members, testutil.StartTransformer(t, c.clientOpts(), fmt.Sprintf("eos-%d", i), eosGroup, eosIn, eosOut))
	}
	// The input is produced at a steady pace (an idempotent producer,
	// retrying through the kills) while the pipeline copies it.
	producer := c.client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(20*time.Millisecond),
		kgo.MaxBufferedRecords(20_000))
	produced := make(chan error, 1)
	go func() { produced <- produceInput(t.Context(), producer, records, pace) }()

	// Kill and restart brokers while the input is produced, then until
	// the group has committed the end of the input.
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	nextKill := time.Now().Add(killEvery)
	kills := 0
	var (
		ends     kadm.ListedOffsets
		deadline time.Time
	)
	for {
		if ends == nil {
			select {
			case err := <-produced:
				if err != nil {
					t.Fatalf("produce input: %v", err)
				}
				var lerr error
				ends, lerr = adm.ListEndOffsets(t.Context(), eosIn)
				if lerr == nil {
					lerr = ends.Error()
				}
				if lerr != nil {
					t.Fatalf("end offsets of %s: %v", eosIn, lerr)
				}
				deadline = time.Now().Add(3 * time.Minute)
			default:
			}
		}
		if ends != nil {
			behind := committedBehind(t, adm, ends)
			if behind == "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the pipeline did not commit the end of its input within 3 minutes of the last input (%d kills); behind: %s; transformers: %v; errors: %v\n%s",
					kills, behind, members, transformerErrors(members), describePipeline(c.client(t), adm))
			}
		}
		if time.Now().After(nextKill) {
			i := rng.IntN(len(c.brokers))
			c.brokers[i].Kill()
			kills++
			time.Sleep(downFor)
			c.brokers[i].Restart()
			t.Logf("kill %d: broker %d SIGKILLed and restarted %v later", kills, i, downFor)
			nextKill = time.Now().Add(killEvery)
		}
		time.Sleep(250 * time.Millisecond)
	}
	elapsed := time.Since(start)
	commits := 0
	for _, m := range members {
		m.Halt()
		commits += m.Commits()
	}

	// Every transaction ends, at the latest by its timeout, once the
	// pipeline stopped: then nothing holds a last stable offset back.
	waitStable(t, c, adm)
	committedRecords := readCommittedValues(t, c, eosOut)
	committed := make([][]byte, len(committedRecords))
	for i, r := range committedRecords {
		committed[i] = r.Value
	}
	if err := testutil.ExactlyOnce(committed, records); err != nil {
		t.Fatalf("%v\n%s%s", err, describeOutput(t, adm), describeCopies(committedRecords))
	}
	outEnds, err := adm.ListEndOffsets(t.Context(), eosOut)
	if err != nil {
		t.Fatal(err)
	}
	var logged int64
	outEnds.Each(func(o kadm.ListedOffset) { logged += o.Offset })
	errs := transformerErrors(members)
	t.Logf("%d input records copied exactly once (read_committed) in %v (%.0f records/s) by %d transactions across %d broker kills; "+
		"the output log holds %d offsets (aborted data and markers included); %d transaction or fetch errors met and recovered from (first: %v)",
		records, elapsed.Round(time.Millisecond), float64(records)/elapsed.Seconds(), commits, kills, logged, len(errs), firstError(errs))
}

// produceInput produces InputValue(0..records-1), record i to partition
// i%eosPartitions, evenly over pace, and returns the first failure.
func produceInput(ctx context.Context, cl *kgo.Client, records int, pace time.Duration) error {
	start := time.Now()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards firstErr
		firstErr error
	)
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
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Topic: eosIn, Partition: int32(i % eosPartitions), Value: testutil.InputValue(i)},
			func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("input record %d: %w", i, err)
					}
					mu.Unlock()
				}
			})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// committedBehind says which partitions the group has not committed to
// their end yet; "" when none.
func committedBehind(t *testing.T, adm *kadm.Client, ends kadm.ListedOffsets) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	offsets, err := adm.FetchOffsets(ctx, eosGroup)
	if err == nil {
		err = offsets.Error()
	}
	if err != nil {
		return "unknown: " + err.Error()
	}
	behind := ""
	ends.Each(func(e kadm.ListedOffset) {
		if o, ok := offsets.Lookup(e.Topic, e.Partition); e.Offset > 0 && (!ok || o.At < e.Offset) {
			behind += fmt.Sprintf(" %d:%d/%d", e.Partition, o.At, e.Offset)
		}
	})
	return behind
}

// readCommittedValues reads topic from the start up to its last stable
// offsets with read_committed.
func readCommittedValues(t *testing.T, c *cell, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(c.client(t, kgo.FetchIsolationLevel(kgo.ReadCommitted()))).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("last stable offsets of %s: %v %v", topic, err, ends.Error())
	}
	// Control records are kept so that each partition's position reaches
	// its end through the markers (the last offset may be one).
	reader := c.client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxPartitionBytes(256<<10), kgo.KeepControlRecords())
	positions := map[int32]int64{}
	done := func() bool {
		finished := true
		ends.Each(func(o kadm.ListedOffset) { finished = finished && positions[o.Partition] >= o.Offset })
		return finished
	}
	var values []*kgo.Record
	for !done() {
		fetches := reader.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d records of %s before timing out at %v of %v", len(values), topic, positions, ends)
		}
		fetches.EachError(func(topic string, p int32, err error) { t.Logf("read %s/%d: %v", topic, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			positions[r.Partition] = max(positions[r.Partition], r.Offset+1)
			if !r.Attrs.IsControl() {
				values = append(values, r)
			}
		})
	}
	return values
}

// waitStable waits until every output partition's last stable offset is its
// high watermark.
func waitStable(t *testing.T, c *cell, adm *kadm.Client) {
	t.Helper()
	committed := kadm.NewClient(c.client(t, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	deadline := time.Now().Add(2 * time.Minute)
	for {
		hws, err1 := adm.ListEndOffsets(t.Context(), eosOut)
		lsos, err2 := committed.ListEndOffsets(t.Context(), eosOut)
		open := ""
		if err1 == nil && err2 == nil {
			hws.Each(func(o kadm.ListedOffset) {
				if l, ok := lsos.Lookup(eosOut, o.Partition); !ok || l.Offset != o.Offset {
					open += fmt.Sprintf(" %d:%d/%d", o.Partition, l.Offset, o.Offset)
				}
			})
			if open == "" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("output partitions still unstable 2 minutes after the pipeline stopped (%v %v):%s\n%s", err1, err2, open, describeOutput(t, adm))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// describeCopies lists, for the first input records read more than once,
// where each copy is and which producer wrote it.
func describeCopies(records []*kgo.Record) string {
	copies := map[string][]*kgo.Record{}
	for _, r := range records {
		copies[string(r.Value)] = append(copies[string(r.Value)], r)
	}
	out, shown := "", 0
	for v, rs := range copies {
		if len(rs) < 2 || shown == 10 {
			continue
		}
		shown++
		out += "input " + v + ":"
		for _, r := range rs {
			out += fmt.Sprintf(" %d@%d (producer %d epoch %d, %v)", r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch,
				r.Timestamp.Format("15:04:05.000"))
		}
		out += "\n"
	}
	return out
}

// describePipeline says, for a stalled pipeline, where its transactions
// and group are.
func describePipeline(cl *kgo.Client, adm *kadm.Client) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := ""
	txns, err := adm.DescribeTransactions(ctx, "eos-0", "eos-1", "eos-2")
	if err != nil {
		out += "describe transactions: " + err.Error() + "\n"
	}
	txns.Each(func(d kadm.DescribedTransaction) {
		out += fmt.Sprintf("transaction %s: producer %d epoch %d %s since %v, timeout %dms, partitions %v, err %v\n",
			d.TxnID, d.ProducerID, d.ProducerEpoch, d.State, time.UnixMilli(d.StartTimestamp).Format(time.TimeOnly),
			d.TimeoutMillis, d.Topics, d.Err)
	})
	groups, err := adm.DescribeGroups(ctx, eosGroup)
	if err != nil {
		out += "describe group: " + err.Error() + "\n"
	}
	for _, g := range groups {
		out += fmt.Sprintf("group %s: %s, coordinator %d, %d members, err %v\n", g.Group, g.State, g.Coordinator.NodeID, len(g.Members), g.Err)
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group, req.RequireStable = eosGroup, true
	if resp, err := req.RequestWith(ctx, cl); err == nil {
		unstable := 0
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 {
					unstable++
				}
			}
		}
		out += fmt.Sprintf("offset fetch with require_stable: %d partitions refused (error %v)\n", unstable, kerr.ErrorForCode(resp.ErrorCode))
	}
	return out
}

// describeOutput says, for a failure, where each output partition's high
// watermark and last stable offset are and which producers hold a
// transaction open in it.
func describeOutput(t *testing.T, adm *kadm.Client) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := ""
	hws, err := adm.ListEndOffsets(ctx, eosOut)
	if err != nil {
		return "describe output: " + err.Error()
	}
	producers, err := adm.DescribeProducers(ctx, kadm.TopicsSet{eosOut: {}})
	if err != nil {
		out += "describe producers: " + err.Error() + "\n"
	}
	hws.Each(func(o kadm.ListedOffset) {
		out += fmt.Sprintf("partition %d: high watermark %d;", o.Partition, o.Offset)
		if p, ok := producers[eosOut].Partitions[o.Partition]; ok {
			for _, ap := range p.ActiveProducers {
				if ap.CurrentTxnStartOffset >= 0 {
					out += fmt.Sprintf(" producer %d epoch %d open from %d (last write %v);", ap.ProducerID, ap.ProducerEpoch,
						ap.CurrentTxnStartOffset, time.UnixMilli(ap.LastTimestamp).Format(time.TimeOnly))
				}
			}
		}
		out += "\n"
	})
	txns, err := adm.ListTransactions(ctx, nil, nil)
	if err == nil {
		txns.Each(func(d kadm.ListedTransaction) {
			out += fmt.Sprintf("transaction %s: producer %d %s\n", d.TxnID, d.ProducerID, d.State)
		})
	}
	return out
}

func transformerErrors(members []*testutil.Transformer) []error {
	var errs []error
	for _, m := range members {
		errs = append(errs, m.Errors()...)
	}
	return errs
}

func firstError(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return errs[0]
}
