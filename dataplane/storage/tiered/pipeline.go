package tiered

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// The write pipeline: Append copies its batch into the open flush of the
// writeBuffer; the flusher goroutine seals the flush after the linger (or
// when it is full) and a free in-flight slot exists, lays it out as one WAL
// object and starts its upload; the committer goroutine takes sealed
// flushes in order, waits for their upload and commits them in one
// metadata transaction, then answers their Appends. Uploads overlap
// commits, and while every slot is busy the open flush keeps growing.

// uploadTimeout bounds one WAL object write, so that a stuck object store
// fails produce requests instead of hanging them (and Close) forever.
const uploadTimeout = time.Minute

// pendingBatch is one Append waiting in a flush.
type pendingBatch struct {
	batch     storage.Batch // Raw is our own copy
	pos       int64         // in the WAL object; set at seal
	lastDelta int32

	// Set by the committer before the flush's done closes.
	txnErr   error // the batch's transaction refuses it (transactions.go)
	accepted bool
	dupOf    *producerEntry
	result   storage.AppendResult
	err      error
}

// partitionBatches is one partition's share of a flush. Its batches are
// laid out back to back in the object, so that each run of accepted batches
// is one chunk.
type partitionBatches struct {
	key     partitionKey
	tp      storage.TopicPartition
	batches []*pendingBatch
}

// flush is the unit of one WAL object and one metadata transaction.
type flush struct {
	opened time.Time
	sealed chan struct{} // closed when the flush stops taking batches
	done   chan struct{} // closed when every batch has its result

	// Guarded by writeBuffer.mu until sealed; then owned by the pipeline.
	groups []*partitionBatches
	byKey  map[partitionKey]*partitionBatches
	bytes  int
	full   bool

	// Set at seal.
	appendTime int64
	uploaded   chan struct{} // closed when objectKey and uploadErr are set
	objectKey  string
	uploadErr  error
}

func newFlush() *flush {
	return &flush{
		opened: time.Now(),
		sealed: make(chan struct{}),
		done:   make(chan struct{}),
		byKey:  map[partitionKey]*partitionBatches{},
	}
}

// writeBuffer is the open flush that Appends join.
type writeBuffer struct {
	maxBytes int
	// backlog counts the bytes added and not yet answered; the pipeline
	// subtracts a flush's bytes when its Appends are answered.
	backlog prometheus.Gauge
	// kick tells the flusher that a flush opened or filled up.
	kick chan struct{}

	mu sync.Mutex
	// Guarded by mu.
	cur    *flush
	closed bool
}

func newWriteBuffer(maxBytes int, backlog prometheus.Gauge) *writeBuffer {
	return &writeBuffer{maxBytes: maxBytes, backlog: backlog, kick: make(chan struct{}, 1)}
}

func (b *writeBuffer) signal() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *writeBuffer) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
}

func (b *writeBuffer) current() *flush {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}

func (b *writeBuffer) isFull(f *flush) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return f.full
}

// take detaches the open flush.
func (b *writeBuffer) take() *flush {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.cur
	b.cur = nil
	return f
}

// add copies batch into the open flush (so the caller may reuse Raw as soon
// as Append returns, even on cancellation), waiting while it is full. The
// copy is the only one the write path makes: the object is written from
// these slices and the cache keeps them.
func (b *writeBuffer) add(ctx context.Context, k partitionKey, tp storage.TopicPartition, batch storage.Batch) (*flush, *pendingBatch, error) {
	size := len(batch.Raw)
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, nil, storage.ErrClosed
		}
		if b.cur == nil {
			b.cur = newFlush()
			b.signal()
		}
		f := b.cur
		if f.bytes > 0 && f.bytes+size > b.maxBytes {
			f.full = true
			b.mu.Unlock()
			b.signal()
			select {
			case <-f.sealed:
				continue
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		}
		g, ok := f.byKey[k]
		if !ok {
			g = &partitionBatches{key: k, tp: tp}
			f.byKey[k] = g
			f.groups = append(f.groups, g)
		}
		pb := &pendingBatch{batch: batch, lastDelta: batch.NumRecords - 1}
		pb.batch.Raw = bytes.Clone(batch.Raw)
		g.batches = append(g.batches, pb)
		f.bytes += size
		b.backlog.Add(float64(size))
		if f.bytes >= b.maxBytes {
			f.full = true
			b.signal()
		}
		b.mu.Unlock()
		return f, pb, nil
	}
}

// runFlusher seals flushes and starts their uploads until Close.
func (s *Store) runFlusher() {
	defer close(s.commits)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-s.buf.kick:
		case <-s.stopping:
			// Appends are refused now; send what is left.
			s.flushSlots <- struct{}{}
			s.seal()
			return
		}
		f := s.buf.current()
		if f == nil {
			continue
		}
		s.linger(f, timer)
		select {
		case s.flushSlots <- struct{}{}:
		case <-s.stopping:
			s.flushSlots <- struct{}{} // the committer keeps freeing slots
		}
		s.seal()
	}
}

// linger waits until f is full, its linger is over, or the store stops.
func (s *Store) linger(f *flush, timer *time.Timer) {
	deadline := f.opened.Add(s.cfg.Linger)
	for !s.buf.isFull(f) {
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		timer.Reset(wait)
		select {
		case <-timer.C:
			return
		case <-s.buf.kick:
		case <-s.stopping:
			return
		}
	}
}

// seal lays out the open flush as a WAL object, starts its upload and queues
// it for commit. The caller holds a flush slot, which the committer frees.
func (s *Store) seal() {
	f := s.buf.take()
	if f == nil {
		<-s.flushSlots
		return
	}
	close(f.sealed)
	now := time.Now()
	f.appendTime = now.UnixMilli()
	var (
		parts [][]byte
		pos   int64
	)
	for _, g := range f.groups {
		for _, pb := range g.batches {
			if pb.batch.LogAppendTime {
				setLogAppendTime(pb.batch.Raw, f.appendTime)
			}
			pb.pos = pos
			pos += int64(len(pb.batch.Raw))
			parts = append(parts, pb.batch.Raw)
		}
	}
	f.uploaded = make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(f.uploaded)
		ctx, cancel := context.WithTimeout(s.bg, uploadTimeout)
		defer cancel()
		f.objectKey, f.uploadErr = s.objects.put(ctx, parts)
	}()
	s.commits <- f // never blocks: commits has a place per slot
}

// runCommitter commits sealed flushes in order until the flusher stops.
func (s *Store) runCommitter() {
	for f := range s.commits {
		<-f.uploaded
		if f.uploadErr != nil {
			// A failed upload may leave an object behind: GC deletes it as
			// an orphan once older than OrphanGrace.
			s.failFlush(f, f.uploadErr)
		} else {
			s.commitFlush(f)
		}
		<-s.flushSlots
	}
}

func (s *Store) failFlush(f *flush, err error) {
	s.log.Error("flush failed", "object", f.objectKey, "bytes", f.bytes, "err", err)
	if !errors.Is(err, storage.ErrUnavailable) {
		// Whatever failed (the metadata DB, an upload), nothing was
		// acknowledged and a retry may succeed.
		err = fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	for _, g := range f.groups {
		for _, pb := range g.batches {
			pb.result, pb.err = storage.AppendResult{}, err
		}
	}
	s.buf.backlog.Sub(float64(f.bytes))
	close(f.done)
}
