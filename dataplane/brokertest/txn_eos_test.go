package brokertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

// produceInput writes records "from".."to-1" to topic, record i to
// partition i%partitions, with an idempotent producer.
func produceInput(t *testing.T, cl *kgo.Client, topic string, partitions, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	const chunk = 10_000
	for ; from < to; from += chunk {
		var records []*kgo.Record
		for i := from; i < min(from+chunk, to); i++ {
			records = append(records, &kgo.Record{Topic: topic, Partition: int32(i % partitions), Value: testutil.InputValue(i)})
		}
		if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
			t.Fatalf("produce input: %v", err)
		}
	}
}

// waitCommitted waits until group has committed the end offsets of topic.
func waitCommitted(t *testing.T, adm *kadm.Client, group, topic string, timeout time.Duration, members ...*testutil.Transformer) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ctx := t.Context()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	var behind string
	for time.Now().Before(deadline) {
		for _, m := range members {
			if errs := m.Errors(); len(errs) > 0 {
				t.Fatalf("transformer failed: %v", errs)
			}
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			behind = ""
			ends.Each(func(e kadm.ListedOffset) {
				if c, ok := committed.Lookup(topic, e.Partition); e.Offset > 0 && (!ok || c.At < e.Offset) {
					behind += fmt.Sprintf(" %d:%d/%d", e.Partition, c.At, e.Offset)
				}
			})
			if behind == "" {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("group %s did not commit the end of %s within %v; behind:%s", group, topic, timeout, behind)
}

// checkExactlyOnce checks that values (of an output topic, read with
// read_committed) hold each input record 0..n-1 once.
func checkExactlyOnce(t *testing.T, values []string, n int) {
	t.Helper()
	raw := make([][]byte, len(values))
	for i, v := range values {
		raw[i] = []byte(v)
	}
	if err := testutil.ExactlyOnce(raw, n); err != nil {
		t.Fatal(err)
	}
}

func TestGroupTransactSessionExactlyOnce(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	const in, out, group, partitions, n = "eos-in", "eos-out", "eos-group", 4, 3000
	adm := h.Admin(t)
	createTopic(t, adm, in, partitions, nil)
	createTopic(t, adm, out, partitions, nil)
	producer := h.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceInput(t, producer, in, partitions, 0, n/2)

	opts := h.ClientOpts()
	first := testutil.StartTransformer(t, opts, "eos-1", group, in, out)
	second := testutil.StartTransformer(t, opts, "eos-2", group, in, out)
	waitCommitted(t, adm, group, in, time.Minute, first, second)

	// More input, and a member leaving and another joining meanwhile:
	// rebalances end the members' transactions.
	produceInput(t, producer, in, partitions, n/2, n)
	third := testutil.StartTransformer(t, opts, "eos-3", group, in, out)
	first.Halt()
	waitCommitted(t, adm, group, in, time.Minute, second, third)

	got := readValues(t, h, out, true)
	checkExactlyOnce(t, got, n)
	t.Logf("%d input records copied exactly once (read_committed); the output log holds %d records in all",
		n, len(readValues(t, h, out, false)))
}
