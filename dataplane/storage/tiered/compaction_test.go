package tiered

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// produceValues appends batches of records to tp, one at a time, valued
// "<tag>-<batch>#<i>#" (padded to valueSize) with timestamp ts, and returns
// the values in offset order.
func produceValues(t testing.TB, s *Store, tp storage.TopicPartition, tag string, batches, records, valueSize int, ts int64) []string {
	t.Helper()
	var want []string
	for b := range batches {
		spec := batchSpec{records: records, valueSize: valueSize, tag: fmt.Sprintf("%s-%d", tag, b), firstTS: ts}
		mustAppend(t, s, tp, makeBatch(t, spec))
		for i := range records {
			want = append(want, fmt.Sprintf("%s-%d#%d#", tag, b, i))
		}
	}
	return want
}

func valuesOf(records []testRecord) []string {
	out := make([]string, len(records))
	for i, r := range records {
		out[i], _, _ = strings.Cut(string(r.value), "x") // padding
	}
	return out
}

func sameStrings(t testing.TB, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: record %d is %q, want %q", what, i, got[i], want[i])
		}
	}
}

func TestCompactionRollsWALIntoSegments(t *testing.T) {
	forEachBackend(t, testCompactionRollsWALIntoSegments)
}

func testCompactionRollsWALIntoSegments(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	cfg.SegmentIndexBytes = 8 << 10
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 2, map[string]string{"segment.bytes": "65536"}); err != nil {
		t.Fatal(err)
	}
	now := clock.now().UnixMilli()
	want := make([][]string, 2)
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			want[p] = produceValues(t, s, tp, fmt.Sprint("p", p), 60, 10, 200, now)
		})
	}
	wg.Wait()
	walBefore := countObjects(t, cfg, walPrefix)

	stats := mustCompact(t, s)
	if stats.SegmentsWritten < 2*2 || stats.ChunksReplaced == 0 {
		t.Fatalf("compaction stats %+v: want at least two segments per partition", stats)
	}
	if n := countRows(t, s, `SELECT COUNT(*) FROM chunks WHERE kind = 0`); n != 0 {
		t.Fatalf("%d WAL chunks left after compaction", n)
	}
	segs := countRows(t, s, `SELECT COUNT(*) FROM segments`)
	if got := countObjects(t, cfg, segmentPrefix); got != segs {
		t.Fatalf("%d segment objects for %d segment rows", got, segs)
	}
	if got := countObjects(t, cfg, walPrefix); got != 0 {
		t.Fatalf("%d WAL objects left of %d after compaction and GC", got, walBefore)
	}
	check := func(s *Store, when string) {
		t.Helper()
		for p := range 2 {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			sameStrings(t, when, valuesOf(readRecords(t, s, tp, 0)), want[p])
			// Reads starting inside a segment block start at the batch.
			res := mustRead(t, s, tp, 155, 1)
			if got := decodeBatches(t, res.Records); len(got) != 1 || got[0].FirstOffset != 150 {
				t.Fatalf("%s: read from 155 starts at %+v, want the batch at 150", when, got)
			}
		}
	}
	check(s, "after compaction")
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	if off, ts, err := s.OffsetForTime(ctx, tp, now); err != nil || off != 0 || ts != now {
		t.Fatalf("offset for time in segments: %d %d %v, want 0 at %d", off, ts, err, now)
	}

	// More data merges into the open segments, never into full ones.
	for round := range 3 {
		for p := range 2 {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			want[p] = append(want[p], produceValues(t, s, tp, fmt.Sprint("r", round, "p", p), 5, 10, 200, now)...)
		}
		mustCompact(t, s)
	}
	check(s, "after merges")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	check(s, "after restart")
	// Binary-counter merging: per partition, about log2(segment.bytes /
	// bytes per pass) open segments.
	full := countRows(t, s, `SELECT COUNT(*) FROM segments WHERE sealed = 1`)
	open := countRows(t, s, `SELECT COUNT(*) FROM segments WHERE sealed = 0`)
	if full < 2 || open > 2*int(log2(65536/10000)+2) {
		t.Fatalf("%d full and %d open segments: want full segments and few open ones", full, open)
	}
}

// TestSegmentsConvergeWithBoundedObjects produces a stream through the WAL
// with the compactor running between rounds and checks that objects
// converge to about size/segment.bytes. AFFLUENT_LONG_TESTS=1 runs it at
// 2 GiB with 64 MiB segments instead of 64 MiB with 4 MiB.
func TestSegmentsConvergeWithBoundedObjects(t *testing.T) {
	for _, b := range []testBackend{testBackends[0], testBackends[2]} { // file:// and s3://, SQLite
		if only := os.Getenv("AFFLUENT_STORAGE_BACKENDS"); only != "" && !strings.Contains(only, b.name) {
			continue
		}
		t.Run(b.name, func(t *testing.T) { testSegmentsConverge(t, backendConfig(t, b)) })
	}
}

func testSegmentsConverge(t *testing.T, cfg Config) {
	total, segBytes := int64(64<<20), int64(4<<20)
	if longTests() {
		total, segBytes = 2<<30, 64<<20
	}
	cfg = compactionConfig(cfg, nil)
	s := openStore(t, cfg)
	const partitions = 4
	if _, err := s.CreateTopic(context.Background(), "c", "t", partitions,
		map[string]string{"segment.bytes": fmt.Sprint(segBytes)}); err != nil {
		t.Fatal(err)
	}
	const recordsPerBatch, valueSize = 64, 1000
	batch := makeBatch(t, batchSpec{records: recordsPerBatch, valueSize: valueSize, firstTS: time.Now().UnixMilli()})
	batchesPerPartition := int(total / int64(len(batch.Raw)) / partitions)
	const rounds = 16
	var produceTime, compactTime time.Duration
	maxWAL := 0
	for range rounds {
		start := time.Now()
		var wg sync.WaitGroup
		for p := range partitions {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			for w := range 4 { // concurrent producers per partition fill flushes
				wg.Go(func() {
					for i := w; i < batchesPerPartition/rounds; i += 4 {
						if _, err := s.Append(context.Background(), tp, batch); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		produceTime += time.Since(start)
		maxWAL = max(maxWAL, countObjects(t, cfg, walPrefix))
		start = time.Now()
		mustCompact(t, s)
		compactTime += time.Since(start)
	}
	produced := int64(0)
	for p := range partitions {
		tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
		_, end, _ := s.Offsets(context.Background(), tp)
		produced += end / recordsPerBatch * int64(len(batch.Raw))
		// Every batch readable once, in order (checks offsets and CRCs,
		// not every value: the batches are all the same).
		var offset int64
		for offset < end {
			res := mustRead(t, s, tp, offset, 8<<20)
			for data := res.Records; len(data) > 0; {
				h, err := parseBatchHeader(data)
				if err != nil {
					t.Fatal(err)
				}
				if base := int64(beUint64(data)); base != offset {
					t.Fatalf("partition %d: batch at %d, want %d", p, base, offset)
				}
				offset += int64(h.lastOffsetDelta) + 1
				data = data[h.size:]
			}
		}
	}
	segs := countObjects(t, cfg, segmentPrefix)
	wal := countObjects(t, cfg, walPrefix)
	perPartition := produced / partitions
	// Full segments, plus at most log2(segment.bytes / bytes per round)+1
	// open ones per partition.
	bound := partitions * int(perPartition/segBytes+1+log2(segBytes/(perPartition/rounds))+1)
	t.Logf("produced %d MiB in %v (%.0f MiB/s), compacted in %v (%.0f MiB/s); %d segment objects (bound %d), "+
		"%d WAL objects left, at most %d WAL objects between passes",
		produced>>20, produceTime.Round(time.Millisecond), float64(produced>>20)/produceTime.Seconds(),
		compactTime.Round(time.Millisecond), float64(produced>>20)/compactTime.Seconds(), segs, bound, wal, maxWAL)
	if wal != 0 || segs > bound {
		t.Fatalf("%d WAL and %d segment objects for %d MiB with %d MiB segments: want 0 and at most %d",
			wal, segs, produced>>20, segBytes>>20, bound)
	}
}

func longTests() bool { return os.Getenv("AFFLUENT_LONG_TESTS") != "" }

func log2(n int64) int64 {
	l := int64(0)
	for n > 1 {
		n >>= 1
		l++
	}
	return l
}

func beUint64(b []byte) uint64 {
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
}

func TestRetentionMs(t *testing.T) { forEachBackend(t, testRetentionMs) }

func testRetentionMs(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{
		"retention.ms": fmt.Sprint(time.Hour.Milliseconds()), "segment.bytes": "4096",
	}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	hours := func(h int) int64 { return clock.now().Add(time.Duration(h) * time.Hour).UnixMilli() }

	// Old data still in the WAL goes at the next pass.
	produceValues(t, s, tp, "ancient", 4, 5, 100, hours(-3))
	mustCompact(t, s)
	if start, end, _ := s.Offsets(ctx, tp); start != 20 || end != 20 {
		t.Fatalf("offsets [%d, %d) after retention of WAL data, want [20, 20)", start, end)
	}

	// Segments of two ages: the older go whole when they expire.
	halfHourAgo := clock.now().Add(-30 * time.Minute).UnixMilli()
	produceValues(t, s, tp, "old", 6, 5, 400, halfHourAgo) // ~2 KiB batches: 3 segments
	mustCompact(t, s)                                      // not yet expired
	want := produceValues(t, s, tp, "new", 6, 5, 400, hours(0))
	mustCompact(t, s)
	if start, _, _ := s.Offsets(ctx, tp); start != 20 {
		t.Fatalf("log start %d before the old segments expire, want 20", start)
	}
	clock.advance(45 * time.Minute)
	mustCompact(t, s)
	start, end, _ := s.Offsets(ctx, tp)
	if start != 50 || end != 80 {
		t.Fatalf("offsets [%d, %d) after the old segments expired, want [50, 80)", start, end)
	}
	if _, err := s.Read(ctx, tp, 49, 1<<20); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("read below the new log start: %v, want ErrOffsetOutOfRange", err)
	}
	sameStrings(t, "after retention", valuesOf(readRecords(t, s, tp, 50)), want)
	if n := countRows(t, s, `SELECT COUNT(*) FROM segments WHERE base_offset < 50`); n != 0 {
		t.Fatalf("%d segments below the log start", n)
	}

	// Everything expires: the log is empty, its start at the high watermark.
	clock.advance(2 * time.Hour)
	mustCompact(t, s)
	if start, end, _ := s.Offsets(ctx, tp); start != 80 || end != 80 {
		t.Fatalf("offsets [%d, %d) once everything expired, want [80, 80)", start, end)
	}
	if segs, wal := countObjects(t, cfg, segmentPrefix), countObjects(t, cfg, walPrefix); segs+wal != 0 {
		t.Fatalf("%d segment and %d WAL objects left of an expired log", segs, wal)
	}
	// retention.ms -1 keeps everything.
	if err := s.UpdateConfigs(ctx, "c", "t", map[string]string{"retention.ms": "-1"}, nil); err != nil {
		t.Fatal(err)
	}
	produceValues(t, s, tp, "kept", 2, 5, 100, hours(-1000))
	mustCompact(t, s)
	if start, end, _ := s.Offsets(ctx, tp); start != 80 || end != 90 {
		t.Fatalf("offsets [%d, %d) with retention.ms=-1, want [80, 90)", start, end)
	}
}

func TestRetentionBytes(t *testing.T) { forEachBackend(t, testRetentionBytes) }

func testRetentionBytes(t *testing.T, cfg Config) {
	ctx := context.Background()
	cfg = compactionConfig(cfg, nil)
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{
		"retention.bytes": "16384", "segment.bytes": "8192",
	}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	want := produceValues(t, s, tp, "v", 20, 5, 400, time.Now().UnixMilli())
	mustCompact(t, s) // into segments
	mustCompact(t, s) // retention sees them
	start, end, _ := s.Offsets(ctx, tp)
	var size int64
	var first int64 = -1
	for _, seg := range mustSegments(t, s, tp) {
		size += seg.size
		if first < 0 {
			first = seg.base
		}
	}
	if start == 0 || end != 100 || start != first || size < 16384 || size > 16384+8192 {
		t.Fatalf("offsets [%d, %d), first segment at %d, %d bytes kept: want a later log start at a segment boundary "+
			"and between 16 and 24 KiB", start, end, first, size)
	}
	sameStrings(t, "after retention.bytes", valuesOf(readRecords(t, s, tp, start)), want[start:])
}

func mustSegments(t testing.TB, s *Store, tp storage.TopicPartition) []segmentRow {
	t.Helper()
	k, err := s.route(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := loadSegments(context.Background(), s.db.read, k)
	if err != nil {
		t.Fatal(err)
	}
	return segs
}

func TestDeleteRecordsOnSegments(t *testing.T) { forEachBackend(t, testDeleteRecordsOnSegments) }

func testDeleteRecordsOnSegments(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	cfg.SegmentIndexBytes = 1024
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{"segment.bytes": "8192"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	want := produceValues(t, s, tp, "v", 20, 5, 400, clock.now().UnixMilli())
	mustCompact(t, s)
	segs := mustSegments(t, s, tp)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	// Inside the second segment: it stays, the first goes.
	mid := segs[1].base + 7
	if start, err := s.DeleteRecords(ctx, tp, mid); err != nil || start != mid {
		t.Fatalf("delete records before %d: %d %v", mid, start, err)
	}
	if _, err := s.Read(ctx, tp, mid-1, 1<<20); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("read below the log start: %v, want ErrOffsetOutOfRange", err)
	}
	got := readRecords(t, s, tp, mid)
	sameStrings(t, "after delete records", valuesOf(got), want[mid:])
	mustCompact(t, s) // GC
	keys := listObjects(t, cfg, segmentPrefix)
	for _, k := range keys {
		if k == segs[0].objectKey {
			t.Fatalf("segment %s below the log start was not collected", k)
		}
	}
	if len(keys) != len(segs)-1 {
		t.Fatalf("%d segment objects, want %d", len(keys), len(segs)-1)
	}
	// Merging the partial segment keeps the log start.
	want = append(want, produceValues(t, s, tp, "w", 2, 5, 400, clock.now().UnixMilli())...)
	mustCompact(t, s)
	sameStrings(t, "after merge", valuesOf(readRecords(t, s, tp, mid)), want[mid:])
	if start, err := s.DeleteRecords(ctx, tp, -1); err != nil || start != int64(len(want)) {
		t.Fatalf("delete all: %d %v, want %d", start, err, len(want))
	}
	mustCompact(t, s)
	if n := countObjects(t, cfg, ""); n != 0 {
		t.Fatalf("%d objects left after deleting all records", n)
	}
}

func TestDeleteTopicCollectsObjects(t *testing.T) { forEachBackend(t, testDeleteTopicCollectsObjects) }

func testDeleteTopicCollectsObjects(t *testing.T, cfg Config) {
	ctx := context.Background()
	cfg = compactionConfig(cfg, nil)
	s := openStore(t, cfg)
	createTopic(t, s, "c", "gone", 2)
	createTopic(t, s, "c", "kept", 1)
	now := time.Now().UnixMilli()
	var wg sync.WaitGroup
	for p := range 2 {
		wg.Go(func() {
			produceValues(t, s, storage.TopicPartition{Cluster: "c", Topic: "gone", Partition: int32(p)}, "g", 10, 2, 100, now)
		})
	}
	var want []string
	wg.Go(func() {
		want = produceValues(t, s, storage.TopicPartition{Cluster: "c", Topic: "kept"}, "k", 10, 2, 100, now)
	})
	wg.Wait()
	mustCompact(t, s)
	produceValues(t, s, storage.TopicPartition{Cluster: "c", Topic: "gone"}, "g2", 3, 2, 100, now) // some in the WAL
	if err := s.DeleteTopic(ctx, "c", "gone"); err != nil {
		t.Fatal(err)
	}
	mustCompact(t, s)
	if n := countRows(t, s, `SELECT COUNT(*) FROM segments`); n != countObjects(t, cfg, "") {
		t.Fatalf("%d objects for the %d segments of the kept topic", countObjects(t, cfg, ""), n)
	}
	sameStrings(t, "kept topic", valuesOf(readRecords(t, s, storage.TopicPartition{Cluster: "c", Topic: "kept"}, 0)), want)
}

// TestCompactPolicy: 100 keys updated 1,000 times, 10 of them deleted:
// cleaning leaves the latest value of the other 90 in offset order, and
// no tombstone once delete.retention.ms has passed.
func TestCompactPolicy(t *testing.T) { forEachBackend(t, testCompactPolicy) }

func testCompactPolicy(t *testing.T, cfg Config) {
	ctx := context.Background()
	clock := &testClock{}
	cfg = compactionConfig(cfg, clock)
	cfg.SegmentIndexBytes = 16 << 10
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{
		"cleanup.policy": "compact", "delete.retention.ms": "60000", "segment.bytes": "262144",
	}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	pid, err := s.AllocateProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	codecs := []kgo.CompressionCodecType{kgo.CodecNone, kgo.CodecGzip, kgo.CodecSnappy, kgo.CodecLz4, kgo.CodecZstd}
	const keys, updates = 100, 1000
	key := func(k int) []byte { return []byte(fmt.Sprintf("k%03d", k)) }
	seq := int32(0)
	seqOf := map[int64]int32{} // base offset → base sequence of each batch
	send := func(kvs []kv, codec kgo.CompressionCodecType) {
		b := makeBatch(t, idempotent(batchSpec{kvs: kvs, firstTS: clock.now().UnixMilli(), tsStep: 1, codec: codec}, pid, 0, seq))
		res := mustAppend(t, s, tp, b)
		seqOf[res.BaseOffset] = seq
		seq += int32(len(kvs))
	}
	// Ten rounds of updates per batch: 100 batches of 1,000 records.
	const roundsPerBatch = 10
	for first := 0; first < updates; first += roundsPerBatch {
		var kvs []kv
		for u := first; u < first+roundsPerBatch; u++ {
			from := 0
			if u == updates-1 {
				// The tombstones come before the last round, which leaves
				// out the deleted keys: the log must not end on a
				// tombstone (its last record always stays, as in Kafka's
				// active segment).
				send(kvs, codecs[(first/roundsPerBatch)%len(codecs)])
				var tombs []kv
				for k := range 10 {
					tombs = append(tombs, kv{key: key(k)})
				}
				send(tombs, kgo.CodecNone)
				kvs, from = nil, 10
			}
			for k := from; k < keys; k++ {
				kvs = append(kvs, kv{key: key(k), value: []byte(fmt.Sprintf("k%03d-v%04d", k, u))})
			}
		}
		send(kvs, codecs[(first/roundsPerBatch)%len(codecs)])
		if first%250 == 240 {
			mustCompact(t, s) // clean as it goes, as a broker would
		}
	}
	_, hw, _ := s.Offsets(ctx, tp)
	mustCompact(t, s)
	mustCompact(t, s)
	check := func(wantTombstones bool) {
		t.Helper()
		got := readRecords(t, s, tp, 0)
		var live, tombs int
		seen := map[string]bool{}
		for _, r := range got {
			if seen[string(r.key)] {
				t.Fatalf("key %s appears twice after cleaning", r.key)
			}
			seen[string(r.key)] = true
			if r.value == nil {
				tombs++
				continue
			}
			live++
			if want := fmt.Sprintf("%s-v%04d", r.key, updates-1); string(r.value) != want {
				t.Fatalf("key %s holds %q at %d, want %q", r.key, r.value, r.offset, want)
			}
			if r.batch.ProducerID != pid || r.batch.ProducerEpoch != 0 || r.batch.FirstSequence != seqOf[r.batch.FirstOffset] {
				t.Fatalf("batch at %d lost its producer fields: id %d epoch %d sequence %d, want %d 0 %d",
					r.batch.FirstOffset, r.batch.ProducerID, r.batch.ProducerEpoch, r.batch.FirstSequence, pid, seqOf[r.batch.FirstOffset])
			}
		}
		if live != 90 || (tombs == 10) != wantTombstones || (!wantTombstones && tombs != 0) {
			t.Fatalf("%d live keys and %d tombstones, want 90 and tombstones %v", live, tombs, wantTombstones)
		}
		if last := got[len(got)-1]; last.offset != hw-1 {
			t.Fatalf("last record at %d, want the high watermark - 1 = %d", last.offset, hw-1)
		}
		if start, end, _ := s.Offsets(ctx, tp); start != 0 || end != hw {
			t.Fatalf("offsets [%d, %d) after cleaning, want [0, %d): offsets are never reused", start, end, hw)
		}
	}
	check(true) // tombstones wait for delete.retention.ms
	clock.advance(2 * time.Minute)
	mustCompact(t, s)
	check(false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	check(false)
	// The producer goes on in sequence after its batches were rewritten.
	mustAppend(t, s, tp, makeBatch(t, idempotent(batchSpec{kvs: []kv{{key(50), []byte("after")}}}, pid, 0, seq)))
}

func TestMinCompactionLag(t *testing.T) {
	ctx := context.Background()
	clock := &testClock{}
	cfg := compactionConfig(testConfig(t, t.TempDir()), clock)
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{
		"cleanup.policy": "compact", "min.compaction.lag.ms": fmt.Sprint(time.Hour.Milliseconds()),
	}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	for i := range 10 {
		mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: []kv{{[]byte("k"), []byte(fmt.Sprint(i))}, {[]byte("other"), []byte("x")}},
			firstTS: clock.now().UnixMilli()}))
	}
	mustCompact(t, s)
	if n := len(readRecords(t, s, tp, 0)); n != 20 {
		t.Fatalf("%d records before min.compaction.lag.ms, want all 20", n)
	}
	clock.advance(2 * time.Hour)
	mustCompact(t, s)
	got := readRecords(t, s, tp, 0)
	if len(got) != 2 || string(got[0].value) != "9" || string(got[1].value) != "x" {
		t.Fatalf("after the lag: %d records, want k=9 and other=x", len(got))
	}
}

// TestCleanerKeepsKeylessAndControlBatches: records without a key and the
// record at the high watermark - 1 survive any cleaning.
func TestCleanerKeepsKeylessRecordsAndTheLast(t *testing.T) {
	ctx := context.Background()
	cfg := compactionConfig(testConfig(t, t.TempDir()), nil)
	s := openStore(t, cfg)
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{"cleanup.policy": "compact,delete"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	now := time.Now().UnixMilli()
	mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: []kv{{nil, []byte("no key")}, {[]byte("a"), []byte("1")}}, firstTS: now}))
	mustAppend(t, s, tp, makeBatch(t, batchSpec{kvs: []kv{{[]byte("a"), []byte("2")}, {[]byte("a"), nil}}, firstTS: now}))
	mustCompact(t, s)
	got := readRecords(t, s, tp, 0)
	if len(got) != 2 || string(got[0].value) != "no key" || got[1].offset != 3 || got[1].value != nil {
		t.Fatalf("after cleaning: %+v, want the keyless record and the final tombstone", got)
	}
}

func TestObjectKeyTimes(t *testing.T) {
	now := time.Unix(0, time.Now().UnixNano())
	k := partitionKey{"0b6f0a3e-3b7e-4a57-9a31-1f0c7e2a9d10", 3}
	for _, key := range []string{newWALKey(now), newSegmentKey(k, 42, now),
		newWALKey(now) + "." + fmt.Sprintf("%x", now.UnixNano()) + ".tmp"} {
		got, ok := objectKeyTime(key)
		if !ok || !got.Equal(now) {
			t.Errorf("time of %s: %v %v, want %v", key, got, ok, now)
		}
	}
	if _, ok := objectKeyTime("other/thing"); ok {
		t.Error("a foreign key has a time")
	}
}

func TestRewriteKeepsCodecAndCRC(t *testing.T) {
	for _, codec := range []kgo.CompressionCodecType{kgo.CodecNone, kgo.CodecGzip, kgo.CodecSnappy, kgo.CodecLz4, kgo.CodecZstd} {
		b := makeBatch(t, batchSpec{kvs: []kv{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}, {[]byte("c"), []byte("3")}},
			firstTS: 1000, tsStep: 5, codec: codec})
		h, err := parseBatchHeader(b.Raw)
		if err != nil {
			t.Fatal(err)
		}
		var kept []kmsg.Record
		if err := eachRecord(b.Raw, h, func(r *kmsg.Record) {
			if string(r.Key) != "a" {
				kept = append(kept, *r)
			}
		}); err != nil {
			t.Fatal(err)
		}
		out, err := encodeBatch(b.Raw, h, kept, 99999)
		if err != nil {
			t.Fatal(err)
		}
		var got kmsg.RecordBatch
		if err := got.ReadFrom(out); err != nil {
			t.Fatal(err)
		}
		if crc := int32(crc32.Checksum(out[21:], castagnoli)); crc != got.CRC || int(got.Length)+12 != len(out) {
			t.Fatalf("codec %v: crc %x length %d, computed %x and %d", codec, got.CRC, got.Length, crc, len(out)-12)
		}
		oh, _ := parseBatchHeader(out)
		if got.NumRecords != 2 || got.LastOffsetDelta != 2 || got.Attributes&7 != int16(codec) ||
			got.Attributes&attrDeleteHorizon == 0 || got.FirstTimestamp != 99999 || got.MaxTimestamp != 1010 {
			t.Fatalf("codec %v: rewritten batch %+v", codec, got)
		}
		var ts []int64
		_ = eachRecord(out, oh, func(r *kmsg.Record) { ts = append(ts, oh.firstTimestamp+r.TimestampDelta64) })
		if fmt.Sprint(ts) != "[1005 1010]" {
			t.Fatalf("codec %v: record timestamps %v, want [1005 1010]", codec, ts)
		}
	}
}
