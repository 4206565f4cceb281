package broker

// Client quotas (KIP-13, KIP-55, KIP-124, KIP-599) and the byte and request
// rates of cluster limits, enforced as Kafka enforces them: what a client
// sends or receives is recorded in a sliding window (quota_window.go), and
// once the rate is over its bound the response carries throttle_time_ms and
// the connection is muted — not read — for that long (KIP-219; conn.go).
// Data is never dropped or refused for being over a rate.
//
// Which client quota applies to a connection is Kafka's precedence (KIP-55),
// for each quota key separately; the first entity with the key wins:
//
//	user=U,client-id=C  >  user=U,client-id=<default>  >  user=U
//	>  user=<default>,client-id=C  >  user=<default>,client-id=<default>
//	>  user=<default>  >  client-id=C  >  client-id=<default>
//
// The window that measures the rate is shared by the clients the quota
// entity covers, as Kafka's quota metric tags say: a quota on user=U is
// shared by every client id of U; a default quota is applied to each user
// (or client id) separately.
//
// Like Kafka's, quotas are per broker. Cluster byte and request rates are
// measured per cluster over all its principals, and when both a client
// quota and a cluster limit throttle, the longer throttle wins.

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Client quota keys (the keys of AlterClientQuotas).
const (
	quotaProducerByteRate       = "producer_byte_rate"
	quotaConsumerByteRate       = "consumer_byte_rate"
	quotaRequestPercentage      = "request_percentage"
	quotaControllerMutationRate = "controller_mutation_rate"
)

// Kinds of the cluster-wide windows.
const (
	clusterIngress  = "ingress"
	clusterEgress   = "egress"
	clusterRequests = "requests"
)

// quotaCacheTTL is how long a cluster's client quotas are used before being
// read again: how soon a quota altered on another broker applies here (a
// change made through this broker applies at once).
const quotaCacheTTL = time.Second

// quotaSensorIdle is how long a window nobody records in is kept.
const quotaSensorIdle = 10 * time.Minute

// entityPartKey is one part of a client quota entity as an index key.
type entityPartKey struct {
	kind uint8 // entityAbsent, entityNamed, entityDefault
	name string
}

const (
	entityAbsent uint8 = iota
	entityNamed
	entityDefault
)

func partKey(n *storage.QuotaName) entityPartKey {
	switch {
	case n == nil:
		return entityPartKey{}
	case n.Default:
		return entityPartKey{kind: entityDefault}
	}
	return entityPartKey{kind: entityNamed, name: n.Name}
}

type entityKey struct{ user, client entityPartKey }

// clientQuotaSet is one cluster's client quotas, indexed for resolution.
type clientQuotaSet map[entityKey]map[string]float64

func newClientQuotaSet(quotas []storage.ClientQuota) clientQuotaSet {
	set := make(clientQuotaSet, len(quotas))
	for _, q := range quotas {
		set[entityKey{user: partKey(q.Entity.User), client: partKey(q.Entity.ClientID)}] = q.Values
	}
	return set
}

// quotaSensor names the window of one quota key shared by the clients of
// one entity: the user and client id tags of Kafka's quota metrics, empty
// when the entity does not name that type.
type quotaSensor struct {
	cluster string
	key     string
	user    string
	client  string
}

// resolve finds the value of quota key for user and client id by Kafka's
// precedence, and the sensor its rate is measured in; ok is false when no
// entity sets the key.
func (s clientQuotaSet) resolve(key, user, clientID string) (bound float64, sensor quotaSensor, ok bool) {
	if len(s) == 0 {
		return 0, quotaSensor{}, false
	}
	u := entityPartKey{kind: entityNamed, name: user}
	c := entityPartKey{kind: entityNamed, name: clientID}
	du, dc := entityPartKey{kind: entityDefault}, entityPartKey{kind: entityDefault}
	var none entityPartKey
	for _, e := range [...]entityKey{
		{u, c}, {u, dc}, {u, none},
		{du, c}, {du, dc}, {du, none},
		{none, c}, {none, dc},
	} {
		v, found := s[e][key]
		if !found {
			continue
		}
		sensor = quotaSensor{key: key}
		if e.user.kind != entityAbsent {
			sensor.user = user
		}
		if e.client.kind != entityAbsent {
			sensor.client = clientID
		}
		return v, sensor, true
	}
	return 0, quotaSensor{}, false
}

// quotaUser is the user entity name of a principal: its name without the
// type (User:alice is alice), as Kafka names users in quotas.
func quotaUser(principal string) string {
	if _, name, ok := strings.Cut(principal, ":"); ok {
		return name
	}
	return principal
}

// quotas measures rates and computes throttles.
type quotas struct {
	samples int
	size    time.Duration
	now     func() time.Time

	clientQuotas *freshCache[clientQuotaSet] // nil without Config.ClientQuotas

	mu      sync.Mutex // guards the fields below
	sensors map[quotaSensor]*quotaWindow
	// perCluster counts each cluster's sensors: client ids are the
	// client's to choose, so a cluster gets at most
	// maxSensorsPerCluster windows and the rest share one.
	perCluster map[string]int
	lastSweep  time.Time
}

func newQuotas(cfg Config) *quotas {
	q := &quotas{
		samples:    cfg.QuotaWindowSamples,
		size:       cfg.QuotaWindowSize,
		now:        time.Now,
		sensors:    make(map[quotaSensor]*quotaWindow),
		perCluster: make(map[string]int),
	}
	if store := cfg.ClientQuotas; store != nil {
		q.clientQuotas = newFreshCache(quotaCacheTTL, func(ctx context.Context, cluster string) (clientQuotaSet, error) {
			list, err := store.ClientQuotas(ctx, cluster)
			if err != nil {
				return nil, err
			}
			return newClientQuotaSet(list), nil
		})
	}
	return q
}

// window returns the window of sensor, creating it.
func (q *quotas) window(s quotaSensor) *quotaWindow {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	if now.Sub(q.lastSweep) > time.Minute {
		q.lastSweep = now
		for k, w := range q.sensors {
			if w.idleSince(now.Add(-quotaSensorIdle)) {
				delete(q.sensors, k)
				if q.perCluster[k.cluster]--; q.perCluster[k.cluster] <= 0 {
					delete(q.perCluster, k.cluster)
				}
			}
		}
	}
	w := q.sensors[s]
	if w == nil {
		if q.perCluster[s.cluster] >= maxSensorsPerCluster {
			// Past the cap, new users and client ids of the cluster are
			// measured together: a client inventing ids neither escapes
			// its quota nor grows the broker's memory.
			s = quotaSensor{cluster: s.cluster, key: s.key, client: overflowSensor}
			if w = q.sensors[s]; w != nil {
				return w
			}
		}
		w = newQuotaWindow(q.samples, q.size)
		q.sensors[s] = w
		q.perCluster[s.cluster]++
	}
	return w
}

// maxSensorsPerCluster bounds the quota windows of one cluster on a broker.
const maxSensorsPerCluster = 1000

// overflowSensor is the client id of the window a cluster's sensors past
// maxSensorsPerCluster share; no client id can be empty and hold it.
const overflowSensor = "\x00overflow"

// boundedWindow is a window and the rate bound it is held to.
type boundedWindow struct {
	w     *quotaWindow
	bound float64
}

// clientWindow is the window and bound of client quota key for r's
// principal and client id; ok is false when no quota applies. A failure to
// read the quotas leaves the client unthrottled (and is retried on the next
// request): better than refusing service because a quota is unreadable.
func (q *quotas) clientWindow(ctx context.Context, r *request, key string) (boundedWindow, bool) {
	if q.clientQuotas == nil {
		return boundedWindow{}, false
	}
	set, err := q.clientQuotas.get(ctx, r.cluster())
	if err != nil {
		return boundedWindow{}, false
	}
	bound, sensor, ok := set.resolve(key, quotaUser(r.principal.Name), r.clientID)
	if !ok {
		return boundedWindow{}, false
	}
	sensor.cluster = r.cluster()
	return boundedWindow{w: q.window(sensor), bound: bound}, true
}

// clusterWindow is the window of a cluster-wide rate (clusterIngress…)
// held to bound; ok is false when bound is zero (unlimited).
func (q *quotas) clusterWindow(cluster, kind string, bound float64) (boundedWindow, bool) {
	if bound <= 0 {
		return boundedWindow{}, false
	}
	return boundedWindow{w: q.window(quotaSensor{cluster: cluster, key: kind}), bound: bound}, true
}

// byteWindows are the windows a produce (ingress) or fetch (egress) of r is
// measured in: the client quota's and the cluster limit's.
func (q *quotas) byteWindows(ctx context.Context, r *request, limits ClusterLimits, ingress bool) []boundedWindow {
	key, kind, bound := quotaConsumerByteRate, clusterEgress, limits.EgressByteRate
	if ingress {
		key, kind, bound = quotaProducerByteRate, clusterIngress, limits.IngressByteRate
	}
	var ws []boundedWindow
	if w, ok := q.clientWindow(ctx, r, key); ok {
		ws = append(ws, w)
	}
	if w, ok := q.clusterWindow(r.cluster(), kind, float64(bound)); ok {
		ws = append(ws, w)
	}
	return ws
}

// recordAndThrottle records v in every window and returns the longest
// throttle among them.
func (q *quotas) recordAndThrottle(ws []boundedWindow, v float64) time.Duration {
	now := q.now()
	var longest time.Duration
	for _, bw := range ws {
		bw.w.record(now, v)
		longest = max(longest, bw.w.throttle(now, bw.bound))
	}
	return longest
}

// throttleOf returns the longest throttle of the windows, recording nothing.
func (q *quotas) throttleOf(ws []boundedWindow) time.Duration {
	now := q.now()
	var longest time.Duration
	for _, bw := range ws {
		longest = max(longest, bw.w.throttle(now, bw.bound))
	}
	return longest
}

// maxBytes caps a fetch's max bytes to what each quota allows now (see
// quotaWindow.allowance; Kafka caps it at a whole window's worth, which
// lets a fresh consumer take ten seconds' worth at once), so that no
// response needs more than a window's throttle. A fetch still returns at
// least its first batch (Kafka's rule: always make progress).
func (q *quotas) maxBytes(ws []boundedWindow, requested int32) int32 {
	now := q.now()
	for _, bw := range ws {
		if m := bw.w.allowance(now, bw.bound); m < float64(requested) {
			requested = int32(max(m, 1))
		}
	}
	return requested
}

// requestThrottle records a request of r that kept the broker busy for
// busy: the cluster's request rate (MaxRequestRate) and the principal's
// request_percentage, the share of one second a client may keep the broker
// handling its requests (Kafka measures the time of its I/O and network
// threads; Affluent has no such threads and measures handler time).
func (q *quotas) requestThrottle(ctx context.Context, r *request, limits ClusterLimits, busy time.Duration) time.Duration {
	var throttle time.Duration
	if w, ok := q.clusterWindow(r.cluster(), clusterRequests, float64(limits.MaxRequestRate)); ok {
		throttle = q.recordAndThrottle([]boundedWindow{w}, 1)
	}
	if w, ok := q.clientWindow(ctx, r, quotaRequestPercentage); ok {
		w.bound /= 100 // percent of a second, per second
		throttle = max(throttle, q.recordAndThrottle([]boundedWindow{w}, busy.Seconds()))
	}
	return throttle
}

// invalidate makes the next request of cluster read its client quotas again.
func (q *quotas) invalidate(cluster string) {
	if q.clientQuotas != nil {
		q.clientQuotas.invalidate(cluster)
	}
}

// freshCache keeps values per key for at most ttl. A stale value is
// refreshed by the first caller to find it stale while the others go on
// with it, so at most one load per key runs and only the first use of a key
// waits for one.
type freshCache[V any] struct {
	ttl  time.Duration
	load func(ctx context.Context, key string) (V, error)

	mu      sync.Mutex // guards entries
	entries map[string]*freshEntry[V]
}

type freshEntry[V any] struct {
	loading sync.Mutex // held by the caller loading the value

	mu     sync.Mutex // guards the fields below
	value  V
	loaded time.Time // zero: never loaded, or invalidated before the first load
	valid  bool      // value was loaded at least once
}

func newFreshCache[V any](ttl time.Duration, load func(ctx context.Context, key string) (V, error)) *freshCache[V] {
	return &freshCache[V]{ttl: ttl, load: load, entries: make(map[string]*freshEntry[V])}
}

func (c *freshCache[V]) entry(key string) *freshEntry[V] {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		e = &freshEntry[V]{}
		c.entries[key] = e
	}
	return e
}

// get returns key's value, loading it when it is missing or stale.
func (c *freshCache[V]) get(ctx context.Context, key string) (V, error) {
	e := c.entry(key)
	e.mu.Lock()
	value, valid, fresh := e.value, e.valid, e.valid && time.Since(e.loaded) < c.ttl
	e.mu.Unlock()
	if fresh {
		return value, nil
	}
	if valid {
		// Stale: one caller refreshes, the others use what there is.
		if !e.loading.TryLock() {
			return value, nil
		}
	} else {
		e.loading.Lock()
	}
	defer e.loading.Unlock()
	e.mu.Lock()
	if e.valid && time.Since(e.loaded) < c.ttl { // loaded while we waited
		value = e.value
		e.mu.Unlock()
		return value, nil
	}
	e.mu.Unlock()
	v, err := c.load(ctx, key)
	if err != nil {
		if valid {
			return value, nil // keep serving the last value; retried next time
		}
		return v, err
	}
	e.mu.Lock()
	e.value, e.loaded, e.valid = v, time.Now(), true
	e.mu.Unlock()
	return v, nil
}

// invalidate makes the next get of key load it again.
func (c *freshCache[V]) invalidate(key string) {
	e := c.entry(key)
	e.mu.Lock()
	e.loaded = time.Time{}
	e.mu.Unlock()
}

// mutationQuota is the controller_mutation_rate of a request that creates
// or deletes partitions (KIP-599): each partition created or deleted
// counts one. Strict requests (the versions that know
// THROTTLING_QUOTA_EXCEEDED) have a topic refused while the principal is
// over its rate; older ones are accepted and throttled. A nil
// *mutationQuota is no quota.
type mutationQuota struct {
	q      *quotas
	r      *request
	w      boundedWindow
	strict bool
}

func (b *Broker) mutationQuota(ctx context.Context, r *request, strict bool) *mutationQuota {
	w, ok := b.quotas.clientWindow(ctx, r, quotaControllerMutationRate)
	if !ok {
		return nil
	}
	return &mutationQuota{q: b.quotas, r: r, w: w, strict: strict}
}

// exceeded refuses a mutation of a strict request while over the rate.
func (m *mutationQuota) exceeded() *codeError {
	if m == nil || !m.strict {
		return nil
	}
	if t := m.q.throttleOf([]boundedWindow{m.w}); t > 0 {
		m.r.throttle = max(m.r.throttle, t)
		return errorf(kerr.ThrottlingQuotaExceeded.Code, "the controller mutation rate quota (controller_mutation_rate %v partitions/s) is exceeded; retry in %v",
			m.w.bound, t.Round(time.Millisecond))
	}
	return nil
}

// record counts partitions created or deleted.
func (m *mutationQuota) record(partitions int32) {
	if m == nil || partitions <= 0 {
		return
	}
	m.r.throttle = max(m.r.throttle, m.q.recordAndThrottle([]boundedWindow{m.w}, float64(partitions)))
}
