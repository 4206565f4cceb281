package tiered

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// localTier is the optional local disk tier: a copy of the newest data of
// each partition, as Kafka's tiered storage keeps its local log, written
// behind every commit and kept as long as the topic's local.retention.ms
// and local.retention.bytes allow (and LocalCacheBytes in all). It is
// indexed by offset, not by object, so it keeps serving a range after the
// compactor moved it from the WAL into a segment: consumers a little
// behind the tail read it instead of object storage. It is only a cache:
// losing a write (a full queue) leaves a gap that reads go around, and its
// files are emptied at start.
//
// All partitions append to one file at a time (few open files however many
// partitions); files roll at localFileBytes and go when no entry of any
// partition is left in them, or, oldest first, when the tier is full.
type localTier struct {
	dir   string
	limit int64
	queue chan localWrite

	mu sync.RWMutex
	// Guarded by mu.
	files   []*localFile // oldest first; the last takes appends
	parts   map[partitionKey]*localPartition
	size    int64 // bytes of all files
	seq     int
	dropped int64 // writes lost to a full queue
	closed  bool
}

type localFile struct {
	path string
	f    *os.File
	size int64
	live int // entries pointing into it
}

// localEntry is one committed chunk: stamped batches at pos in file.
type localEntry struct {
	base, last int64
	file       *localFile
	pos        int64
	length     int64
	maxTs      int64
}

type localPartition struct {
	entries []localEntry // ascending
	bytes   int64
}

type localWrite struct {
	k    partitionKey
	c    chunkRef
	data chunkData
}

const (
	localFilePrefix = "local-"
	localFileSuffix = ".log"
	// localQueueLen bounds the writes waiting for the disk.
	localQueueLen = 1024
)

// localFileBytes is the size at which the tier starts a new file.
func (t *localTier) fileBytes() int64 { return min(64<<20, max(t.limit/8, 1<<20)) }

func openLocalTier(dir string, limit int64) (*localTier, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local cache dir %s: %w", dir, err)
	}
	old, err := filepath.Glob(filepath.Join(dir, localFilePrefix+"*"+localFileSuffix))
	if err != nil {
		return nil, fmt.Errorf("local cache dir %s: %w", dir, err)
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil {
			return nil, fmt.Errorf("empty local cache dir: %w", err)
		}
	}
	return &localTier{
		dir: dir, limit: limit,
		queue: make(chan localWrite, localQueueLen),
		parts: map[partitionKey]*localPartition{},
	}, nil
}

// add queues a committed chunk for writing, or drops it when the disk is
// behind.
func (t *localTier) add(k partitionKey, c chunkRef, data chunkData) {
	select {
	case t.queue <- localWrite{k: k, c: c, data: data}:
	default:
		t.mu.Lock()
		t.dropped++
		t.mu.Unlock()
	}
}

// run writes queued chunks until stopping closes.
func (t *localTier) run(stopping <-chan struct{}) {
	var buf []byte
	for {
		select {
		case w := <-t.queue:
			buf = buf[:0]
			_ = w.data.walk(w.c.base, w.c.stamped, func(batch []byte, _ batchHeader, base int64) bool {
				start := len(buf)
				buf = append(buf, batch...)
				stampBatch(buf[start:], base)
				return true
			})
			if err := t.write(w.k, w.c, buf); err != nil {
				t.mu.Lock()
				t.dropped++
				t.mu.Unlock()
			}
		case <-stopping:
			return
		}
	}
}

func (t *localTier) write(k partitionKey, c chunkRef, data []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("local tier closed")
	}
	var f *localFile
	if n := len(t.files); n > 0 && t.files[n-1].size < t.fileBytes() {
		f = t.files[n-1]
	} else {
		t.seq++
		path := filepath.Join(t.dir, fmt.Sprintf("%s%08d%s", localFilePrefix, t.seq, localFileSuffix))
		h, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		f = &localFile{path: path, f: h}
		t.files = append(t.files, f)
	}
	if _, err := f.f.WriteAt(data, f.size); err != nil {
		return err
	}
	e := localEntry{base: c.base, last: c.last, file: f, pos: f.size, length: int64(len(data)), maxTs: c.maxTimestamp}
	f.size += e.length
	f.live++
	t.size += e.length
	p := t.parts[k]
	if p == nil {
		p = &localPartition{}
		t.parts[k] = p
	}
	if n := len(p.entries); n > 0 && e.base <= p.entries[n-1].last {
		t.dropEntries(p, n) // the log went back (cannot happen with fresh topic ids); start over
	}
	p.entries = append(p.entries, e)
	p.bytes += e.length
	for t.size > t.limit && len(t.files) > 1 {
		t.evictFile(t.files[0])
	}
	return nil
}

// lookup returns the stamped batches from the one holding from through the
// one holding through, if the tier has them all.
func (t *localTier) lookup(k partitionKey, from, through int64) (chunkData, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	p := t.parts[k]
	if p == nil || t.closed {
		return nil, false
	}
	i := sort.Search(len(p.entries), func(i int) bool { return p.entries[i].last >= from })
	if i == len(p.entries) || p.entries[i].base > from {
		return nil, false
	}
	var out chunkData
	for prev := int64(-1); i < len(p.entries); i++ {
		e := p.entries[i]
		if prev >= 0 && e.base != prev+1 {
			return nil, false
		}
		data := make([]byte, e.length)
		if _, err := e.file.f.ReadAt(data, e.pos); err != nil {
			return nil, false
		}
		out = append(out, data)
		if e.last >= through {
			return out, true
		}
		prev = e.last
	}
	return nil, false
}

// localLimit is what one partition may keep locally.
type localLimit struct {
	bytes, ms int64 // -1: no limit
	logStart  int64
}

func (s *Store) localLimits(jobs []*partitionJob) map[partitionKey]localLimit {
	out := make(map[partitionKey]localLimit, len(jobs))
	for _, j := range jobs {
		out[j.key] = localLimit{bytes: j.policy.localRetentionBytes, ms: j.policy.localRetentionMs, logStart: j.logStart}
	}
	return out
}

// enforce drops what partitions may no longer keep: entries below the log
// start, beyond local.retention.bytes or older than local.retention.ms, and
// everything of partitions that are gone; then files left empty.
func (t *localTier) enforce(limits map[partitionKey]localLimit, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	nowMs := now.UnixMilli()
	for k, p := range t.parts {
		lim, ok := limits[k]
		if !ok {
			t.dropEntries(p, len(p.entries))
			delete(t.parts, k)
			continue
		}
		n := 0
		bytes := p.bytes
		for n < len(p.entries) {
			e := p.entries[n]
			if e.last >= lim.logStart && (lim.bytes < 0 || bytes <= lim.bytes) && (lim.ms < 0 || e.maxTs >= nowMs-lim.ms) {
				break
			}
			bytes -= e.length
			n++
		}
		t.dropEntries(p, n)
	}
	t.removeEmptyFiles()
}

// forget drops the entries of k up to offset through (the cleaner rewrote
// that range).
func (t *localTier) forget(k partitionKey, through int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.parts[k]; p != nil {
		n := sort.Search(len(p.entries), func(i int) bool { return p.entries[i].base > through })
		t.dropEntries(p, n)
		t.removeEmptyFiles()
	}
}

// dropEntries drops the first n entries of p. Caller holds mu.
func (t *localTier) dropEntries(p *localPartition, n int) {
	for _, e := range p.entries[:n] {
		e.file.live--
		p.bytes -= e.length
	}
	p.entries = append(p.entries[:0], p.entries[n:]...)
}

// evictFile drops every entry in f and f. Caller holds mu.
func (t *localTier) evictFile(f *localFile) {
	for _, p := range t.parts {
		kept := p.entries[:0]
		for _, e := range p.entries {
			if e.file == f {
				f.live--
				p.bytes -= e.length
				continue
			}
			kept = append(kept, e)
		}
		p.entries = kept
	}
	t.removeFile(f)
}

// removeEmptyFiles deletes files no entry points into, but the one taking
// appends. Caller holds mu.
func (t *localTier) removeEmptyFiles() {
	for i := 0; i < len(t.files)-1; {
		if f := t.files[i]; f.live <= 0 {
			t.removeFile(f)
			continue
		}
		i++
	}
}

// removeFile closes and deletes f. Caller holds mu.
func (t *localTier) removeFile(f *localFile) {
	for i, g := range t.files {
		if g == f {
			t.files = append(t.files[:i], t.files[i+1:]...)
			break
		}
	}
	t.size -= f.size
	_ = f.f.Close()
	_ = os.Remove(f.path)
}

// stats returns the bytes the tier serves, the bytes of its files (freed
// a file at a time) and the writes it lost (tests, metrics).
func (t *localTier) stats() (live, onDisk, dropped int64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, p := range t.parts {
		live += p.bytes
	}
	return live, t.size, t.dropped
}

func (t *localTier) close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	var errs []error
	for _, f := range t.files {
		if err := f.f.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	t.files, t.parts = nil, map[partitionKey]*localPartition{}
	return errors.Join(errs...)
}
