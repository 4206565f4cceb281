package broker

// How the broker enforces ClusterLimits:
//
//   - IngressByteRate, EgressByteRate, MaxRequestRate: throttled like
//     client quotas (quotas.go): throttle_time_ms and a muted connection,
//     never refused data; with a client quota too, the longer throttle wins.
//   - MaxPartitions: CreateTopics, CreatePartitions and auto-creation are
//     refused with POLICY_VIOLATION, as Kafka's policies do, naming the
//     limit and the counts.
//   - MaxStorageBytes: Produce is refused with POLICY_VIOLATION once the
//     cluster's stored bytes reach the limit. Not a retriable error on
//     purpose: a producer would retry until delivery.timeout.ms and then
//     report a timeout that says nothing of the cause, whereas
//     POLICY_VIOLATION fails the send at once with our message (Java's
//     PolicyViolationException, franz-go and librdkafka show the message),
//     and it is what Confluent Cloud answers. Stored bytes are read at most
//     a second old, so a fast producer may overshoot by about a second of
//     its throughput.
//   - MaxConnections and MaxConnectionAttemptRate: checked when a
//     connection authenticates (before that its cluster is unknown); the
//     authentication fails with a SASL error whose message names the
//     limit, and the connection is closed.
//   - MaxMessageBytes: a record batch larger than the cluster's limit (or
//     the topic's max.message.bytes, whichever is smaller) is refused with
//     MESSAGE_TOO_LARGE.
//
// Connections, byte and request rates are counted per broker, as Kafka's
// quotas are: on a fleet of N brokers a cluster gets up to N times them if
// its clients spread over all brokers.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/usage"
	"github.com/affluent-io/affluent/internal/promreg"
)

// ClusterLimits are the limits of one cluster (from its plan, changed
// through the API) that brokers enforce. Zero means unlimited.
type ClusterLimits struct {
	// IngressByteRate bounds produce throughput, bytes per second.
	IngressByteRate int64
	// EgressByteRate bounds fetch throughput, bytes per second.
	EgressByteRate int64
	// MaxPartitions bounds the partitions over all topics.
	MaxPartitions int32
	// MaxStorageBytes bounds the retained bytes over all topics.
	MaxStorageBytes int64
	// MaxConnections bounds concurrent client connections.
	MaxConnections int32
	// MaxConnectionAttemptRate bounds new connections per second.
	MaxConnectionAttemptRate int32
	// MaxMessageBytes bounds the record batch a producer may send.
	MaxMessageBytes int32
	// MaxRequestRate bounds requests per second over all connections.
	MaxRequestRate int32
}

// LimitSource gives a cluster's current limits. It is asked often (per
// request), so it must answer from memory; a change must show in its
// answers without a restart.
type LimitSource interface {
	ClusterLimits(cluster string) ClusterLimits
}

// storedBytesTTL is how old the stored bytes MaxStorageBytes is checked
// against may be.
const storedBytesTTL = time.Second

// clusterConnAttempts is the kind of the window counting a cluster's
// connection attempts.
const clusterConnAttempts = "connection_attempts"

func (b *Broker) initLimits() {
	b.quotas = newQuotas(b.cfg)
	b.meter = usage.NewMeter(usage.Options{
		Broker:  strconv.Itoa(int(b.cfg.NodeID)),
		Sink:    b.cfg.UsageSink,
		Metrics: b.cfg.Metrics,
		Logger:  b.log,
	})
	if su := b.cfg.StorageUsage; su != nil {
		b.storedBytes = newFreshCache(storedBytesTTL, su.StoredBytes)
	}
	b.limitMetrics = newLimitMetrics(b.cfg.Metrics)
}

// limits returns cluster's current limits (zero: unlimited).
func (b *Broker) limits(cluster string) ClusterLimits {
	if b.cfg.Limits == nil {
		return ClusterLimits{}
	}
	return b.cfg.Limits.ClusterLimits(cluster)
}

// startMeter starts the usage meter's flush loop with the first Serve.
func (b *Broker) startMeter() {
	b.meterMu.Lock()
	defer b.meterMu.Unlock()
	b.meterServes++
	if b.meterServes > 1 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.meterStop, b.meterDone = cancel, done
	var loops sync.WaitGroup
	loops.Go(func() { b.meter.Run(ctx, b.cfg.UsageFlushInterval, b.storageUsage) })
	// The transaction timeout pass runs while the broker serves too.
	loops.Go(func() { b.runTxnTimeouts(ctx) })
	go func() {
		defer close(done)
		loops.Wait()
	}()
}

// stopMeter stops the flush loop, after a last flush, when the last Serve
// returns.
func (b *Broker) stopMeter() {
	b.meterMu.Lock()
	b.meterServes--
	if b.meterServes > 0 {
		b.meterMu.Unlock()
		return
	}
	stop, done := b.meterStop, b.meterDone
	b.meterMu.Unlock()
	stop()
	<-done
}

// storageUsage reads a cluster's partitions and stored bytes for metering.
func (b *Broker) storageUsage(ctx context.Context, cluster string) (partitions, stored int64, err error) {
	topics, err := b.cfg.Catalog.Topics(ctx, cluster)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range topics {
		partitions += int64(t.Partitions)
	}
	if b.storedBytes != nil {
		if stored, err = b.storedBytes.get(ctx, cluster); err != nil {
			return 0, 0, err
		}
	}
	return partitions, stored, nil
}

// checkPartitionLimit refuses adding partitions to cluster beyond its
// MaxPartitions; existing is the partitions it has.
func (b *Broker) checkPartitionLimit(cluster string, existing, adding int64) *codeError {
	limit := int64(b.limits(cluster).MaxPartitions)
	if limit <= 0 || existing+adding <= limit {
		return nil
	}
	b.limitMetrics.refused(cluster, "max_partitions")
	return errorf(kerr.PolicyViolation.Code, "cluster %s is limited to %d partitions (max_partitions): it has %d and the request adds %d",
		cluster, limit, existing, adding)
}

// clusterPartitions counts the partitions of cluster's topics.
func (b *Broker) clusterPartitions(ctx context.Context, r *request) (int64, *codeError) {
	topics, err := b.cfg.Catalog.Topics(ctx, r.cluster())
	if err != nil {
		return 0, errorf(b.storageError(ctx, r, "partition limit: list topics", err), "could not count the cluster's partitions")
	}
	var n int64
	for _, t := range topics {
		n += int64(t.Partitions)
	}
	return n, nil
}

// checkStorageLimit refuses a produce once the cluster stores
// MaxStorageBytes or more. A failure to measure lets the produce through:
// the limit is a quota, not a safety net.
func (b *Broker) checkStorageLimit(ctx context.Context, cluster string, limits ClusterLimits) *codeError {
	if limits.MaxStorageBytes <= 0 || b.storedBytes == nil {
		return nil
	}
	stored, err := b.storedBytes.get(ctx, cluster)
	if err != nil {
		b.log.Warn("read stored bytes failed; storage limit not checked", "cluster", cluster, "err", err)
		return nil
	}
	if stored < limits.MaxStorageBytes {
		return nil
	}
	b.limitMetrics.refused(cluster, "max_storage_bytes")
	return errorf(kerr.PolicyViolation.Code, "cluster %s is limited to %d stored bytes (max_storage_bytes) and stores %d: delete records or topics, or raise the limit",
		cluster, limits.MaxStorageBytes, stored)
}

// errLimitRefused marks an authentication refused by a connection limit;
// the client is told which (limitRefusal.msg).
var errLimitRefused = errors.New("connection refused by a cluster limit")

// reasonLimit is the reason label of authentications a limit refused.
const reasonLimit = "limit"

// admitConnection counts a newly authenticated connection of p against its
// cluster's MaxConnections and MaxConnectionAttemptRate, or refuses it.
// Super users (the control plane's admin connections) are counted, never
// refused: a tenant at its limit must still be manageable.
func (b *Broker) admitConnection(p Principal) error {
	b.limitMetrics.track(p.Cluster)
	if slices.Contains(b.cfg.SuperUsers, p.Name) {
		b.meter.Connected(p.Cluster, p.Name)
		return nil
	}
	limits := b.limits(p.Cluster)
	if w, ok := b.quotas.clusterWindow(p.Cluster, clusterConnAttempts, float64(limits.MaxConnectionAttemptRate)); ok {
		if b.quotas.throttleOf([]boundedWindow{w}) > 0 {
			b.limitMetrics.refused(p.Cluster, "max_connection_attempt_rate")
			return &authError{reason: reasonLimit, identity: p.Name, cluster: p.Cluster, err: errLimitRefused,
				clientMsg: fmt.Sprintf("cluster %s is limited to %d connection attempts per second (max_connection_attempt_rate): try again later",
					p.Cluster, limits.MaxConnectionAttemptRate)}
		}
		w.w.record(b.quotas.now(), 1)
	}
	if !b.meter.TryConnect(p.Cluster, p.Name, int64(limits.MaxConnections)) {
		b.limitMetrics.refused(p.Cluster, "max_connections")
		return &authError{reason: reasonLimit, identity: p.Name, cluster: p.Cluster, err: errLimitRefused,
			clientMsg: fmt.Sprintf("cluster %s is limited to %d connections (max_connections) and has them all on this broker",
				p.Cluster, limits.MaxConnections)}
	}
	return nil
}

// limitMetrics count what quotas and limits did, per cluster (bounded by
// the tenants of the cell) and limit name (a constant).
type limitMetrics struct {
	throttled *prometheus.CounterVec // cluster
	throttle  *prometheus.CounterVec // cluster
	refusals  *prometheus.CounterVec // cluster, limit
}

func newLimitMetrics(reg prometheus.Registerer) *limitMetrics {
	m := &limitMetrics{
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_throttled_responses_total",
			Help: "Responses that carried a throttle time (a client quota or a cluster rate limit was exceeded).",
		}, []string{"cluster"}),
		throttle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_throttle_seconds_total",
			Help: "Throttle time given to the cluster's clients.",
		}, []string{"cluster"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_cluster_limit_refusals_total",
			Help: "Requests and connections refused by a cluster limit, by limit.",
		}, []string{"cluster", "limit"}),
	}
	if reg != nil {
		m.throttled = promreg.Shared(reg, m.throttled)
		m.throttle = promreg.Shared(reg, m.throttle)
		m.refusals = promreg.Shared(reg, m.refusals)
	}
	return m
}

// track makes a cluster's throttle series exist, at zero, from its first
// connection on, so that rates and alerts see them before any throttle.
func (m *limitMetrics) track(cluster string) {
	m.throttled.WithLabelValues(cluster)
	m.throttle.WithLabelValues(cluster)
}

func (m *limitMetrics) throttledResponse(cluster string, d time.Duration) {
	m.throttled.WithLabelValues(cluster).Inc()
	m.throttle.WithLabelValues(cluster).Add(d.Seconds())
}

func (m *limitMetrics) refused(cluster, limit string) {
	m.refusals.WithLabelValues(cluster, limit).Inc()
}

// CachedLimits is a LimitSource over a slower lookup (the control plane's
// store): each cluster's limits are looked up at most once per TTL and
// served from memory in between; a lookup runs in the caller that finds
// the value stale while others use the previous one. A cluster whose
// lookup fails is unlimited until one succeeds, or keeps its last limits.
type CachedLimits struct {
	cache *freshCache[ClusterLimits]
	log   func(cluster string, err error)
}

// NewCachedLimits returns a CachedLimits; ttl should stay around a second,
// how soon a changed limit applies. onError, when set, is told of failed
// lookups.
func NewCachedLimits(ttl time.Duration, lookup func(ctx context.Context, cluster string) (ClusterLimits, error),
	onError func(cluster string, err error)) *CachedLimits {
	return &CachedLimits{cache: newFreshCache(ttl, lookup), log: onError}
}

// lookupTimeout bounds one lookup of CachedLimits.
const lookupTimeout = 2 * time.Second

// ClusterLimits implements LimitSource.
func (c *CachedLimits) ClusterLimits(cluster string) ClusterLimits {
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	l, err := c.cache.get(ctx, cluster)
	if err != nil && c.log != nil {
		c.log(cluster, err)
	}
	return l
}

// StaticLimits is a LimitSource with fixed limits per cluster, changeable
// at any time: for development and tests.
type StaticLimits struct {
	mu     sync.Mutex // guards limits
	limits map[string]ClusterLimits
}

// Set replaces a cluster's limits.
func (s *StaticLimits) Set(cluster string, l ClusterLimits) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limits == nil {
		s.limits = make(map[string]ClusterLimits)
	}
	s.limits[cluster] = l
}

// ClusterLimits implements LimitSource.
func (s *StaticLimits) ClusterLimits(cluster string) ClusterLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limits[cluster]
}
