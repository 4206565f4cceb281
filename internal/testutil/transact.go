package testutil

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Transformer is one member of a consume-transform-produce pipeline: a
// franz-go GroupTransactSession that copies each record of the input topic
// to the same partition of the output topic, committing the input offsets
// in the same transaction (exactly once). A session whose transaction
// failed to end is closed and a new one started under the same
// transactional id, as an application restarting would, which fences the
// old one.
type Transformer struct {
	name string
	opts []kgo.Opt
	stop context.CancelFunc
	done chan struct{}

	mu   sync.Mutex // guards the fields below
	errs []error
	// commits and aborts count the transactions ended each way.
	commits, aborts int
	// lastRecords is when a poll last returned records.
	lastRecords time.Time
}

// StartTransformer starts a Transformer named name (its transactional id)
// in group, with the client options opts (seeds, SASL…); it stops when the
// test ends or at Halt.
func StartTransformer(t testing.TB, opts []kgo.Opt, name, group, in, out string) *Transformer {
	t.Helper()
	tr := &Transformer{name: name, done: make(chan struct{})}
	tr.opts = append(slices.Clone(opts),
		kgo.TransactionalID(name), kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DefaultProduceTopic(out), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(30*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	tr.stop = cancel
	go tr.run(ctx)
	t.Cleanup(tr.Halt)
	return tr
}

// Halt stops the transformer and waits for it to leave its group.
func (tr *Transformer) Halt() {
	tr.stop()
	<-tr.done
}

// Errors returns what failed so far: fetches, produces, transaction ends.
func (tr *Transformer) Errors() []error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.errs)
}

// Commits is the number of transactions committed so far.
func (tr *Transformer) Commits() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.commits
}

// String says how far the transformer got, for failure reports.
func (tr *Transformer) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	last := "never"
	if !tr.lastRecords.IsZero() {
		last = time.Since(tr.lastRecords).Round(time.Millisecond).String() + " ago"
	}
	return fmt.Sprintf("%s: %d transactions committed, %d aborted, records last polled %s, %d errors",
		tr.name, tr.commits, tr.aborts, last, len(tr.errs))
}

func (tr *Transformer) fail(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.errs = append(tr.errs, fmt.Errorf("%s: %w", tr.name, err))
}

func (tr *Transformer) run(ctx context.Context) {
	defer close(tr.done)
	for ctx.Err() == nil {
		sess, err := kgo.NewGroupTransactSession(tr.opts...)
		if err != nil {
			tr.fail(fmt.Errorf("new session: %w", err))
			return
		}
		for ctx.Err() == nil && tr.step(ctx, sess) {
		}
		sess.Close()
	}
}

// step runs one transaction: poll, copy, commit (abort when a produce
// failed). It returns false when the session should be replaced.
func (tr *Transformer) step(ctx context.Context, sess *kgo.GroupTransactSession) bool {
	pollCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	fetches := sess.PollFetches(pollCtx)
	cancel()
	if ctx.Err() != nil {
		return false
	}
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			tr.fail(fmt.Errorf("fetch %s/%d: %w", topic, p, err))
		}
	})
	if fetches.NumRecords() == 0 {
		return true
	}
	tr.mu.Lock()
	tr.lastRecords = time.Now()
	tr.mu.Unlock()
	if err := sess.Begin(); err != nil {
		tr.fail(fmt.Errorf("begin: %w", err))
		return false
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex // guards produceErr
		produceErr error
	)
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
	if produceErr != nil {
		tr.fail(fmt.Errorf("produce: %w", produceErr))
	}
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	committed, err := sess.End(endCtx, kgo.TransactionEndTry(produceErr == nil))
	if err != nil {
		if ctx.Err() == nil {
			tr.fail(fmt.Errorf("end transaction: %w", err))
		}
		return false
	}
	tr.mu.Lock()
	if committed {
		tr.commits++
	} else {
		tr.aborts++
	}
	tr.mu.Unlock()
	return true
}

// InputValue is the value of input record i of a pipeline test: its
// decimal number.
func InputValue(i int) []byte { return []byte(strconv.Itoa(i)) }

// ExactlyOnce checks that values (of the output topic, read with
// read_committed) hold each of InputValue(0..n-1) exactly once, and says
// what is wrong when not.
func ExactlyOnce(values [][]byte, n int) error {
	seen := make([]int, n)
	for _, v := range values {
		i, err := strconv.Atoi(string(v))
		if err != nil || i < 0 || i >= n {
			return fmt.Errorf("output record %q is not an input record", v)
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
		return fmt.Errorf("%d output records (read_committed) for %d inputs: %d missing (first %v), %d more than once (first %v)",
			len(values), n, len(missing), missing[:min(10, len(missing))], len(doubled), doubled[:min(10, len(doubled))])
	}
	return nil
}
