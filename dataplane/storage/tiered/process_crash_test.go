package tiered_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// TestBrokerProcessKilledDuringCompaction SIGKILLs a broker process while
// its compactor works, 20 times (10 on SQLite and file://, 10 on
// PostgreSQL and S3), restarts it on the same storage, and checks after
// each restart that every record an idempotent acks=all producer had
// acknowledged is readable exactly once, at the offset it was acknowledged
// at, and that nothing is read twice.
//
// How the kills land mid-compaction: the broker compacts continuously
// (a pass every millisecond, data leaves the WAL at once, 16 KiB segments
// with 1 KiB index blocks, so each pass merges segments, cleans the
// compacted topic and collects garbage) while the producer keeps it fed,
// and the kill comes after a random delay. Every pass with work logs its
// start and its end (debug level, unbuffered, to the process's log file);
// after each kill the test reads the log: a kill whose last pass started
// and did not finish landed mid-compaction and counts. One that landed
// between passes is logged, verified all the same, and does not count;
// the test fails if too many miss.
func TestBrokerProcessKilledDuringCompaction(t *testing.T) {
	const killsPerBackend = 10
	for _, b := range []struct {
		name    string
		storage func(t *testing.T) testutil.StorageOptions
	}{
		{"sqlite-file", func(*testing.T) testutil.StorageOptions { return testutil.StorageOptions{} }},
		{"postgres-s3", func(t *testing.T) testutil.StorageOptions {
			return testutil.StorageOptions{ObjectStoreURL: testutil.S3URL(t), MetadataURL: testutil.PostgresURL(t)}
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			storage := b.storage(t)
			storage.CompactionInterval = time.Millisecond
			storage.WALHold = time.Nanosecond
			storage.GCGrace = 50 * time.Millisecond
			storage.DefaultSegmentBytes = 16 << 10
			storage.SegmentIndexBytes = 1 << 10
			killDuringCompaction(t, storage, killsPerBackend)
		})
	}
}

// Where the crash test produces: a delete topic over two partitions, and a
// compacted one whose keys are all distinct, so that cleaning rewrites it
// but keeps every record.
const (
	crashLogTopic   = "events"
	crashTableTopic = "table"
)

// A pass's log lines (compactor.go).
const (
	passStartedLog  = `msg="compaction pass started"`
	passFinishedLog = `msg="compaction pass finished"`
)

func killDuringCompaction(t *testing.T, storage testutil.StorageOptions, kills int) {
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	t.Logf("random seed %d", seed)

	p := testutil.StartBrokerProcess(t, testutil.BrokerProcessOptions{Storage: storage})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	admin := p.Admin(t)
	for _, tc := range []struct {
		name       string
		partitions int32
		configs    map[string]*string
	}{
		{crashLogTopic, 2, nil},
		{crashTableTopic, 1, map[string]*string{
			"cleanup.policy": kadm.StringPtr("compact"), "min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
		}},
	} {
		if resp, err := admin.CreateTopic(ctx, tc.partitions, -1, tc.configs, tc.name); err != nil || resp.Err != nil {
			t.Fatalf("create topic %s: %v %v", tc.name, err, resp.Err)
		}
	}
	producer := p.Client(t,
		kgo.MaxBufferedRecords(4096),
		// Through a crash and restart records wait instead of failing.
		kgo.RecordDeliveryTimeout(time.Minute), kgo.RetryTimeout(time.Minute))
	l := &crashLedger{acked: map[string]crashAck{}, failed: map[string]error{}}

	var (
		missed  int
		intoMs  []int64 // how far into its pass each counted kill landed
		started = time.Now()
	)
	for cycle, hit := 0, 0; hit < kills; cycle++ {
		if cycle >= 3*kills {
			t.Fatalf("only %d of %d kills landed mid-compaction; %d landed between passes", hit, cycle, missed)
		}
		stop := l.produce(producer, cycle)
		time.Sleep(150*time.Millisecond + time.Duration(rng.Int64N(int64(500*time.Millisecond))))
		killedAt := time.Now()
		p.Kill()
		mid, into := killedMidPass(t, p.LogPath, killedAt)
		if mid {
			hit++
			intoMs = append(intoMs, into.Milliseconds())
		} else {
			missed++
			t.Logf("kill %d landed between compaction passes; not counted", cycle)
		}
		p.Restart()
		stop()
		flushCtx, flushCancel := context.WithTimeout(ctx, time.Minute)
		if err := producer.Flush(flushCtx); err != nil {
			t.Fatalf("cycle %d: flush after the restart: %v", cycle, err)
		}
		flushCancel()
		verifyExactlyOnce(t, p, l, fmt.Sprintf("after kill %d", cycle))
		if t.Failed() {
			return
		}
	}
	slices.Sort(intoMs)
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("%d kills mid-compaction (%d more between passes) in %v; killed %d..%d ms into a pass (median %d); %d records acknowledged, %d failed",
		len(intoMs), missed, time.Since(started).Round(time.Millisecond), intoMs[0], intoMs[len(intoMs)-1], intoMs[len(intoMs)/2],
		len(l.acked), len(l.failed))
}

// killedMidPass reads the broker's log since its last start: the kill
// landed mid-compaction when the last pass logged its start and not its
// end. into is how long before killedAt that pass started.
func killedMidPass(t *testing.T, logPath string, killedAt time.Time) (mid bool, into time.Duration) {
	t.Helper()
	raw, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatalf("broker log: %v", err)
	}
	if i := bytes.LastIndex(raw, []byte("starting broker process")); i >= 0 {
		raw = raw[i:]
	}
	start, end := bytes.LastIndex(raw, []byte(passStartedLog)), bytes.LastIndex(raw, []byte(passFinishedLog))
	if start < 0 || start < end {
		return false, 0
	}
	// The line begins with time=… (slog's text handler).
	line := raw[bytes.LastIndexByte(raw[:start], '\n')+1:]
	if ts, ok := strings.CutPrefix(string(line[:bytes.IndexByte(line, ' ')]), "time="); ok {
		if at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err == nil {
			into = killedAt.Sub(at)
		}
	}
	return true, into
}

// crashLedger is what the producer was told about each record.
type crashLedger struct {
	mu     sync.Mutex // guards the maps
	acked  map[string]crashAck
	failed map[string]error
}

// crashAck is where a record was acknowledged.
type crashAck struct {
	topic     string
	partition int32
	offset    int64
}

// produce sends records to both topics until the returned function is
// called, which returns once no more are sent (some may still be in
// flight: Flush waits for them).
func (l *crashLedger) produce(cl *kgo.Client, cycle int) (stop func()) {
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			value := fmt.Sprintf("c%03d-%07d", cycle, n)
			topic := crashLogTopic
			var key []byte
			if n%4 == 3 {
				topic, key = crashTableTopic, []byte(value) // distinct keys: cleaning keeps all
			}
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: key, Value: []byte(value)}, func(r *kgo.Record, err error) {
				l.mu.Lock()
				defer l.mu.Unlock()
				if err != nil {
					l.failed[string(r.Value)] = err
					return
				}
				l.acked[string(r.Value)] = crashAck{topic: r.Topic, partition: r.Partition, offset: r.Offset}
			})
			if n%8 == 7 {
				time.Sleep(time.Millisecond) // a few thousand records a second
			}
		}
	}()
	return func() { close(done); <-stopped }
}

// verifyExactlyOnce reads both topics from the start to their end and
// checks every acknowledged record is there once, where it was
// acknowledged, and that no record is there twice.
func verifyExactlyOnce(t *testing.T, p *testutil.BrokerProcess, l *crashLedger, when string) {
	t.Helper()
	// Reading back takes well under a second; a fetch failing for a lost
	// object is retried by the client until this ends.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	ends, err := p.Admin(t).ListEndOffsets(ctx, crashLogTopic, crashTableTopic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("%s: end offsets: %v %v", when, err, ends.Error())
	}
	remaining := map[string]map[int32]int64{}
	var total int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			if remaining[o.Topic] == nil {
				remaining[o.Topic] = map[int32]int64{}
			}
			remaining[o.Topic][o.Partition] = o.Offset
			total += o.Offset
		}
	})
	consumer := p.Client(t, kgo.ConsumeTopics(crashLogTopic, crashTableTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer consumer.Close()
	seen := map[string][]crashAck{}
	for len(remaining) > 0 {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: reading back: %v; still to read up to %v", when, ctx.Err(), remaining)
		}
		fs.EachError(func(topic string, partition int32, err error) {
			t.Errorf("%s: fetch %s/%d: %v", when, topic, partition, err)
		})
		if t.Failed() {
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			v := string(r.Value)
			seen[v] = append(seen[v], crashAck{topic: r.Topic, partition: r.Partition, offset: r.Offset})
			if end, ok := remaining[r.Topic][r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining[r.Topic], r.Partition)
				if len(remaining[r.Topic]) == 0 {
					delete(remaining, r.Topic)
				}
			}
		})
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var missing, moved, twice, unknown []string
	for v, at := range l.acked {
		switch got := seen[v]; {
		case len(got) == 0:
			missing = append(missing, v)
		case len(got) == 1 && got[0] != at:
			moved = append(moved, fmt.Sprintf("%s acknowledged at %v, read at %v", v, at, got[0]))
		}
	}
	for v, got := range seen {
		if len(got) > 1 {
			twice = append(twice, fmt.Sprintf("%s at %v", v, got))
		}
		if _, ok := l.acked[v]; !ok {
			if _, ok := l.failed[v]; !ok {
				unknown = append(unknown, v)
			}
		}
	}
	for _, list := range [][]string{missing, moved, twice, unknown} {
		slices.Sort(list)
	}
	if len(missing)+len(moved)+len(twice)+len(unknown) > 0 {
		first := func(s []string) []string { return s[:min(5, len(s))] }
		t.Errorf("%s (%d records read, %d acknowledged): %d acknowledged records missing %v, %d read elsewhere than acknowledged %v, %d read more than once %v, %d never produced %v",
			when, total, len(l.acked), len(missing), first(missing), len(moved), first(moved), len(twice), first(twice), len(unknown), first(unknown))
	}
}
