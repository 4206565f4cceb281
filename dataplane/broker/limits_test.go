package broker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// storedBytesFunc is a storage.Usage answering a fixed figure.
type storedBytesFunc func(cluster string) int64

func (f storedBytesFunc) StoredBytes(_ context.Context, cluster string) (int64, error) {
	return f(cluster), nil
}

// TestStorageLimitRefusesProduce: at max_storage_bytes a produce is
// POLICY_VIOLATION naming the limit; a raised limit applies at once.
func TestStorageLimitRefusesProduce(t *testing.T) {
	limits := &StaticLimits{}
	tb := startTestBroker(t, func(c *Config) {
		c.Limits = limits
		c.StorageUsage = storedBytesFunc(func(string) int64 { return 5000 })
	})
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	limits.Set("lkc-a", ClusterLimits{MaxStorageBytes: 4096})
	p := rc.roundTrip(produceRequest("t", 0, testBatch(t, 0, "x"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if p.ErrorCode != kerr.PolicyViolation.Code || p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "max_storage_bytes") {
		t.Fatalf("produce at the storage limit: error %d %v, want POLICY_VIOLATION naming max_storage_bytes", p.ErrorCode, p.ErrorMessage)
	}
	t.Logf("message: %s", *p.ErrorMessage)
	limits.Set("lkc-a", ClusterLimits{MaxStorageBytes: 1 << 20})
	if p := rc.roundTrip(produceRequest("t", 0, testBatch(t, 0, "x"))).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("produce after raising the limit: error %d", p.ErrorCode)
	}
}

// TestThrottleMutesConnection: over the cluster's ingress rate, a produce
// response carries throttle_time_ms and the connection is not read for
// that long (KIP-219); an old produce version gets its response late
// instead.
func TestThrottleMutesConnection(t *testing.T) {
	limits := &StaticLimits{}
	tb := startTestBroker(t, func(c *Config) {
		c.Limits = limits
		c.QuotaWindowSamples, c.QuotaWindowSize = 2, 150*time.Millisecond // throttles of 300ms at most
	})
	if _, err := tb.store.CreateTopic(t.Context(), "lkc-a", "t", 1, nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	limits.Set("lkc-a", ClusterLimits{IngressByteRate: 100})
	big := strings.Repeat("v", 4000)

	resp := rc.roundTrip(produceRequest("t", 0, testBatch(t, 0, big))).(*kmsg.ProduceResponse)
	if resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("throttled produce: error %d, want the data accepted", resp.Topics[0].Partitions[0].ErrorCode)
	}
	if resp.ThrottleMillis != 300 {
		t.Fatalf("throttle_time_ms %d, want 300 (the whole window)", resp.ThrottleMillis)
	}
	start := time.Now()
	rc.roundTrip(kmsg.NewPtrMetadataRequest())
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("request after a 300ms throttle answered in %v: the connection was not muted", waited)
	}

	time.Sleep(400 * time.Millisecond) // the window forgets
	old := produceRequest("t", 0, testBatch(t, 1, big))
	old.Version = 5 // before KIP-219: the broker holds the response back
	start = time.Now()
	resp = rc.roundTrip(old).(*kmsg.ProduceResponse)
	if waited := time.Since(start); resp.ThrottleMillis != 300 || waited < 250*time.Millisecond {
		t.Fatalf("v5 produce over quota: throttle %dms answered in %v, want 300ms and held back as long", resp.ThrottleMillis, waited)
	}

	limits.Set("lkc-a", ClusterLimits{})
	time.Sleep(400 * time.Millisecond)
	if resp := rc.roundTrip(produceRequest("t", 0, testBatch(t, 2, big))).(*kmsg.ProduceResponse); resp.ThrottleMillis != 0 {
		t.Fatalf("throttle %dms after the limit was lifted, want 0", resp.ThrottleMillis)
	}
}
