package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// producerWindow is how many recent batches per producer and partition are
// remembered for duplicate detection: Kafka allows five in flight.
const producerWindow = 5

// producerState is the idempotence state of one producer on one partition,
// as Kafka's ProducerStateManager keeps it.
type producerState struct {
	epoch   int16
	lastSeq int32
	recent  []producerEntry // oldest first, at most producerWindow
	dirty   bool            // changed in this transaction
}

// producerEntry is one remembered batch.
type producerEntry struct {
	firstSeq, lastSeq int32
	baseOffset        int64
	appendTime        int64
	// pending is the batch while it commits in the current flush; its
	// offset is known only after the partition advances.
	pending *pendingBatch
}

// lastSequence is the sequence of the last record of a batch; sequences
// wrap from MaxInt32 to 0.
func lastSequence(first, lastOffsetDelta int32) int32 {
	if first > math.MaxInt32-lastOffsetDelta {
		return lastOffsetDelta - (math.MaxInt32 - first) - 1
	}
	return first + lastOffsetDelta
}

func inSequence(lastSeq, nextSeq int32) bool {
	return nextSeq == lastSeq+1 || (lastSeq == math.MaxInt32 && nextSeq == 0)
}

// check decides about a batch of this producer: a duplicate of a remembered
// batch (returned), or an error, or acceptable (nil, nil). st is nil for a
// producer this partition has never seen, which may start at any sequence
// (its earlier batches may have been deleted).
func (st *producerState) check(epoch int16, firstSeq, lastSeq int32) (*producerEntry, error) {
	if st == nil {
		return nil, nil
	}
	if epoch == st.epoch {
		for _, e := range st.recent {
			if e.firstSeq == firstSeq && e.lastSeq == lastSeq {
				return &e, nil // a copy: the window shifts as batches are accepted
			}
		}
	}
	switch {
	case epoch < st.epoch:
		return nil, storage.ErrInvalidProducerEpoch
	case epoch > st.epoch:
		if firstSeq != 0 {
			return nil, fmt.Errorf("%w: new epoch %d must start at sequence 0, not %d",
				storage.ErrOutOfOrderSequence, epoch, firstSeq)
		}
	case !inSequence(st.lastSeq, firstSeq):
		return nil, fmt.Errorf("%w: expected %d, got %d", storage.ErrOutOfOrderSequence, st.lastSeq+1, firstSeq)
	}
	return nil, nil
}

// accept remembers an accepted batch.
func (st *producerState) accept(epoch int16, firstSeq, lastSeq int32, pb *pendingBatch) {
	if epoch != st.epoch {
		st.recent = st.recent[:0]
	}
	st.epoch, st.lastSeq, st.dirty = epoch, lastSeq, true
	if len(st.recent) == producerWindow {
		st.recent = append(st.recent[:0], st.recent[1:]...)
	}
	st.recent = append(st.recent, producerEntry{firstSeq: firstSeq, lastSeq: lastSeq, baseOffset: -1, pending: pb})
}

// acceptMarker records a transaction marker of the producer at epoch: a
// higher epoch starts the producer's sequences afresh.
func (st *producerState) acceptMarker(epoch int16) {
	if epoch != st.epoch {
		st.recent = st.recent[:0]
		st.lastSeq = -1
	}
	st.epoch, st.dirty = epoch, true
}

// result is the original answer to a remembered batch.
func (e *producerEntry) result(logStart int64) storage.AppendResult {
	if e.pending != nil {
		return storage.AppendResult{BaseOffset: e.pending.result.BaseOffset,
			LogAppendTime: e.pending.result.LogAppendTime, LogStartOffset: logStart}
	}
	return storage.AppendResult{BaseOffset: e.baseOffset, LogAppendTime: e.appendTime, LogStartOffset: logStart}
}

// encodeRecent stores the window as text, four integers per batch:
// "firstSeq lastSeq baseOffset appendTime ...". It is read and written for
// every idempotent producer in every flush, so it stays cheap.
func (st *producerState) encodeRecent() string {
	buf := make([]byte, 0, 64*len(st.recent))
	for i, e := range st.recent {
		if e.pending != nil {
			e.baseOffset, e.appendTime = e.pending.result.BaseOffset, e.pending.result.LogAppendTime
		}
		if i > 0 {
			buf = append(buf, ' ')
		}
		buf = strconv.AppendInt(buf, int64(e.firstSeq), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(e.lastSeq), 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, e.baseOffset, 10)
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, e.appendTime, 10)
	}
	return string(buf)
}

func decodeRecent(s string) ([]producerEntry, error) {
	fields := strings.Fields(s)
	if len(fields)%4 != 0 {
		return nil, fmt.Errorf("%d fields, want a multiple of 4", len(fields))
	}
	out := make([]producerEntry, 0, len(fields)/4)
	for i := 0; i < len(fields); i += 4 {
		var v [4]int64
		for j := range v {
			n, err := strconv.ParseInt(fields[i+j], 10, 64)
			if err != nil {
				return nil, err
			}
			v[j] = n
		}
		out = append(out, producerEntry{firstSeq: int32(v[0]), lastSeq: int32(v[1]), baseOffset: v[2], appendTime: v[3]})
	}
	return out, nil
}

// loadProducer reads a producer's state inside the commit transaction; nil
// when the partition has never seen it.
func loadProducer(ctx context.Context, stmt *sql.Stmt, k partitionKey, producerID int64) (*producerState, error) {
	var (
		st     producerState
		epoch  int32
		recent string
	)
	err := stmt.QueryRowContext(ctx, k.topicID, k.partition, producerID).Scan(&epoch, &st.lastSeq, &recent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load producer %d: %w", producerID, err)
	}
	st.epoch = int16(epoch)
	if st.recent, err = decodeRecent(recent); err != nil {
		return nil, fmt.Errorf("decode producer %d state: %w", producerID, err)
	}
	return &st, nil
}
