package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// committedPartition is what a commit changed in one partition, applied to
// the in-memory index once the transaction is durable.
type committedPartition struct {
	group    *partitionBatches
	next     int64
	logStart int64
	chunks   []chunkRef
	data     []chunkData // of each chunk, for the cache
}

// commitFlush runs the metadata transaction of an uploaded flush, updates
// the in-memory index and cache, answers the Appends and wakes watchers.
func (s *Store) commitFlush(f *flush) {
	var committed []committedPartition
	err := s.db.inTx(s.bg, func(tx *sql.Tx) error {
		var err error
		committed, err = s.commitTx(s.bg, tx, f)
		return err
	})
	if err != nil {
		s.failFlush(f, fmt.Errorf("commit wal object %s: %w", f.objectKey, err))
		return
	}
	touched := make([]storage.TopicPartition, 0, len(committed))
	for _, c := range committed {
		s.parts.get(c.group.key).applyCommit(c.next, c.logStart, c.chunks)
		for i, ch := range c.chunks {
			s.cache.put(chunkKey{ch.objectKey, ch.pos}, c.data[i])
		}
		if len(c.chunks) > 0 {
			touched = append(touched, c.group.tp)
		}
	}
	close(f.done)
	s.watches.notify(touched...)
}

// commitTx checks producer sequences, assigns offsets and records chunks for
// every partition of f. Per-batch failures are left in the batches; an
// error return fails the whole flush.
func (s *Store) commitTx(ctx context.Context, tx *sql.Tx, f *flush) ([]committedPartition, error) {
	advance := tx.StmtContext(ctx, s.db.advancePartition)
	insertChunk := tx.StmtContext(ctx, s.db.insertChunk)
	selectProducer := tx.StmtContext(ctx, s.db.selectProducer)
	upsertProducer := tx.StmtContext(ctx, s.db.upsertProducer)
	now := time.Now().UnixMilli()

	committed := make([]committedPartition, 0, len(f.groups))
	for _, g := range f.groups {
		producers, records, err := checkSequences(ctx, selectProducer, g)
		if err != nil {
			return nil, err
		}
		var next, logStart int64
		err = advance.QueryRowContext(ctx, records, g.key.topicID, g.key.partition).Scan(&next, &logStart)
		if errors.Is(err, sql.ErrNoRows) {
			// Deleted since Append resolved it.
			s.routes.drop(clusterTopic{g.tp.Cluster, g.tp.Topic})
			for _, pb := range g.batches {
				pb.err = storage.ErrUnknownTopic
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("advance partition %s/%d: %w", g.key.topicID, g.key.partition, err)
		}

		chunks, data, err := assignOffsets(g, f, next-records, logStart)
		if err != nil {
			return nil, err
		}
		for _, c := range chunks {
			if _, err := insertChunk.ExecContext(ctx, g.key.topicID, g.key.partition, c.base, c.last,
				c.objectKey, c.pos, c.length, c.firstTimestamp, c.maxTimestamp); err != nil {
				return nil, fmt.Errorf("insert chunk of %s/%d: %w", g.key.topicID, g.key.partition, err)
			}
		}
		for _, pb := range g.batches {
			if pb.dupOf != nil {
				pb.result, pb.err = pb.dupOf.result(logStart), storage.ErrDuplicateSequence
			}
		}
		for id, st := range producers {
			if st == nil || !st.dirty {
				continue
			}
			if _, err := upsertProducer.ExecContext(ctx, g.key.topicID, g.key.partition, id,
				int32(st.epoch), st.lastSeq, st.encodeRecent(), now); err != nil {
				return nil, fmt.Errorf("save producer %d state: %w", id, err)
			}
		}
		committed = append(committed, committedPartition{group: g, next: next, logStart: logStart, chunks: chunks, data: data})
	}
	return committed, nil
}

// checkSequences decides, in order, about each batch of g: accepted,
// duplicate (dupOf set) or rejected (err set). It returns the producer
// states touched and the number of records accepted.
func checkSequences(ctx context.Context, selectProducer *sql.Stmt, g *partitionBatches) (map[int64]*producerState, int64, error) {
	var (
		producers map[int64]*producerState
		records   int64
	)
	for _, pb := range g.batches {
		pb.accepted, pb.dupOf, pb.err = false, nil, nil
		b := pb.batch
		if b.ProducerID < 0 {
			pb.accepted = true
			records += int64(b.NumRecords)
			continue
		}
		if producers == nil {
			producers = map[int64]*producerState{}
		}
		st, ok := producers[b.ProducerID]
		if !ok {
			var err error
			if st, err = loadProducer(ctx, selectProducer, g.key, b.ProducerID); err != nil {
				return nil, 0, err
			}
			producers[b.ProducerID] = st
		}
		lastSeq := lastSequence(b.BaseSequence, pb.lastDelta)
		dup, err := st.check(b.ProducerEpoch, b.BaseSequence, lastSeq)
		switch {
		case err != nil:
			pb.err = err
		case dup != nil:
			pb.dupOf = dup
		default:
			if st == nil {
				st = &producerState{epoch: b.ProducerEpoch}
				producers[b.ProducerID] = st
			}
			st.accept(b.ProducerEpoch, b.BaseSequence, lastSeq, pb)
			pb.accepted = true
			records += int64(b.NumRecords)
		}
	}
	return producers, records, nil
}

// assignOffsets gives the accepted batches of g consecutive offsets from
// base and returns one chunk per run of accepted batches adjacent in the
// object, with the chunks' bytes.
func assignOffsets(g *partitionBatches, f *flush, base, logStart int64) ([]chunkRef, []chunkData, error) {
	var (
		chunks []chunkRef
		data   []chunkData
		open   bool // the last chunk can still grow
	)
	offset := base
	for _, pb := range g.batches {
		if !pb.accepted {
			open = false
			continue
		}
		raw := pb.batch.Raw
		h, err := parseBatchHeader(raw)
		if err != nil {
			return nil, nil, fmt.Errorf("batch of %s/%d: %w", g.key.topicID, g.key.partition, err)
		}
		first := h.firstTimestamp
		pb.result = storage.AppendResult{BaseOffset: offset, LogAppendTime: -1, LogStartOffset: logStart}
		if pb.batch.LogAppendTime {
			first = f.appendTime
			pb.result.LogAppendTime = f.appendTime
		}
		last := offset + int64(pb.lastDelta)
		if open {
			c := &chunks[len(chunks)-1]
			c.last = last
			c.length += int64(len(raw))
			c.maxTimestamp = max(c.maxTimestamp, h.maxTimestamp)
			data[len(data)-1] = append(data[len(data)-1], raw)
		} else {
			chunks = append(chunks, chunkRef{
				base: offset, last: last, objectKey: f.objectKey,
				pos: pb.pos, length: int64(len(raw)),
				firstTimestamp: first, maxTimestamp: h.maxTimestamp,
			})
			data = append(data, chunkData{raw})
			open = true
		}
		offset = last + 1
	}
	return chunks, data, nil
}
