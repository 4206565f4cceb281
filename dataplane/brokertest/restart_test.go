package brokertest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/internal/testutil"
)

func TestRestartKeepsTopicsRecordsAndOffsets(t *testing.T) {
	dir := t.TempDir()
	first := testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir})
	createTopic(t, first.Admin(t), "durable", 1, nil)
	cl := first.Client(t, kgo.DefaultProduceTopic("durable"), kgo.ConsumerGroup("keeper"), kgo.ConsumeTopics("durable"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if err := cl.ProduceSync(testContext(t), &kgo.Record{Value: []byte("kept")}, &kgo.Record{Value: []byte("also kept")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 2; {
		n += len(cl.PollFetches(testContext(t)).Records())
	}
	if err := cl.CommitUncommittedOffsets(testContext(t)); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	addr := first.Addr
	first.Stop()

	second := testutil.StartBroker(t, testutil.BrokerOptions{DataDir: dir, Addr: addr})
	got := consume(t, second, "durable", 2)
	if string(got[0].Value) != "kept" || string(got[1].Value) != "also kept" {
		t.Fatalf("after restart read %q and %q", got[0].Value, got[1].Value)
	}
	offsets, err := second.Admin(t).FetchOffsets(testContext(t), "keeper")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offsets.Lookup("durable", 0); !ok || o.At != 2 {
		t.Fatalf("committed offset after restart: %+v (found %v), want 2", o, ok)
	}
}
