package broker

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// batchSpec describes a v2 record batch for tests.
type batchSpec struct {
	baseOffset  int64
	attributes  int16
	producerID  int64
	epoch       int16
	sequence    int32
	values      []string
	recordsBody []byte // replaces the encoded records when set
	countDelta  int32  // added to the record count (to make it wrong)
}

// encode builds the batch with a correct CRC.
func (s batchSpec) encode() []byte {
	now := time.Now().UnixMilli()
	var records []byte
	for i, v := range s.values {
		var body []byte
		body = kbin.AppendInt8(body, 0)
		body = kbin.AppendVarlong(body, 0)
		body = kbin.AppendVarint(body, int32(i))
		body = kbin.AppendVarintBytes(body, nil)
		body = kbin.AppendVarintBytes(body, []byte(v))
		body = kbin.AppendVarint(body, 0)
		records = kbin.AppendVarint(records, int32(len(body)))
		records = append(records, body...)
	}
	if s.recordsBody != nil {
		records = s.recordsBody
	}
	n := int32(len(s.values))
	b := kmsg.RecordBatch{
		FirstOffset:          s.baseOffset,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           s.attributes,
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       now,
		MaxTimestamp:         now,
		ProducerID:           s.producerID,
		ProducerEpoch:        s.epoch,
		FirstSequence:        s.sequence,
		NumRecords:           n + s.countDelta,
		Records:              records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[batchOffLength:], uint32(len(raw)-batchLengthOverhead))
	return fixCRC(raw)
}

func fixCRC(raw []byte) []byte {
	binary.BigEndian.PutUint32(raw[batchOffCRC:], crc32.Checksum(raw[batchOffAttributes:], crc32c))
	return raw
}

// mustBatch is a plain (non-idempotent) batch of values.
func mustBatch(sequence int32, values ...string) []byte {
	return batchSpec{producerID: -1, epoch: -1, sequence: -1, values: values}.encode()
}

func testBatch(t testing.TB, sequence int32, values ...string) []byte {
	t.Helper()
	return mustBatch(sequence, values...)
}

func produceRequest(topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, -1, 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchRequest(topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version, req.MaxBytes, req.SessionEpoch, req.ReplicaID = 12, 1<<20, -1, -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = partition, offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func tpOf(cluster, topic string, partition int32) storage.TopicPartition {
	return storage.TopicPartition{Cluster: cluster, Topic: topic, Partition: partition}
}

func TestParseProducedBatch(t *testing.T) {
	good := batchSpec{producerID: 42, epoch: 3, sequence: 7, values: []string{"a", "b", "c"}}
	tests := []struct {
		name     string
		records  func() []byte
		version  int16
		maxBytes int64
		wantCode int16
	}{
		{name: "valid idempotent batch", records: good.encode},
		{name: "no records", records: func() []byte { return nil }, wantCode: kerr.InvalidRecord.Code},
		{name: "truncated before magic", records: func() []byte { return good.encode()[:10] }, wantCode: kerr.CorruptMessage.Code},
		{name: "magic 1", records: func() []byte { b := good.encode(); b[batchOffMagic] = 1; return b }, wantCode: kerr.UnsupportedForMessageFormat.Code},
		{name: "magic 3", records: func() []byte { b := good.encode(); b[batchOffMagic] = 3; return b }, wantCode: kerr.CorruptMessage.Code},
		{name: "shorter than header", records: func() []byte { return good.encode()[:40] }, wantCode: kerr.CorruptMessage.Code},
		{name: "truncated body", records: func() []byte { b := good.encode(); return b[:len(b)-1] }, wantCode: kerr.CorruptMessage.Code},
		{name: "two batches", records: func() []byte { return append(good.encode(), good.encode()...) }, wantCode: kerr.InvalidRecord.Code},
		{name: "bad CRC", records: func() []byte { b := good.encode(); b[len(b)-1] ^= 0xff; return b }, wantCode: kerr.CorruptMessage.Code},
		{name: "too large", records: good.encode, maxBytes: 20, wantCode: kerr.MessageTooLarge.Code},
		{name: "nonzero base offset", records: batchSpec{baseOffset: 5, producerID: -1, values: []string{"a"}}.encode, wantCode: kerr.InvalidRecord.Code},
		{name: "control", records: batchSpec{attributes: attrControl, producerID: 1, values: []string{"a"}}.encode, wantCode: kerr.InvalidRecord.Code},
		{name: "unknown codec", records: batchSpec{attributes: 6, producerID: -1, values: []string{"a"}}.encode, wantCode: kerr.CorruptMessage.Code},
		{name: "zstd before v7", records: batchSpec{attributes: compressionZstd, producerID: -1, values: []string{"a"}, recordsBody: []byte{1, 2, 3}}.encode, version: 6, wantCode: kerr.UnsupportedCompressionType.Code},
		{name: "zstd at v7 (body not inspected)", records: batchSpec{attributes: compressionZstd, producerID: -1, values: []string{"a"}, recordsBody: []byte{1, 2, 3}}.encode, version: 7},
		{name: "count disagrees with last offset delta", records: batchSpec{producerID: -1, values: []string{"a", "b"}, countDelta: 1}.encode, wantCode: kerr.InvalidRecord.Code},
		{name: "empty batch", records: batchSpec{producerID: -1}.encode, wantCode: kerr.InvalidRecord.Code},
		{name: "uncompressed records do not parse", records: batchSpec{producerID: -1, values: []string{"a"}, recordsBody: []byte{0x7e, 1, 2}}.encode, wantCode: kerr.CorruptMessage.Code},
		{name: "uncompressed trailing bytes", records: func() []byte {
			body := batchSpec{values: []string{"a"}}.encode()[batchHeaderLen:]
			return batchSpec{producerID: -1, values: []string{"a"}, recordsBody: append(bytes.Clone(body), 0)}.encode()
		}, wantCode: kerr.CorruptMessage.Code},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			version, maxBytes := tt.version, tt.maxBytes
			if version == 0 {
				version = 9
			}
			if maxBytes == 0 {
				maxBytes = defaultMaxMessageBytes
			}
			records := tt.records()
			b, bad := parseProducedBatch(records, version, maxBytes)
			if tt.wantCode != 0 {
				if bad == nil || bad.code != tt.wantCode {
					t.Fatalf("got %v, want error code %d (%s)", bad, tt.wantCode, kerr.ErrorForCode(tt.wantCode))
				}
				return
			}
			if bad != nil {
				t.Fatalf("refused: %d %s", bad.code, bad.msg)
			}
			if !bytes.Equal(b.Raw, records) {
				t.Fatal("Raw is not the batch as sent")
			}
		})
	}

	b, _ := parseProducedBatch(good.encode(), 9, defaultMaxMessageBytes)
	if b.NumRecords != 3 || b.ProducerID != 42 || b.ProducerEpoch != 3 || b.BaseSequence != 7 || b.Transactional || b.Control {
		t.Fatalf("parsed header %+v", b)
	}
}

func FuzzParseProducedBatch(f *testing.F) {
	f.Add(mustBatch(0, "a", "bb", "ccc"))
	f.Add(batchSpec{producerID: 9, epoch: 1, sequence: 3, values: []string{"x"}}.encode())
	f.Add(batchSpec{attributes: 1, producerID: -1, values: []string{"x"}, recordsBody: []byte{0, 1}}.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, records []byte) {
		// Corrupting a valid batch must be caught by the CRC, so also
		// try the input with its CRC made right.
		for _, in := range [][]byte{records, fixIfLong(records)} {
			b, bad := parseProducedBatch(in, 9, defaultMaxMessageBytes)
			if bad == nil && (b.NumRecords < 1 || !bytes.Equal(b.Raw, in)) {
				t.Fatalf("accepted batch with %d records", b.NumRecords)
			}
		}
	})
}

func fixIfLong(b []byte) []byte {
	if len(b) < batchHeaderLen {
		return b
	}
	return fixCRC(bytes.Clone(b))
}
