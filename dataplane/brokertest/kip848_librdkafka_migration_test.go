package brokertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// migrationScript runs librdkafka consumers of one group through a rolling
// upgrade and back: two classic consumers (eager "range"), then a
// group.protocol=consumer one joins, a classic one leaves, and the
// consumer-protocol one leaves, until together they have read n records.
// It prints each record's value and reader as JSON.
const migrationScript = `
import json, sys, time
from confluent_kafka import Consumer

bootstrap, user, password, topic, group, n = sys.argv[1:7]
n = int(n)
common = {
    "bootstrap.servers": bootstrap,
    "security.protocol": "SASL_PLAINTEXT",
    "sasl.mechanisms": "PLAIN",
    "sasl.username": user,
    "sasl.password": password,
    "group.id": group,
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}
classic = {"group.protocol": "classic", "heartbeat.interval.ms": 300, "session.timeout.ms": 10000}
consumers = {}
def start(name, conf):
    c = Consumer({**common, **conf, "client.id": name})
    c.subscribe([topic])
    consumers[name] = c
def stop(name):
    consumers.pop(name).close()
start("classic-0", classic)
start("classic-1", classic)
got, deadline, step = 0, time.time() + 150, 0
while got < n and time.time() < deadline:
    if step == 0 and got >= n // 4:
        start("modern-2", {"group.protocol": "consumer"})
        step = 1
    elif step == 1 and got >= n // 2:
        stop("classic-0")
        step = 2
    elif step == 2 and got >= 3 * n // 4:
        stop("modern-2")
        step = 3
    for name, c in list(consumers.items()):
        read = 0
        for m in c.consume(num_messages=50, timeout=0.1):
            if m.error():
                sys.exit("%s consume: %s" % (name, m.error()))
            print(json.dumps({"reader": name, "value": m.value().decode()}))
            read += 1
        got += read
        if read:
            try:
                c.commit(asynchronous=False)
            except Exception as e:
                if "NO_OFFSET" not in str(e):
                    sys.exit("%s commit: %s" % (name, e))
for name in list(consumers):
    stop(name)
`

// TestLibrdkafkaOnlineMigration has librdkafka 2.12.0 classic consumers of
// a group upgraded by a group.protocol=consumer consumer joining, then
// downgraded when it leaves, while they read every record.
func TestLibrdkafkaOnlineMigration(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Groups: fastConsumerGroups})
	const topic, group, n = "rd-migrate", "rd-group-migrate", 4000
	createTopic(t, h.Admin(t), topic, 6, nil)
	produceValues(t, h.Client(t, kgo.RecordPartitioner(kgo.RoundRobinPartitioner())), topic, 0, n)

	// While the script runs, watch for the group as a consumer group
	// with classic and consumer-protocol members side by side.
	admin := h.Client(t)
	watch, stopWatch := context.WithCancel(t.Context())
	var mixed bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for watch.Err() == nil {
			req := kmsg.NewPtrConsumerGroupDescribeRequest()
			req.Version = 1
			req.Groups = []string{group}
			if resp, err := req.RequestWith(watch, admin); err == nil && len(resp.Groups) == 1 {
				types := map[int8]bool{}
				for _, m := range resp.Groups[0].Members {
					types[m.MemberType] = true
				}
				if types[0] && types[1] {
					mixed = true
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	script := pythonScript{name: "migration.py", source: migrationScript, librdkafka212: true, timeout: 3 * time.Minute}
	stdout, stderr, err := script.run(t, h.Addr, h.Username, h.Password, topic, group, strconv.Itoa(n))
	stopWatch()
	wg.Wait()
	if err != nil {
		t.Fatalf("librdkafka consumers: %v", err)
	}
	seen := map[string]int{}
	readers := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	for sc.Scan() {
		var line struct {
			Reader string `json:"reader"`
			Value  string `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("script output %q: %v", sc.Text(), err)
		}
		seen[line.Value]++
		readers[line.Reader]++
	}
	t.Logf("records read by %v", readers)
	dups := 0
	for i := range n {
		switch k := seen[strconv.Itoa(i)]; {
		case k == 0:
			t.Errorf("record %d was never read", i)
		case k > 1:
			dups++
		}
	}
	if dups > 0 {
		t.Logf("%d records read more than once (a classic rebalance may hand a partition out before its last commit)", dups)
	}
	if readers["modern-2"] == 0 {
		t.Errorf("the consumer-protocol consumer read nothing: %v\nstderr:\n%s", readers, stderr)
	}
	if !mixed {
		t.Errorf("the group was never seen as a consumer group with classic and consumer-protocol members")
	}
	// The last member was classic: the group ends a classic group.
	if d := describe848(t, admin, group); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("ConsumerGroupDescribe %s at the end: error %d, state %q; want a classic group (GROUP_ID_NOT_FOUND)", group, d.ErrorCode, d.State)
	}
}
