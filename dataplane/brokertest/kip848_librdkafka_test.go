package brokertest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// consumerProtocolScript runs two librdkafka consumers of one group with
// group.protocol=consumer (KIP-848), one after the other joining, until
// together they have read n records; it prints each record's value and
// reader as JSON, then each consumer's final assignment.
const consumerProtocolScript = `
import json, sys, time
from confluent_kafka import Consumer, version, libversion

bootstrap, user, password, topic, group, n = sys.argv[1:7]
n = int(n)
common = {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": user,
    "sasl.password": password,
    "group.id": group,
    "group.protocol": "consumer",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}
consumers = [Consumer({**common, "client.id": "rd-0"})]
consumers[0].subscribe([topic])
got, deadline = 0, time.time() + 90
while got < n and time.time() < deadline:
    if got >= n // 3 and len(consumers) == 1:
        consumers.append(Consumer({**common, "client.id": "rd-1"}))
        consumers[1].subscribe([topic])
    for i, c in enumerate(consumers):
        for m in c.consume(num_messages=100, timeout=0.2):
            if m.error():
                sys.exit("consume: %s" % m.error())
            print(json.dumps({"reader": i, "partition": m.partition(), "value": m.value().decode()}))
            got += 1
        if got:
            try:
                c.commit(asynchronous=False)
            except Exception as e:
                if "NO_OFFSET" not in str(e):
                    sys.exit("commit: %s" % e)
# Let the second consumer settle into its share.
settle = time.time() + 20
while time.time() < settle:
    for c in consumers:
        c.poll(0.1)
    if len(consumers) == 2 and all(len(c.assignment()) > 0 for c in consumers):
        break
for i, c in enumerate(consumers):
    print(json.dumps({"reader": i, "assignment": sorted(p.partition for p in c.assignment())}))
for c in consumers:
    c.close()
`

// TestLibrdkafkaConsumerProtocol has librdkafka 2.12.0 consumers with
// group.protocol=consumer join a KIP-848 group, share its partitions and
// read every record once, committing their offsets.
func TestLibrdkafkaConsumerProtocol(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	const topic, group, n = "rd-848", "rd-group-848", 3000
	createTopic(t, h.Admin(t), topic, 6, nil)
	produceValues(t, h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner())), topic, 0, n)

	script := pythonScript{name: "consumer_protocol.py", source: consumerProtocolScript, librdkafka212: true, timeout: 2 * time.Minute}
	stdout, stderr, err := script.run(t, h.Addr, h.Username, h.Password, topic, group, strconv.Itoa(n))
	if err != nil {
		t.Fatalf("librdkafka consumers: %v", err)
	}
	seen := map[string]int{}
	assignments := map[int][]int32{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var line struct {
			Reader     int     `json:"reader"`
			Value      *string `json:"value"`
			Assignment []int32 `json:"assignment"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("script output %q: %v", sc.Text(), err)
		}
		if line.Value != nil {
			seen[*line.Value]++
		} else {
			assignments[line.Reader] = line.Assignment
		}
	}
	for i := range n {
		if k := seen[strconv.Itoa(i)]; k != 1 {
			t.Errorf("record %d read %d times, want once", i, k)
		}
	}
	if len(assignments[0])+len(assignments[1]) != 6 || len(assignments[0]) != 3 {
		t.Errorf("final assignments %v, want the 6 partitions split 3 and 3\nstderr:\n%s", assignments, stderr)
	}

	// The group is a consumer group, now Empty, with its offsets.
	if d := describe848(t, h.Client(t), group); d.ErrorCode != 0 || d.State != "Empty" || d.Epoch < 3 {
		t.Errorf("ConsumerGroupDescribe %s: error %d, state %q, epoch %d; want a consumer group, Empty, after at least 3 epochs (2 joins, 2 leaves)",
			group, d.ErrorCode, d.State, d.Epoch)
	}
	listed, err := h.Admin(t).ListGroups(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := listed[group]; !ok || g.State != "Empty" {
		t.Errorf("group %s listed as %+v (found %v), want Empty", group, g, ok)
	}
	offsets, err := h.Admin(t).FetchOffsets(testContext(t), group)
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != n {
		t.Errorf("committed offsets sum to %d, want %d", committed, n)
	}
}
