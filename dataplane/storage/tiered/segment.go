package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Segments are per-partition objects the compactor writes from WAL chunks
// (and from older segments, when it merges or cleans them): batches back to
// back, each stamped with its offsets. Each segment has a row in the
// segments table and is cut into blocks of about SegmentIndexBytes, one
// chunk row each: the blocks are the segment's sparse offset index (a read
// seeks the block holding an offset and reads that byte range) and its time
// index (their max timestamps). Nothing in the object itself needs
// parsing before a read.

// segmentRow is one row of the segments table.
type segmentRow struct {
	base, last   int64
	objectKey    string
	size         int64
	maxTimestamp int64
	firstAppend  int64 // Unix ms
	sealed       bool
}

// queryer is what reads need of a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const segmentColumns = `base_offset, last_offset, object_key, size_bytes, max_timestamp, first_append_ms, sealed`

// loadSegments returns the segments of k in offset order.
func loadSegments(ctx context.Context, q queryer, k partitionKey) ([]segmentRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+segmentColumns+` FROM segments
		WHERE topic_id = $1 AND partition_id = $2 ORDER BY last_offset`, k.topicID, k.partition)
	if err != nil {
		return nil, fmt.Errorf("load segments of %s/%d: %w", k.topicID, k.partition, err)
	}
	defer rows.Close()
	var out []segmentRow
	for rows.Next() {
		var (
			seg    segmentRow
			sealed int
		)
		if err := rows.Scan(&seg.base, &seg.last, &seg.objectKey, &seg.size, &seg.maxTimestamp, &seg.firstAppend, &sealed); err != nil {
			return nil, fmt.Errorf("load segments of %s/%d: %w", k.topicID, k.partition, err)
		}
		seg.sealed = sealed != 0
		out = append(out, seg)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load segments of %s/%d: %w", k.topicID, k.partition, err)
	}
	return out, nil
}

// chunksBetween returns the chunk rows of k whose last offset is in [from,
// through], in offset order.
func chunksBetween(ctx context.Context, q queryer, k partitionKey, from, through int64) ([]chunkRef, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+chunkColumns+` FROM chunks
		WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND last_offset <= $4
		ORDER BY last_offset`, k.topicID, k.partition, from, through)
	if err != nil {
		return nil, fmt.Errorf("chunks of %s/%d in [%d, %d]: %w", k.topicID, k.partition, from, through, err)
	}
	return collectChunks(rows)
}

// sourceReadAhead is how many chunks a compaction reads ahead of the one
// it is writing out.
const sourceReadAhead = 4

// streamChunks calls fn with the bytes of each chunk in order, reading up
// to sourceReadAhead chunks ahead. Bytes come from the tail cache when it
// has them, else from object storage (and are not cached: compaction must
// not push the tail out). Memory is bounded by the read-ahead.
func (s *Store) streamChunks(ctx context.Context, chunks []chunkRef, fn func(c chunkRef, data chunkData) error) error {
	if len(chunks) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type fetched struct {
		data chunkData
		err  error
		done chan struct{}
	}
	slots := make(chan struct{}, sourceReadAhead)
	futures := make(chan *fetched, sourceReadAhead)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(futures)
		for _, c := range chunks {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			f := &fetched{done: make(chan struct{})}
			futures <- f // never blocks: a slot is held per future
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer close(f.done)
				if data, ok := s.cache.get(chunkKey{c.objectKey, c.pos}); ok {
					f.data = data
					return
				}
				buf := make([]byte, c.length)
				if f.err = s.objects.readRange(ctx, c.objectKey, c.pos, buf); f.err == nil {
					f.data = chunkData{buf}
				}
			}()
		}
	}()
	defer wg.Wait()
	i := 0
	for f := range futures {
		<-f.done
		<-slots
		if f.err != nil {
			cancel()
			for range futures { // let the feeder finish
			}
			return f.err
		}
		if err := fn(chunks[i], f.data); err != nil {
			cancel()
			for range futures {
			}
			return err
		}
		i++
	}
	if i != len(chunks) {
		return ctx.Err()
	}
	return nil
}

// builtSegment is a segment object written and not yet committed.
type builtSegment struct {
	row    segmentRow
	blocks []chunkRef
}

// segmentBuilder writes batches of one partition into new segment objects,
// cutting them at segment.bytes and their blocks at SegmentIndexBytes. It
// holds one block in memory.
type segmentBuilder struct {
	s          *Store
	ctx        context.Context
	k          partitionKey
	maxBytes   int64
	blockBytes int64

	sink    objectSink
	cur     *builtSegment
	written int64 // bytes of cur written to the sink

	block    []byte
	blockRef chunkRef

	done []builtSegment
	// committedKeys are the objects this builder wrote out, to delete if
	// the build is abandoned before it is swapped in.
	committedKeys []string
}

func (s *Store) newSegmentBuilder(ctx context.Context, k partitionKey, segmentBytes int64) *segmentBuilder {
	return &segmentBuilder{s: s, ctx: ctx, k: k, maxBytes: segmentBytes, blockBytes: s.cfg.SegmentIndexBytes}
}

// add appends one batch whose offsets start at base and whose data was
// first committed at appendTime.
func (b *segmentBuilder) add(batch []byte, h batchHeader, base, appendTime int64) error {
	size := int64(len(batch))
	if b.cur != nil && b.cur.row.size > 0 && b.cur.row.size+size > b.maxBytes {
		if err := b.finishSegment(true); err != nil {
			return err
		}
	}
	if b.cur == nil {
		key := newSegmentKey(b.k, base, b.s.now())
		sink, err := b.s.objects.create(b.ctx, key)
		if err != nil {
			return err
		}
		b.sink, b.written = sink, 0
		b.cur = &builtSegment{row: segmentRow{base: base, objectKey: key, maxTimestamp: -1, firstAppend: appendTime}}
	}
	if len(b.block) > 0 && int64(len(b.block))+size > b.blockBytes {
		if err := b.flushBlock(); err != nil {
			return err
		}
	}
	last := base + int64(h.lastOffsetDelta)
	if len(b.block) == 0 {
		b.blockRef = chunkRef{
			base: base, objectKey: b.cur.row.objectKey, pos: b.written,
			firstTimestamp: h.firstTimestamp, maxTimestamp: h.maxTimestamp,
			stamped: true, appendTime: appendTime,
		}
	}
	start := len(b.block)
	b.block = append(b.block, batch...)
	stampBatch(b.block[start:], base)
	b.blockRef.last = last
	b.blockRef.maxTimestamp = max(b.blockRef.maxTimestamp, h.maxTimestamp)
	b.blockRef.appendTime = min(b.blockRef.appendTime, appendTime)

	seg := &b.cur.row
	seg.last = last
	seg.size += size
	seg.maxTimestamp = max(seg.maxTimestamp, h.maxTimestamp)
	seg.firstAppend = min(seg.firstAppend, appendTime)
	return nil
}

func (b *segmentBuilder) flushBlock() error {
	if len(b.block) == 0 {
		return nil
	}
	if _, err := b.sink.Write(b.block); err != nil {
		return err
	}
	b.blockRef.length = int64(len(b.block))
	b.written += b.blockRef.length
	b.cur.blocks = append(b.cur.blocks, b.blockRef)
	b.block = b.block[:0]
	return nil
}

func (b *segmentBuilder) finishSegment(sealed bool) error {
	if err := b.flushBlock(); err != nil {
		return err
	}
	sink := b.sink
	b.sink = nil
	if err := sink.commit(); err != nil {
		return err
	}
	b.committedKeys = append(b.committedKeys, b.cur.row.objectKey)
	b.cur.row.sealed = sealed
	b.done = append(b.done, *b.cur)
	b.cur = nil
	return hook("segment-committed")
}

// finish writes out the last segment and returns all of them.
func (b *segmentBuilder) finish() ([]builtSegment, error) {
	if b.cur != nil {
		if err := b.finishSegment(b.cur.row.size >= b.maxBytes); err != nil {
			return nil, err
		}
	}
	return b.done, nil
}

// abandon discards everything written: the open object is aborted and the
// ones already written are deleted (they are referenced by nothing; if
// this fails, orphan GC removes them).
func (b *segmentBuilder) abandon() {
	if b.sink != nil {
		b.sink.abort()
		b.sink = nil
	}
	b.s.deleteUnreferenced(b.committedKeys)
	b.committedKeys = nil
}

// deleteUnreferenced deletes objects known never to have been committed,
// best effort: what fails is left to orphan GC.
func (s *Store) deleteUnreferenced(keys []string) {
	for _, key := range keys {
		if err := s.objects.delete(s.bg, key); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("delete abandoned segment", "object", key, "err", err)
		}
	}
}
