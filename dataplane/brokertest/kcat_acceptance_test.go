package brokertest

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// kcatMessage is a line of `kcat -C -J`.
type kcatMessage struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	TsType    string    `json:"tstype"`
	Ts        int64     `json:"ts"`
	Broker    int32     `json:"broker"`
	Headers   []*string `json:"headers"` // name, value, name, value…
	Key       *string   `json:"key"`
	Payload   *string   `json:"payload"`
}

// kcatConsumeJSON reads topic from the beginning to its end with kcat and
// decodes its JSON envelopes.
func kcatConsumeJSON(t *testing.T, h *testutil.BrokerHandle, topic string) []kcatMessage {
	t.Helper()
	out := kcat(t, h, "", "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")
	var msgs []kcatMessage
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m kcatMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("kcat -J line %q: %v", sc.Text(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

func orNull(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

func TestKcatAcceptance(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	adm := h.Admin(t)
	createTopic(t, adm, "kcat-keyed", 4, nil)
	createTopic(t, adm, "kcat-stamped", 3, nil)

	t.Run("list brokers and topics", func(t *testing.T) {
		out := kcat(t, h, "", "-L")
		for _, want := range []string{
			"1 brokers:",
			fmt.Sprintf("broker 1 at %s", h.Addr),
			"2 topics:",
			`topic "kcat-keyed" with 4 partitions:`,
			`topic "kcat-stamped" with 3 partitions:`,
			"partition 3, leader 1, replicas: 1, isrs: 1",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("kcat -L output lacks %q; got:\n%s", want, out)
			}
		}
	})

	// 100,000 keyed messages through librdkafka's idempotent producer, lz4
	// compressed, with headers; a thousand keys so that each key's messages
	// share a partition.
	t.Run("100k keyed lz4 messages", func(t *testing.T) {
		const n = 100_000
		var in strings.Builder
		for i := range n {
			fmt.Fprintf(&in, "user-%03d:event-%06d\n", i%1000, i)
		}
		before := time.Now().Add(-time.Second).UnixMilli()
		kcat(t, h, in.String(), "-P", "-t", "kcat-keyed", "-K", ":",
			"-H", "source=kcat", "-H", "schema=v1",
			"-X", "compression.codec=lz4", "-X", "enable.idempotence=true", "-X", "linger.ms=20")
		after := time.Now().Add(time.Second).UnixMilli()

		checkMostlyCodec(t, h, "kcat-keyed", 3, "lz4")
		msgs := kcatConsumeJSON(t, h, "kcat-keyed")
		if len(msgs) != n {
			t.Fatalf("kcat consumed %d messages, want %d", len(msgs), n)
		}
		seen := make([]bool, n)
		keyPartition := map[string]int32{}
		last := map[int32]int{}
		nextOffset := map[int32]int64{}
		for _, m := range msgs {
			var i int
			if _, err := fmt.Sscanf(orNull(m.Payload), "event-%06d", &i); err != nil || i < 0 || i >= n {
				t.Fatalf("partition %d offset %d: payload %q is none of ours", m.Partition, m.Offset, orNull(m.Payload))
			}
			if want := fmt.Sprintf("user-%03d", i%1000); orNull(m.Key) != want {
				t.Fatalf("message %d: key %q, want %q", i, orNull(m.Key), want)
			}
			if seen[i] {
				t.Fatalf("message %d consumed twice (again at partition %d offset %d)", i, m.Partition, m.Offset)
			}
			seen[i] = true
			if p, ok := keyPartition[*m.Key]; ok && p != m.Partition {
				t.Fatalf("key %s in partitions %d and %d", *m.Key, p, m.Partition)
			}
			keyPartition[*m.Key] = m.Partition
			if prev, ok := last[m.Partition]; ok && i < prev {
				t.Fatalf("partition %d: message %d after message %d, want the order produced", m.Partition, i, prev)
			}
			last[m.Partition] = i
			if m.Offset != nextOffset[m.Partition] {
				t.Fatalf("partition %d: offset %d after %d, want consecutive offsets", m.Partition, m.Offset, nextOffset[m.Partition]-1)
			}
			nextOffset[m.Partition]++
			if got := headerPairs(m.Headers); !slices.Equal(got, []string{"source=kcat", "schema=v1"}) {
				t.Fatalf("message %d: headers %q, want [source=kcat schema=v1]", i, got)
			}
			if m.TsType != "create" || m.Ts < before || m.Ts > after {
				t.Fatalf("message %d: timestamp %d (%s), want a create time in [%d, %d]", i, m.Ts, m.TsType, before, after)
			}
		}
		if len(last) != 4 {
			t.Errorf("messages landed in %d partitions, want all 4 (keyed by librdkafka's partitioner)", len(last))
		}
	})

	// kcat cannot give each message its own timestamp: franz-go produces
	// with explicit create times and headers, and kcat must read them back.
	t.Run("timestamps and headers", func(t *testing.T) {
		const n = 3000
		base := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
		var records []*kgo.Record
		for i := range n {
			records = append(records, &kgo.Record{
				Key:       []byte("key-" + strconv.Itoa(i)),
				Value:     []byte("value-" + strconv.Itoa(i)),
				Timestamp: base.Add(time.Duration(i) * 1500 * time.Millisecond),
				Headers: []kgo.RecordHeader{
					{Key: "seq", Value: []byte(strconv.Itoa(i))},
					{Key: "trace", Value: []byte(fmt.Sprintf("trace-%x", i))},
					{Key: "seq", Value: []byte("repeated name")},
				},
			})
		}
		producer := h.Client(t, kgo.DefaultProduceTopic("kcat-stamped"), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
		if err := producer.ProduceSync(testContext(t), records...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		want := map[string]*kgo.Record{}
		for _, r := range records {
			want[string(r.Key)] = r
		}
		msgs := kcatConsumeJSON(t, h, "kcat-stamped")
		if len(msgs) != n {
			t.Fatalf("kcat consumed %d messages, want %d", len(msgs), n)
		}
		for _, m := range msgs {
			r, ok := want[orNull(m.Key)]
			if !ok {
				t.Fatalf("partition %d offset %d: key %q not produced or consumed twice", m.Partition, m.Offset, orNull(m.Key))
			}
			delete(want, orNull(m.Key))
			i, _ := strconv.Atoi(strings.TrimPrefix(orNull(m.Key), "key-"))
			wantHeaders := []string{"seq=" + strconv.Itoa(i), fmt.Sprintf("trace=trace-%x", i), "seq=repeated name"}
			switch {
			case m.Partition != r.Partition || m.Offset != r.Offset:
				t.Fatalf("%s at partition %d offset %d, but produced at %d/%d", *m.Key, m.Partition, m.Offset, r.Partition, r.Offset)
			case orNull(m.Payload) != string(r.Value):
				t.Fatalf("%s: payload %q, want %q", *m.Key, orNull(m.Payload), r.Value)
			case m.TsType != "create" || m.Ts != r.Timestamp.UnixMilli():
				t.Fatalf("%s: timestamp %d (%s), want create time %d", *m.Key, m.Ts, m.TsType, r.Timestamp.UnixMilli())
			case !slices.Equal(headerPairs(m.Headers), wantHeaders):
				t.Fatalf("%s: headers %q, want %q", *m.Key, headerPairs(m.Headers), wantHeaders)
			case m.Broker != 1:
				t.Fatalf("%s: served by broker %d, want 1", *m.Key, m.Broker)
			}
		}
	})
}

// recordsByCodec counts the records of a partition's batches, as stored
// and served, by the compression codec in their attributes.
func recordsByCodec(t *testing.T, h *testutil.BrokerHandle, topic string, partition int32) map[int]int {
	t.Helper()
	md, err := h.Admin(t).Metadata(testContext(t), topic)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	cl := h.Client(t)
	counts := map[int]int{}
	for offset := int64(0); ; {
		// kgo sends the newest version, which names topics by id.
		req := kmsg.NewPtrFetchRequest()
		req.MaxBytes, req.SessionEpoch, req.ReplicaID = 8<<20, -1, -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, md.Topics[topic].ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 8<<20
		rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
		req.Topics = []kmsg.FetchRequestTopic{rt}
		resp, err := req.RequestWith(testContext(t), cl)
		if err != nil {
			t.Fatalf("fetch %s/%d at %d: %v", topic, partition, offset, err)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("fetch %s/%d at %d: error %d", topic, partition, offset, p.ErrorCode)
		}
		if offset >= p.HighWatermark {
			return counts
		}
		raw := p.RecordBatches
		if len(raw) < 61 {
			t.Fatalf("fetch %s/%d at %d below the high watermark %d: %d bytes of batches", topic, partition, offset, p.HighWatermark, len(raw))
		}
		for len(raw) >= 61 {
			length := int(binary.BigEndian.Uint32(raw[8:])) + 12
			if length > len(raw) {
				break // a partial batch ends the response
			}
			base := int64(binary.BigEndian.Uint64(raw))
			lastDelta := int64(binary.BigEndian.Uint32(raw[23:]))
			counts[int(binary.BigEndian.Uint16(raw[21:])&0x07)] += int(binary.BigEndian.Uint32(raw[57:]))
			offset = base + lastDelta + 1
			raw = raw[length:]
		}
	}
}

// headerPairs turns kcat's [name, value, name, value…] into name=value.
func headerPairs(h []*string) []string {
	var out []string
	for i := 0; i+1 < len(h); i += 2 {
		out = append(out, orNull(h[i])+"="+orNull(h[i+1]))
	}
	return out
}
