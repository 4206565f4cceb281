package brokertest

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/internal/testutil"
)

// rawBatch encodes a v2 record batch of values with a valid CRC.
func rawBatch(values ...string) []byte {
	var records []byte
	for i, v := range values {
		var body []byte
		body = kbin.AppendInt8(body, 0)
		body = kbin.AppendVarlong(body, 0)
		body = kbin.AppendVarint(body, int32(i))
		body = kbin.AppendVarintBytes(body, nil)
		body = kbin.AppendVarintBytes(body, []byte(v))
		body = kbin.AppendVarint(body, 0)
		records = append(kbin.AppendVarint(records, int32(len(body))), body...)
	}
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(values) - 1),
		FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(values)), Records: records,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	return raw
}

func rawProduce(topic string, partition int32, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, records
	rt.Partitions = []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

func TestProduceErrors(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	limit := "2000"
	createTopic(t, h.Admin(t), "target", 2, map[string]*string{"max.message.bytes": &limit})
	cl := h.Client(t)

	corrupt := rawBatch("intact")
	corrupt[len(corrupt)-2] ^= 0x55
	oldMagic := rawBatch("old")
	oldMagic[16] = 1
	tests := []struct {
		name      string
		topic     string
		partition int32
		records   []byte
		want      *kerr.Error
	}{
		{"valid", "target", 0, rawBatch("a", "b"), nil},
		{"unknown topic", "nowhere", 0, rawBatch("a"), kerr.UnknownTopicOrPartition},
		{"unknown partition", "target", 7, rawBatch("a"), kerr.UnknownTopicOrPartition},
		{"corrupt CRC", "target", 0, corrupt, kerr.CorruptMessage},
		{"magic 1", "target", 0, oldMagic, kerr.UnsupportedForMessageFormat},
		{"two batches", "target", 0, append(rawBatch("a"), rawBatch("b")...), kerr.InvalidRecord},
		{"larger than max.message.bytes", "target", 1, rawBatch(string(make([]byte, 3000))), kerr.MessageTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := rawProduce(tt.topic, tt.partition, tt.records).RequestWith(testContext(t), cl)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			p := resp.Topics[0].Partitions[0]
			if got := kerr.ErrorForCode(p.ErrorCode); got != tt.want && (tt.want != nil || got != nil) {
				t.Fatalf("error %v (%v), want %v", got, p.ErrorMessage, tt.want)
			}
			if tt.want == nil && p.BaseOffset != 0 {
				t.Fatalf("base offset %d, want 0", p.BaseOffset)
			}
		})
	}
	// Nothing refused was stored.
	end, err := h.Admin(t).ListEndOffsets(testContext(t), "target")
	if err != nil {
		t.Fatal(err)
	}
	if o0, o1 := end["target"][0].Offset, end["target"][1].Offset; o0 != 2 || o1 != 0 {
		t.Fatalf("end offsets %d and %d, want 2 and 0", o0, o1)
	}
}

func TestFetchErrors(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	createTopic(t, h.Admin(t), "source", 1, nil)
	cl := h.Client(t)
	if _, err := rawProduce("source", 0, rawBatch("x", "y", "z")).RequestWith(testContext(t), cl); err != nil {
		t.Fatal(err)
	}
	md, err := h.Admin(t).Metadata(testContext(t), "source")
	if err != nil {
		t.Fatal(err)
	}
	// kgo sends the newest version both sides know, which names topics by
	// id (v13+).
	fetch := func(topic string, offset int64) kmsg.FetchResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.SessionEpoch, req.ReplicaID = 12, 1<<20, -1, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, md.Topics[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
		rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
		req.Topics = []kmsg.FetchRequestTopic{rt}
		resp, err := req.RequestWith(testContext(t), cl)
		if err != nil {
			t.Fatalf("fetch: %v", err)
		}
		return resp.Topics[0].Partitions[0]
	}
	if p := fetch("source", 1); p.ErrorCode != 0 || p.HighWatermark != 3 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch at 1: error %d hwm %d %d bytes", p.ErrorCode, p.HighWatermark, len(p.RecordBatches))
	}
	if p := fetch("source", 4); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch beyond the end: error %d, want OFFSET_OUT_OF_RANGE", p.ErrorCode)
	}
	if p := fetch("missing", 0); p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("fetch unknown topic id: error %d, want UNKNOWN_TOPIC_ID", p.ErrorCode)
	}
}

func TestMetadataUnknownAndInvalidTopics(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	cl := h.Client(t)
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for _, name := range []string{"absent", "in valid"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(testContext(t), cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{"absent": kerr.UnknownTopicOrPartition.Code, "in valid": kerr.InvalidTopicException.Code}
	for _, topic := range resp.Topics {
		if topic.ErrorCode != want[*topic.Topic] {
			t.Errorf("%s: error %d, want %d (auto-creation is off by default)", *topic.Topic, topic.ErrorCode, want[*topic.Topic])
		}
	}
}

func TestAutoCreateTopics(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Configure: func(c *broker.Config) { c.AutoCreateTopics = true; c.DefaultPartitions = 3 }})
	producer := h.Client(t, kgo.DefaultProduceTopic("made-on-demand"), kgo.AllowAutoTopicCreation())
	if err := producer.ProduceSync(testContext(t), &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce to a new topic: %v", err)
	}
	md, err := h.Admin(t).Metadata(testContext(t), "made-on-demand")
	if err != nil || len(md.Topics["made-on-demand"].Partitions) != 3 {
		t.Fatalf("auto-created topic: %v %+v, want 3 partitions", err, md.Topics["made-on-demand"])
	}
}
