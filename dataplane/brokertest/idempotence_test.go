package brokertest

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

const (
	idemPartitions = 12
	// idemFirstRun is the size the acceptance criteria name: a million
	// records through an idempotent producer with 5 requests in flight.
	idemFirstRun = 1_000_000
	// idemSecondRun is produced while the broker is killed and restarted.
	idemSecondRun = 300_000
)

// idemRecord carries its sequence number, unique across the test, as its
// whole value; record seq goes to partition seq % idemPartitions.
func idemRecord(seq int) *kgo.Record {
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(seq))
	return &kgo.Record{Partition: int32(seq % idemPartitions), Value: v}
}

// produceRun produces records [from, to) without waiting for each, and
// returns which were acknowledged (indexed by seq-from) and the first error
// of those that were not. onAck, if set, is called with the number of
// acknowledgements so far after each one.
func produceRun(t *testing.T, cl *kgo.Client, from, to int, onAck func(acked int64)) (acked []bool, failures int, firstErr error) {
	t.Helper()
	acked = make([]bool, to-from)
	var (
		mu    sync.Mutex // guards acked, failures and firstErr
		count atomic.Int64
		wg    sync.WaitGroup
	)
	ctx := t.Context()
	for seq := from; seq < to; seq++ {
		wg.Add(1)
		cl.Produce(ctx, idemRecord(seq), func(r *kgo.Record, err error) {
			defer wg.Done()
			mu.Lock()
			if err != nil {
				failures++
				if firstErr == nil {
					firstErr = fmt.Errorf("record %d: %w", seq, err)
				}
			} else {
				acked[seq-from] = true
			}
			mu.Unlock()
			if err == nil && onAck != nil {
				onAck(count.Add(1))
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return acked, failures, firstErr
}

// readAllSeqs consumes the topic from the start up to its end offsets and
// returns how many times each sequence number was read. It fails t when a
// partition holds a record of another partition or out of order.
func readAllSeqs(t *testing.T, p *testutil.BrokerProcess, topic string, maxSeq int) []uint8 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	ends, err := p.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	cl := p.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	defer cl.Close()

	seen := make([]uint8, maxSeq)
	last := map[int32]int{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s back: partitions not read to their end offset after 3m (partition: offsets left) %v", topic, remaining)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			seq := int(binary.BigEndian.Uint64(r.Value))
			if seq >= maxSeq || int32(seq%idemPartitions) != r.Partition {
				t.Fatalf("partition %d offset %d holds record %d, which was produced to partition %d", r.Partition, r.Offset, seq, seq%idemPartitions)
			}
			if prev, ok := last[r.Partition]; ok && seq <= prev {
				t.Fatalf("partition %d offset %d holds record %d after record %d: order broken", r.Partition, r.Offset, seq, prev)
			}
			last[r.Partition] = seq
			seen[seq]++
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return seen
}

// checkSeqs checks that every acknowledged record of [from, from+len(acked))
// was read exactly once and the others at most once.
func checkSeqs(t *testing.T, seen []uint8, from int, acked []bool) (lostUnacked int) {
	t.Helper()
	var missing, duplicated []int
	for i, ok := range acked {
		n := seen[from+i]
		switch {
		case n > 1:
			duplicated = append(duplicated, from+i)
		case n == 0 && ok:
			missing = append(missing, from+i)
		case n == 0:
			lostUnacked++
		}
	}
	if len(missing) > 0 || len(duplicated) > 0 {
		t.Errorf("records %d..%d: %d acknowledged records missing (first %v), %d records read more than once (first %v); want every acknowledged record exactly once and the others at most once",
			from, from+len(acked)-1, len(missing), missing[:min(10, len(missing))], len(duplicated), duplicated[:min(10, len(duplicated))])
	}
	return lostUnacked
}

func TestIdempotentProducerExactlyOnceAcrossBrokerKill(t *testing.T) {
	p := testutil.StartBrokerProcess(t, testutil.BrokerProcessOptions{})
	const topic = "exactly-once"
	createTopic(t, p.Admin(t), topic, idemPartitions, nil)
	producer := p.Client(t, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// Idempotent (the default), kgo keeps 5 produce requests in flight
		// per broker once the broker answers produce v4+; it refuses
		// MaxProduceRequestsInflightPerBroker, which is for non-idempotent
		// producers.
		kgo.MaxBufferedRecords(200_000),
		// Through a broker crash and restart, records wait instead of failing.
		kgo.RecordDeliveryTimeout(3*time.Minute), kgo.RetryTimeout(3*time.Minute))

	start := time.Now()
	acked, failures, err := produceRun(t, producer, 0, idemFirstRun, nil)
	if failures > 0 {
		t.Fatalf("first run: %d of %d records failed, first: %v", failures, idemFirstRun, err)
	}
	t.Logf("produced %d records in %v", idemFirstRun, time.Since(start))
	start = time.Now()
	seen := readAllSeqs(t, p, topic, idemFirstRun)
	checkSeqs(t, seen, 0, acked)
	t.Logf("read them back in %v", time.Since(start))
	if t.Failed() {
		return
	}

	// Second run: SIGKILL the broker once a third is acknowledged, while
	// requests are in flight, and restart it on the same storage and port.
	// The kill happens in the acknowledgement callback, so that two thirds
	// of the run are still to be acknowledged; the test restarts the broker
	// while the producer retries.
	var killOnce sync.Once
	killed := make(chan struct{})
	type result struct {
		acked    []bool
		failures int
		err      error
	}
	done := make(chan result, 1)
	start = time.Now()
	go func() {
		var r result
		r.acked, r.failures, r.err = produceRun(t, producer, idemFirstRun, idemFirstRun+idemSecondRun, func(n int64) {
			if n >= idemSecondRun/3 {
				killOnce.Do(func() { p.Kill(); close(killed) })
			}
		})
		done <- r
	}()
	var r result
	select {
	case <-killed:
	case r = <-done:
		t.Fatalf("second run finished (%d failures, %v) before a third was acknowledged and the broker killed", r.failures, r.err)
	}
	time.Sleep(300 * time.Millisecond)
	p.Restart()
	r = <-done
	acked, failures, err = r.acked, r.failures, r.err
	var ackedCount int
	for _, ok := range acked {
		if ok {
			ackedCount++
		}
	}
	t.Logf("second run across a broker kill: %d acknowledged, %d failed (first: %v) in %v", ackedCount, failures, err, time.Since(start))
	if ackedCount < idemSecondRun/3 {
		t.Fatalf("only %d records of the second run acknowledged", ackedCount)
	}
	seen = readAllSeqs(t, p, topic, idemFirstRun+idemSecondRun)
	checkSeqs(t, seen, 0, allAcked(idemFirstRun))
	lost := checkSeqs(t, seen, idemFirstRun, acked)
	t.Logf("of the %d unacknowledged records, %d are absent", idemSecondRun-ackedCount, lost)
}

// allAcked is n acknowledgements.
func allAcked(n int) []bool {
	acked := make([]bool, n)
	for i := range acked {
		acked[i] = true
	}
	return acked
}
