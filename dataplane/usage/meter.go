package usage

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/internal/promreg"
)

// DefaultFlushInterval is how often a Meter flushes to its Sink.
const DefaultFlushInterval = 5 * time.Second

// flushTimeout bounds one flush, the last one on shutdown included.
const flushTimeout = 10 * time.Second

// Options configure a Meter.
type Options struct {
	// Broker names the measuring broker in records (its node id).
	Broker string
	// Sink receives the records; nil keeps usage in Prometheus only.
	Sink Sink
	// Metrics registers the per-cluster metrics; nil keeps them unexported.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Meter counts a broker's usage per cluster, principal and hour. It is
// safe for concurrent use.
type Meter struct {
	broker  string
	sink    Sink
	log     *slog.Logger
	now     func() time.Time
	metrics *meterMetrics

	mu sync.Mutex // guards the fields below
	// pending holds what was counted since the last flush, and the peaks
	// of each hour seen since.
	pending map[recordKey]*Record
	// conns counts open connections per cluster and principal; the
	// principal "" is the cluster's total.
	conns map[connKey]int64
}

type recordKey struct {
	cluster, principal string
	hour               time.Time
}

type connKey struct{ cluster, principal string }

// NewMeter returns a Meter.
func NewMeter(o Options) *Meter {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Meter{
		broker:  o.Broker,
		sink:    o.Sink,
		log:     o.Logger,
		now:     o.Now,
		metrics: newMeterMetrics(o.Metrics),
		pending: make(map[recordKey]*Record),
		conns:   make(map[connKey]int64),
	}
}

// record returns the pending record of key, creating it. Called with mu
// held.
func (m *Meter) record(cluster, principal string, hour time.Time) *Record {
	k := recordKey{cluster: cluster, principal: principal, hour: hour}
	r := m.pending[k]
	if r == nil {
		r = &Record{Cluster: cluster, Principal: principal, Hour: hour, Broker: m.broker}
		m.pending[k] = r
	}
	return r
}

// Add counts bytes produced (in), fetched (out) and requests of principal
// in cluster.
func (m *Meter) Add(cluster, principal string, in, out, requests int64) {
	hour := HourOf(m.now())
	m.mu.Lock()
	for _, p := range []string{principal, ""} {
		r := m.record(cluster, p, hour)
		r.BytesIn += in
		r.BytesOut += out
		r.Requests += requests
	}
	m.mu.Unlock()
	m.metrics.add(cluster, in, out, requests)
}

// Connected counts a new authenticated connection of principal to cluster.
func (m *Meter) Connected(cluster, principal string) { m.TryConnect(cluster, principal, 0) }

// TryConnect counts a new authenticated connection of principal to
// cluster unless the cluster already has limit connections (limit <= 0:
// no limit), and reports whether it did.
func (m *Meter) TryConnect(cluster, principal string, limit int64) bool {
	hour := HourOf(m.now())
	m.mu.Lock()
	if limit > 0 && m.conns[connKey{cluster: cluster}] >= limit {
		m.mu.Unlock()
		return false
	}
	var total int64
	for _, p := range []string{principal, ""} {
		k := connKey{cluster: cluster, principal: p}
		m.conns[k]++
		r := m.record(cluster, p, hour)
		r.Connections = max(r.Connections, m.conns[k])
		total = m.conns[k]
	}
	m.mu.Unlock()
	m.metrics.connections(cluster, total)
	return true
}

// Disconnected counts the end of a connection counted by Connected.
func (m *Meter) Disconnected(cluster, principal string) {
	m.mu.Lock()
	var total int64
	for _, p := range []string{principal, ""} {
		k := connKey{cluster: cluster, principal: p}
		if m.conns[k]--; m.conns[k] <= 0 {
			delete(m.conns, k)
		}
		total = m.conns[k]
	}
	m.mu.Unlock()
	m.metrics.connections(cluster, total)
}

// Connections is the number of open connections to cluster.
func (m *Meter) Connections(cluster string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.conns[connKey{cluster: cluster}]
}

// SetStorage records a cluster's current partitions and stored bytes.
func (m *Meter) SetStorage(cluster string, partitions, storedBytes int64) {
	hour := HourOf(m.now())
	m.mu.Lock()
	r := m.record(cluster, "", hour)
	r.Partitions = max(r.Partitions, partitions)
	r.StoredBytes = max(r.StoredBytes, storedBytes)
	m.mu.Unlock()
	m.metrics.storage(cluster, partitions, storedBytes)
}

// ActiveClusters are the clusters with usage not yet flushed or open
// connections, sorted.
func (m *Meter) ActiveClusters() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := map[string]bool{}
	for k := range m.pending {
		set[k.cluster] = true
	}
	for k := range m.conns {
		set[k.cluster] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// take removes and returns what is pending, with records for the open
// connections of the current hour so that its peak holds them.
func (m *Meter) take() []Record {
	hour := HourOf(m.now())
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, n := range m.conns {
		r := m.record(k.cluster, k.principal, hour)
		r.Connections = max(r.Connections, n)
	}
	out := make([]Record, 0, len(m.pending))
	for _, r := range m.pending {
		out = append(out, *r)
	}
	clear(m.pending)
	slices.SortFunc(out, func(a, b Record) int {
		if c := a.Hour.Compare(b.Hour); c != 0 {
			return c
		}
		if a.Cluster != b.Cluster {
			return cmp.Compare(a.Cluster, b.Cluster)
		}
		return cmp.Compare(a.Principal, b.Principal)
	})
	return out
}

// giveBack merges records a flush could not deliver into what is pending.
func (m *Meter) giveBack(records []Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, in := range records {
		r := m.record(in.Cluster, in.Principal, in.Hour)
		r.BytesIn += in.BytesIn
		r.BytesOut += in.BytesOut
		r.Requests += in.Requests
		r.Connections = max(r.Connections, in.Connections)
		r.Partitions = max(r.Partitions, in.Partitions)
		r.StoredBytes = max(r.StoredBytes, in.StoredBytes)
	}
}

// Flush sends what is pending to the sink. On failure nothing is lost: the
// records are kept for the next flush.
func (m *Meter) Flush(ctx context.Context) error {
	if m.sink == nil {
		m.take() // Prometheus has it all; nothing to keep
		return nil
	}
	records := m.take()
	if len(records) == 0 {
		return nil
	}
	if err := m.sink.RecordUsage(ctx, records); err != nil {
		m.giveBack(records)
		return err
	}
	return nil
}

// StorageFunc reads a cluster's partitions and stored bytes.
type StorageFunc func(ctx context.Context, cluster string) (partitions, storedBytes int64, err error)

// Run flushes every interval until ctx is done, then flushes once more.
// Before each flush it reads the storage gauges of the active clusters
// with storage (nil: not metered).
func (m *Meter) Run(ctx context.Context, interval time.Duration, storage StorageFunc) {
	if interval <= 0 {
		interval = DefaultFlushInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var done bool
		select {
		case <-tick.C:
		case <-ctx.Done():
			done = true
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		if storage != nil && !done {
			for _, cluster := range m.ActiveClusters() {
				partitions, stored, err := storage(fctx, cluster)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						m.log.Warn("read storage usage failed", "cluster", cluster, "err", err)
					}
					continue
				}
				m.SetStorage(cluster, partitions, stored)
			}
		}
		if err := m.Flush(fctx); err != nil {
			m.log.Warn("flush usage failed; kept for the next flush", "err", err)
		}
		cancel()
		if done {
			return
		}
	}
}

// meterMetrics are the per-cluster Prometheus metrics. The cluster label
// is bounded by the tenants of the cell.
type meterMetrics struct {
	bytesIn     *prometheus.CounterVec
	bytesOut    *prometheus.CounterVec
	requests    *prometheus.CounterVec
	conns       *prometheus.GaugeVec
	partitions  *prometheus.GaugeVec
	storedBytes *prometheus.GaugeVec
}

func newMeterMetrics(reg prometheus.Registerer) *meterMetrics {
	m := &meterMetrics{
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_bytes_in_total",
			Help: "Record batch bytes produced to the cluster through this broker.",
		}, []string{"cluster"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_bytes_out_total",
			Help: "Record batch bytes fetched from the cluster through this broker.",
		}, []string{"cluster"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_requests_total",
			Help: "Kafka requests of the cluster's clients handled by this broker.",
		}, []string{"cluster"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "affluent_kafka_cluster_connections",
			Help: "Authenticated connections of the cluster's clients open on this broker.",
		}, []string{"cluster"}),
		partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "affluent_kafka_cluster_partitions",
			Help: "Partitions over all topics of the cluster.",
		}, []string{"cluster"}),
		storedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "affluent_kafka_cluster_stored_bytes",
			Help: "Bytes the cluster's topics retain in storage.",
		}, []string{"cluster"}),
	}
	if reg != nil {
		m.bytesIn = promreg.Shared(reg, m.bytesIn)
		m.bytesOut = promreg.Shared(reg, m.bytesOut)
		m.requests = promreg.Shared(reg, m.requests)
		m.conns = promreg.Shared(reg, m.conns)
		m.partitions = promreg.Shared(reg, m.partitions)
		m.storedBytes = promreg.Shared(reg, m.storedBytes)
	}
	return m
}

func (m *meterMetrics) add(cluster string, in, out, requests int64) {
	if in > 0 {
		m.bytesIn.WithLabelValues(cluster).Add(float64(in))
	}
	if out > 0 {
		m.bytesOut.WithLabelValues(cluster).Add(float64(out))
	}
	if requests > 0 {
		m.requests.WithLabelValues(cluster).Add(float64(requests))
	}
}

func (m *meterMetrics) connections(cluster string, n int64) {
	m.conns.WithLabelValues(cluster).Set(float64(n))
}

func (m *meterMetrics) storage(cluster string, partitions, stored int64) {
	m.partitions.WithLabelValues(cluster).Set(float64(partitions))
	m.storedBytes.WithLabelValues(cluster).Set(float64(stored))
}
