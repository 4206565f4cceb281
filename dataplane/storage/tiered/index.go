package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// partitionKey names a partition internally: by topic ID, never by name,
// so a deleted and re-created topic cannot see the old log.
type partitionKey struct {
	topicID   string
	partition int32
}

// chunkRef locates a run of consecutive batches [base, last] of one
// partition: length bytes at pos in a WAL object.
type chunkRef struct {
	base, last     int64
	objectKey      string
	pos, length    int64
	firstTimestamp int64
	maxTimestamp   int64
	// stamped: a segment block, whose batches carry their offsets (with
	// gaps where compaction removed some); otherwise a WAL chunk, whose
	// batches follow each other from base.
	stamped bool
	// appendTime is when the data was committed, in Unix ms.
	appendTime int64
}

// Kinds of chunk rows.
const (
	chunkKindWAL     = 0
	chunkKindSegment = 1
)

// maxRecentChunks bounds the tail index kept in memory per partition (it
// holds between this many and twice as many); older chunks are looked up in
// the metadata DB. Small, because brokers may host 10,000s of partitions.
const maxRecentChunks = 32

// partitionState is the in-memory view of one partition: offsets and the
// newest chunks. It is loaded from the metadata DB on first use and then
// advanced by the committer after each commit, with absolute values from
// the DB so a load racing a commit converges.
type partitionState struct {
	mu sync.Mutex
	// Guarded by mu.
	loaded   bool
	logStart int64
	next     int64      // high watermark
	recent   []chunkRef // contiguous, ascending; may start after logStart
	// confirmed is when next and logStart were last the DB's (a load, a
	// commit of ours, a refresh: sharedtail.go).
	confirmed time.Time
}

// covers reports whether recent holds the chunk with offset. Caller holds mu.
func (ps *partitionState) covers(offset int64) bool {
	i := sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].last >= offset })
	return i < len(ps.recent) && ps.recent[i].base <= offset
}

// chunksFrom copies the recent chunks from the one holding offset until
// they add up to wantBytes, stopping short of a gap (recent is contiguous
// when applyCommit keeps it so; a chunk after a gap must never be served
// for offsets inside it). Caller holds mu and checked covers(offset).
func (ps *partitionState) chunksFrom(offset int64, wantBytes int64) []chunkRef {
	i := sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].last >= offset })
	var out []chunkRef
	var size int64
	for ; i < len(ps.recent) && (len(out) == 0 || size < wantBytes); i++ {
		if len(out) > 0 && ps.recent[i].base != out[len(out)-1].last+1 {
			break
		}
		out = append(out, ps.recent[i])
		size += ps.recent[i].length
	}
	return out
}

// applyCommit records chunks committed for this partition; next and
// logStart are the DB's values after the commit.
func (ps *partitionState) applyCommit(next, logStart int64, chunks []chunkRef) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.loaded {
		return // the first reader loads it from the DB, commit included
	}
	for _, c := range chunks {
		switch {
		case c.base == ps.next:
			ps.recent = append(ps.recent, c)
			ps.next = c.last + 1
		case c.last < ps.next:
			// Loaded after this commit: already counted.
		default:
			// Someone else wrote in between; keep only what is contiguous.
			ps.recent = append(ps.recent[:0:0], c)
			ps.next = c.last + 1
		}
	}
	// A commit that recorded no chunk after others' writes (its batches
	// were all duplicates or rejected, as a producer's retries are after
	// the broker it first wrote to died) still tells the DB's high
	// watermark: the tail index then ends before others' chunks, which
	// refresh drops rather than leave a gap that the next chunk appended
	// would hide.
	ps.refresh(next, logStart, time.Now())
	if len(ps.recent) > 2*maxRecentChunks {
		ps.recent = append([]chunkRef(nil), ps.recent[len(ps.recent)-maxRecentChunks:]...)
	}
}

// advanceStart moves the log start offset forward. Caller holds mu.
func (ps *partitionState) advanceStart(logStart int64) {
	if logStart <= ps.logStart {
		return
	}
	ps.logStart = logStart
	i := sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].last >= logStart })
	ps.recent = ps.recent[i:]
}

// forgetThrough drops the recent chunks up to offset last, which the
// compactor replaced; reads of them go to the metadata DB. Caller holds mu.
func (ps *partitionState) forgetThrough(last int64) {
	i := sort.Search(len(ps.recent), func(i int) bool { return ps.recent[i].last > last })
	ps.recent = ps.recent[i:]
}

// forgetRecent drops the whole tail index, after a read found one of its
// chunks gone (another broker compacted it). Caller holds mu.
func (ps *partitionState) forgetRecent() { ps.recent = nil }

// partitionIndex holds the partitionState of every partition in use.
type partitionIndex struct {
	mu     sync.Mutex
	states map[partitionKey]*partitionState // guarded by mu
}

func newPartitionIndex() *partitionIndex {
	return &partitionIndex{states: map[partitionKey]*partitionState{}}
}

func (ix *partitionIndex) get(k partitionKey) *partitionState {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ps, ok := ix.states[k]
	if !ok {
		ps = &partitionState{}
		ix.states[k] = ps
	}
	return ps
}

func (ix *partitionIndex) dropTopic(topicID string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for k := range ix.states {
		if k.topicID == topicID {
			delete(ix.states, k)
		}
	}
}

// partition returns the loaded state of k.
func (s *Store) partition(ctx context.Context, k partitionKey) (*partitionState, error) {
	ps := s.parts.get(k)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.loaded {
		return ps, nil
	}
	err := s.db.selectPartition.QueryRowContext(ctx, k.topicID, k.partition).Scan(&ps.next, &ps.logStart)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrUnknownTopic
	}
	if err != nil {
		return nil, fmt.Errorf("load partition %s/%d: %w", k.topicID, k.partition, err)
	}
	ps.loaded = true
	ps.confirmed = time.Now()
	return ps, nil
}

// topicRoute is what the hot paths need to know about a topic.
type topicRoute struct {
	id         string
	partitions int32
}

type clusterTopic struct{ cluster, topic string }

// routeCache maps topic names to IDs for Append and Read. Catalog changes
// made through this Store update it; a miss or an out-of-range partition
// asks the DB again, so topics created or grown elsewhere are found.
type routeCache struct {
	mu     sync.RWMutex
	routes map[clusterTopic]topicRoute // guarded by mu
}

func newRouteCache() *routeCache {
	return &routeCache{routes: map[clusterTopic]topicRoute{}}
}

func (c *routeCache) get(k clusterTopic) (topicRoute, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.routes[k]
	return r, ok
}

func (c *routeCache) set(k clusterTopic, r topicRoute) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.routes[k] = r
}

func (c *routeCache) drop(k clusterTopic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.routes, k)
}

// route resolves tp to its internal key, or ErrUnknownTopic.
func (s *Store) route(ctx context.Context, tp storage.TopicPartition) (partitionKey, error) {
	k := clusterTopic{tp.Cluster, tp.Topic}
	r, ok := s.routes.get(k)
	if !ok || tp.Partition >= r.partitions {
		err := s.db.read.QueryRowContext(ctx, `SELECT topic_id, partitions FROM topics WHERE cluster = $1 AND name = $2`,
			tp.Cluster, tp.Topic).Scan(&r.id, &r.partitions)
		if errors.Is(err, sql.ErrNoRows) {
			s.routes.drop(k)
			return partitionKey{}, storage.ErrUnknownTopic
		}
		if err != nil {
			return partitionKey{}, fmt.Errorf("look up topic %s/%s: %w", tp.Cluster, tp.Topic, err)
		}
		s.routes.set(k, r)
	}
	if tp.Partition < 0 || tp.Partition >= r.partitions {
		return partitionKey{}, storage.ErrUnknownTopic
	}
	return partitionKey{r.id, tp.Partition}, nil
}

// watchers hands out the channels of Watch.
type watchers struct {
	mu sync.Mutex
	// Guarded by mu.
	closed bool
	chans  map[storage.TopicPartition]chan struct{}
}

func newWatchers() *watchers {
	return &watchers{chans: map[storage.TopicPartition]chan struct{}{}}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (w *watchers) watch(tp storage.TopicPartition) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return closedChan
	}
	c, ok := w.chans[tp]
	if !ok {
		c = make(chan struct{})
		w.chans[tp] = c
	}
	return c
}

func (w *watchers) notify(tps ...storage.TopicPartition) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, tp := range tps {
		if c, ok := w.chans[tp]; ok {
			close(c)
			delete(w.chans, tp)
		}
	}
}

// notifyTopic wakes every watcher of one topic (deleted or re-created).
func (w *watchers) notifyTopic(cluster, topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for tp, c := range w.chans {
		if tp.Cluster == cluster && tp.Topic == topic {
			close(c)
			delete(w.chans, tp)
		}
	}
}

func (w *watchers) closeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for tp, c := range w.chans {
		close(c)
		delete(w.chans, tp)
	}
}
