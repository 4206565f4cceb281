package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
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
			if s.local != nil {
				s.local.add(c.group.key, ch, c.data[i])
			}
		}
		if len(c.chunks) > 0 {
			touched = append(touched, c.group.tp)
		}
	}
	s.buf.backlog.Sub(float64(f.bytes))
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

	if err := s.lockPartitions(ctx, tx, f.groups); err != nil {
		return nil, err
	}
	if s.tooOldToCommit(f.objectKey) {
		// GC deletes unreferenced objects once they are older than the
		// orphan grace; committing one this late might point at an
		// object that is gone.
		return nil, fmt.Errorf("%w: wal object %s is too old to commit", storage.ErrUnavailable, f.objectKey)
	}
	committed := make([]committedPartition, 0, len(f.groups))
	txns := txnCheckCache{}
	for _, g := range f.groups {
		if g.transactional() {
			if err := txns.check(ctx, tx, g); err != nil {
				return nil, err
			}
		}
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
			if err := insertChunkRow(ctx, insertChunk, g.key, c); err != nil {
				return nil, fmt.Errorf("insert chunk of %s/%d: %w", g.key.topicID, g.key.partition, err)
			}
		}
		for _, pb := range g.batches {
			if pb.dupOf != nil {
				pb.result, pb.err = pb.dupOf.result(logStart), storage.ErrDuplicateSequence
			}
		}
		if g.transactional() {
			if err := recordTxnBatches(ctx, tx, g); err != nil {
				return nil, fmt.Errorf("transactional index of %s/%d: %w", g.key.topicID, g.key.partition, err)
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

// transactional reports whether some batch of g belongs to a transaction.
func (g *partitionBatches) transactional() bool {
	for _, pb := range g.batches {
		if pb.batch.Transactional {
			return true
		}
	}
	return false
}

// lockPartitions takes the row locks of the partitions of a flush, in one
// order so that brokers committing to the same partitions cannot deadlock,
// before their producer states are read: with PostgreSQL, sequence checks
// and offset assignment are then atomic per partition across brokers.
// SQLite transactions are serial already.
func (s *Store) lockPartitions(ctx context.Context, tx *sql.Tx, groups []*partitionBatches) error {
	if s.db.dialect.forUpdate == "" {
		return nil
	}
	keys := make([]partitionKey, 0, len(groups))
	for _, g := range groups {
		keys = append(keys, g.key)
	}
	slices.SortFunc(keys, comparePartitionKeys)
	for _, k := range keys {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM partitions WHERE topic_id = $1 AND partition_id = $2`+
			s.db.dialect.forUpdate, k.topicID, k.partition).Scan(&one)
		if err != nil && !errors.Is(err, sql.ErrNoRows) { // a deleted topic is handled later
			return fmt.Errorf("lock partition %s/%d: %w", k.topicID, k.partition, err)
		}
	}
	return nil
}

func comparePartitionKeys(a, b partitionKey) int {
	if c := strings.Compare(a.topicID, b.topicID); c != 0 {
		return c
	}
	return int(a.partition) - int(b.partition)
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
		if pb.txnErr != nil {
			pb.err = pb.txnErr
			continue
		}
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
		if b.Control {
			// A transaction marker carries no sequence: it is checked
			// for its epoch only, and may raise it (an abort that fences
			// the producer).
			if st != nil && b.ProducerEpoch < st.epoch {
				pb.err = storage.ErrInvalidProducerEpoch
				continue
			}
			if st == nil {
				st = &producerState{epoch: b.ProducerEpoch, lastSeq: -1}
				producers[b.ProducerID] = st
			}
			st.acceptMarker(b.ProducerEpoch)
			pb.accepted = true
			records += int64(b.NumRecords)
			continue
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
				appendTime: f.appendTime,
			})
			data = append(data, chunkData{raw})
			open = true
		}
		offset = last + 1
	}
	return chunks, data, nil
}
