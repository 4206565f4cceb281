package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Append implements storage.Log. It returns once the batch is in a WAL
// object and committed, or failed. If ctx ends first, Append returns
// ctx.Err() but the batch may still commit (like a produce timeout).
func (s *Store) Append(ctx context.Context, tp storage.TopicPartition, batch storage.Batch) (storage.AppendResult, error) {
	wait, err := s.Enqueue(ctx, tp, batch)
	if err != nil {
		return storage.AppendResult{}, err
	}
	return wait(ctx)
}

var _ storage.Enqueuer = (*Store)(nil)

// Enqueue implements storage.Enqueuer: the batch joins the write buffer,
// whose flushes commit in the order batches joined it.
func (s *Store) Enqueue(ctx context.Context, tp storage.TopicPartition, batch storage.Batch) (func(context.Context) (storage.AppendResult, error), error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkBatch(batch); err != nil {
		return nil, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return nil, err
	}
	f, pb, err := s.buf.add(ctx, k, tp, batch)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (storage.AppendResult, error) {
		select {
		case <-f.done:
			return pb.result, pb.err
		case <-ctx.Done():
			return storage.AppendResult{}, ctx.Err()
		}
	}, nil
}

// chunksPerQuery is how many chunks a read asks the DB for at once when the
// in-memory tail index does not reach back far enough.
const chunksPerQuery = 64

// Read implements storage.Log.
func (s *Store) Read(ctx context.Context, tp storage.TopicPartition, offset int64, maxBytes int32) (storage.ReadResult, error) {
	if err := s.checkOpen(); err != nil {
		return storage.ReadResult{}, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return storage.ReadResult{}, err
	}
	ps, err := s.partition(ctx, k)
	if err != nil {
		return storage.ReadResult{}, err
	}
	ps.mu.Lock()
	if (offset < ps.logStart || offset > ps.next) && s.shared() {
		// Another broker may have moved the log on: ask the DB before
		// answering out of range (sharedtail.go).
		if _, err := s.reload(ctx, k, ps); err != nil {
			ps.mu.Unlock()
			return storage.ReadResult{}, err
		}
	}
	logStart, next := ps.logStart, ps.next
	ps.mu.Unlock()
	res := storage.ReadResult{HighWatermark: next, LastStableOffset: next, LogStartOffset: logStart}
	if offset < logStart || offset > next {
		return res, fmt.Errorf("%w: %d not in [%d, %d]", storage.ErrOffsetOutOfRange, offset, logStart, next)
	}
	for attempt := 1; ; attempt++ {
		out, err := s.readFrom(ctx, k, ps, offset, next, int64(maxBytes))
		if errors.Is(err, errObjectNotFound) && attempt < 3 {
			// The chunks looked up were compacted and their objects
			// collected since (by another broker, or after a long
			// pause): look them up again.
			ps.mu.Lock()
			ps.forgetRecent()
			ps.mu.Unlock()
			continue
		}
		if err != nil {
			return storage.ReadResult{}, fmt.Errorf("read %s/%d from %d: %w", tp.Topic, tp.Partition, offset, err)
		}
		res.Records = out
		return res, nil
	}
}

// readFrom collects whole batches from offset, up to want bytes (the first
// batch always), from the tail cache, the read-ahead cache, the local disk
// tier or object storage, in that order.
func (s *Store) readFrom(ctx context.Context, k partitionKey, ps *partitionState, offset, next, want int64) ([]byte, error) {
	var out []byte
	for pos := offset; pos < next; {
		chunks, err := s.chunksFrom(ctx, k, ps, pos, want-int64(len(out)))
		if err != nil {
			return nil, err
		}
		if len(chunks) == 0 {
			break // the partition was deleted or truncated under us
		}
		if out == nil {
			var size int64
			for _, c := range chunks {
				size += c.length
			}
			out = make([]byte, 0, max(min(size, want), chunks[0].length))
		}
		full, before := false, pos
		for i, c := range chunks {
			data, ok := s.cache.get(chunkKey{c.objectKey, c.pos})
			s.metrics.cacheLookup(cacheMemory, ok)
			stamped := c.stamped
			if !ok {
				data, ok = s.ahead.get(chunkKey{c.objectKey, c.pos})
				s.metrics.cacheLookup(cacheReadAhead, ok)
				if ok {
					s.readAheadAfter(chunks[i+1:])
				}
			}
			if !ok && s.local != nil {
				data, ok = s.local.lookup(k, max(pos, c.base), c.last)
				s.metrics.cacheLookup(cacheLocal, ok)
				stamped = true
			}
			if ok {
				out, pos, full, err = appendBatches(out, data, c.base, stamped, pos, want)
			} else {
				// Catching up: read straight into the response and keep
				// it out of the tail cache; fetch the next blocks
				// meanwhile.
				if c.stamped {
					s.readAheadAfter(chunks[i+1:])
				}
				start := len(out)
				out = slices.Grow(out, int(c.length))[:start+int(c.length)]
				if err := s.objects.readRange(ctx, c.objectKey, c.pos, out[start:]); err != nil {
					return nil, err
				}
				out, pos, full, err = keepBatches(out, start, c.base, c.stamped, pos, want)
			}
			if err != nil {
				return nil, fmt.Errorf("read chunk %s@%d: %w", c.objectKey, c.pos, err)
			}
			if full {
				break
			}
		}
		if full || pos == before {
			break
		}
	}
	return out, nil
}

// appendBatches copies the batches of a chunk that hold offsets >= from onto
// out, stamping their offsets, while out stays within want bytes (the first
// batch is always taken). It returns the offset after the last batch taken
// and whether want was reached.
func appendBatches(out []byte, chunk chunkData, base int64, stamped bool, from, want int64) ([]byte, int64, bool, error) {
	full := false
	err := chunk.walk(base, stamped, func(batch []byte, h batchHeader, base int64) bool {
		last := base + int64(h.lastOffsetDelta)
		if last < from {
			return true
		}
		if len(out) > 0 && int64(len(out)+len(batch)) > want {
			full = true
			return false
		}
		start := len(out)
		out = append(out, batch...)
		stampBatch(out[start:], base)
		from = last + 1
		return true
	})
	return out, from, full || int64(len(out)) >= want, err
}

// keepBatches is appendBatches for a chunk already read onto the end of
// out at start: it drops the batches before from and after want, in place.
func keepBatches(out []byte, start int, base int64, stamped bool, from, want int64) ([]byte, int64, bool, error) {
	full := false
	kept := start
	err := chunkData{out[start:]}.walk(base, stamped, func(batch []byte, h batchHeader, base int64) bool {
		last := base + int64(h.lastOffsetDelta)
		if last < from {
			return true
		}
		if kept > 0 && int64(kept+len(batch)) > want {
			full = true
			return false
		}
		n := copy(out[kept:], batch) // batch lies at or after kept: a forward move
		stampBatch(out[kept:kept+n], base)
		kept += n
		from = last + 1
		return true
	})
	return out[:kept], from, full || int64(kept) >= want, err
}

// chunksFrom returns chunks from the one holding offset on, from the tail
// index when it reaches back that far, else from the DB.
func (s *Store) chunksFrom(ctx context.Context, k partitionKey, ps *partitionState, offset, wantBytes int64) ([]chunkRef, error) {
	ps.mu.Lock()
	if ps.covers(offset) {
		chunks := ps.chunksFrom(offset, wantBytes)
		ps.mu.Unlock()
		return chunks, nil
	}
	ps.mu.Unlock()
	rows, err := s.db.selectChunksFrom.QueryContext(ctx, k.topicID, k.partition, offset, chunksPerQuery)
	if err != nil {
		return nil, fmt.Errorf("look up chunks of %s/%d from %d: %w", k.topicID, k.partition, offset, err)
	}
	return collectChunks(rows)
}

func collectChunks(rows *sql.Rows) ([]chunkRef, error) {
	defer rows.Close()
	var chunks []chunkRef
	for rows.Next() {
		c, err := scanChunk(rows)
		if err != nil {
			return nil, fmt.Errorf("scan chunk: %w", err)
		}
		chunks = append(chunks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan chunks: %w", err)
	}
	return chunks, nil
}

// chunkData returns the bytes of a chunk from the cache or object storage.
// They are shared: copy before modifying.
func (s *Store) chunkData(ctx context.Context, c chunkRef) (chunkData, error) {
	key := chunkKey{c.objectKey, c.pos}
	if data, ok := s.cache.get(key); ok {
		return data, nil
	}
	if data, ok := s.ahead.get(key); ok {
		return data, nil
	}
	data := make([]byte, c.length)
	if err := s.objects.readRange(ctx, c.objectKey, c.pos, data); err != nil {
		return nil, err
	}
	s.cache.put(key, chunkData{data})
	return chunkData{data}, nil
}

// Offsets implements storage.Log.
func (s *Store) Offsets(ctx context.Context, tp storage.TopicPartition) (start, end int64, err error) {
	if err := s.checkOpen(); err != nil {
		return 0, 0, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return 0, 0, err
	}
	ps, err := s.freshPartition(ctx, k, sharedPollInterval)
	if err != nil {
		return 0, 0, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.logStart, ps.next, nil
}

// OffsetForTime implements storage.Log exactly, as Kafka does: the first
// chunk, then batch, whose max timestamp reaches ts, then the first record
// in it (decompressed if need be) whose timestamp does.
func (s *Store) OffsetForTime(ctx context.Context, tp storage.TopicPartition, ts int64) (offset, timestamp int64, err error) {
	k, logStart, err := s.logStart(ctx, tp)
	if err != nil {
		return -1, -1, err
	}
	for from := logStart; ; {
		rows, err := s.db.read.QueryContext(ctx, `SELECT `+chunkColumns+` FROM chunks
			WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND max_timestamp >= $4
			ORDER BY last_offset LIMIT 1`, k.topicID, k.partition, from, ts)
		if err != nil {
			return -1, -1, fmt.Errorf("offset for time %d in %s/%d: %w", ts, tp.Topic, tp.Partition, err)
		}
		chunks, err := collectChunks(rows)
		if err != nil || len(chunks) == 0 {
			return -1, -1, err
		}
		c := chunks[0]
		offset, timestamp, err = s.findRecord(ctx, c, logStart, func(rts int64) bool { return rts >= ts })
		if err != nil || offset >= 0 {
			return offset, timestamp, err
		}
		from = c.last + 1 // a producer claimed a max timestamp no record has
	}
}

// MaxTimestamp implements storage.Log: the earliest record carrying the
// largest timestamp.
func (s *Store) MaxTimestamp(ctx context.Context, tp storage.TopicPartition) (offset, timestamp int64, err error) {
	k, logStart, err := s.logStart(ctx, tp)
	if err != nil {
		return -1, -1, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+chunkColumns+` FROM chunks
		WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3
		ORDER BY max_timestamp DESC, last_offset ASC LIMIT 1`, k.topicID, k.partition, logStart)
	if err != nil {
		return -1, -1, fmt.Errorf("max timestamp of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	chunks, err := collectChunks(rows)
	if err != nil || len(chunks) == 0 {
		return -1, -1, err
	}
	c := chunks[0]
	offset, timestamp, err = s.findRecord(ctx, c, logStart, func(rts int64) bool { return rts >= c.maxTimestamp })
	if err == nil && offset < 0 {
		// The record is below the log start; the chunk still holds later ones.
		return c.base, c.maxTimestamp, nil
	}
	return offset, timestamp, err
}

// findRecord returns the first record of chunk c at or after logStart whose
// timestamp matches, or offset -1.
func (s *Store) findRecord(ctx context.Context, c chunkRef, logStart int64, match func(int64) bool) (offset, timestamp int64, err error) {
	data, err := s.chunkData(ctx, c)
	if err != nil {
		return -1, -1, err
	}
	offset, timestamp = -1, -1
	var recErr error
	walkErr := data.walk(c.base, c.stamped, func(batch []byte, h batchHeader, base int64) bool {
		if base+int64(h.lastOffsetDelta) < logStart || !match(h.maxTimestamp) {
			return true
		}
		recErr = forEachRecord(batch, h, func(delta int32, ts int64) bool {
			if o := base + int64(delta); o >= logStart && match(ts) {
				offset, timestamp = o, ts
				return false
			}
			return true
		})
		return recErr == nil && offset < 0
	})
	if err := errors.Join(walkErr, recErr); err != nil {
		return -1, -1, fmt.Errorf("scan chunk %s@%d: %w", c.objectKey, c.pos, err)
	}
	return offset, timestamp, nil
}

func (s *Store) logStart(ctx context.Context, tp storage.TopicPartition) (partitionKey, int64, error) {
	if err := s.checkOpen(); err != nil {
		return partitionKey{}, 0, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return partitionKey{}, 0, err
	}
	ps, err := s.partition(ctx, k)
	if err != nil {
		return partitionKey{}, 0, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return k, ps.logStart, nil
}

// DeleteRecords implements storage.Log. Chunks and segments wholly below
// the new log start are forgotten and their objects queued for GC.
func (s *Store) DeleteRecords(ctx context.Context, tp storage.TopicPartition, before int64) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return 0, err
	}
	if _, err := s.partition(ctx, k); err != nil {
		return 0, err
	}
	return s.truncate(ctx, tp, k, before)
}

// Watch implements storage.Log.
func (s *Store) Watch(tp storage.TopicPartition) <-chan struct{} {
	return s.watches.watch(tp)
}

// AllocateProducerID implements storage.Log.
func (s *Store) AllocateProducerID(ctx context.Context) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var next int64
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE id_sequences SET next_value = next_value + 1
			WHERE name = 'producer_id' RETURNING next_value`).Scan(&next)
	})
	if err != nil {
		return 0, fmt.Errorf("allocate producer id: %w", err)
	}
	return next - 1, nil
}
