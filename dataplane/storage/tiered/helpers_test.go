package tiered

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// testConfig is a store in dir: file:// objects and a SQLite file.
func testConfig(t testing.TB, dir string) Config {
	t.Helper()
	cfg := Config{
		ObjectStoreURL: "file://" + filepath.ToSlash(filepath.Join(dir, "objects")),
		MetadataURL:    "sqlite://" + filepath.ToSlash(filepath.Join(dir, "meta.db")),
		Linger:         time.Millisecond,
		// Injected failures log plenty; the tests say what matters.
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return cfg
}

// Hooks the external test package sets in TestMain (main_test.go): the
// shared helpers of internal/testutil import this package, so its internal
// tests cannot import them.
var (
	// TestPostgresURL returns the URL of a new, empty PostgreSQL database.
	TestPostgresURL func(testing.TB) string
	// TestS3URL returns the URL of a new, empty S3 bucket.
	TestS3URL func(testing.TB) string
)

// testBackend is a pair of metadata DB and object store the suite runs on.
type testBackend struct {
	name     string
	metadata string // "sqlite" or "postgres"
	objects  string // "file" or "s3"
}

// testBackends: every metadata DB with files, and S3 with each DB.
// $AFFLUENT_STORAGE_BACKENDS (comma-separated names) runs a subset.
var testBackends = []testBackend{
	{"sqlite", "sqlite", "file"},
	{"postgres", "postgres", "file"},
	{"s3", "sqlite", "s3"},
	{"postgres-s3", "postgres", "s3"},
}

// backendConfig is a fresh store configuration on b: a new database and a
// new bucket or directory.
func backendConfig(t testing.TB, b testBackend) Config {
	t.Helper()
	cfg := testConfig(t, t.TempDir())
	if b.metadata == "postgres" {
		if TestPostgresURL == nil {
			t.Fatal("no PostgreSQL helper: TestMain did not run")
		}
		cfg.MetadataURL = TestPostgresURL(t)
	}
	if b.objects == "s3" {
		if TestS3URL == nil {
			t.Fatal("no S3 helper: TestMain did not run")
		}
		cfg.ObjectStoreURL = TestS3URL(t)
	}
	return cfg
}

// forEachBackend runs test once per backend, each on a fresh store
// configuration (file:// and SQLite in a temporary directory, a new
// PostgreSQL database, a new S3 bucket).
func forEachBackend(t *testing.T, test func(t *testing.T, cfg Config)) {
	t.Helper()
	only := map[string]bool{}
	for _, name := range strings.Split(os.Getenv("AFFLUENT_STORAGE_BACKENDS"), ",") {
		if name = strings.TrimSpace(name); name != "" {
			only[name] = true
		}
	}
	for _, b := range testBackends {
		if len(only) > 0 && !only[b.name] {
			continue
		}
		t.Run(b.name, func(t *testing.T) { test(t, backendConfig(t, b)) })
	}
}

// listObjects returns the keys under prefix of cfg's object store.
func listObjects(t testing.TB, cfg Config, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	blobs, err := openBlobStore(ctx, cfg.ObjectStoreURL, cfg.Clock)
	if err != nil {
		t.Fatal(err)
	}
	defer blobs.close()
	var keys []string
	if err := blobs.list(ctx, prefix, func(o objectInfo) error {
		keys = append(keys, o.key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func createTopic(t testing.TB, s *Store, cluster, name string, partitions int32) storage.Topic {
	t.Helper()
	topic, err := s.CreateTopic(context.Background(), cluster, name, partitions, nil)
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	return topic
}

// batchSpec describes a record batch to build.
type batchSpec struct {
	records    int
	firstTS    int64
	tsStep     int64 // timestamp delta between records
	valueSize  int
	idempotent bool // set by idempotent(); otherwise producer id -1
	producerID int64
	epoch      int16
	seq        int32
	gzip       bool
	codec      kgo.CompressionCodecType // other than gzip
	tag        string                   // written into every value, to tell batches apart
	// kvs, when set, are the records (key and value, nil for null);
	// records, valueSize and tag are then ignored.
	kvs []kv
}

// kv is a record's key and value; nil is null.
type kv struct{ key, value []byte }

func idempotent(spec batchSpec, pid int64, epoch int16, seq int32) batchSpec {
	spec.idempotent, spec.producerID, spec.epoch, spec.seq = true, pid, epoch, seq
	return spec
}

// makeBatch builds a valid magic-2 record batch with kmsg, CRC included.
func makeBatch(t testing.TB, spec batchSpec) storage.Batch {
	t.Helper()
	if spec.records == 0 {
		spec.records = 1
	}
	pid, epoch, seq := int64(-1), int16(-1), int32(-1)
	if spec.idempotent {
		pid, epoch, seq = spec.producerID, spec.epoch, spec.seq
	}
	if spec.kvs != nil {
		spec.records = len(spec.kvs)
	}
	var records []byte
	maxTS := spec.firstTS
	for i := range spec.records {
		var key, value []byte
		if spec.kvs != nil {
			key, value = spec.kvs[i].key, spec.kvs[i].value
		} else {
			value = []byte(fmt.Sprintf("%s#%d#", spec.tag, i))
			if len(value) < spec.valueSize {
				value = append(value, bytes.Repeat([]byte{'x'}, spec.valueSize-len(value))...)
			}
		}
		r := kmsg.Record{TimestampDelta64: int64(i) * spec.tsStep, OffsetDelta: int32(i), Key: key, Value: value}
		body := r.AppendTo(nil)[1:]
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
		maxTS = max(maxTS, spec.firstTS+int64(i)*spec.tsStep)
	}
	var attrs int16
	if spec.codec != 0 {
		c, err := compressorFor(spec.codec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, _ := c.Compress(&buf, records)
		records, attrs = bytes.Clone(out), int16(spec.codec)
	}
	if spec.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(records); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		records, attrs = buf.Bytes(), 1
	}
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           attrs,
		LastOffsetDelta:      int32(spec.records - 1),
		FirstTimestamp:       spec.firstTS,
		MaxTimestamp:         maxTS,
		ProducerID:           pid,
		ProducerEpoch:        epoch,
		FirstSequence:        seq,
		NumRecords:           int32(spec.records),
		Records:              records,
	}
	raw := rb.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return storage.Batch{
		Raw:            raw,
		NumRecords:     int32(spec.records),
		FirstTimestamp: spec.firstTS,
		MaxTimestamp:   maxTS,
		ProducerID:     pid,
		ProducerEpoch:  epoch,
		BaseSequence:   seq,
	}
}

// readBatch is a decoded batch from a Read.
type readBatch struct {
	kmsg.RecordBatch
	values []string
}

// decodeBatches parses Read output, checking each batch's CRC.
func decodeBatches(t testing.TB, data []byte) []readBatch {
	t.Helper()
	var out []readBatch
	for len(data) > 0 {
		if len(data) < 61 {
			t.Fatalf("%d trailing bytes", len(data))
		}
		size := int(binary.BigEndian.Uint32(data[8:])) + 12
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(data[:size]); err != nil {
			t.Fatalf("decode batch: %v", err)
		}
		if got := int32(crc32.Checksum(data[21:size], crc32.MakeTable(crc32.Castagnoli))); got != rb.CRC {
			t.Fatalf("batch at offset %d: crc %x, header says %x", rb.FirstOffset, got, rb.CRC)
		}
		records := rb.Records
		if rb.Attributes&7 == 1 {
			zr, err := gzip.NewReader(bytes.NewReader(records))
			if err != nil {
				t.Fatal(err)
			}
			if records, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		b := readBatch{RecordBatch: rb}
		for range rb.NumRecords {
			length, n := binary.Varint(records)
			var r kmsg.Record
			if err := r.ReadFrom(records[:n+int(length)]); err != nil {
				t.Fatalf("decode record: %v", err)
			}
			b.values = append(b.values, string(r.Value))
			records = records[n+int(length):]
		}
		out = append(out, b)
		data = data[size:]
	}
	return out
}

func mustAppend(t testing.TB, s *Store, tp storage.TopicPartition, b storage.Batch) storage.AppendResult {
	t.Helper()
	res, err := s.Append(context.Background(), tp, b)
	if err != nil {
		t.Fatalf("append to %s/%d: %v", tp.Topic, tp.Partition, err)
	}
	return res
}

func mustRead(t testing.TB, s *Store, tp storage.TopicPartition, offset int64, maxBytes int32) storage.ReadResult {
	t.Helper()
	res, err := s.Read(context.Background(), tp, offset, maxBytes)
	if err != nil {
		t.Fatalf("read %s/%d at %d: %v", tp.Topic, tp.Partition, offset, err)
	}
	return res
}

// faultyObjects fails puts while failPuts is set.
type faultyObjects struct {
	objectStore
	failPuts chan struct{} // closed: fail; nil channel or open: pass
}

func (f *faultyObjects) put(ctx context.Context, parts [][]byte) (string, error) {
	select {
	case <-f.failPuts:
		return "", fmt.Errorf("injected failure writing %d parts", len(parts))
	default:
		return f.objectStore.put(ctx, parts)
	}
}
