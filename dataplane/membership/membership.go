// Package membership says which brokers of a cell are alive and which of
// them answers for what. Brokers hold heartbeated leases in the dataplane
// metadata DB (dataplane/storage/tiered keeps them); every change of the
// live set raises a generation. From a View, every broker computes the same
// placement by rendezvous hashing: the leader of each partition and the
// coordinator of each group or transactional id. Leadership is only
// routing, since all durable state is shared, so placement needs no
// agreement beyond the View itself, and when a broker dies only what it
// held moves.
package membership

import (
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Broker is a live broker as clients are told of it.
type Broker struct {
	NodeID int32
	// Host and Port are where clients reach the broker (its advertised
	// address); empty for a broker that advertises the address each
	// connection reached, which only it can tell.
	Host string
	Port int32
	Rack string
	// Listeners are the advertised addresses of each of the broker's
	// Kafka listeners, by listener name, sorted by name; Host and Port
	// are its plaintext one's.
	Listeners []Listener
}

// Listener is where clients reach a broker through one of its listeners.
type Listener struct {
	Name string // as broker listeners are named: SASL_PLAINTEXT, SASL_SSL, ...
	Host string
	Port int32
}

// Endpoint is where a client connected through the listener named
// listener reaches b: that listener's address when b registered one, else
// b's Host and Port (a broker that registered no listeners).
func (b Broker) Endpoint(listener string) (host string, port int32) {
	for _, l := range b.Listeners {
		if l.Name == listener {
			return l.Host, l.Port
		}
	}
	return b.Host, b.Port
}

// View is the set of live brokers at one generation.
type View struct {
	// Generation rises on every change of the live set (or of a live
	// broker's address); it is the leader epoch of every partition, so
	// epochs never go down.
	Generation int64
	// Brokers are sorted by NodeID, ids unique.
	Brokers []Broker
}

// Single is the view of a broker alone, as a broker without a membership
// registry sees itself.
func Single(self Broker) View { return View{Brokers: []Broker{self}} }

// Broker returns the live broker with id.
func (v View) Broker(id int32) (Broker, bool) {
	i, ok := slices.BinarySearchFunc(v.Brokers, id, func(b Broker, id int32) int { return int(b.NodeID) - int(id) })
	if !ok {
		return Broker{}, false
	}
	return v.Brokers[i], true
}

// Epoch is the leader epoch of every partition in this view: the
// generation, saturated to the int32 the protocol carries.
func (v View) Epoch() int32 {
	return int32(min(max(v.Generation, 0), 1<<31-1))
}

// Leader is the broker that leads (routes) a partition; false when no
// broker is live.
func (v View) Leader(cluster, topic string, partition int32) (Broker, bool) {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(partition))
	return v.owner(keyHash("p", cluster, topic, string(p[:])))
}

// Key types of coordinators, as FindCoordinator numbers them.
const (
	CoordinatorGroup       int8 = 0
	CoordinatorTransaction int8 = 1
)

// Coordinator is the broker that coordinates a group (keyType
// CoordinatorGroup) or a transactional id of a cluster.
func (v View) Coordinator(cluster string, keyType int8, key string) (Broker, bool) {
	return v.owner(keyHash("c", cluster, strconv.Itoa(int(keyType)), key))
}

// owner picks, by rendezvous (highest random weight) hashing, the broker
// whose score for the key is highest: adding or removing one broker moves
// only the keys that broker wins or held.
func (v View) owner(key uint64) (Broker, bool) {
	var best Broker
	var bestScore uint64
	found := false
	for _, b := range v.Brokers {
		s := mix(key ^ mix(uint64(uint32(b.NodeID))+0x9e3779b97f4a7c15))
		if !found || s > bestScore || (s == bestScore && b.NodeID < best.NodeID) {
			best, bestScore, found = b, s, true
		}
	}
	return best, found
}

// keyHash hashes the parts of a key, each length-prefixed so that no two
// keys share an encoding.
func keyHash(parts ...string) uint64 {
	h := fnv.New64a()
	var n [4]byte
	for _, p := range parts {
		binary.BigEndian.PutUint32(n[:], uint32(len(p)))
		_, _ = h.Write(n[:])
		_, _ = h.Write([]byte(p))
	}
	return h.Sum64()
}

// mix is splitmix64's finalizer: FNV's low bits are weak, and scores must
// be spread evenly for placement to be.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Without is the view less one broker.
func (v View) Without(id int32) View {
	i, ok := slices.BinarySearchFunc(v.Brokers, id, func(b Broker, id int32) int { return int(b.NodeID) - int(id) })
	if !ok {
		return v
	}
	v.Brokers = slices.Delete(slices.Clone(v.Brokers), i, i+1)
	return v
}

// Live holds the view a broker routes by, replaced as the registry learns
// of changes. A view never replaces a newer one.
//
// A broker's own lease may lapse while it runs (it lost the DB, or was
// paused): past the deadline its registry last renewed the lease to, the
// broker is left out of the view it routes by, so it leads and
// coordinates nothing until it renews (SetDeadline) — by then other
// brokers may have taken over what it held.
type Live struct {
	self int32
	now  func() time.Time

	mu        sync.Mutex // guards the fields below
	view      View
	listeners []func(old, cur View)
	// deadline is when this broker's lease lapses unless renewed (zero:
	// never); lapsed is set once listeners were told it did.
	deadline time.Time
	lapsed   bool
}

// NewLive returns the holder of this broker's (self's) view, starting at
// initial.
func NewLive(self int32, initial View) *Live {
	return &Live{self: self, view: initial, now: time.Now}
}

// Self is this broker's node id.
func (l *Live) Self() int32 { return l.self }

// View is the current view; without this broker once its lease lapsed.
func (l *Live) View() View {
	l.mu.Lock()
	v, expired := l.view, l.expiredLocked()
	l.mu.Unlock()
	if expired {
		return v.Without(l.self)
	}
	return v
}

// expiredLocked reports whether the deadline passed; l.mu must be held.
func (l *Live) expiredLocked() bool {
	return !l.deadline.IsZero() && !l.now().Before(l.deadline)
}

// SetDeadline records that this broker's lease, just renewed, holds until
// d at least. If it had lapsed, listeners are told the broker is back.
func (l *Live) SetDeadline(d time.Time) {
	l.mu.Lock()
	wasLapsed := l.lapsed
	l.deadline, l.lapsed = d, false
	v := l.view
	listeners := slices.Clone(l.listeners)
	l.mu.Unlock()
	if wasLapsed {
		for _, f := range listeners {
			f(v.Without(l.self), v)
		}
	}
}

// CheckLapse tells listeners, once, that this broker's lease lapsed (so
// that it lets go of what it coordinates), and reports whether it did.
// View leaves the broker out from the deadline on whether or not this is
// called; the registry calls it on each heartbeat.
func (l *Live) CheckLapse() bool {
	l.mu.Lock()
	if !l.expiredLocked() {
		l.mu.Unlock()
		return false
	}
	tell := !l.lapsed
	l.lapsed = true
	v := l.view
	listeners := slices.Clone(l.listeners)
	l.mu.Unlock()
	if tell {
		for _, f := range listeners {
			f(v, v.Without(l.self))
		}
	}
	return true
}

// OnChange registers f, called (outside any lock, in order of changes,
// from the goroutine that calls Set) with the old and the new view each
// time the generation changes.
func (l *Live) OnChange(f func(old, cur View)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listeners = append(l.listeners, f)
}

// Coordinates reports whether this broker coordinates a key (of a
// coordinator key type) of a cluster in the current view; a view without
// brokers leaves everything to it, unless its lease lapsed.
func (l *Live) Coordinates(cluster string, keyType int8, key string) bool {
	l.mu.Lock()
	expired := l.expiredLocked()
	l.mu.Unlock()
	if expired {
		return false
	}
	c, ok := l.View().Coordinator(cluster, keyType, key)
	return !ok || c.NodeID == l.self
}

// Set makes v the current view unless it is older than the current one. It
// reports whether the generation changed.
func (l *Live) Set(v View) bool {
	l.mu.Lock()
	old := l.view
	if v.Generation < old.Generation {
		l.mu.Unlock()
		return false
	}
	l.view = v
	listeners := slices.Clone(l.listeners)
	l.mu.Unlock()
	if v.Generation == old.Generation {
		return false
	}
	for _, f := range listeners {
		f(old, v)
	}
	return true
}

// Kept reports whether broker self coordinates a key of a cluster both in
// old and in cur: a change of view from old to cur leaves that key where it
// was, on self.
func Kept(self int32, old, cur View, cluster string, keyType int8, key string) bool {
	a, inOld := old.Coordinator(cluster, keyType, key)
	b, inCur := cur.Coordinator(cluster, keyType, key)
	return inOld && inCur && a.NodeID == self && b.NodeID == self
}

// MayGain reports whether a change of view from old to cur can give broker
// self keys it did not coordinate in old. Placement is by rendezvous
// hashing, so a key moves to self only when the broker that held it left or
// self itself joined; a change that only adds other brokers (or changes an
// address) moves keys away from self, never to it.
func MayGain(self int32, old, cur View) bool {
	if _, in := cur.Broker(self); !in {
		return false
	}
	if _, in := old.Broker(self); !in {
		return true
	}
	for _, b := range old.Brokers {
		if _, in := cur.Broker(b.NodeID); !in {
			return true
		}
	}
	return false
}
