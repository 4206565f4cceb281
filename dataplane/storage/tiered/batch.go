package tiered

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Byte positions in a record batch (magic 2). The CRC covers everything from
// the attributes to the end; baseOffset, batchLength, partitionLeaderEpoch,
// magic and the CRC itself lie outside it.
const (
	batchBaseOffsetPos      = 0
	batchLengthPos          = 8
	batchLeaderEpochPos     = 12
	batchMagicPos           = 16
	batchCRCPos             = 17
	batchAttributesPos      = 21
	batchLastOffsetDeltaPos = 23
	batchFirstTimestampPos  = 27
	batchMaxTimestampPos    = 35
	batchProducerIDPos      = 43
	batchRecordCountPos     = 57
	batchHeaderLen          = 61

	attrCompressionMask = 0x07
	attrLogAppendTime   = 0x08
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkBatch verifies that raw frames exactly one magic-2 batch agreeing
// with the header fields the broker parsed, because readers walk a chunk
// batch by batch using these lengths.
func checkBatch(b storage.Batch) error {
	raw := b.Raw
	if len(raw) < batchHeaderLen {
		return fmt.Errorf("%w: %d bytes is shorter than a batch header", storage.ErrCorruptMessage, len(raw))
	}
	if n := int(int32(binary.BigEndian.Uint32(raw[batchLengthPos:]))) + batchLeaderEpochPos; n != len(raw) {
		return fmt.Errorf("%w: batch length field says %d bytes, got %d", storage.ErrCorruptMessage, n, len(raw))
	}
	if magic := raw[batchMagicPos]; magic != 2 {
		return fmt.Errorf("%w: magic %d, want 2", storage.ErrCorruptMessage, magic)
	}
	delta := int32(binary.BigEndian.Uint32(raw[batchLastOffsetDeltaPos:]))
	if delta < 0 || b.NumRecords != delta+1 {
		return fmt.Errorf("%w: last offset delta %d for %d records", storage.ErrCorruptMessage, delta, b.NumRecords)
	}
	return nil
}

// setLogAppendTime marks batch as timestamped by the log at ts and
// recomputes its CRC, as Kafka does for message.timestamp.type=LogAppendTime:
// the max timestamp becomes ts and stands for every record's timestamp.
func setLogAppendTime(batch []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(batch[batchAttributesPos:])
	binary.BigEndian.PutUint16(batch[batchAttributesPos:], attrs|attrLogAppendTime)
	binary.BigEndian.PutUint64(batch[batchMaxTimestampPos:], uint64(ts))
	binary.BigEndian.PutUint32(batch[batchCRCPos:], crc32.Checksum(batch[batchAttributesPos:], castagnoli))
}

// batchHeader is the part of a stored batch header that reads need.
type batchHeader struct {
	size            int
	lastOffsetDelta int32
	attributes      int16
	firstTimestamp  int64
	maxTimestamp    int64
}

var errTruncatedChunk = errors.New("chunk ends inside a record batch")

func parseBatchHeader(data []byte) (batchHeader, error) {
	if len(data) < batchHeaderLen {
		return batchHeader{}, errTruncatedChunk
	}
	h := batchHeader{
		size:            int(int32(binary.BigEndian.Uint32(data[batchLengthPos:]))) + batchLeaderEpochPos,
		attributes:      int16(binary.BigEndian.Uint16(data[batchAttributesPos:])),
		lastOffsetDelta: int32(binary.BigEndian.Uint32(data[batchLastOffsetDeltaPos:])),
		firstTimestamp:  int64(binary.BigEndian.Uint64(data[batchFirstTimestampPos:])),
		maxTimestamp:    int64(binary.BigEndian.Uint64(data[batchMaxTimestampPos:])),
	}
	if h.size < batchHeaderLen || h.size > len(data) {
		return batchHeader{}, errTruncatedChunk
	}
	return h, nil
}

// chunkData is the bytes of a chunk: whole batches, in one segment when
// read from object storage, or one per batch as the write path copied them.
type chunkData [][]byte

func (d chunkData) size() int64 {
	var n int64
	for _, seg := range d {
		n += int64(len(seg))
	}
	return n
}

// walk calls fn for each batch of a chunk, with its base offset, until fn
// returns false. The batches of a WAL chunk follow each other from base;
// those of a segment block (stamped) carry their own.
func (d chunkData) walk(base int64, stamped bool, fn func(batch []byte, h batchHeader, base int64) bool) error {
	for _, data := range d {
		for len(data) > 0 {
			h, err := parseBatchHeader(data)
			if err != nil {
				return err
			}
			if stamped {
				base = int64(binary.BigEndian.Uint64(data[batchBaseOffsetPos:]))
			}
			if !fn(data[:h.size], h, base) {
				return nil
			}
			base += int64(h.lastOffsetDelta) + 1
			data = data[h.size:]
		}
	}
	return nil
}

// stampBatch writes the assigned base offset into a copy of a stored batch
// about to be served. The leader epoch is zeroed: partitions have no
// replicas and so no epoch history in their batches.
func stampBatch(batch []byte, base int64) {
	binary.BigEndian.PutUint64(batch[batchBaseOffsetPos:], uint64(base))
	binary.BigEndian.PutUint32(batch[batchLeaderEpochPos:], 0)
}

var decompressor = kgo.DefaultDecompressor()

// forEachRecord calls fn with the offset delta and timestamp of each record
// of batch, decompressing when needed, until fn returns false.
func forEachRecord(batch []byte, h batchHeader, fn func(offsetDelta int32, ts int64) bool) error {
	count := int32(binary.BigEndian.Uint32(batch[batchRecordCountPos:]))
	records, err := decompressor.Decompress(batch[batchHeaderLen:], kgo.CompressionCodecType(h.attributes&attrCompressionMask))
	if err != nil {
		return fmt.Errorf("decompress records: %w", err)
	}
	logAppendTime := h.attributes&attrLogAppendTime != 0
	for range count {
		length, n := binary.Varint(records)
		if n <= 0 || length < 0 || int64(len(records)-n) < length {
			return errors.New("record overruns its batch")
		}
		body := records[n : n+int(length)]
		records = records[n+int(length):]
		if len(body) < 1 {
			return errors.New("empty record")
		}
		tsDelta, n1 := binary.Varint(body[1:])
		if n1 <= 0 {
			return errors.New("bad record timestamp delta")
		}
		offsetDelta, n2 := binary.Varint(body[1+n1:])
		if n2 <= 0 || offsetDelta < 0 || offsetDelta > math.MaxInt32 {
			return errors.New("bad record offset delta")
		}
		ts := h.firstTimestamp + tsDelta
		if logAppendTime {
			ts = h.maxTimestamp
		}
		if !fn(int32(offsetDelta), ts) {
			return nil
		}
	}
	return nil
}
