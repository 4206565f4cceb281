package cpwatch

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/affluent-io/affluent/dataplane/usage"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// lossyUsage passes ReportUsage calls to the control plane and then, as
// told, loses the reply (the batch is stored but the broker sees an error)
// or the request (nothing is stored).
type lossyUsage struct {
	bpb.BrokerConfigServiceClient
	mu                  sync.Mutex
	loseReply, loseCall int
	calls               int
	// loseReplyOfCall loses the reply of that call (1: the first).
	loseReplyOfCall int
}

var errLost = errors.New("connection reset (test)")

func (l *lossyUsage) ReportUsage(ctx context.Context, req *bpb.ReportUsageRequest, opts ...grpc.CallOption) (*bpb.ReportUsageResponse, error) {
	l.mu.Lock()
	l.calls++
	loseCall := l.loseCall > 0
	if loseCall {
		l.loseCall--
	}
	loseReply := !loseCall && (l.loseReply > 0 || l.calls == l.loseReplyOfCall)
	if loseReply && l.loseReply > 0 {
		l.loseReply--
	}
	l.mu.Unlock()
	if loseCall {
		return nil, errLost
	}
	resp, err := l.BrokerConfigServiceClient.ReportUsage(ctx, req, opts...)
	if loseReply {
		return nil, errLost
	}
	return resp, err
}

func (f *fakeBackend) usageTotals(cluster, principal string) (in, out, requests int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.usage {
		if r.Cluster == cluster && r.Principal == principal {
			in, out, requests = in+r.BytesIn, out+r.BytesOut, requests+r.Requests
		}
	}
	return in, out, requests
}

// TestUsageRetriesCountOnce: the meter retries what a failed flush held;
// a batch the control plane stored but whose reply was lost must not be
// counted twice, and one it never received must be counted once.
func TestUsageRetriesCountOnce(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	backend := &fakeBackend{}
	snap := newTenant(1).snap
	startControlPlane(t, addr, "s3cret", backend, func() *bpb.BrokerSnapshot { return snap })
	c, err := New(Options{Addr: addr, Secret: "s3cret", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lossy := &lossyUsage{BrokerConfigServiceClient: c.rpc}
	c.rpc = lossy
	meter := usage.NewMeter(usage.Options{Broker: "0", Sink: c, Logger: quiet})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	check := func(step string, wantIn, wantOut int64) {
		t.Helper()
		for _, p := range []string{"User:sa-a", ""} {
			in, out, _ := backend.usageTotals("lkc-a", p)
			if in != wantIn || out != wantOut {
				t.Errorf("%s: principal %q stored bytes in/out %d/%d, want %d/%d", step, p, in, out, wantIn, wantOut)
			}
		}
	}

	// Stored, reply lost: the flush fails, the meter keeps the records.
	meter.Add("lkc-a", "User:sa-a", 100, 10, 1)
	lossy.loseReply = 1
	if err := meter.Flush(ctx); err == nil {
		t.Fatal("flush with a lost reply succeeded")
	}
	check("after the lost reply", 100, 10)
	// The next flush resends the batch (a duplicate) and then only what
	// is new.
	meter.Add("lkc-a", "User:sa-a", 50, 5, 1)
	if err := meter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after the retry", 150, 15)

	// Never received: counted once, by the retry.
	meter.Add("lkc-a", "User:sa-a", 7, 0, 1)
	lossy.loseCall = 1
	if err := meter.Flush(ctx); err == nil {
		t.Fatal("flush with a lost call succeeded")
	}
	check("after the lost call", 150, 15)
	if err := meter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after its retry", 157, 15)

	// The retry itself fails, twice, while more comes in.
	meter.Add("lkc-a", "User:sa-a", 1000, 0, 1)
	lossy.loseReply = 1
	_ = meter.Flush(ctx)
	meter.Add("lkc-a", "User:sa-a", 1, 0, 1)
	lossy.loseCall = 1
	_ = meter.Flush(ctx)
	meter.Add("lkc-a", "User:sa-a", 2, 0, 1)
	if err := meter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	check("after repeated failures", 1160, 15)
	if _, _, requests := backend.usageTotals("lkc-a", ""); requests != 6 {
		t.Errorf("requests %d, want 6", requests)
	}
}

// TestUsageChunks: a flush of more records than one call takes goes out
// in several calls, each its own batch, all stored once.
func TestUsageChunks(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	backend := &fakeBackend{}
	snap := newTenant(1).snap
	startControlPlane(t, addr, "s3cret", backend, func() *bpb.BrokerSnapshot { return snap })
	c, err := New(Options{Addr: addr, Secret: "s3cret", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lossy := &lossyUsage{BrokerConfigServiceClient: c.rpc}
	c.rpc = lossy
	hour := usage.HourOf(time.Now())
	var records []usage.Record
	for i := range 2*usageChunk + 1 {
		records = append(records, usage.Record{Cluster: "lkc-a", Principal: fmt.Sprintf("User:sa-%d", i),
			Hour: hour, Broker: "0", BytesIn: 1})
	}
	ctx := context.Background()
	// The second chunk's reply is lost: the flush fails and the meter
	// hands the same records over again; the second chunk is resent, the
	// first is not, and nothing is new.
	lossy.loseReplyOfCall = 2
	if err := c.RecordUsage(ctx, records); err == nil {
		t.Fatal("a lost reply went unnoticed")
	}
	if err := c.RecordUsage(ctx, records); err != nil {
		t.Fatal(err)
	}
	if lossy.calls != 4 {
		t.Errorf("%d calls for %d records, want 4 (three chunks, the second twice)", lossy.calls, len(records))
	}
	backend.mu.Lock()
	n := len(backend.usage)
	backend.mu.Unlock()
	if n != len(records) {
		t.Errorf("%d records stored, want %d", n, len(records))
	}
}
