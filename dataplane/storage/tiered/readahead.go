package tiered

import (
	"sync"
	"sync/atomic"
)

// readAhead holds segment blocks fetched ahead of consumers catching up:
// while a Read serves one block, the next ReadAheadChunks are fetched, so
// a consumer streaming a topic from its start rarely waits for object
// storage. It is a cache apart from the tail's, so catching up never
// pushes the tail out.
type readAhead struct {
	cache *chunkCache

	mu sync.Mutex
	// Guarded by mu.
	inflight map[chunkKey]bool // the blocks being fetched
	closed   bool              // no more fetches: the store is closing
	wg       sync.WaitGroup
	hits     atomic.Int64 // reads served from the cache (metrics, tests)
}

// maxReadAheadFetches bounds the fetches in flight for all readers.
const maxReadAheadFetches = 16

func newReadAhead(limit int64) *readAhead {
	return &readAhead{cache: newChunkCache(limit), inflight: map[chunkKey]bool{}}
}

func (r *readAhead) get(k chunkKey) (chunkData, bool) {
	data, ok := r.cache.get(k)
	if ok {
		r.hits.Add(1)
	}
	return data, ok
}

// wait waits for the fetches in flight; the store's background context is
// cancelled first, so they end quickly.
func (r *readAhead) wait() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
}

// readAheadAfter starts fetching the first ReadAheadChunks blocks of next
// that no cache holds and no fetch is getting.
func (s *Store) readAheadAfter(next []chunkRef) {
	n := s.cfg.ReadAheadChunks
	if n <= 0 || s.cfg.ReadAheadBytes <= 0 {
		return
	}
	r := s.ahead
	for _, c := range next[:min(n, len(next))] {
		if !c.stamped || c.length > s.cfg.ReadAheadBytes/int64(2*n) {
			continue // only segment blocks, and only those the cache can hold a few of
		}
		key := chunkKey{c.objectKey, c.pos}
		if _, ok := r.cache.get(key); ok { // not r.get: this is no hit
			continue
		}
		if _, ok := s.cache.get(key); ok {
			continue
		}
		r.mu.Lock()
		if r.closed || r.inflight[key] || len(r.inflight) >= maxReadAheadFetches {
			r.mu.Unlock()
			continue
		}
		r.inflight[key] = true
		r.wg.Add(1)
		r.mu.Unlock()
		go func() {
			defer r.wg.Done()
			buf := make([]byte, c.length)
			err := s.objects.readRange(s.bg, c.objectKey, c.pos, buf)
			if err == nil {
				r.cache.put(key, chunkData{buf})
			}
			r.mu.Lock()
			delete(r.inflight, key)
			r.mu.Unlock()
		}()
	}
}
