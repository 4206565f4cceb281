package tiered

import (
	"container/list"
	"sync"
)

// chunkKey names a byte range of a WAL object by where it starts.
type chunkKey struct {
	objectKey string
	pos       int64
}

// chunkCache is a byte-bounded LRU of chunk bytes: every chunk is put here
// as it is committed, so consumers at the tail never touch object storage,
// and chunks read from object storage are kept for the next reader. Cached
// slices are shared and must not be modified.
type chunkCache struct {
	limit int64

	mu sync.Mutex
	// Guarded by mu.
	size    int64
	order   *list.List // of *cacheEntry, most recently used first
	entries map[chunkKey]*list.Element
}

type cacheEntry struct {
	key  chunkKey
	data chunkData
	size int64
}

func newChunkCache(limit int64) *chunkCache {
	return &chunkCache{limit: limit, order: list.New(), entries: map[chunkKey]*list.Element{}}
}

func (c *chunkCache) get(k chunkKey) (chunkData, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).data, true
}

func (c *chunkCache) put(k chunkKey, data chunkData) {
	n := data.size()
	if n > c.limit {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.entries[k] = c.order.PushFront(&cacheEntry{key: k, data: data, size: n})
	c.size += n
	for c.size > c.limit {
		last := c.order.Back()
		e := last.Value.(*cacheEntry)
		c.order.Remove(last)
		delete(c.entries, e.key)
		c.size -= e.size
	}
}
