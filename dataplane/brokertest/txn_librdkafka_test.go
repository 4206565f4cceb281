package brokertest

import (
	"bufio"
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// librdkafkaTxnScript drives librdkafka's transactional producer through
// confluent-kafka-python: a committed, an aborted and a committed
// transaction to argv topic, then a consume-transform-produce copy of
// argv input to argv output with the input offsets sent to the
// transaction (TxnOffsetCommit), then a read_committed read of topic,
// printing each value read.
const librdkafkaTxnScript = `
import sys, time
from confluent_kafka import Consumer, Producer, TopicPartition, KafkaException

bootstrap, user, password, topic, src, dst, n = sys.argv[1:8]
n = int(n)
common = {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": user,
    "sasl.password": password,
}

p = Producer({**common, "transactional.id": "rdkafka-txn", "linger.ms": 5})
p.init_transactions(30)
for prefix, commit in (("rd-commit1", True), ("rd-abort", False), ("rd-commit2", True)):
    p.begin_transaction()
    for i in range(40):
        p.produce(topic, value="%s-%03d" % (prefix, i), partition=i % 2)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)

c = Consumer({**common, "group.id": "rdkafka-eos", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
c.subscribe([src])
copied, deadline = 0, time.time() + 90
while copied < n and time.time() < deadline:
    msgs = c.consume(num_messages=200, timeout=0.5)
    msgs = [m for m in msgs if not m.error()]
    if not msgs:
        continue
    p.begin_transaction()
    for m in msgs:
        p.produce(dst, value=m.value(), partition=m.partition())
    p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    copied += len(msgs)
c.close()
if copied != n:
    sys.exit("copied %d of %d records" % (copied, n))

r = Consumer({**common, "group.id": "rdkafka-reader", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "isolation.level": "read_committed", "enable.partition.eof": True})
r.subscribe([topic])
eof, deadline = set(), time.time() + 60
while len(eof) < 2 and time.time() < deadline:
    for m in r.consume(num_messages=100, timeout=0.5):
        if m.error():
            if m.error().code() == -191:  # partition EOF
                eof.add(m.partition())
            continue
        print(m.value().decode())
r.close()
if len(eof) < 2:
    sys.exit("read_committed reader did not reach the end of both partitions")
`

func TestLibrdkafkaTransactions(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	const topic, src, dst, n = "rd-txn", "rd-src", "rd-dst", 1000
	adm := h.Admin(t)
	for _, name := range []string{topic, src, dst} {
		createTopic(t, adm, name, 2, nil)
	}
	var input []*kgo.Record
	for i := range n {
		input = append(input, &kgo.Record{Topic: src, Partition: int32(i % 2), Value: []byte(strconv.Itoa(i))})
	}
	if err := h.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner())).ProduceSync(testContext(t), input...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}

	script := pythonScript{name: "rdkafka_txn.py", source: librdkafkaTxnScript, librdkafka212: true, timeout: 3 * time.Minute}
	stdout, _, err := script.run(t, h.Addr, h.Username, h.Password, topic, src, dst, strconv.Itoa(n))
	if err != nil {
		t.Fatalf("librdkafka transactions: %v", err)
	}
	var readByRdkafka []string
	for sc := bufio.NewScanner(bytes.NewReader(stdout)); sc.Scan(); {
		readByRdkafka = append(readByRdkafka, sc.Text())
	}
	slices.Sort(readByRdkafka)
	committed := slices.Sorted(slices.Values(append(seqValues("rd-commit1", 40), seqValues("rd-commit2", 40)...)))
	if !slices.Equal(readByRdkafka, committed) {
		t.Fatalf("librdkafka read_committed read %d records %q, want the %d committed", len(readByRdkafka), readByRdkafka, len(committed))
	}
	if got := readValues(t, h, topic, true); !slices.Equal(got, committed) {
		t.Fatalf("franz-go read_committed read %q of librdkafka's transactions, want %q", got, committed)
	}
	all := readValues(t, h, topic, false)
	if aborted := slices.DeleteFunc(slices.Clone(all), func(v string) bool { return !strings.HasPrefix(v, "rd-abort") }); len(aborted) != 40 {
		t.Fatalf("read_uncommitted read %d aborted records, want 40: %q", len(aborted), all)
	}
	checkExactlyOnce(t, readValues(t, h, dst, true), n)
	checkCommittedAtEnd(t, h, "rdkafka-eos", src)
}
