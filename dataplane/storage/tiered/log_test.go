package tiered

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

func TestAppendReadRoundTrip(t *testing.T) { forEachBackend(t, testAppendReadRoundTrip) }

func testAppendReadRoundTrip(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "lkc-1", "orders", 3)
	tp := storage.TopicPartition{Cluster: "lkc-1", Topic: "orders", Partition: 1}

	var want []string
	next := int64(0)
	for i := range 5 {
		b := makeBatch(t, batchSpec{records: i + 1, firstTS: 1000, tsStep: 1, tag: fmt.Sprint("b", i)})
		res := mustAppend(t, s, tp, b)
		if res.BaseOffset != next || res.LogAppendTime != -1 || res.LogStartOffset != 0 {
			t.Fatalf("append %d: got %+v, want base offset %d, no log append time, log start 0", i, res, next)
		}
		next += int64(i + 1)
		for r := range i + 1 {
			want = append(want, fmt.Sprintf("b%d#%d#", i, r))
		}
	}

	res := mustRead(t, s, tp, 0, 1<<20)
	if res.HighWatermark != next || res.LastStableOffset != next || res.LogStartOffset != 0 {
		t.Fatalf("read offsets %+v, want high watermark %d", res, next)
	}
	var got []string
	offset := int64(0)
	for _, b := range decodeBatches(t, res.Records) {
		if b.FirstOffset != offset {
			t.Fatalf("batch base offset %d, want %d", b.FirstOffset, offset)
		}
		if b.PartitionLeaderEpoch != 0 {
			t.Fatalf("partition leader epoch %d, want 0", b.PartitionLeaderEpoch)
		}
		offset += int64(b.NumRecords)
		got = append(got, b.values...)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("read values\n%v\nwant\n%v", got, want)
	}

	// A read from inside a batch starts at that batch, as Kafka does.
	mid := decodeBatches(t, mustRead(t, s, tp, 4, 1<<20).Records)
	if len(mid) != 3 || mid[0].FirstOffset != 3 {
		t.Fatalf("read from 4: %d batches starting at %d, want 3 batches from 3", len(mid), mid[0].FirstOffset)
	}

	// Other partitions stay empty.
	other := storage.TopicPartition{Cluster: "lkc-1", Topic: "orders", Partition: 0}
	if r := mustRead(t, s, other, 0, 1<<20); len(r.Records) != 0 || r.HighWatermark != 0 {
		t.Fatalf("untouched partition: %d bytes, high watermark %d", len(r.Records), r.HighWatermark)
	}
	// The same topic name in another cluster is another topic.
	if _, err := s.Append(context.Background(), storage.TopicPartition{Cluster: "lkc-2", Topic: "orders"}, makeBatch(t, batchSpec{})); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("append to another cluster's topic: %v, want ErrUnknownTopic", err)
	}
	if _, err := s.Append(context.Background(), storage.TopicPartition{Cluster: "lkc-1", Topic: "orders", Partition: 3}, makeBatch(t, batchSpec{})); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("append to partition 3 of 3: %v, want ErrUnknownTopic", err)
	}
}

func TestAppendRejectsCorruptBatch(t *testing.T) { forEachBackend(t, testAppendRejectsCorruptBatch) }

func testAppendRejectsCorruptBatch(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	b := makeBatch(t, batchSpec{records: 2})
	b.Raw = b.Raw[:len(b.Raw)-1]
	if _, err := s.Append(context.Background(), tp, b); !errors.Is(err, storage.ErrCorruptMessage) {
		t.Fatalf("truncated batch: %v, want ErrCorruptMessage", err)
	}
	b = makeBatch(t, batchSpec{records: 2})
	b.NumRecords = 3
	if _, err := s.Append(context.Background(), tp, b); !errors.Is(err, storage.ErrCorruptMessage) {
		t.Fatalf("record count mismatch: %v, want ErrCorruptMessage", err)
	}
}

func TestConcurrentAppendsAcrossPartitions(t *testing.T) {
	forEachBackend(t, testConcurrentAppendsAcrossPartitions)
}

func testConcurrentAppendsAcrossPartitions(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	const (
		partitions = 16
		writers    = 4 // per partition
		appends    = 25
	)
	createTopic(t, s, "c", "t", partitions)
	type result struct {
		tag  string
		base int64
	}
	results := make([][]result, partitions)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for p := range partitions {
		for w := range writers {
			wg.Go(func() {
				tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
				for i := range appends {
					tag := fmt.Sprintf("p%dw%di%d", p, w, i)
					res, err := s.Append(context.Background(), tp, makeBatch(t, batchSpec{records: 3, tag: tag}))
					if err != nil {
						t.Errorf("append %s: %v", tag, err)
						return
					}
					mu.Lock()
					results[p] = append(results[p], result{tag, res.BaseOffset})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for p := range partitions {
		tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
		byOffset := map[int64]string{}
		for _, r := range results[p] {
			if prev, dup := byOffset[r.base]; dup {
				t.Fatalf("partition %d: offset %d given to %s and %s", p, r.base, prev, r.tag)
			}
			byOffset[r.base] = r.tag
		}
		start, end, err := s.Offsets(context.Background(), tp)
		if err != nil || start != 0 || end != writers*appends*3 {
			t.Fatalf("partition %d offsets [%d, %d) %v, want [0, %d)", p, start, end, err, writers*appends*3)
		}
		var offset int64
		for offset < end {
			res := mustRead(t, s, tp, offset, 64<<10)
			for _, b := range decodeBatches(t, res.Records) {
				if want := byOffset[b.FirstOffset] + "#0#"; b.values[0] != want {
					t.Fatalf("partition %d offset %d holds %q, append was told %q", p, b.FirstOffset, b.values[0], want)
				}
				offset = b.FirstOffset + int64(b.NumRecords)
			}
		}
	}
}

func TestIdempotentProducer(t *testing.T) { forEachBackend(t, testIdempotentProducer) }

func testIdempotentProducer(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 2)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	ctx := context.Background()
	pid, err := s.AllocateProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(epoch int16, seq int32, records int) storage.Batch {
		return makeBatch(t, idempotent(batchSpec{records: records}, pid, epoch, seq))
	}

	first := mustAppend(t, s, tp, batch(0, 0, 3)) // seqs 0..2, offsets 0..2
	second := mustAppend(t, s, tp, batch(0, 3, 2))
	if first.BaseOffset != 0 || second.BaseOffset != 3 {
		t.Fatalf("base offsets %d, %d; want 0, 3", first.BaseOffset, second.BaseOffset)
	}

	steps := []struct {
		name    string
		batch   storage.Batch
		tp      storage.TopicPartition
		want    error
		offset  int64 // expected base offset when want is nil or a duplicate
		comment string
	}{
		{name: "retry of the first batch", batch: batch(0, 0, 3), tp: tp, want: storage.ErrDuplicateSequence, offset: 0},
		{name: "retry of the second batch", batch: batch(0, 3, 2), tp: tp, want: storage.ErrDuplicateSequence, offset: 3},
		{name: "gap", batch: batch(0, 7, 1), tp: tp, want: storage.ErrOutOfOrderSequence},
		{name: "overlap that is no retry", batch: batch(0, 4, 1), tp: tp, want: storage.ErrOutOfOrderSequence},
		{name: "next in sequence", batch: batch(0, 5, 1), tp: tp, offset: 5},
		{name: "other partition has its own sequence", batch: batch(0, 0, 1),
			tp: storage.TopicPartition{Cluster: "c", Topic: "t", Partition: 1}, offset: 0},
		{name: "new epoch must start at 0", batch: batch(1, 6, 1), tp: tp, want: storage.ErrOutOfOrderSequence},
		{name: "new epoch at 0", batch: batch(1, 0, 2), tp: tp, offset: 6},
		{name: "old epoch is fenced", batch: batch(0, 6, 1), tp: tp, want: storage.ErrInvalidProducerEpoch},
		{name: "old epoch retry is fenced too", batch: batch(0, 5, 1), tp: tp, want: storage.ErrInvalidProducerEpoch},
		{name: "unknown producer starts anywhere", batch: makeBatch(t, idempotent(batchSpec{}, pid+100, 3, 42)), tp: tp, offset: 8},
	}
	for _, st := range steps {
		res, err := s.Append(ctx, st.tp, st.batch)
		if !errors.Is(err, st.want) {
			t.Fatalf("%s: error %v, want %v", st.name, err, st.want)
		}
		if (st.want == nil || st.want == storage.ErrDuplicateSequence) && res.BaseOffset != st.offset {
			t.Fatalf("%s: base offset %d, want %d", st.name, res.BaseOffset, st.offset)
		}
		if errors.Is(err, storage.ErrDuplicateSequence) && err != storage.ErrDuplicateSequence {
			t.Fatalf("%s: duplicate error is wrapped: %v", st.name, err)
		}
	}
	if _, end, _ := s.Offsets(ctx, tp); end != 9 {
		t.Fatalf("high watermark %d, want 9: rejected or duplicate batches were written", end)
	}
}

// TestIdempotentBatchesInOneFlush sends several in-flight batches of one
// producer that land in the same flush: they are checked in order.
func TestIdempotentBatchesInOneFlush(t *testing.T) {
	forEachBackend(t, testIdempotentBatchesInOneFlush)
}

func testIdempotentBatchesInOneFlush(t *testing.T, cfg Config) {
	cfg.Linger = 300 * time.Millisecond
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	const pid = 7
	batches := []storage.Batch{
		makeBatch(t, idempotent(batchSpec{records: 2}, pid, 0, 0)),   // accepted: 0..1
		makeBatch(t, idempotent(batchSpec{records: 1}, pid, 0, 2)),   // accepted: 2
		makeBatch(t, idempotent(batchSpec{records: 2}, pid, 0, 0)),   // duplicate of the first
		makeBatch(t, idempotent(batchSpec{records: 1}, pid, 0, 9)),   // gap
		makeBatch(t, idempotent(batchSpec{records: 1}, pid, 0, 3)),   // accepted: 3
		makeBatch(t, idempotent(batchSpec{records: 1}, pid+1, 0, 0)), // other producer: 4
	}
	type outcome struct {
		res storage.AppendResult
		err error
	}
	outcomes := make([]outcome, len(batches))
	var wg sync.WaitGroup
	for i, b := range batches {
		wg.Go(func() {
			res, err := s.Append(context.Background(), tp, b)
			outcomes[i] = outcome{res, err}
		})
		// Wait until it is buffered so the order is known.
		for deadline := time.Now().Add(time.Second); ; {
			f := s.buf.current()
			if f != nil && s.bufferedBatches(f) == i+1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch %d never reached the buffer in one flush", i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	want := []outcome{
		{storage.AppendResult{BaseOffset: 0, LogAppendTime: -1}, nil},
		{storage.AppendResult{BaseOffset: 2, LogAppendTime: -1}, nil},
		{storage.AppendResult{BaseOffset: 0, LogAppendTime: -1}, storage.ErrDuplicateSequence},
		{storage.AppendResult{}, storage.ErrOutOfOrderSequence},
		{storage.AppendResult{BaseOffset: 3, LogAppendTime: -1}, nil},
		{storage.AppendResult{BaseOffset: 4, LogAppendTime: -1}, nil},
	}
	for i, w := range want {
		got := outcomes[i]
		if !errors.Is(got.err, w.err) || (w.err != storage.ErrOutOfOrderSequence && got.res != w.res) {
			t.Errorf("batch %d: %+v %v, want %+v %v", i, got.res, got.err, w.res, w.err)
		}
	}
	// The rejected batch splits the partition's share of the object into two
	// chunks; reading across them must still be seamless.
	var offsets []int64
	for _, b := range decodeBatches(t, mustRead(t, s, tp, 0, 1<<20).Records) {
		offsets = append(offsets, b.FirstOffset)
	}
	if fmt.Sprint(offsets) != "[0 2 3 4]" {
		t.Fatalf("batch offsets %v, want [0 2 3 4]", offsets)
	}
}

func (s *Store) bufferedBatches(f *flush) int {
	s.buf.mu.Lock()
	defer s.buf.mu.Unlock()
	n := 0
	for _, g := range f.groups {
		n += len(g.batches)
	}
	return n
}

func TestRestartKeepsEverything(t *testing.T) { forEachBackend(t, testRestartKeepsEverything) }

func testRestartKeepsEverything(t *testing.T, cfg Config) {
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	topic := createTopic(t, s, "c", "t", 2)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: 1}
	pid, _ := s.AllocateProducerID(ctx)
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 4, tag: "plain"}))
	last := makeBatch(t, idempotent(batchSpec{records: 2, tag: "idem"}, pid, 0, 0))
	if res := mustAppend(t, s, tp, last); res.BaseOffset != 4 {
		t.Fatalf("idempotent batch at %d, want 4", res.BaseOffset)
	}
	if _, err := s.DeleteRecords(ctx, tp, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	s = openStore(t, cfg)
	got, err := s.Topic(ctx, "c", "t")
	if err != nil || got.ID != topic.ID || got.Partitions != 2 {
		t.Fatalf("topic after restart: %+v %v, want id %x with 2 partitions", got, err, topic.ID)
	}
	start, end, err := s.Offsets(ctx, tp)
	if err != nil || start != 1 || end != 6 {
		t.Fatalf("offsets after restart [%d, %d) %v, want [1, 6)", start, end, err)
	}
	// Cold read: the cache is empty, bytes come from the object store.
	batches := decodeBatches(t, mustRead(t, s, tp, 1, 1<<20).Records)
	if len(batches) != 2 || batches[0].values[3] != "plain#3#" || batches[1].FirstOffset != 4 || batches[1].values[1] != "idem#1#" {
		t.Fatalf("read after restart: %+v", batches)
	}
	// The producer retries its last batch after a broker restart.
	res, err := s.Append(ctx, tp, last)
	if err != storage.ErrDuplicateSequence || res.BaseOffset != 4 {
		t.Fatalf("retry after restart: %+v %v, want duplicate at 4", res, err)
	}
	if res := mustAppend(t, s, tp, makeBatch(t, idempotent(batchSpec{}, pid, 0, 2))); res.BaseOffset != 6 {
		t.Fatalf("next batch after restart at %d, want 6", res.BaseOffset)
	}
	if next, _ := s.AllocateProducerID(ctx); next <= pid {
		t.Fatalf("producer id %d after restart, not above %d", next, pid)
	}
	// Objects were renamed into place; once closed, no temp file is left.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	keys := listObjects(t, cfg, "")
	for _, key := range keys {
		if strings.HasSuffix(key, ".tmp") {
			t.Errorf("temp file left: %s", key)
		}
	}
	if len(keys) < 2 {
		t.Fatalf("%d WAL objects (%v), want at least 2", len(keys), keys)
	}
}

func TestLogAppendTime(t *testing.T) { forEachBackend(t, testLogAppendTime) }

func testLogAppendTime(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	b := makeBatch(t, batchSpec{records: 3, firstTS: 1000, tsStep: 10})
	b.LogAppendTime = true
	before := time.Now().UnixMilli()
	res := mustAppend(t, s, tp, b)
	after := time.Now().UnixMilli()
	if res.LogAppendTime < before || res.LogAppendTime > after {
		t.Fatalf("log append time %d not in [%d, %d]", res.LogAppendTime, before, after)
	}
	got := decodeBatches(t, mustRead(t, s, tp, 0, 1<<20).Records) // checks the CRC
	if len(got) != 1 {
		t.Fatalf("%d batches, want 1", len(got))
	}
	if got[0].Attributes&0x08 == 0 || got[0].MaxTimestamp != res.LogAppendTime || got[0].FirstTimestamp != 1000 {
		t.Fatalf("attributes %#x max timestamp %d first timestamp %d; want log-append-time bit, %d, 1000",
			got[0].Attributes, got[0].MaxTimestamp, got[0].FirstTimestamp, res.LogAppendTime)
	}
	// Every record now has the append time.
	off, ts, err := s.OffsetForTime(context.Background(), tp, 1015)
	if err != nil || off != 0 || ts != res.LogAppendTime {
		t.Fatalf("offset for time: %d %d %v, want 0 at %d", off, ts, err, res.LogAppendTime)
	}
}

func TestReadMaxBytes(t *testing.T) { forEachBackend(t, testReadMaxBytes) }

func testReadMaxBytes(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	var size int
	for range 6 {
		b := makeBatch(t, batchSpec{records: 2, valueSize: 1000})
		size = len(b.Raw)
		mustAppend(t, s, tp, b)
	}
	for _, c := range []struct {
		maxBytes int32
		batches  int
	}{
		{0, 1},
		{1, 1}, // the first batch always comes, whatever its size
		{int32(size), 1},
		{int32(2*size + size/2), 2},
		{int32(6 * size), 6},
		{1 << 20, 6},
	} {
		res := mustRead(t, s, tp, 2, c.maxBytes)
		got := decodeBatches(t, res.Records)
		if len(got) != min(c.batches, 5) || got[0].FirstOffset != 2 {
			t.Errorf("maxBytes %d from offset 2: %d batches from %d, want %d from 2", c.maxBytes, len(got), got[0].FirstOffset, min(c.batches, 5))
		}
	}
}

func TestReadOutOfRange(t *testing.T) { forEachBackend(t, testReadOutOfRange) }

func testReadOutOfRange(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	ctx := context.Background()
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 5}))

	res, err := s.Read(ctx, tp, 5, 1<<20)
	if err != nil || len(res.Records) != 0 || res.HighWatermark != 5 {
		t.Fatalf("read at the high watermark: %d bytes, hw %d, %v; want empty, 5, nil", len(res.Records), res.HighWatermark, err)
	}
	for _, offset := range []int64{6, 100, -1} {
		res, err := s.Read(ctx, tp, offset, 1<<20)
		if !errors.Is(err, storage.ErrOffsetOutOfRange) {
			t.Fatalf("read at %d: %v, want ErrOffsetOutOfRange", offset, err)
		}
		if res.HighWatermark != 5 || res.LogStartOffset != 0 {
			t.Fatalf("read at %d returned offsets %+v, want hw 5 and log start 0 for the client to reset", offset, res)
		}
	}
	if _, err := s.Read(ctx, storage.TopicPartition{Cluster: "c", Topic: "nope"}, 0, 1); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("read of unknown topic: %v", err)
	}
}

func TestDeleteRecords(t *testing.T) { forEachBackend(t, testDeleteRecords) }

func testDeleteRecords(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	ctx := context.Background()
	for range 4 {
		mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 3})) // batches at 0, 3, 6, 9
	}
	steps := []struct {
		before int64
		start  int64
		err    error
	}{
		{before: 4, start: 4},
		{before: 2, start: 4}, // never moves back
		{before: 13, err: storage.ErrOffsetOutOfRange},
		{before: -2, err: storage.ErrOffsetOutOfRange},
		{before: 7, start: 7},
	}
	for _, st := range steps {
		start, err := s.DeleteRecords(ctx, tp, st.before)
		if !errors.Is(err, st.err) || (err == nil && start != st.start) {
			t.Fatalf("delete before %d: %d %v, want %d %v", st.before, start, err, st.start, st.err)
		}
	}
	if _, err := s.Read(ctx, tp, 6, 1<<20); !errors.Is(err, storage.ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v, want ErrOffsetOutOfRange", err)
	}
	res := mustRead(t, s, tp, 7, 1<<20)
	got := decodeBatches(t, res.Records)
	if res.LogStartOffset != 7 || len(got) != 2 || got[0].FirstOffset != 6 {
		t.Fatalf("read at log start 7: log start %d, %d batches from %d; want 7, 2 from 6", res.LogStartOffset, len(got), got[0].FirstOffset)
	}
	if res := mustAppend(t, s, tp, makeBatch(t, batchSpec{})); res.LogStartOffset != 7 || res.BaseOffset != 12 {
		t.Fatalf("append after delete: %+v, want base 12, log start 7", res)
	}
	if start, err := s.DeleteRecords(ctx, tp, -1); err != nil || start != 13 {
		t.Fatalf("delete all: %d %v, want 13", start, err)
	}
	if res := mustRead(t, s, tp, 13, 1<<20); len(res.Records) != 0 {
		t.Fatalf("read of emptied log returned %d bytes", len(res.Records))
	}
	if off, _, err := s.MaxTimestamp(ctx, tp); err != nil || off != -1 {
		t.Fatalf("max timestamp of emptied log: %d %v, want -1", off, err)
	}
}

func TestOffsetForTimeAndMaxTimestamp(t *testing.T) {
	forEachBackend(t, testOffsetForTimeAndMaxTimestamp)
}

func testOffsetForTimeAndMaxTimestamp(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	ctx := context.Background()
	if off, ts, err := s.OffsetForTime(ctx, tp, 0); err != nil || off != -1 || ts != -1 {
		t.Fatalf("empty log: %d %d %v, want -1 -1", off, ts, err)
	}
	// offsets 0..3 at 100,110,120,130; 4..7 (gzip) at 200,205,210,215;
	// 8..9 at 150,160: a late batch whose timestamps go back.
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 4, firstTS: 100, tsStep: 10}))
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 4, firstTS: 200, tsStep: 5, gzip: true}))
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 2, firstTS: 150, tsStep: 10}))

	for _, c := range []struct {
		ts, offset, timestamp int64
	}{
		{0, 0, 100},
		{100, 0, 100},
		{111, 2, 120},
		{131, 4, 200}, // first batch with a later record
		{207, 6, 210}, // inside the compressed batch
		{215, 7, 215}, // the last record of it
		{216, -1, -1}, // nothing that late
		{155, 4, 200}, // Kafka's rule: first in offset order whose time reaches ts
	} {
		off, ts, err := s.OffsetForTime(ctx, tp, c.ts)
		if err != nil || off != c.offset || ts != c.timestamp {
			t.Errorf("offset for time %d: %d at %d (%v), want %d at %d", c.ts, off, ts, err, c.offset, c.timestamp)
		}
	}
	if off, ts, err := s.MaxTimestamp(ctx, tp); err != nil || off != 7 || ts != 215 {
		t.Fatalf("max timestamp: %d at %d (%v), want 7 at 215", off, ts, err)
	}
}

func TestWatchWakesOnCommit(t *testing.T) { forEachBackend(t, testWatchWakesOnCommit) }

func testWatchWakesOnCommit(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 2)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	other := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: 1}
	w, wOther := s.Watch(tp), s.Watch(other)
	select {
	case <-w:
		t.Fatal("watch fired before any commit")
	default:
	}
	mustAppend(t, s, tp, makeBatch(t, batchSpec{}))
	select {
	case <-w:
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not fire after a commit")
	}
	select {
	case <-wOther:
		t.Fatal("watch of an untouched partition fired")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wOther:
	case <-time.After(5 * time.Second):
		t.Fatal("close did not wake watchers")
	}
	if _, err := s.Append(context.Background(), tp, makeBatch(t, batchSpec{})); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
}

func TestDeleteAndRecreateTopicStartsEmpty(t *testing.T) {
	forEachBackend(t, testDeleteAndRecreateTopicStartsEmpty)
}

func testDeleteAndRecreateTopicStartsEmpty(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	ctx := context.Background()
	old := createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 10}))
	if err := s.DeleteTopic(ctx, "c", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, tp, makeBatch(t, batchSpec{})); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("append to deleted topic: %v", err)
	}
	if err := s.DeleteTopic(ctx, "c", "t"); !errors.Is(err, storage.ErrUnknownTopic) {
		t.Fatalf("second delete: %v", err)
	}
	fresh := createTopic(t, s, "c", "t", 1)
	if fresh.ID == old.ID {
		t.Fatal("re-created topic reuses the old id")
	}
	if start, end, err := s.Offsets(ctx, tp); err != nil || start != 0 || end != 0 {
		t.Fatalf("offsets of re-created topic [%d, %d) %v, want [0, 0)", start, end, err)
	}
	if res := mustAppend(t, s, tp, makeBatch(t, batchSpec{tag: "new"})); res.BaseOffset != 0 {
		t.Fatalf("first append to re-created topic at %d", res.BaseOffset)
	}
	got := decodeBatches(t, mustRead(t, s, tp, 0, 1<<20).Records)
	if len(got) != 1 || got[0].values[0] != "new#0#" {
		t.Fatalf("re-created topic reads %+v", got)
	}
}

func TestFailedUploadFailsTheWholeFlush(t *testing.T) {
	forEachBackend(t, testFailedUploadFailsTheWholeFlush)
}

func testFailedUploadFailsTheWholeFlush(t *testing.T, cfg Config) {
	cfg.SetDefaults()
	cfg.Linger = 20 * time.Millisecond
	ctx := context.Background()
	db, err := openMetaDB(ctx, cfg.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := openBlobStore(ctx, cfg.ObjectStoreURL, cfg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	faulty := &faultyObjects{objectStore: blobs, failPuts: make(chan struct{})}
	close(faulty.failPuts)
	s, err := newStore(cfg, db, faulty)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	createTopic(t, s, "c", "t", 2)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for p := range 2 {
		wg.Go(func() {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			_, errs[p] = s.Append(ctx, tp, makeBatch(t, idempotent(batchSpec{}, 9, 0, 0)))
		})
	}
	wg.Wait()
	for p, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("partition %d: %v, want the injected failure", p, err)
		}
	}
	faulty.failPuts = nil // reads of a nil channel block: writes pass
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	res, err := s.Append(ctx, tp, makeBatch(t, idempotent(batchSpec{}, 9, 0, 0)))
	if err != nil || res.BaseOffset != 0 {
		t.Fatalf("retry after failed flush: %+v %v, want offset 0 (nothing was committed)", res, err)
	}
}

func TestCloseFlushesBufferedAppends(t *testing.T) {
	forEachBackend(t, testCloseFlushesBufferedAppends)
}

func testCloseFlushesBufferedAppends(t *testing.T, cfg Config) {
	cfg.Linger = time.Hour
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(context.Background(), tp, makeBatch(t, batchSpec{}))
		done <- err
	}()
	for s.buf.current() == nil {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("append buffered at close: %v, want success", err)
	}
	s = openStore(t, cfg)
	if _, end, _ := s.Offsets(context.Background(), tp); end != 1 {
		t.Fatalf("high watermark after reopen %d, want 1", end)
	}
}

func TestColdReadsWithoutCache(t *testing.T) { forEachBackend(t, testColdReadsWithoutCache) }

func testColdReadsWithoutCache(t *testing.T, cfg Config) {
	cfg.CacheBytes = 1 // nothing fits
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	for i := range 40 {
		mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 2, tag: fmt.Sprint(i)}))
	}
	// Force the DB path too: forget the in-memory tail index.
	s.parts.dropTopic(s.mustRoute(t, tp).topicID)
	var offset int64
	var n int
	for offset < 80 {
		for _, b := range decodeBatches(t, mustRead(t, s, tp, offset, 300).Records) {
			if want := fmt.Sprint(n, "#0#"); b.values[0] != want || b.FirstOffset != offset {
				t.Fatalf("batch at %d holds %q, want %q at %d", b.FirstOffset, b.values[0], want, offset)
			}
			offset += 2
			n++
		}
	}
}

func (s *Store) mustRoute(t *testing.T, tp storage.TopicPartition) partitionKey {
	k, err := s.route(context.Background(), tp)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAllocateProducerIDIsUnique(t *testing.T) { forEachBackend(t, testAllocateProducerIDIsUnique) }

func testAllocateProducerIDIsUnique(t *testing.T, cfg Config) {
	s := openStore(t, cfg)
	seen := map[int64]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 10 {
				id, err := s.AllocateProducerID(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("producer id %d handed out twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestSmallBufferSplitsFlushes(t *testing.T) { forEachBackend(t, testSmallBufferSplitsFlushes) }

func testSmallBufferSplitsFlushes(t *testing.T, cfg Config) {
	cfg.MaxBufferBytes = 4 << 10
	cfg.Linger = 50 * time.Millisecond
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 4)
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			for i := range 5 {
				// 3 KiB batches: two never share a flush; the 9 KiB one is
				// larger than the whole buffer and goes alone.
				size := 3 << 10
				if i == 2 {
					size = 9 << 10
				}
				res, err := s.Append(context.Background(), tp, makeBatch(t, batchSpec{valueSize: size}))
				if err != nil || res.BaseOffset != int64(i) {
					t.Errorf("partition %d append %d: %+v %v", p, i, res, err)
				}
			}
		})
	}
	wg.Wait()
	for p := range 4 {
		tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
		if got := decodeBatches(t, mustRead(t, s, tp, 0, 1<<20).Records); len(got) != 5 {
			t.Fatalf("partition %d: %d batches, want 5", p, len(got))
		}
	}
}

// TestColdReadInsideAChunk reads a multi-batch chunk from object storage
// starting in its middle, with and without a byte limit.
func TestColdReadInsideAChunk(t *testing.T) { forEachBackend(t, testColdReadInsideAChunk) }

func testColdReadInsideAChunk(t *testing.T, cfg Config) {
	cfg.Linger = 200 * time.Millisecond
	s := openStore(t, cfg)
	createTopic(t, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() { mustAppend(t, s, tp, makeBatch(t, batchSpec{records: 2, tag: fmt.Sprint(i)})) })
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, cfg)
	k := s.mustRoute(t, tp)
	rows, err := s.db.selectChunksFrom.QueryContext(context.Background(), k.topicID, k.partition, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if chunks, err := collectChunks(rows); err != nil || len(chunks) != 1 {
		t.Fatalf("%d chunks (%v), want the 5 batches in one", len(chunks), err)
	}
	size := int32(len(makeBatch(t, batchSpec{records: 2, tag: "0"}).Raw))
	for _, c := range []struct {
		maxBytes int32
		want     []int64
	}{
		{1, []int64{4}},
		{2 * size, []int64{4, 6}},
		{1 << 20, []int64{4, 6, 8}},
	} {
		var got []int64
		for _, b := range decodeBatches(t, mustRead(t, s, tp, 5, c.maxBytes).Records) {
			got = append(got, b.FirstOffset)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("cold read from 5 with maxBytes %d: batches at %v, want %v", c.maxBytes, got, c.want)
		}
	}
}
