package tiered

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// TestLocalTierServesLaggingConsumers: with a local disk tier, a consumer
// behind the memory cache reads the local disk, not object storage, even
// after the compactor moved the data into segments; local.retention.bytes
// bounds what the disk keeps.
func TestLocalTierServesLaggingConsumers(t *testing.T) {
	ctx := context.Background()
	cfg := compactionConfig(testConfig(t, t.TempDir()), nil)
	cfg.LocalCacheDir = t.TempDir()
	cfg.CacheBytes = 1 // nothing in memory
	var objects *flakyObjects
	s := openStoreWith(t, cfg, func(o objectStore) objectStore {
		objects = newFlakyObjects(o, 1)
		return objects
	})
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{"segment.bytes": "32768"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	want := produceValues(t, s, tp, "v", 40, 4, 300, time.Now().UnixMilli())
	k := s.mustRoute(t, tp)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := s.local.lookup(k, 0, int64(len(want)-1)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier never got the data")
		}
	}
	mustCompact(t, s)
	if n := countRows(t, s, `SELECT COUNT(*) FROM chunks WHERE kind = 0`); n != 0 {
		t.Fatalf("%d WAL chunks left: the test wants the data in segments", n)
	}
	before := objects.reads.Load()
	sameStrings(t, "from the local tier", valuesOf(readRecords(t, s, tp, 0)), want)
	if n := objects.reads.Load() - before; n != 0 {
		t.Fatalf("%d object reads for data the local tier holds", n)
	}

	size, _, _ := s.local.stats()
	if err := s.UpdateConfigs(ctx, "c", "t", map[string]string{"local.retention.bytes": "4096"}, nil); err != nil {
		t.Fatal(err)
	}
	mustCompact(t, s)
	if after, _, _ := s.local.stats(); after >= size || after > 4096 {
		t.Fatalf("local tier holds %d bytes after local.retention.bytes=4096 (was %d)", after, size)
	}
	before = objects.reads.Load()
	sameStrings(t, "past the local tier", valuesOf(readRecords(t, s, tp, 0)), want)
	if objects.reads.Load() == before {
		t.Fatal("no object read for data the local tier dropped")
	}
}

// TestReadAheadStreamsSegments: a consumer reading a topic from its start
// out of segments finds the next blocks already fetched.
func TestReadAheadStreamsSegments(t *testing.T) {
	cfg := compactionConfig(testConfig(t, t.TempDir()), nil)
	cfg.SegmentIndexBytes = 8 << 10
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(context.Background(), "c", "t", 1, map[string]string{"segment.bytes": "131072"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	want := produceValues(t, s, tp, "v", 100, 4, 500, time.Now().UnixMilli())
	mustCompact(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cfg.CacheBytes = 1
	s = openStoreWith(t, cfg, func(o objectStore) objectStore { return &slowReads{objectStore: o, delay: 20 * time.Millisecond} })
	blocks := countRows(t, s, `SELECT COUNT(*) FROM chunks`)
	start := time.Now()
	got := valuesOf(readRecords(t, s, tp, 0)) // reads of 256 KiB: a few blocks each
	elapsed := time.Since(start)
	sameStrings(t, "streamed from segments", got, want)
	hits := s.ahead.hits.Load()
	t.Logf("%d blocks read in %v, %d from read-ahead", blocks, elapsed.Round(time.Millisecond), hits)
	if hits < int64(blocks)/3 {
		t.Fatalf("%d of %d blocks came from read-ahead, want most", hits, blocks)
	}
}

// slowReads adds latency to object reads, as a remote store has.
type slowReads struct {
	objectStore
	delay time.Duration
}

func (s *slowReads) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	time.Sleep(s.delay)
	return s.objectStore.readRange(ctx, key, off, dst)
}

// TestTailReadsStayOffObjectStorage: consumers at the tail read what was
// just committed from memory, before and after a compaction pass (which
// leaves data younger than WALHold in the WAL).
func TestTailReadsStayOffObjectStorage(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.CompactionInterval = -1
	var objects *flakyObjects
	s := openStoreWith(t, cfg, func(o objectStore) objectStore {
		objects = newFlakyObjects(o, 1)
		return objects
	})
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	var offset int64
	for round := range 5 {
		want := produceValues(t, s, tp, fmt.Sprint("r", round), 10, 2, 100, time.Now().UnixMilli())
		mustCompact(t, s)
		sameStrings(t, "tail", valuesOf(readRecords(t, s, tp, offset)), want)
		offset += int64(len(want))
	}
	if n := objects.reads.Load(); n != 0 {
		t.Fatalf("%d object reads by consumers at the tail", n)
	}
}
