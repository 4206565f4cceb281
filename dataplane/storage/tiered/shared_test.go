package tiered

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// TestTwoBrokersShareOnePostgres runs two stores on one PostgreSQL
// database and one object store, as two brokers would: topic creation,
// offset assignment, idempotence checks and compaction stay correct when
// both write the same partitions at once.
func TestTwoBrokersShareOnePostgres(t *testing.T) {
	if TestPostgresURL == nil {
		t.Fatal("no PostgreSQL helper: TestMain did not run")
	}
	ctx := context.Background()
	cfg := compactionConfig(testConfig(t, t.TempDir()), nil)
	cfg.MetadataURL = TestPostgresURL(t)
	a, b := openStore(t, cfg), openStore(t, cfg)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*Store{a, b} {
		wg.Go(func() {
			_, errs[i] = s.CreateTopic(ctx, "c", "t", 2, map[string]string{"segment.bytes": "8192"})
		})
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) || !errors.Is(errors.Join(errs...), storage.ErrTopicExists) {
		t.Fatalf("concurrent creates: %v and %v, want one success and one ErrTopicExists", errs[0], errs[1])
	}

	// Both brokers append to both partitions at once.
	const appends = 30
	tags := make(map[string]bool)
	var mu sync.Mutex
	for i, s := range []*Store{a, b} {
		for p := range 2 {
			wg.Go(func() {
				tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
				for n := range appends {
					tag := fmt.Sprintf("broker%d-p%d-%d", i, p, n)
					mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 2, valueSize: 200, tag: tag, firstTS: time.Now().UnixMilli()}))
					mu.Lock()
					tags[tag] = true
					mu.Unlock()
				}
			})
		}
	}
	// Meanwhile both compact.
	stop := make(chan struct{})
	var compactors sync.WaitGroup
	for _, s := range []*Store{a, b} {
		compactors.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Compact(ctx); err != nil {
					t.Errorf("compaction: %v", err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	compactors.Wait()

	// An idempotent producer moves from one broker to the other.
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	pid, err := a.AllocateProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := makeBatch(t, idempotent(batchSpec{records: 3, tag: "idem-a"}, pid, 0, 0))
	res := mustAppend(t, a, tp, first)
	second := makeBatch(t, idempotent(batchSpec{records: 3, tag: "idem-b"}, pid, 0, 3))
	mustAppend(t, b, tp, second)
	if dup, err := b.Append(ctx, tp, first); !errors.Is(err, storage.ErrDuplicateSequence) || dup.BaseOffset != res.BaseOffset {
		t.Fatalf("retry on the other broker: %+v %v, want a duplicate at %d", dup, err, res.BaseOffset)
	}
	if _, err := a.Append(ctx, tp, makeBatch(t, idempotent(batchSpec{}, pid, 0, 9))); !errors.Is(err, storage.ErrOutOfOrderSequence) {
		t.Fatalf("gap after the other broker's batch: %v, want ErrOutOfOrderSequence", err)
	}
	mustCompact(t, a)
	mustCompact(t, b)

	// A third broker reads everything once.
	c := openStore(t, cfg)
	seen := map[string]bool{}
	for p := range 2 {
		tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
		for _, v := range valuesOf(readRecords(t, c, tp, 0)) {
			if seen[v] {
				t.Fatalf("record %s read twice", v)
			}
			seen[v] = true
		}
	}
	for tag := range tags {
		for i := range 2 {
			if v := fmt.Sprintf("%s#%d#", tag, i); !seen[v] {
				t.Fatalf("record %s was acknowledged and is not in the log", v)
			}
		}
	}
	for _, v := range []string{"idem-a#2#", "idem-b#2#"} {
		if !seen[v] {
			t.Fatalf("record %s was acknowledged and is not in the log", v)
		}
	}
}

// TestSharedSQLiteFile: stores sharing one SQLite file (the brokers of a
// local dedicated cluster, each its own process) see each other's commits
// when SharedMetadata says the file is shared, and not without it.
func TestSharedSQLiteFile(t *testing.T) {
	for _, shared := range []bool{true, false} {
		t.Run(fmt.Sprintf("shared=%v", shared), func(t *testing.T) {
			ctx := context.Background()
			cfg := testConfig(t, t.TempDir())
			cfg.SharedMetadata = shared
			a, b := openStore(t, cfg), openStore(t, cfg)
			createTopic(t, a, "c", "t", 1)
			tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
			mustAppend(t, a, tp, makeBatch(t, batchSpec{records: 2, tag: "a1"}))
			if _, end, err := a.Offsets(ctx, tp); err != nil || end != 2 {
				t.Fatalf("a's offsets: end %d, %v; want 2", end, err)
			}
			mustAppend(t, b, tp, makeBatch(t, batchSpec{records: 3, tag: "b1"}))
			// b's commit reaches a within the poll interval when shared.
			time.Sleep(2 * sharedPollInterval)
			_, end, err := a.Offsets(ctx, tp)
			if err != nil {
				t.Fatal(err)
			}
			if shared {
				got := valuesOf(readRecords(t, a, tp, 0))
				if end != 5 || len(got) != 5 || got[4] != "b1#2#" {
					t.Fatalf("a sees end %d and records %v; want b's three after its own two", end, got)
				}
				return
			}
			// Without it, a keeps the view of a single writer: b's
			// records are past the end it knows.
			if end != 2 {
				t.Fatalf("unshared: a sees end %d; want its own 2 (this test shows why the flag exists)", end)
			}
		})
	}
}
