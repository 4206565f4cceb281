package brokertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/affluent-io/affluent/internal/testutil"
)

// clientRecord is a record as some client library read it.
type clientRecord struct {
	Partition int32       `json:"partition"`
	Offset    int64       `json:"offset"`
	Key       string      `json:"key"`
	Value     string      `json:"value"`
	Headers   [][2]string `json:"headers"`
	Timestamp int64       `json:"timestamp"`
}

// checkClientRecords checks that got are the n records the clients
// produce: key k<i%50>, value <prefix>-<i>, header i=<i>, timestamp
// base+i seconds, each exactly once, in order within each partition, each
// key in one partition.
func checkClientRecords(t *testing.T, who string, got []clientRecord, n int, prefix string, base time.Time) {
	t.Helper()
	if len(got) != n {
		t.Errorf("%s read %d records, want %d", who, len(got), n)
	}
	seen := make([]bool, n)
	last := map[int32]int{}
	keyPartition := map[string]int32{}
	for _, r := range got {
		i, err := strconv.Atoi(strings.TrimPrefix(r.Value, prefix+"-"))
		if err != nil || i < 0 || i >= n || !strings.HasPrefix(r.Value, prefix+"-") {
			t.Fatalf("%s read %q at partition %d offset %d, none of ours", who, r.Value, r.Partition, r.Offset)
		}
		want := clientRecord{Partition: r.Partition, Offset: r.Offset, Key: fmt.Sprintf("k%d", i%50), Value: r.Value,
			Headers: [][2]string{{"i", strconv.Itoa(i)}}, Timestamp: base.Add(time.Duration(i) * time.Second).UnixMilli()}
		switch {
		case seen[i]:
			t.Fatalf("%s read %s twice (again at partition %d offset %d)", who, r.Value, r.Partition, r.Offset)
		case !equalRecords(r, want):
			t.Fatalf("%s read %+v, want %+v", who, r, want)
		}
		seen[i] = true
		if prev, ok := last[r.Partition]; ok && i < prev {
			t.Fatalf("%s read %s after %s-%d in partition %d, want the order produced", who, r.Value, prefix, prev, r.Partition)
		}
		last[r.Partition] = i
		if p, ok := keyPartition[r.Key]; ok && p != r.Partition {
			t.Fatalf("%s read key %s in partitions %d and %d", who, r.Key, p, r.Partition)
		}
		keyPartition[r.Key] = r.Partition
	}
	if missing := slices.Index(seen, false); missing >= 0 {
		t.Fatalf("%s never read %s-%d", who, prefix, missing)
	}
}

func equalRecords(a, b clientRecord) bool {
	return a.Partition == b.Partition && a.Offset == b.Offset && a.Key == b.Key && a.Value == b.Value &&
		a.Timestamp == b.Timestamp && slices.Equal(a.Headers, b.Headers)
}

// checkMostlyCodec checks that most records of partition 0 of topic are in
// batches compressed with codec, as the client was told to (clients send a
// batch uncompressed when compression would not shrink it).
func checkMostlyCodec(t *testing.T, h *testutil.BrokerHandle, topic string, codec int, name string) {
	t.Helper()
	counts := recordsByCodec(t, h, topic, 0)
	total := 0
	for _, n := range counts {
		total += n
	}
	if counts[codec]*2 <= total {
		t.Errorf("%s/0 holds %d of %d records in %s batches (records by codec: %v), want most", topic, counts[codec], total, name, counts)
	}
}

// readWithKgo reads topic from the start with franz-go, as the other
// clients' records must look to it too.
func readWithKgo(t *testing.T, h *testutil.BrokerHandle, topic string, n int) []clientRecord {
	t.Helper()
	var out []clientRecord
	for _, r := range consume(t, h, topic, n) {
		cr := clientRecord{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Value: string(r.Value), Timestamp: r.Timestamp.UnixMilli()}
		for _, hd := range r.Headers {
			cr.Headers = append(cr.Headers, [2]string{hd.Key, string(hd.Value)})
		}
		out = append(out, cr)
	}
	return out
}

// checkCommittedAtEnd checks that group committed the end offset of every
// partition of topic.
func checkCommittedAtEnd(t *testing.T, h *testutil.BrokerHandle, group, topic string) {
	t.Helper()
	adm := h.Admin(t)
	ends, err := adm.ListEndOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	offsets, err := adm.FetchOffsets(testContext(t), group)
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	ends.Each(func(end kadm.ListedOffset) {
		o, ok := offsets.Lookup(topic, end.Partition)
		if !ok || o.At != end.Offset {
			t.Errorf("group %s committed %d (found %v) on %s/%d, want its end offset %d", group, o.At, ok, topic, end.Partition, end.Offset)
		}
	})
}

// confluentScript produces n records with confluent-kafka-python
// (librdkafka) and reads them back in a group, printing each as JSON.
const confluentScript = `
import json, sys, time
from confluent_kafka import Consumer, Producer

bootstrap, user, password, topic, n, base_ms = sys.argv[1:7]
n, base_ms = int(n), int(base_ms)
common = {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": user,
    "sasl.password": password,
}
errors = []
def delivered(err, msg):
    if err is not None:
        errors.append(str(err))

p = Producer({**common, "enable.idempotence": True, "compression.type": "zstd", "linger.ms": 5})
for i in range(n):
    while True:
        try:
            p.produce(topic, key="k%d" % (i % 50), value="python-%d" % i, headers=[("i", str(i))],
                      timestamp=base_ms + i * 1000, on_delivery=delivered)
            break
        except BufferError:
            p.poll(0.1)
    p.poll(0)
left = p.flush(60)
if left or errors:
    sys.exit("produce: %d records not delivered, errors: %s" % (left, errors[:5]))

c = Consumer({**common, "group.id": "python-group", "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe([topic])
got, deadline = 0, time.time() + 60
while got < n and time.time() < deadline:
    for m in c.consume(num_messages=500, timeout=0.5):
        if m.error():
            sys.exit("consume: %s" % m.error())
        print(json.dumps({
            "partition": m.partition(), "offset": m.offset(),
            "key": m.key().decode(), "value": m.value().decode(),
            "headers": [[k, v.decode()] for k, v in (m.headers() or [])],
            "timestamp": m.timestamp()[1],
        }))
        got += 1
c.commit(asynchronous=False)
c.close()
`

func TestConfluentKafkaPython(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	const topic, n = "from-python", 5000
	createTopic(t, h.Admin(t), topic, 3, nil)
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	script := pythonScript{name: "confluent_roundtrip.py", source: confluentScript, timeout: 2 * time.Minute}
	stdout, _, err := script.run(t, h.Addr, h.Username, h.Password, topic, strconv.Itoa(n), strconv.FormatInt(base.UnixMilli(), 10))
	if err != nil {
		t.Fatalf("confluent-kafka-python round trip: %v", err)
	}
	var got []clientRecord
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var r clientRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("python output line %q: %v", sc.Text(), err)
		}
		got = append(got, r)
	}
	checkClientRecords(t, "confluent-kafka-python", got, n, "python", base)
	checkMostlyCodec(t, h, topic, 4, "zstd")
	checkClientRecords(t, "franz-go reading what confluent-kafka-python produced", readWithKgo(t, h, topic, n), n, "python", base)
	checkCommittedAtEnd(t, h, "python-group", topic)
}

func TestKafkaGo(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	const topic, n = "from-kafka-go", 5000
	createTopic(t, h.Admin(t), topic, 3, nil)
	mechanism := plain.Mechanism{Username: h.Username, Password: h.Password}
	base := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	w := &kafka.Writer{
		Addr:         kafka.TCP(h.Addr),
		Topic:        topic,
		Balancer:     &kafka.Hash{},
		Transport:    &kafka.Transport{SASL: mechanism, ClientID: "affluent-kafka-go-test"},
		RequiredAcks: kafka.RequireAll,
		Compression:  kafka.Snappy,
		BatchSize:    1000,
		BatchTimeout: 10 * time.Millisecond,
	}
	var msgs []kafka.Message
	for i := range n {
		msgs = append(msgs, kafka.Message{
			Key:     fmt.Appendf(nil, "k%d", i%50),
			Value:   fmt.Appendf(nil, "kafka-go-%d", i),
			Headers: []kafka.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}},
			Time:    base.Add(time.Duration(i) * time.Second),
		})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("kafka-go write: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("kafka-go writer close: %v", err)
	}

	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{h.Addr},
		GroupID:           "kafka-go-group",
		Topic:             topic,
		Dialer:            &kafka.Dialer{SASLMechanism: mechanism, Timeout: 10 * time.Second, ClientID: "affluent-kafka-go-test"},
		StartOffset:       kafka.FirstOffset,
		CommitInterval:    200 * time.Millisecond,
		MaxWait:           250 * time.Millisecond,
		HeartbeatInterval: 500 * time.Millisecond,
	})
	var got []clientRecord
	for len(got) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			r.Close()
			t.Fatalf("kafka-go read after %d of %d records: %v", len(got), n, err)
		}
		cr := clientRecord{Partition: int32(m.Partition), Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Time.UnixMilli()}
		for _, hd := range m.Headers {
			cr.Headers = append(cr.Headers, [2]string{hd.Key, string(hd.Value)})
		}
		got = append(got, cr)
	}
	if err := r.Close(); err != nil { // commits what was read
		t.Fatalf("kafka-go reader close: %v", err)
	}
	checkClientRecords(t, "kafka-go", got, n, "kafka-go", base)
	checkMostlyCodec(t, h, topic, 2, "snappy")
	checkClientRecords(t, "franz-go reading what kafka-go produced", readWithKgo(t, h, topic, n), n, "kafka-go", base)
	checkCommittedAtEnd(t, h, "kafka-go-group", topic)
}
