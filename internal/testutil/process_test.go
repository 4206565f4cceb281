package testutil

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// This package's TestMain is RunWithPostgres's; init serves the broker
// processes of TestBrokerProcessKillRestart before it runs.
func init() { MaybeServeBrokerProcess() }

func TestBrokerProcessKillRestart(t *testing.T) {
	p := StartBrokerProcess(t, BrokerProcessOptions{})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if resp, err := p.Admin(t).CreateTopic(ctx, 1, -1, nil, "survivor"); err != nil || resp.Err != nil {
		t.Fatalf("create topic: %v %v", err, resp.Err)
	}
	producer := p.Client(t, kgo.DefaultProduceTopic("survivor"))
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("acknowledged")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	addr := p.Addr
	p.Kill()
	if _, err := p.Admin(t).ListTopics(ctx); err == nil {
		t.Fatalf("the killed broker at %s still answers", addr)
	}
	p.Restart()
	if p.Addr != addr {
		t.Fatalf("restarted on %s, want the address it had, %s", p.Addr, addr)
	}
	consumer := p.Client(t, kgo.ConsumeTopics("survivor"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := consumer.PollFetches(ctx)
	if err := fs.Err0(); err != nil {
		t.Fatalf("consume after restart: %v", err)
	}
	if rs := fs.Records(); len(rs) != 1 || string(rs[0].Value) != "acknowledged" {
		t.Fatalf("after kill and restart read %d records %v, want the acknowledged one", len(rs), rs)
	}
	// A clean stop exits 0; Stop fails the test otherwise.
	p.Stop()
}
