package tiered

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// testClock is a clock the test moves forward.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// compactionConfig is cfg for tests that run Compact themselves: no
// background compactor, data leaves the WAL at once, GC without grace, and
// the test's clock.
func compactionConfig(cfg Config, clock *testClock) Config {
	cfg.CompactionInterval = -1
	cfg.WALHold = time.Nanosecond
	cfg.GCGrace = time.Nanosecond
	cfg.OrphanScanInterval = time.Nanosecond
	if clock != nil {
		cfg.Clock = clock.now
	}
	return cfg
}

// openStoreWith opens a store whose object store is wrap(the real one).
func openStoreWith(t testing.TB, cfg Config, wrap func(objectStore) objectStore) *Store {
	t.Helper()
	cfg.SetDefaults()
	ctx := context.Background()
	db, err := openMetaDB(ctx, cfg.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := openBlobStore(ctx, cfg.ObjectStoreURL, cfg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStore(cfg, db, wrap(blobs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustCompact(t testing.TB, s *Store) CompactionStats {
	t.Helper()
	stats, err := s.Compact(context.Background())
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	return stats
}

// testRecord is a record as read back.
type testRecord struct {
	offset     int64
	key, value []byte
	timestamp  int64
	batch      kmsg.RecordBatch // its batch's header
}

// readRecords reads tp from offset to the high watermark, checking each
// batch's CRC and that offsets only go up.
func readRecords(t testing.TB, s *Store, tp storage.TopicPartition, from int64) []testRecord {
	t.Helper()
	var out []testRecord
	last := int64(-1)
	for offset := from; ; {
		res, err := s.Read(context.Background(), tp, offset, 256<<10)
		if err != nil {
			t.Fatalf("read %s/%d at %d: %v", tp.Topic, tp.Partition, offset, err)
		}
		if len(res.Records) == 0 {
			if offset < res.HighWatermark {
				t.Fatalf("read at %d returned nothing below the high watermark %d", offset, res.HighWatermark)
			}
			return out
		}
		for data := res.Records; len(data) > 0; {
			size := int(binary.BigEndian.Uint32(data[8:])) + 12
			raw := data[:size]
			data = data[size:]
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(raw); err != nil {
				t.Fatalf("decode batch: %v", err)
			}
			if got := int32(crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))); got != rb.CRC {
				t.Fatalf("batch at offset %d: crc %x, header says %x", rb.FirstOffset, got, rb.CRC)
			}
			h, err := parseBatchHeader(raw)
			if err != nil {
				t.Fatal(err)
			}
			err = eachRecord(raw, h, func(r *kmsg.Record) {
				o := rb.FirstOffset + int64(r.OffsetDelta)
				if o <= last {
					t.Fatalf("offset %d after %d", o, last)
				}
				last = o
				if o < from {
					return
				}
				ts := rb.FirstTimestamp + r.TimestampDelta64
				if rb.Attributes&attrLogAppendTime != 0 {
					ts = rb.MaxTimestamp
				}
				out = append(out, testRecord{offset: o, key: r.Key, value: r.Value, timestamp: ts, batch: rb})
			})
			if err != nil {
				t.Fatal(err)
			}
			offset = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
		}
	}
}

// countObjects counts the objects of cfg's store under prefix, but temp
// files (the spare WAL writer of file:// stores has one open).
func countObjects(t testing.TB, cfg Config, prefix string) int {
	t.Helper()
	n := 0
	for _, key := range listObjects(t, cfg, prefix) {
		if !strings.HasSuffix(key, tempSuffix) {
			n++
		}
	}
	return n
}

// countRows runs a COUNT(*) query.
func countRows(t testing.TB, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.read.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// flakyObjects fails a share of object store calls, as a flaky S3 would:
// some before doing anything, some after doing it (a put that wrote its
// object, a delete that deleted). Every failure wraps
// storage.ErrUnavailable. It also counts reads.
type flakyObjects struct {
	objectStore
	permille atomic.Int32 // failures per thousand calls
	mu       sync.Mutex
	rng      *rand.Rand // guarded by mu
	failures atomic.Int64
	reads    atomic.Int64
}

func newFlakyObjects(o objectStore, seed uint64) *flakyObjects {
	return &flakyObjects{objectStore: o, rng: rand.New(rand.NewPCG(seed, seed))}
}

var errInjected = errors.New("injected object store failure")

// roll returns an injected error with the configured probability.
func (f *flakyObjects) roll(op string) error {
	p := f.permille.Load()
	if p == 0 {
		return nil
	}
	f.mu.Lock()
	fail := f.rng.Int32N(1000) < p
	f.mu.Unlock()
	if !fail {
		return nil
	}
	f.failures.Add(1)
	return fmt.Errorf("%s: %w: %w", op, storage.ErrUnavailable, errInjected)
}

func (f *flakyObjects) put(ctx context.Context, parts [][]byte) (string, error) {
	if err := f.roll("put"); err != nil {
		return "", err
	}
	key, err := f.objectStore.put(ctx, parts)
	if err != nil {
		return "", err
	}
	if err := f.roll("put (written)"); err != nil {
		return "", err // the object exists: an orphan
	}
	return key, nil
}

func (f *flakyObjects) create(ctx context.Context, key string) (objectSink, error) {
	if err := f.roll("create"); err != nil {
		return nil, err
	}
	sink, err := f.objectStore.create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &flakySink{objectSink: sink, f: f}, nil
}

func (f *flakyObjects) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	f.reads.Add(1)
	if err := f.roll("read"); err != nil {
		return err
	}
	return f.objectStore.readRange(ctx, key, off, dst)
}

func (f *flakyObjects) list(ctx context.Context, prefix string, fn func(objectInfo) error) error {
	if err := f.roll("list"); err != nil {
		return err
	}
	return f.objectStore.list(ctx, prefix, fn)
}

func (f *flakyObjects) delete(ctx context.Context, key string) error {
	if err := f.roll("delete"); err != nil {
		return err
	}
	if err := f.objectStore.delete(ctx, key); err != nil {
		return err
	}
	return f.roll("delete (deleted)")
}

type flakySink struct {
	objectSink
	f *flakyObjects
}

func (s *flakySink) Write(p []byte) (int, error) {
	if err := s.f.roll("write"); err != nil {
		return 0, err
	}
	return s.objectSink.Write(p)
}

func (s *flakySink) commit() error {
	if err := s.f.roll("commit"); err != nil {
		s.objectSink.abort()
		return err
	}
	if err := s.objectSink.commit(); err != nil {
		return err
	}
	return s.f.roll("commit (committed)")
}

// producer appends idempotent batches to one partition, retrying each
// until it is acknowledged, as a Kafka producer with idempotence does, and
// remembers what was acknowledged.
type producer struct {
	s     *Store
	tp    storage.TopicPartition
	id    int64
	seq   int32
	acked []string // values, in acknowledgement order
}

// send appends values as one batch (gzip when zip) with timestamp ts.
func (p *producer) send(t testing.TB, values []string, ts int64, codec kgo.CompressionCodecType) {
	t.Helper()
	kvs := make([]kv, len(values))
	for i, v := range values {
		kvs[i] = kv{key: []byte(v), value: []byte(v)}
	}
	b := makeBatch(t, idempotent(batchSpec{kvs: kvs, firstTS: ts, codec: codec}, p.id, 0, p.seq))
	for attempt := 0; ; attempt++ {
		_, err := p.s.Append(context.Background(), p.tp, b)
		if err == nil || errors.Is(err, storage.ErrDuplicateSequence) {
			break
		}
		if !errors.Is(err, storage.ErrUnavailable) || attempt > 200 {
			t.Fatalf("append to %s/%d: %v (attempt %d)", p.tp.Topic, p.tp.Partition, err, attempt)
		}
	}
	p.seq += int32(len(values))
	p.acked = append(p.acked, values...)
}
