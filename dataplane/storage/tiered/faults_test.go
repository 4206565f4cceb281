package tiered

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// TestInjectedFaultsCauseRetriesNotLoss runs producers, consumers and the
// compactor against an object store failing 40% of calls: failures are
// retried inside the engine, those that get through are
// storage.ErrUnavailable, and once the store is healthy again every
// acknowledged record is there exactly once and nothing is left behind.
func TestInjectedFaultsCauseRetriesNotLoss(t *testing.T) { forEachBackend(t, testInjectedFaults) }

func testInjectedFaults(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	cfg.SegmentIndexBytes = 4 << 10
	var flaky *flakyObjects
	s := openStoreWith(t, cfg, func(o objectStore) objectStore {
		flaky = newFlakyObjects(o, uint64(time.Now().UnixNano()))
		return flaky
	})
	const partitions = 3
	if _, err := s.CreateTopic(ctx, "c", "t", partitions, map[string]string{"segment.bytes": "16384"}); err != nil {
		t.Fatal(err)
	}
	flaky.permille.Store(400)

	producers := make([]*producer, partitions)
	var (
		wg         sync.WaitGroup
		done       = make(chan struct{})
		readErrs   atomic.Int64
		compactErr atomic.Int64
	)
	for p := range partitions {
		pid, err := s.AllocateProducerID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		producers[p] = &producer{s: s, tp: storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}, id: pid}
	}
	var produced sync.WaitGroup
	for _, pr := range producers {
		produced.Go(func() {
			for b := range 30 {
				values := make([]string, 4)
				for i := range values {
					values[i] = fmt.Sprintf("p%d-b%d-r%d-%s", pr.tp.Partition, b, i, strings.Repeat("v", 300))
				}
				pr.send(t, values, clock.now().UnixMilli(), kgo.CodecNone)
			}
		})
	}
	wg.Go(func() { // the compactor, as the background one would run
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := s.Compact(ctx); err != nil {
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("compaction failed with %v, want storage.ErrUnavailable", err)
				}
				compactErr.Add(1)
			}
		}
	})
	wg.Go(func() { // a consumer from the start
		for {
			select {
			case <-done:
				return
			default:
			}
			for p := range partitions {
				tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
				if _, err := s.Read(ctx, tp, 0, 64<<10); err != nil {
					if !errors.Is(err, storage.ErrUnavailable) {
						t.Errorf("read failed with %v, want storage.ErrUnavailable", err)
					}
					readErrs.Add(1)
				}
			}
		}
	})
	produced.Wait()
	close(done)
	wg.Wait()

	flaky.permille.Store(0)
	mustCompact(t, s)
	mustCompact(t, s)
	clock.advance(s.cfg.OrphanGrace + time.Minute)
	mustCompact(t, s)
	for _, pr := range producers {
		got := readRecords(t, s, pr.tp, 0)
		values := make([]string, len(got))
		for i, r := range got {
			values[i] = string(r.value)
		}
		sameStrings(t, fmt.Sprintf("partition %d", pr.tp.Partition), values, pr.acked)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM chunks WHERE kind = 0`); n != 0 {
		t.Fatalf("%d WAL chunks left once the store is healthy", n)
	}
	for _, key := range listObjects(t, cfg, "") {
		if strings.HasSuffix(key, tempSuffix) {
			continue
		}
		if ref, err := s.referenced(ctx, key); err != nil || !ref {
			t.Errorf("object %s is left unreferenced (%v)", key, err)
		}
	}
	t.Logf("%d injected failures; %d failed reads and %d failed compaction passes got through the retries",
		flaky.failures.Load(), readErrs.Load(), compactErr.Load())
	if flaky.failures.Load() == 0 {
		t.Fatal("no failure was injected")
	}
}

// TestRetriesAbsorbTransientFailures: one failure in a row is retried and
// never seen; persistent failure is, as storage.ErrUnavailable.
func TestRetriesAbsorbTransientFailures(t *testing.T) {
	cfg := compactionConfig(testConfig(t, t.TempDir()), nil)
	var flaky *flakyObjects
	s := openStoreWith(t, cfg, func(o objectStore) objectStore {
		flaky = newFlakyObjects(o, 1)
		return &failFirst{objectStore: flaky}
	})
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	want := produceValues(t, s, tp, "v", 5, 2, 10, time.Now().UnixMilli())
	mustCompact(t, s)
	sameStrings(t, "read through retried failures", valuesOf(readRecords(t, s, tp, 0)), want)

	flaky.permille.Store(1000)
	_, err := s.Append(context.Background(), tp, makeBatch(t, batchSpec{}))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("append with the object store down: %v, want storage.ErrUnavailable", err)
	}
	if _, err := s.Read(context.Background(), tp, 0, 1); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("cold read with the object store down: %v, want storage.ErrUnavailable", err)
	}
}

// failFirst fails the first attempt of each call and lets its retry
// through.
type failFirst struct {
	objectStore
	mu   sync.Mutex
	seen map[string]bool // calls that failed once; guarded by mu
}

func (f *failFirst) fail(call string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if f.seen[call] {
		return nil
	}
	f.seen[call] = true
	return fmt.Errorf("%w: %w", storage.ErrUnavailable, errInjected)
}

func (f *failFirst) put(ctx context.Context, parts [][]byte) (string, error) {
	if err := f.fail(fmt.Sprintf("put %p", &parts[0][0])); err != nil {
		return "", err
	}
	return f.objectStore.put(ctx, parts)
}

func (f *failFirst) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	if err := f.fail(fmt.Sprintf("read %s@%d+%d", key, off, len(dst))); err != nil {
		return err
	}
	return f.objectStore.readRange(ctx, key, off, dst)
}
