package brokertest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// transformer is one member of a consume-transform-produce pipeline: a
// franz-go GroupTransactSession copying each input record to the output
// topic, the input offsets committed in the same transaction.
type transformer struct {
	name string
	stop context.CancelFunc
	done chan struct{}

	mu  sync.Mutex // guards err
	err error
}

func startTransformer(t *testing.T, opts []kgo.Opt, name, group, in, out string) *transformer {
	t.Helper()
	sess, err := kgo.NewGroupTransactSession(append(slices.Clone(opts),
		kgo.TransactionalID(name), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(out), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(20*time.Second), kgo.RequireStableFetchOffsets())...)
	if err != nil {
		t.Fatalf("transact session %s: %v", name, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	tr := &transformer{name: name, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(tr.done)
		defer sess.Close()
		for ctx.Err() == nil {
			tr.step(ctx, sess)
		}
	}()
	t.Cleanup(tr.halt)
	return tr
}

func (tr *transformer) halt() {
	tr.stop()
	<-tr.done
}

func (tr *transformer) fail(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.err == nil {
		tr.err = fmt.Errorf("%s: %w", tr.name, err)
	}
}

// step runs one transaction: poll, copy, commit (or abort when a produce
// failed, as franz-go's example does).
func (tr *transformer) step(ctx context.Context, sess *kgo.GroupTransactSession) {
	pollCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fetches := sess.PollFetches(pollCtx)
	cancel()
	if ctx.Err() != nil {
		return
	}
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			tr.fail(fmt.Errorf("fetch %s/%d: %w", topic, p, err))
		}
	})
	if fetches.NumRecords() == 0 {
		return
	}
	if err := sess.Begin(); err != nil {
		tr.fail(fmt.Errorf("begin: %w", err))
		return
	}
	var wg sync.WaitGroup
	var produceErr error
	var mu sync.Mutex
	fetches.EachRecord(func(r *kgo.Record) {
		wg.Add(1)
		sess.Produce(ctx, &kgo.Record{Partition: r.Partition, Key: r.Key, Value: r.Value}, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				produceErr = err
				mu.Unlock()
			}
		})
	})
	wg.Wait()
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := sess.End(endCtx, kgo.TransactionEndTry(produceErr == nil)); err != nil && ctx.Err() == nil {
		tr.fail(fmt.Errorf("end transaction: %w", err))
	}
}

// produceInput writes records "from".."to-1" to topic, record i to
// partition i%partitions, with an idempotent producer.
func produceInput(t *testing.T, cl *kgo.Client, topic string, partitions, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	const chunk = 10_000
	for ; from < to; from += chunk {
		var records []*kgo.Record
		for i := from; i < min(from+chunk, to); i++ {
			records = append(records, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: []byte(strconv.Itoa(i))})
		}
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("produce input: %v", err)
		}
	}
}

// waitCommitted waits until group has committed the end offsets of topic.
func waitCommitted(t *testing.T, adm *kadm.Client, group, topic string, timeout time.Duration, members ...*transformer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ctx := t.Context()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var behind string
	for time.Now().Before(deadline) {
		for _, m := range members {
			m.mu.Lock()
			err := m.err
			m.mu.Unlock()
			if err != nil {
				t.Fatalf("transformer failed: %v", err)
			}
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			behind = ""
			ends.Each(func(e kadm.ListedOffset) {
				if c, ok := committed.Lookup(topic, e.Partition); e.Offset > 0 && (!ok || c.At < e.Offset) {
					behind += fmt.Sprintf(" %d:%d/%d", e.Partition, c.At, e.Offset)
				}
			})
			if behind == "" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("group %s did not commit the end of %s within %v; behind:%s", group, topic, timeout, behind)
}

// checkExactlyOnce reads out with read_committed and checks it holds each
// of "0".."n-1" once.
func checkExactlyOnce(t *testing.T, values []string, n int) {
	t.Helper()
	seen := make([]int, n)
	for _, v := range values {
		i, err := strconv.Atoi(v)
		if err != nil || i < 0 || i >= n {
			t.Fatalf("output record %q is not an input record", v)
		}
		seen[i]++
	}
	var missing, doubled []int
	for i, c := range seen {
		switch {
		case c == 0:
			missing = append(missing, i)
		case c > 1:
			doubled = append(doubled, i)
		}
	}
	if len(missing) > 0 || len(doubled) > 0 {
		t.Fatalf("output of %d records (read_committed) for %d inputs: %d missing (first %v), %d more than once (first %v)",
			len(values), n, len(missing), missing[:min(10, len(missing))], len(doubled), doubled[:min(10, len(doubled))])
	}
}

func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const in, out, group, partitions, n = "eos-in", "eos-out", "eos-group", 4, 3000
	adm := h.Admin(t)
	createTopic(t, adm, in, partitions, nil)
	createTopic(t, adm, out, partitions, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceInput(t, producer, in, partitions, 0, n/2)

	opts := h.ClientOpts()
	first := startTransformer(t, opts, "eos-1", group, in, out)
	second := startTransformer(t, opts, "eos-2", group, in, out)
	waitCommitted(t, adm, group, in, time.Minute, first, second)

	// More input, and a member leaving and another joining meanwhile:
	// rebalances end the members' transactions.
	produceInput(t, producer, in, partitions, n/2, n)
	third := startTransformer(t, opts, "eos-3", group, in, out)
	first.halt()
	waitCommitted(t, adm, group, in, time.Minute, second, third)

	got := readValues(t, h, out, true)
	checkExactlyOnce(t, got, n)
	t.Logf("%d input records copied exactly once (read_committed); the output log holds %d records in all",
		n, len(readValues(t, h, out, false)))
}
