package broker

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Layout of a v2 record batch header (KIP-98).
const (
	batchOffBaseOffset      = 0
	batchOffLength          = 8
	batchOffMagic           = 16
	batchOffCRC             = 17
	batchOffAttributes      = 21
	batchOffLastOffsetDelta = 23
	batchOffFirstTimestamp  = 27
	batchOffMaxTimestamp    = 35
	batchOffProducerID      = 43
	batchOffProducerEpoch   = 51
	batchOffBaseSequence    = 53
	batchOffRecordCount     = 57
	batchHeaderLen          = 61
	// batchLengthOverhead is what the length field does not count: the
	// base offset and the length itself.
	batchLengthOverhead = 12

	attrCompressionMask = 0x07
	attrTransactional   = 0x10
	attrControl         = 0x20

	compressionZstd = 4
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// parseProducedBatch validates the records of one partition of a produce
// request, as Kafka's LogValidator does for client writes: exactly one v2
// batch, consistent lengths and counts, a valid CRC-32C, base offset 0, no
// control batch, a known codec (zstd from produce v7), at most maxBytes, and
// for uncompressed batches records that parse with consecutive offset
// deltas. Whether a transactional batch belongs to an ongoing transaction
// is the produce handler's check.
func parseProducedBatch(records []byte, produceVersion int16, maxBytes int64) (storage.Batch, *codeError) {
	switch {
	case len(records) == 0:
		return storage.Batch{}, errorf(kerr.InvalidRecord.Code, "produce requests must hold exactly one record batch per partition; got none")
	case len(records) <= batchOffMagic:
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch of %d bytes is truncated", len(records))
	}
	if magic := records[batchOffMagic]; magic != 2 {
		if magic < 2 {
			return storage.Batch{}, errorf(kerr.UnsupportedForMessageFormat.Code, "record batch magic %d is not supported; only magic 2", magic)
		}
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch magic %d is unknown", magic)
	}
	if len(records) < batchHeaderLen {
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch of %d bytes is shorter than its header", len(records))
	}
	length := int64(int32(binary.BigEndian.Uint32(records[batchOffLength:])))
	switch total := length + batchLengthOverhead; {
	case length < batchHeaderLen-batchLengthOverhead || total > int64(len(records)):
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch length %d does not match the %d bytes sent", length, len(records))
	case total < int64(len(records)):
		return storage.Batch{}, errorf(kerr.InvalidRecord.Code, "produce requests must hold exactly one record batch per partition")
	}
	if int64(len(records)) > maxBytes {
		return storage.Batch{}, errorf(kerr.MessageTooLarge.Code, "record batch of %d bytes exceeds the topic's max.message.bytes %d", len(records), maxBytes)
	}
	if want, got := binary.BigEndian.Uint32(records[batchOffCRC:]), crc32.Checksum(records[batchOffAttributes:], crc32c); want != got {
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch CRC %08x does not match its content (%08x)", want, got)
	}

	b := storage.Batch{
		Raw:            records,
		NumRecords:     int32(binary.BigEndian.Uint32(records[batchOffRecordCount:])),
		FirstTimestamp: int64(binary.BigEndian.Uint64(records[batchOffFirstTimestamp:])),
		MaxTimestamp:   int64(binary.BigEndian.Uint64(records[batchOffMaxTimestamp:])),
		ProducerID:     int64(binary.BigEndian.Uint64(records[batchOffProducerID:])),
		ProducerEpoch:  int16(binary.BigEndian.Uint16(records[batchOffProducerEpoch:])),
		BaseSequence:   int32(binary.BigEndian.Uint32(records[batchOffBaseSequence:])),
	}
	attrs := binary.BigEndian.Uint16(records[batchOffAttributes:])
	b.Transactional = attrs&attrTransactional != 0
	b.Control = attrs&attrControl != 0
	lastOffsetDelta := int32(binary.BigEndian.Uint32(records[batchOffLastOffsetDelta:]))
	codec := attrs & attrCompressionMask

	switch {
	case binary.BigEndian.Uint64(records[batchOffBaseOffset:]) != 0:
		return storage.Batch{}, errorf(kerr.InvalidRecord.Code, "the base offset of a produced record batch must be 0")
	case b.Control:
		return storage.Batch{}, errorf(kerr.InvalidRecord.Code, "clients may not write control batches")
	case codec > compressionZstd:
		return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch compression codec %d is unknown", codec)
	case codec == compressionZstd && produceVersion < 7:
		return storage.Batch{}, errorf(kerr.UnsupportedCompressionType.Code, "zstd compression needs produce v7 or later")
	case b.NumRecords < 1 || int64(b.NumRecords) != int64(lastOffsetDelta)+1:
		return storage.Batch{}, errorf(kerr.InvalidRecord.Code, "record batch count %d does not match its last offset delta %d", b.NumRecords, lastOffsetDelta)
	}
	if codec == 0 {
		if err := checkRecords(records[batchHeaderLen:], b.NumRecords); err != nil {
			return storage.Batch{}, errorf(kerr.CorruptMessage.Code, "record batch: %v", err)
		}
	}
	return b, nil
}

// checkRecords walks uncompressed records, checking that there are exactly
// count of them, that each parses and fills its length, and that offset
// deltas run 0, 1, 2, …
func checkRecords(src []byte, count int32) error {
	rd := kbin.Reader{Src: src}
	for i := range count {
		length := rd.Varint()
		if !rd.Ok() || length < 0 || int64(length) > int64(len(rd.Src)) {
			return fmt.Errorf("record %d: bad length", i)
		}
		rec := kbin.Reader{Src: rd.Span(int(length))}
		rec.Int8()    // attributes, unused
		rec.Varlong() // timestamp delta
		if delta := rec.Varint(); rec.Ok() && delta != i {
			return fmt.Errorf("record %d: offset delta %d", i, delta)
		}
		skipVarintBytes(&rec, true) // key
		skipVarintBytes(&rec, true) // value
		headers := rec.Varint()
		if headers < 0 {
			return fmt.Errorf("record %d: negative header count", i)
		}
		for j := int32(0); j < headers && rec.Ok(); j++ {
			skipVarintBytes(&rec, false) // header key
			skipVarintBytes(&rec, true)  // header value
		}
		if !rec.Ok() || len(rec.Src) != 0 {
			return fmt.Errorf("record %d does not fill its length", i)
		}
	}
	if len(rd.Src) != 0 {
		return fmt.Errorf("%d bytes after the last record", len(rd.Src))
	}
	return nil
}

// skipVarintBytes skips a varint-length byte string; -1 (null) is allowed
// only when nullable.
func skipVarintBytes(rd *kbin.Reader, nullable bool) {
	n := rd.Varint()
	switch {
	case n == -1 && nullable:
	case n < 0:
		rd.Span(-1) // marks the reader bad
	default:
		rd.Span(int(n))
	}
}
