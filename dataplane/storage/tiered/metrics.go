package tiered

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/internal/promreg"
)

// storeMetrics are the engine's Prometheus metrics, all named
// affluent_storage_…. Labels are bounded: operation and cache names and
// outcomes, never a topic, a tenant or an object key. Stores sharing a
// registry share the collectors (their series add up).
type storeMetrics struct {
	// exported is set when a registry was given; work done only for
	// metrics (a query per compaction pass) is skipped otherwise.
	exported bool

	objectDuration *prometheus.HistogramVec // operation
	objectErrors   *prometheus.CounterVec   // operation
	txDuration     *prometheus.HistogramVec // outcome

	walBufferBytes  prometheus.Gauge
	walPendingObjs  prometheus.Gauge
	walPendingBytes prometheus.Gauge
	compactionLag   prometheus.Gauge

	passes          *prometheus.CounterVec // result
	passDuration    prometheus.Histogram
	segmentsWritten prometheus.Counter
	bytesWritten    prometheus.Counter
	recordsRemoved  prometheus.Counter
	conflicts       prometheus.Counter
	gcDeleted       *prometheus.CounterVec // reason

	cacheHits   *prometheus.CounterVec // cache
	cacheMisses *prometheus.CounterVec // cache

	// Resolved children of the hot paths.
	hits, misses map[string]prometheus.Counter
}

// Label values.
const (
	opPut           = "put"            // a WAL object, written whole
	opSegmentUpload = "segment_upload" // a segment, streamed: from create to commit
	opGet           = "get"            // a range read
	opList          = "list"
	opDelete        = "delete"

	cacheMemory    = "memory"     // the tail cache of recently committed or read chunks
	cacheReadAhead = "read_ahead" // segment blocks fetched ahead of catching-up readers
	cacheLocal     = "local"      // the local disk tier

	gcUnreferenced = "unreferenced" // queued by the transaction that dropped its last reference
	gcOrphan       = "orphan"       // never committed, found by listing the bucket
)

func newStoreMetrics(reg prometheus.Registerer) *storeMetrics {
	m := &storeMetrics{
		exported: reg != nil,
		objectDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "affluent_storage_object_request_duration_seconds",
			Help: "Object store requests by operation (each attempt; segment_upload spans a streamed segment write from start to commit).",
			// 1ms to about 24s.
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"operation"}),
		objectErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_storage_object_request_errors_total",
			Help: "Failed object store requests by operation: each failed attempt, retried or not (a missing object or a cancelled call is no failure).",
		}, []string{"operation"}),
		txDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "affluent_storage_metadata_transaction_duration_seconds",
			Help: "Write transactions of the dataplane metadata DB, from begin to commit or rollback, by outcome.",
			// 0.5ms to about 5s.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 11),
		}, []string{"outcome"}),
		walBufferBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "affluent_storage_wal_buffer_bytes",
			Help: "Bytes of produced batches not yet acknowledged: buffered, uploading or committing.",
		}),
		walPendingObjs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "affluent_storage_wal_pending_objects",
			Help: "WAL objects still holding data not yet compacted into segments, as of the last compaction pass.",
		}),
		walPendingBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "affluent_storage_wal_pending_bytes",
			Help: "Bytes of WAL data not yet compacted into segments, as of the last compaction pass.",
		}),
		compactionLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "affluent_storage_compaction_lag_seconds",
			Help: "Age of the oldest WAL data not yet compacted into segments, as of the last compaction pass (0 when none).",
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_storage_compaction_passes_total",
			Help: "Compaction passes (retention, WAL to segments, cleaning, GC) by result.",
		}, []string{"result"}),
		passDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "affluent_storage_compaction_pass_duration_seconds",
			Help:    "Duration of compaction passes.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 12), // 1ms to about 3m
		}),
		segmentsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "affluent_storage_compaction_segments_written_total",
			Help: "Segment objects written and committed by compaction.",
		}),
		bytesWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "affluent_storage_compaction_written_bytes_total",
			Help: "Bytes of the segment objects written and committed by compaction.",
		}),
		recordsRemoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "affluent_storage_compaction_records_removed_total",
			Help: "Records removed by cleaning cleanup.policy=compact partitions (superseded values and tombstones).",
		}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "affluent_storage_compaction_conflicts_total",
			Help: "Compaction work discarded because its partition changed meanwhile (retried by the next pass).",
		}),
		gcDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_storage_gc_deleted_objects_total",
			Help: "Objects deleted by garbage collection, by reason: unreferenced (no row points at them any more) or orphan (never committed).",
		}, []string{"reason"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_storage_cache_hits_total",
			Help: "Chunks of consumer reads served from a cache: memory (tail), read_ahead or local (disk tier).",
		}, []string{"cache"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_storage_cache_misses_total",
			Help: "Chunks of consumer reads a cache was asked for and did not hold.",
		}, []string{"cache"}),
	}
	if reg != nil {
		m.objectDuration = promreg.Shared(reg, m.objectDuration)
		m.objectErrors = promreg.Shared(reg, m.objectErrors)
		m.txDuration = promreg.Shared(reg, m.txDuration)
		m.walBufferBytes = promreg.Shared(reg, m.walBufferBytes)
		m.walPendingObjs = promreg.Shared(reg, m.walPendingObjs)
		m.walPendingBytes = promreg.Shared(reg, m.walPendingBytes)
		m.compactionLag = promreg.Shared(reg, m.compactionLag)
		m.passes = promreg.Shared(reg, m.passes)
		m.passDuration = promreg.Shared(reg, m.passDuration)
		m.segmentsWritten = promreg.Shared(reg, m.segmentsWritten)
		m.bytesWritten = promreg.Shared(reg, m.bytesWritten)
		m.recordsRemoved = promreg.Shared(reg, m.recordsRemoved)
		m.conflicts = promreg.Shared(reg, m.conflicts)
		m.gcDeleted = promreg.Shared(reg, m.gcDeleted)
		m.cacheHits = promreg.Shared(reg, m.cacheHits)
		m.cacheMisses = promreg.Shared(reg, m.cacheMisses)
	}
	// Every labelled series exists from the start, at zero, so that rates
	// and alerts see them before the first event.
	for _, op := range []string{opPut, opSegmentUpload, opGet, opList, opDelete} {
		m.objectDuration.WithLabelValues(op)
		m.objectErrors.WithLabelValues(op)
	}
	for _, outcome := range []string{"committed", "failed"} {
		m.txDuration.WithLabelValues(outcome)
	}
	for _, result := range []string{"success", "failure"} {
		m.passes.WithLabelValues(result)
	}
	for _, reason := range []string{gcUnreferenced, gcOrphan} {
		m.gcDeleted.WithLabelValues(reason)
	}
	m.hits, m.misses = map[string]prometheus.Counter{}, map[string]prometheus.Counter{}
	for _, c := range []string{cacheMemory, cacheReadAhead, cacheLocal} {
		m.hits[c] = m.cacheHits.WithLabelValues(c)
		m.misses[c] = m.cacheMisses.WithLabelValues(c)
	}
	return m
}

// cacheLookup counts a lookup in cache.
func (m *storeMetrics) cacheLookup(cache string, hit bool) {
	if hit {
		m.hits[cache].Inc()
	} else {
		m.misses[cache].Inc()
	}
}

// observeTx records a metadata transaction that started at start.
func (m *storeMetrics) observeTx(start time.Time, err error) {
	outcome := "committed"
	if err != nil {
		outcome = "failed"
	}
	m.txDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}

// observePass records a compaction pass.
func (m *storeMetrics) observePass(start time.Time, stats CompactionStats, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.passes.WithLabelValues(result).Inc()
	m.passDuration.Observe(time.Since(start).Seconds())
	m.segmentsWritten.Add(float64(stats.SegmentsWritten))
	m.bytesWritten.Add(float64(stats.BytesWritten))
	m.recordsRemoved.Add(float64(stats.RecordsRemoved))
	m.conflicts.Add(float64(stats.Conflicts))
}

// measuredObjects times the calls of an object store and counts their
// failures. It sits under the retries, so each attempt is one request.
type measuredObjects struct {
	objectStore
	m *storeMetrics
}

func measureObjects(o objectStore, m *storeMetrics) objectStore {
	return &measuredObjects{objectStore: o, m: m}
}

// observe records a call of op that started at start. Cancellations are
// the caller giving up, not the store failing; a missing object is an
// answer, not a failure.
func (o *measuredObjects) observe(op string, start time.Time, err error) {
	o.m.objectDuration.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, errObjectNotFound) {
		o.m.objectErrors.WithLabelValues(op).Inc()
	}
}

func (o *measuredObjects) put(ctx context.Context, parts [][]byte) (string, error) {
	start := time.Now()
	key, err := o.objectStore.put(ctx, parts)
	o.observe(opPut, start, err)
	return key, err
}

func (o *measuredObjects) create(ctx context.Context, key string) (objectSink, error) {
	start := time.Now()
	sink, err := o.objectStore.create(ctx, key)
	if err != nil {
		o.observe(opSegmentUpload, start, err)
		return nil, err
	}
	return &measuredSink{objectSink: sink, o: o, start: start}, nil
}

func (o *measuredObjects) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	start := time.Now()
	err := o.objectStore.readRange(ctx, key, off, dst)
	o.observe(opGet, start, err)
	return err
}

func (o *measuredObjects) list(ctx context.Context, prefix string, fn func(objectInfo) error) error {
	start := time.Now()
	var (
		fnErr  error
		inFunc time.Duration // the caller's time (GC deletes orphans as it lists), not the store's
	)
	err := o.objectStore.list(ctx, prefix, func(info objectInfo) error {
		t := time.Now()
		fnErr = fn(info)
		inFunc += time.Since(t)
		return fnErr
	})
	if err != nil && errors.Is(err, fnErr) {
		err = nil // the caller's function stopped the listing, not the store
	}
	o.observe(opList, start.Add(inFunc), err)
	if fnErr != nil {
		return fnErr
	}
	return err
}

func (o *measuredObjects) delete(ctx context.Context, key string) error {
	start := time.Now()
	err := o.objectStore.delete(ctx, key)
	o.observe(opDelete, start, err)
	return err
}

// measuredSink reports a streamed segment upload once, when it commits or
// a write fails.
type measuredSink struct {
	objectSink
	o        *measuredObjects
	start    time.Time
	reported bool
}

func (s *measuredSink) Write(p []byte) (int, error) {
	n, err := s.objectSink.Write(p)
	if err != nil && !s.reported {
		s.reported = true
		s.o.observe(opSegmentUpload, s.start, err)
	}
	return n, err
}

func (s *measuredSink) commit() error {
	err := s.objectSink.commit()
	if !s.reported {
		s.reported = true
		s.o.observe(opSegmentUpload, s.start, err)
	}
	return err
}
