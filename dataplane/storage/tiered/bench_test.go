package tiered

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// BenchmarkAppend produces 1 KiB records to 16 partitions from many
// concurrent producers, durably (fsync'd objects, synchronous=FULL SQLite).
func BenchmarkAppend(b *testing.B) {
	for _, records := range []int{1, 16} {
		for _, idem := range []bool{false, true} {
			b.Run(fmt.Sprintf("records=%d/idempotent=%v", records, idem), func(b *testing.B) {
				benchmarkAppend(b, records, idem)
			})
		}
	}
}

func benchmarkAppend(b *testing.B, records int, idem bool) {
	const partitions = 16
	s := benchStore(b)
	createTopic(b, s, "c", "t", partitions)
	var producers atomic.Int64
	sample := makeBatch(b, batchSpec{records: records, valueSize: 1024})
	b.SetBytes(int64(len(sample.Raw)))
	b.SetParallelism(32) // producers wait a flush per append; keep many in flight
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := producers.Add(1)
		tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(id % partitions)}
		batch := sample
		if idem {
			batch = makeBatch(b, idempotent(batchSpec{records: records, valueSize: 1024}, id, 0, 0))
		}
		for pb.Next() {
			if _, err := s.Append(context.Background(), tp, batch); err != nil {
				b.Error(err)
				return
			}
			if idem { // next sequence: patch the header as a producer would
				batch.BaseSequence += int32(records)
				binary.BigEndian.PutUint32(batch.Raw[53:], uint32(batch.BaseSequence))
				binary.BigEndian.PutUint32(batch.Raw[17:], crc32.Checksum(batch.Raw[21:], castagnoli))
			}
		}
	})
}

// BenchmarkAppendLatency is one producer waiting for each append: the
// produce latency (linger + object write and fsync + metadata commit).
func BenchmarkAppendLatency(b *testing.B) {
	s := benchStore(b)
	createTopic(b, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	batch := makeBatch(b, batchSpec{records: 16, valueSize: 1024})
	for b.Loop() {
		if _, err := s.Append(context.Background(), tp, batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadTail reads the newest batches of a partition, as a consumer
// that keeps up does: served from the tail index and the chunk cache.
func BenchmarkReadTail(b *testing.B) {
	s := benchStore(b)
	createTopic(b, s, "c", "t", 1)
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	batch := makeBatch(b, batchSpec{records: 16, valueSize: 1024})
	for range 200 {
		mustAppend(b, s, tp, batch)
	}
	_, end, _ := s.Offsets(context.Background(), tp)
	from := end - 16*8 // the last 8 batches
	b.SetBytes(int64(8 * len(batch.Raw)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := s.Read(context.Background(), tp, from, 1<<20)
			if err != nil || len(res.Records) != 8*len(batch.Raw) {
				b.Errorf("read: %d bytes, %v", len(res.Records), err)
				return
			}
		}
	})
}

// benchStore is a store with the default linger and buffer sizes.
func benchStore(b *testing.B) *Store {
	cfg := testConfig(b, b.TempDir())
	cfg.Linger = DefaultLinger
	return openStore(b, cfg)
}

// BenchmarkReadCold reads 16 partitions from the beginning after a restart,
// as a consumer catching up does: chunk locations from the metadata DB,
// bytes from object storage.
func BenchmarkReadCold(b *testing.B) {
	const partitions = 16
	cfg := testConfig(b, b.TempDir())
	cfg.Linger = DefaultLinger
	s := openStore(b, cfg)
	createTopic(b, s, "c", "t", partitions)
	batch := makeBatch(b, batchSpec{records: 64, valueSize: 1024})
	var wg sync.WaitGroup
	for p := range partitions {
		wg.Go(func() {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			for range 64 {
				mustAppend(b, s, tp, batch)
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	total := int64(partitions * 64 * len(batch.Raw))
	b.SetBytes(total)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		s := openStore(b, cfg) // cold cache and tail index
		b.StartTimer()
		var read int64
		for p := range partitions {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			for offset := int64(0); offset < 64*64; {
				res := mustRead(b, s, tp, offset, 8<<20)
				read += int64(len(res.Records))
				offset = res.HighWatermark
				if n := len(res.Records); n > 0 {
					offset = lastOffsetOf(res.Records) + 1
				}
			}
		}
		if read != total {
			b.Fatalf("read %d bytes, want %d", read, total)
		}
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
}

// lastOffsetOf returns the last offset of the last batch in records.
func lastOffsetOf(records []byte) int64 {
	var last int64
	for len(records) > 0 {
		h, _ := parseBatchHeader(records)
		last = int64(binary.BigEndian.Uint64(records)) + int64(h.lastOffsetDelta)
		records = records[h.size:]
	}
	return last
}

// BenchmarkCompactionRoll moves 64 MiB of WAL data of 4 partitions into
// 16 MiB segments per iteration: the compactor's copy throughput (reads
// from the tail cache, segment writes fsynced, one swap per partition).
func BenchmarkCompactionRoll(b *testing.B) {
	cfg := compactionConfig(testConfig(b, b.TempDir()), nil)
	s := openStore(b, cfg)
	const partitions = 4
	if _, err := s.CreateTopic(context.Background(), "c", "t", partitions, map[string]string{"segment.bytes": "16777216"}); err != nil {
		b.Fatal(err)
	}
	batch := makeBatch(b, batchSpec{records: 64, valueSize: 1000, firstTS: time.Now().UnixMilli()})
	perPartition := (64 << 20) / partitions / len(batch.Raw)
	b.SetBytes(int64(perPartition * partitions * len(batch.Raw)))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		var wg sync.WaitGroup
		for p := range partitions {
			tp := storage.TopicPartition{Cluster: "c", Topic: "t", Partition: int32(p)}
			for w := range 4 {
				wg.Go(func() {
					for i := w; i < perPartition; i += 4 {
						mustAppend(b, s, tp, batch)
					}
				})
			}
		}
		wg.Wait()
		b.StartTimer()
		if stats := mustCompact(b, s); stats.SegmentsWritten == 0 {
			b.Fatal("nothing compacted")
		}
	}
}

// BenchmarkCompactionClean cleans a cleanup.policy=compact partition of
// 100,000 records (1,000 keys, lz4) per iteration: key map, then rewrite
// of every batch, decompressing and recompressing the survivors.
func BenchmarkCompactionClean(b *testing.B) {
	cfg := compactionConfig(testConfig(b, b.TempDir()), nil)
	s := openStore(b, cfg)
	if _, err := s.CreateTopic(context.Background(), "c", "t", 1, map[string]string{
		"cleanup.policy": "compact", "segment.bytes": "16777216",
	}); err != nil {
		b.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	var total int64
	round := 0
	produce := func() {
		total = 0
		for range 100 {
			kvs := make([]kv, 1000)
			for k := range kvs {
				kvs[k] = kv{[]byte(fmt.Sprintf("key-%04d", k)), []byte(fmt.Sprintf("value-%d-%s", round, strings.Repeat("v", 90)))}
			}
			batch := makeBatch(b, batchSpec{kvs: kvs, firstTS: time.Now().UnixMilli(), codec: kgo.CodecLz4})
			total += int64(len(batch.Raw))
			mustAppend(b, s, tp, batch)
			round++
		}
	}
	produce()
	b.SetBytes(total)
	var records int
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		produce()
		b.StartTimer()
		stats := mustCompact(b, s)
		if stats.RecordsRemoved == 0 {
			b.Fatal("nothing cleaned")
		}
		// Each cleaning reads the clean section (1,000 records) and the
		// new dirty one (100,000).
		records += 101_000
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
}
