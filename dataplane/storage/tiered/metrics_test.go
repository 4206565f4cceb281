package tiered

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// gatedObjects holds puts while a gate is set (until it is closed) and
// fails them while failing is set, to watch the WAL backlog and object
// store errors.
type gatedObjects struct {
	objectStore
	gate    atomic.Pointer[chan struct{}]
	failing atomic.Bool
}

func (g *gatedObjects) hold() (release func()) {
	ch := make(chan struct{})
	g.gate.Store(&ch)
	return func() { g.gate.Store(nil); close(ch) }
}

func (g *gatedObjects) put(ctx context.Context, parts [][]byte) (string, error) {
	if ch := g.gate.Load(); ch != nil {
		<-*ch
	}
	if g.failing.Load() {
		return "", fmt.Errorf("%w: %w", storage.ErrUnavailable, errInjected)
	}
	return g.objectStore.put(ctx, parts)
}

// metricSample is the value of the series of name with labels (name=value
// pairs): a counter's or gauge's value, a histogram's sample count. ok is
// false when the series does not exist.
func metricSample(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for _, l := range labels {
				k, want, _ := strings.Cut(l, "=")
				if have[k] != want {
					continue series
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func mustSample(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := metricSample(t, reg, name, labels...)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

// TestStorageMetrics drives a store through produce, tail and cold
// consumption, compaction and GC, and checks that every storage series
// exists from the start, follows Prometheus naming conventions, and moves
// with the work that it measures.
func TestStorageMetrics(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	clock := &testClock{}
	base := compactionConfig(testConfig(t, t.TempDir()), clock)
	base.Metrics = reg
	base.SegmentIndexBytes = 2 << 10 // many blocks, for read-ahead
	cfg := base
	cfg.LocalCacheDir = t.TempDir()
	var objects *gatedObjects
	s := openStoreWith(t, cfg, func(o objectStore) objectStore {
		objects = &gatedObjects{objectStore: o}
		return objects
	})

	if problems, err := promtest.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint: %v %+v", err, problems)
	}
	// Every series exists before any work, so rates and alerts see it.
	all := []struct {
		name   string
		labels []string
	}{
		{"affluent_storage_object_request_duration_seconds", []string{"operation=put"}},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=segment_upload"}},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=get"}},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=list"}},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=delete"}},
		{"affluent_storage_object_request_errors_total", []string{"operation=put"}},
		{"affluent_storage_metadata_transaction_duration_seconds", []string{"outcome=committed"}},
		{"affluent_storage_metadata_transaction_duration_seconds", []string{"outcome=failed"}},
		{"affluent_storage_wal_buffer_bytes", nil},
		{"affluent_storage_wal_pending_objects", nil},
		{"affluent_storage_wal_pending_bytes", nil},
		{"affluent_storage_compaction_lag_seconds", nil},
		{"affluent_storage_compaction_passes_total", []string{"result=success"}},
		{"affluent_storage_compaction_passes_total", []string{"result=failure"}},
		{"affluent_storage_compaction_pass_duration_seconds", nil},
		{"affluent_storage_compaction_segments_written_total", nil},
		{"affluent_storage_compaction_written_bytes_total", nil},
		{"affluent_storage_compaction_records_removed_total", nil},
		{"affluent_storage_compaction_conflicts_total", nil},
		{"affluent_storage_gc_deleted_objects_total", []string{"reason=unreferenced"}},
		{"affluent_storage_gc_deleted_objects_total", []string{"reason=orphan"}},
		{"affluent_storage_cache_hits_total", []string{"cache=memory"}},
		{"affluent_storage_cache_hits_total", []string{"cache=read_ahead"}},
		{"affluent_storage_cache_hits_total", []string{"cache=local"}},
		{"affluent_storage_cache_misses_total", []string{"cache=memory"}},
	}
	for _, m := range all {
		mustSample(t, reg, m.name, m.labels...)
	}
	sample := func(name string, labels ...string) float64 { t.Helper(); return mustSample(t, reg, name, labels...) }
	// grew checks that each series moved by more than zero since before.
	type series struct {
		name   string
		labels []string
	}
	grew := func(what string, before map[string]float64, ss ...series) {
		t.Helper()
		for _, x := range ss {
			key := x.name + fmt.Sprint(x.labels)
			if now := sample(x.name, x.labels...); now <= before[key] {
				t.Errorf("%s: %s%v is %v, was %v: want it to grow", what, x.name, x.labels, now, before[key])
			}
		}
	}
	snapshot := func(ss ...series) map[string]float64 {
		out := map[string]float64{}
		for _, x := range ss {
			out[x.name+fmt.Sprint(x.labels)] = sample(x.name, x.labels...)
		}
		return out
	}

	// Produce: the backlog holds a batch while its put is held, then goes
	// back to zero; puts and commit transactions are timed.
	if _, err := s.CreateTopic(ctx, "c", "t", 1, map[string]string{"segment.bytes": "16384"}); err != nil {
		t.Fatal(err)
	}
	tp := storage.TopicPartition{Cluster: "c", Topic: "t"}
	produced := []series{
		{"affluent_storage_object_request_duration_seconds", []string{"operation=put"}},
		{"affluent_storage_metadata_transaction_duration_seconds", []string{"outcome=committed"}},
	}
	before := snapshot(produced...)
	release := objects.hold()
	batch := makeBatch(t, batchSpec{records: 4, valueSize: 300, tag: "held", firstTS: clock.now().UnixMilli()})
	appended := make(chan error, 1)
	go func() { _, err := s.Append(ctx, tp, batch); appended <- err }()
	for deadline := time.Now().Add(10 * time.Second); sample("affluent_storage_wal_buffer_bytes") < float64(len(batch.Raw)); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("WAL buffer bytes %v while a %d-byte batch waits for its put", sample("affluent_storage_wal_buffer_bytes"), len(batch.Raw))
		}
	}
	release()
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	want := []string{"held#0#", "held#1#", "held#2#", "held#3#"}
	want = append(want, produceValues(t, s, tp, "v", 40, 4, 300, clock.now().UnixMilli())...)
	if v := sample("affluent_storage_wal_buffer_bytes"); v != 0 {
		t.Errorf("WAL buffer bytes %v once every append is answered, want 0", v)
	}
	grew("produce", before, produced...)

	// A failing object store: every attempt of the put is an error.
	before = snapshot(series{"affluent_storage_object_request_errors_total", []string{"operation=put"}})
	objects.failing.Store(true)
	if _, err := s.Append(ctx, tp, makeBatch(t, batchSpec{tag: "lost"})); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("append with puts failing: %v, want ErrUnavailable", err)
	}
	objects.failing.Store(false)
	if d := sample("affluent_storage_object_request_errors_total", "operation=put") - before["affluent_storage_object_request_errors_total[operation=put]"]; d != DefaultObjectAttempts {
		t.Errorf("put errors grew by %v for one append, want one per attempt (%d)", d, DefaultObjectAttempts)
	}
	if v := sample("affluent_storage_wal_buffer_bytes"); v != 0 {
		t.Errorf("WAL buffer bytes %v after a failed append, want 0", v)
	}

	// A consumer at the tail reads memory.
	before = snapshot(series{"affluent_storage_cache_hits_total", []string{"cache=memory"}})
	sameStrings(t, "tail read", valuesOf(readRecords(t, s, tp, 0)), want)
	grew("tail read", before, series{"affluent_storage_cache_hits_total", []string{"cache=memory"}})

	// Compaction moves the WAL into segments; the pass first measures the
	// backlog it starts from, and its GC deletes the WAL objects.
	compacted := []series{
		{"affluent_storage_compaction_passes_total", []string{"result=success"}},
		{"affluent_storage_compaction_pass_duration_seconds", nil},
		{"affluent_storage_compaction_segments_written_total", nil},
		{"affluent_storage_compaction_written_bytes_total", nil},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=segment_upload"}},
		{"affluent_storage_object_request_duration_seconds", []string{"operation=delete"}},
		{"affluent_storage_gc_deleted_objects_total", []string{"reason=unreferenced"}},
	}
	before = snapshot(compacted...)
	clock.advance(time.Minute)
	stats := mustCompact(t, s)
	grew("compaction", before, compacted...)
	if v := sample("affluent_storage_compaction_written_bytes_total"); v < float64(stats.BytesWritten) {
		t.Errorf("compaction wrote %d bytes, the counter says %v", stats.BytesWritten, v)
	}
	if objs, bytes, lag := sample("affluent_storage_wal_pending_objects"), sample("affluent_storage_wal_pending_bytes"),
		sample("affluent_storage_compaction_lag_seconds"); objs < 1 || bytes < 1 || lag < 60 {
		t.Errorf("at the start of the pass: %v WAL objects, %v bytes pending, lag %vs; want some, and a lag of at least the minute the clock moved", objs, bytes, lag)
	}
	mustCompact(t, s)
	if objs, bytes, lag := sample("affluent_storage_wal_pending_objects"), sample("affluent_storage_wal_pending_bytes"),
		sample("affluent_storage_compaction_lag_seconds"); objs != 0 || bytes != 0 || lag != 0 {
		t.Errorf("after everything was compacted: %v WAL objects, %v bytes pending, lag %vs; want 0", objs, bytes, lag)
	}

	// A consumer behind the memory cache reads the local tier.
	k := s.mustRoute(t, tp)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := s.local.lookup(k, 0, int64(len(want)-1)); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the local tier never got the data")
		}
	}
	lagging := []series{
		{"affluent_storage_cache_misses_total", []string{"cache=memory"}},
		{"affluent_storage_cache_misses_total", []string{"cache=read_ahead"}},
		{"affluent_storage_cache_hits_total", []string{"cache=local"}},
	}
	before = snapshot(lagging...)
	sameStrings(t, "lagging read", valuesOf(readRecords(t, s, tp, 0)), want)
	grew("read from the local tier", before, lagging...)

	// An object nobody committed is an orphan once old enough.
	if _, err := s.objects.put(ctx, [][]byte{[]byte("never committed")}); err != nil {
		t.Fatal(err)
	}
	before = snapshot(
		series{"affluent_storage_gc_deleted_objects_total", []string{"reason=orphan"}},
		series{"affluent_storage_object_request_duration_seconds", []string{"operation=list"}})
	clock.advance(s.cfg.OrphanGrace + time.Minute)
	mustCompact(t, s)
	grew("orphan GC", before,
		series{"affluent_storage_gc_deleted_objects_total", []string{"reason=orphan"}},
		series{"affluent_storage_object_request_duration_seconds", []string{"operation=list"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A broker without the data in any cache reads object storage and
	// fetches blocks ahead: a second pass over the data finds them. It
	// shares the registry, as brokers in one process would.
	cold := base
	cold.CacheBytes = 1 // nothing fits in memory
	s2 := openStore(t, cold)
	coldRead := []series{
		{"affluent_storage_object_request_duration_seconds", []string{"operation=get"}},
		{"affluent_storage_cache_misses_total", []string{"cache=read_ahead"}},
	}
	before = snapshot(coldRead...)
	sameStrings(t, "cold read", valuesOf(readRecords(t, s2, tp, 0)), want)
	grew("cold read", before, coldRead...)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		s2.ahead.mu.Lock()
		n := len(s2.ahead.inflight)
		s2.ahead.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("read-ahead fetches still running after 10s")
		}
	}
	before = snapshot(series{"affluent_storage_cache_hits_total", []string{"cache=read_ahead"}})
	sameStrings(t, "second cold read", valuesOf(readRecords(t, s2, tp, 0)), want)
	grew("read-ahead", before, series{"affluent_storage_cache_hits_total", []string{"cache=read_ahead"}})

	if problems, err := promtest.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Fatalf("metric lint after use: %v %+v", err, problems)
	}
	families, _ := reg.Gather()
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	sort.Strings(names)
	t.Logf("%d storage metric families: %s", len(names), strings.Join(names, " "))
}

// TestStorageMetricsShareARegistry: stores sharing a registry share the
// series; without a registry a store skips the work done only for
// metrics.
func TestStorageMetricsShareARegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := testConfig(t, t.TempDir())
	cfg.CompactionInterval = -1
	cfg.Metrics = reg
	a := openStore(t, cfg)
	b := openStore(t, cfg) // a second broker on the same storage
	if a.metrics.walBufferBytes != b.metrics.walBufferBytes {
		t.Fatal("two stores on one registry have separate collectors")
	}
	cfg.Metrics = nil
	c := openStore(t, cfg)
	if c.metrics.exported {
		t.Fatal("a store without a registry says its metrics are exported")
	}
}
