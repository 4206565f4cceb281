package tiered

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The log cleaner of cleanup.policy=compact, as Kafka's: the dirty section
// (from the cleaned_offset checkpoint to the cleanable end) is scanned into
// a map of each key's latest offset, then the log from its start to the
// cleanable end is rewritten keeping, per key, only the record at that
// offset (or, for keys the dirty section lacks, the one record the clean
// section holds). Offsets never change and order is kept; a batch that
// loses records keeps its base offset, last offset delta and producer
// fields, and is re-encoded with its codec. Tombstones (null values) are
// kept with a delete horizon (KIP-534: attribute bit 6, the horizon in the
// base timestamp, record timestamps kept through their deltas) set the
// first time the cleaner keeps them, and dropped by a cleaning after it.
// The record at the high watermark - 1 is always kept, so a fetch from any
// offset below the high watermark finds a batch.
//
// Data of aborted transactions (the partition's aborted index, in the
// metadata DB) is dropped by a cleaning and never shadows an older
// record of its key, as Kafka's cleaner discards it; transaction markers
// are kept.
//
// Only segments are cleaned (the WAL is the active segment), and of them
// only those whose newest record is older than min.compaction.lag.ms.
// Records without a key are kept (the broker refuses them for compacted
// topics; Kafka's cleaner would drop them).

// Batch attributes the cleaner reads or sets.
const (
	attrTransactional = 0x10
	attrControl       = 0x20
	attrDeleteHorizon = 0x40
)

// cleanDue reports whether the partition should be cleaned now: it has a
// dirty share of at least min.cleanable.dirty.ratio, dirty data older than
// max.compaction.lag.ms, or a tombstone whose delete horizon has passed.
func (j *partitionJob) cleanDue(nowMs int64) bool {
	if !j.policy.compact || len(j.segments) == 0 {
		return false
	}
	if j.horizon >= 0 && nowMs >= j.horizon {
		return true
	}
	end := j.cleanableEnd(nowMs)
	var clean, dirty int64
	overdue := false
	for _, seg := range j.segments {
		if seg.base >= end {
			break
		}
		if seg.last < j.cleaned {
			clean += seg.size
			continue
		}
		dirty += seg.size
		if nowMs-seg.firstAppend >= j.policy.maxCompactionLagMs {
			overdue = true
		}
	}
	if dirty == 0 {
		return false
	}
	return overdue || float64(dirty)/float64(clean+dirty) >= j.policy.minCleanableRatio
}

// cleanableEnd is the first offset the cleaner must not touch: the start
// of the first segment holding a record younger than min.compaction.lag.ms
// (when set: as in Kafka, a lag of 0 does not look at timestamps, which
// producers may set in the future), else the end of the segments.
func (j *partitionJob) cleanableEnd(nowMs int64) int64 {
	for _, seg := range j.segments {
		if j.policy.minCompactionLagMs > 0 && nowMs-seg.maxTimestamp < j.policy.minCompactionLagMs {
			return seg.base
		}
	}
	return j.segments[len(j.segments)-1].last + 1
}

// offsetMap maps a key's 128-bit hash to its latest offset in the dirty
// section. Two maphash seeds give the 128 bits: a collision (which would
// drop a record) needs both 64-bit hashes to collide.
type offsetMap struct {
	seeds   [2]maphash.Seed
	offsets map[[2]uint64]int64
	limit   int
	// aborted is the data that neither counts in the map nor survives.
	aborted abortedSpans
}

// offsetMapEntryBytes is what one entry costs, map overhead included.
const offsetMapEntryBytes = 64

func newOffsetMap(memory int64) *offsetMap {
	return &offsetMap{
		seeds:   [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()},
		offsets: map[[2]uint64]int64{},
		limit:   int(max(memory/offsetMapEntryBytes, 1024)),
	}
}

func (m *offsetMap) hash(key []byte) [2]uint64 {
	return [2]uint64{maphash.Bytes(m.seeds[0], key), maphash.Bytes(m.seeds[1], key)}
}

// roomFor reports whether n more keys surely fit.
func (m *offsetMap) roomFor(n int) bool { return len(m.offsets)+n <= m.limit }

// clean cleans the partition of j: see the comment at the top.
func (s *Store) clean(ctx context.Context, j *partitionJob, stats *CompactionStats) error {
	nowMs := s.now().UnixMilli()
	segs := j.segments
	end := j.cleanableEnd(nowMs)
	logStart, err := s.currentLogStart(ctx, j.key)
	if err != nil {
		return err
	}
	dirtyFrom := max(j.cleaned, logStart)
	keys := newOffsetMap(s.cfg.CleanerMemoryBytes)
	if keys.aborted, err = s.abortedSpans(ctx, j.key, logStart); err != nil {
		return err
	}
	cleanEnd := end
	if dirtyFrom < end {
		dirty, err := chunksBetween(ctx, s.db.read, j.key, dirtyFrom, end-1)
		if err != nil {
			return err
		}
		cleanEnd, err = s.mapKeys(ctx, keys, dirty, dirtyFrom, end)
		if err != nil {
			return s.staleSources(ctx, j.key, dirtyFrom, end-1, dirty, err, stats)
		}
	} else {
		cleanEnd = max(dirtyFrom, segs[0].base)
	}
	// Rewrite every segment that starts before the cleanable end.
	last := -1
	for i, seg := range segs {
		if seg.base < cleanEnd {
			last = i
		}
	}
	if last < 0 {
		return nil
	}
	from, through := segs[0].base, segs[last].last
	sources, err := chunksBetween(ctx, s.db.read, j.key, from, through)
	if err != nil {
		return err
	}
	var next int64
	if err := s.db.read.QueryRowContext(ctx, `SELECT next_offset FROM partitions WHERE topic_id = $1 AND partition_id = $2`,
		j.key.topicID, j.key.partition).Scan(&next); err != nil {
		return fmt.Errorf("high watermark of %s/%d: %w", j.key.topicID, j.key.partition, err)
	}
	f := &recordFilter{
		keys: keys, cleanEnd: cleanEnd, protect: next - 1, nowMs: nowMs,
		newHorizon: nowMs + j.policy.deleteRetentionMs, horizon: -1,
	}
	built, _, err := s.rewrite(ctx, j, sources, logStart, f.filter)
	if err != nil {
		return s.staleSources(ctx, j.key, from, through, sources, err, stats)
	}
	stats.RecordsRemoved += f.removed
	plan := swapPlan{
		from: from, through: through, oldChunks: sources, oldSegments: segs[:last+1], newSegments: built,
		cleaned: &cleanerState{offset: cleanEnd, horizon: f.horizon},
	}
	return s.swap(ctx, j, plan, stats)
}

// mapKeys fills keys from the batches of dirty from offset from (below
// end) and returns where the map stopped: end, or the base of the first
// batch whose keys might not have fit.
func (s *Store) mapKeys(ctx context.Context, keys *offsetMap, dirty []chunkRef, from, end int64) (int64, error) {
	stop := end
	err := s.streamChunks(ctx, dirty, func(c chunkRef, data chunkData) error {
		var recErr error
		walkErr := data.walk(c.base, c.stamped, func(batch []byte, h batchHeader, base int64) bool {
			if base >= end {
				return false
			}
			if base+int64(h.lastOffsetDelta) < from || h.attributes&attrControl != 0 || keys.aborted.holds(batch, h, base) {
				return true
			}
			count := int(int32(binary.BigEndian.Uint32(batch[batchRecordCountPos:])))
			if len(keys.offsets) > 0 && !keys.roomFor(count) {
				stop = base
				return false
			}
			recErr = eachRecord(batch, h, func(r *kmsg.Record) {
				if off := base + int64(r.OffsetDelta); off >= from && off < end && r.Key != nil {
					keys.offsets[keys.hash(r.Key)] = off
				}
			})
			return recErr == nil
		})
		if err := errors.Join(walkErr, recErr); err != nil {
			return fmt.Errorf("map keys of chunk %s@%d: %w", c.objectKey, c.pos, err)
		}
		if stop < end {
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, err
	}
	return stop, nil
}

// recordFilter is the batchFilter of a cleaning.
type recordFilter struct {
	keys       *offsetMap
	cleanEnd   int64 // records at or after it are kept as they are
	protect    int64 // the offset always kept (high watermark - 1)
	nowMs      int64
	newHorizon int64 // the delete horizon given to batches with new tombstones

	removed int64
	horizon int64 // earliest horizon of a tombstone kept, -1 when none
}

func (f *recordFilter) filter(batch []byte, h batchHeader, base int64) ([]byte, batchHeader, error) {
	if base >= f.cleanEnd || h.attributes&attrControl != 0 {
		return batch, h, nil
	}
	if f.keys.aborted.holds(batch, h, base) && base+int64(h.lastOffsetDelta) < f.protect {
		f.removed += int64(binary.BigEndian.Uint32(batch[batchRecordCountPos:]))
		return nil, h, nil
	}
	hasHorizon := h.attributes&attrDeleteHorizon != 0
	var (
		kept        []kmsg.Record
		total       int
		tombstones  bool
		needHorizon bool
	)
	err := eachRecord(batch, h, func(r *kmsg.Record) {
		total++
		off := base + int64(r.OffsetDelta)
		keep := true
		switch {
		case off >= f.cleanEnd || off == f.protect || r.Key == nil:
			// The last record is kept whatever it is; its tombstone, if
			// it is one, waits for a later cleaning (new data makes the
			// log dirty again), so it is not counted below.
		case f.supersedes(r.Key, off):
			keep = false
		case r.Value == nil: // a tombstone, the key's latest record
			if hasHorizon {
				keep = f.nowMs < h.firstTimestamp
			} else {
				needHorizon = true
			}
			tombstones = tombstones || keep
		}
		if keep {
			kept = append(kept, *r)
		}
	})
	if err != nil {
		return nil, h, err
	}
	f.removed += int64(total - len(kept))
	if len(kept) == 0 {
		return nil, h, nil
	}
	horizon := int64(-1)
	switch {
	case hasHorizon:
		horizon = h.firstTimestamp
	case needHorizon:
		horizon = f.newHorizon
	}
	if tombstones && horizon >= 0 && (f.horizon < 0 || horizon < f.horizon) {
		f.horizon = horizon
	}
	if len(kept) == total && !needHorizon {
		return batch, h, nil
	}
	out, err := encodeBatch(batch, h, kept, horizon)
	if err != nil {
		return nil, h, err
	}
	oh, err := parseBatchHeader(out)
	return out, oh, err
}

// abortedSpans are the spans of a partition's aborted transactions, by
// producer id: from the producer's first offset to its abort marker.
type abortedSpans map[int64][][2]int64

// abortedSpans loads the aborted transactions of a partition that end at
// or after from.
func (s *Store) abortedSpans(ctx context.Context, k partitionKey, from int64) (abortedSpans, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT producer_id, first_offset, last_offset FROM txn_aborted
		WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3`, k.topicID, k.partition, from)
	if err != nil {
		return nil, fmt.Errorf("aborted transactions of %s/%d: %w", k.topicID, k.partition, err)
	}
	defer rows.Close()
	spans := abortedSpans{}
	for rows.Next() {
		var pid, first, last int64
		if err := rows.Scan(&pid, &first, &last); err != nil {
			return nil, fmt.Errorf("aborted transactions of %s/%d: %w", k.topicID, k.partition, err)
		}
		spans[pid] = append(spans[pid], [2]int64{first, last})
	}
	return spans, rows.Err()
}

// holds reports whether batch, at base, is data of an aborted transaction.
func (a abortedSpans) holds(batch []byte, h batchHeader, base int64) bool {
	if len(a) == 0 || h.attributes&attrTransactional == 0 || h.attributes&attrControl != 0 {
		return false
	}
	pid := int64(binary.BigEndian.Uint64(batch[batchProducerIDPos:]))
	for _, span := range a[pid] {
		if base >= span[0] && base < span[1] {
			return true
		}
	}
	return false
}

// supersedes reports whether the dirty section holds a later record of key
// than off.
func (f *recordFilter) supersedes(key []byte, off int64) bool {
	latest, ok := f.keys.offsets[f.keys.hash(key)]
	return ok && off < latest
}

// eachRecord decodes each record of batch (decompressing when needed).
// Timestamp deltas are as stored: relative to the batch's first timestamp.
func eachRecord(batch []byte, h batchHeader, fn func(r *kmsg.Record)) error {
	count := int32(binary.BigEndian.Uint32(batch[batchRecordCountPos:]))
	records, err := decompressor.Decompress(batch[batchHeaderLen:], kgo.CompressionCodecType(h.attributes&attrCompressionMask))
	if err != nil {
		return fmt.Errorf("decompress records: %w", err)
	}
	for range count {
		length, n := binary.Varint(records)
		if n <= 0 || length < 0 || int64(len(records)-n) < length {
			return errors.New("record overruns its batch")
		}
		var r kmsg.Record
		if err := r.ReadFrom(records[:n+int(length)]); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		records = records[n+int(length):]
		fn(&r)
	}
	return nil
}

// compressors re-compress rewritten batches, one per codec.
var compressors sync.Map // kgo.CompressionCodecType → kgo.Compressor

func compressorFor(codec kgo.CompressionCodecType) (kgo.Compressor, error) {
	if c, ok := compressors.Load(codec); ok {
		return c.(kgo.Compressor), nil
	}
	var cc kgo.CompressionCodec
	switch codec {
	case kgo.CodecGzip:
		cc = kgo.GzipCompression()
	case kgo.CodecSnappy:
		cc = kgo.SnappyCompression()
	case kgo.CodecLz4:
		cc = kgo.Lz4Compression()
	case kgo.CodecZstd:
		cc = kgo.ZstdCompression()
	default:
		return nil, fmt.Errorf("unknown compression codec %d", codec)
	}
	c, err := kgo.DefaultCompressor(cc)
	if err != nil {
		return nil, err
	}
	actual, _ := compressors.LoadOrStore(codec, c)
	return actual.(kgo.Compressor), nil
}

// encodeBatch builds the batch that replaces orig with the records kept:
// the same base offset, last offset delta, producer id, epoch and base
// sequence, attributes and codec, as Kafka's cleaner does. With a horizon
// (>= 0) the batch is marked with it, and record timestamps are rebased on
// it so that they read the same.
func encodeBatch(orig []byte, h batchHeader, kept []kmsg.Record, horizon int64) ([]byte, error) {
	attrs := uint16(h.attributes)
	baseTs := h.firstTimestamp
	if horizon >= 0 {
		attrs |= attrDeleteHorizon
		baseTs = horizon
	}
	logAppendTime := attrs&attrLogAppendTime != 0
	maxTs := h.maxTimestamp
	if !logAppendTime {
		maxTs = -1
	}
	var records []byte
	for i := range kept {
		r := &kept[i]
		ts := h.firstTimestamp + r.TimestampDelta64
		if !logAppendTime {
			maxTs = max(maxTs, ts)
		}
		r.TimestampDelta64 = ts - baseTs
		r.TimestampDelta = int32(r.TimestampDelta64)
		r.Length = 0
		body := r.AppendTo(nil)[1:] // past the one-byte varint of Length 0
		records = binary.AppendVarint(records, int64(len(body)))
		records = append(records, body...)
	}
	if codec := kgo.CompressionCodecType(attrs & attrCompressionMask); codec != kgo.CodecNone {
		c, err := compressorFor(codec)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		compressed, used := c.Compress(&buf, records)
		if used != codec {
			return nil, fmt.Errorf("compress records with codec %d: got codec %d", codec, used)
		}
		records = bytes.Clone(compressed)
	}
	out := make([]byte, batchHeaderLen, batchHeaderLen+len(records))
	copy(out, orig[:batchHeaderLen]) // base offset, magic, producer fields, last offset delta
	binary.BigEndian.PutUint32(out[batchLeaderEpochPos:], 0)
	binary.BigEndian.PutUint16(out[batchAttributesPos:], attrs)
	binary.BigEndian.PutUint64(out[batchFirstTimestampPos:], uint64(baseTs))
	binary.BigEndian.PutUint64(out[batchMaxTimestampPos:], uint64(maxTs))
	binary.BigEndian.PutUint32(out[batchRecordCountPos:], uint32(len(kept)))
	out = append(out, records...)
	binary.BigEndian.PutUint32(out[batchLengthPos:], uint32(len(out)-batchLeaderEpochPos))
	binary.BigEndian.PutUint32(out[batchCRCPos:], crc32.Checksum(out[batchAttributesPos:], castagnoli))
	return out, nil
}
