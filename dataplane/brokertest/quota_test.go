package brokertest

// Acceptance of client quotas, cluster limits and usage metering (issue 7):
// real broker, real storage, franz-go clients.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/storage"
	"github.com/affluent-io/affluent/dataplane/usage"
	"github.com/affluent-io/affluent/internal/testutil"
)

const mib = 1 << 20

// usageRecorder is a usage.Sink keeping every record.
type usageRecorder struct {
	mu      sync.Mutex // guards records
	records []usage.Record
}

func (u *usageRecorder) RecordUsage(_ context.Context, records []usage.Record) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.records = append(u.records, records...)
	return nil
}

// total sums the counters of cluster's whole-cluster records, and of
// principal's records when principal is not empty.
func (u *usageRecorder) total(cluster, principal string) (in, out, requests int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range u.records {
		if r.Cluster == cluster && r.Principal == principal {
			in, out, requests = in+r.BytesIn, out+r.BytesOut, requests+r.Requests
		}
	}
	return in, out, requests
}

// quotaBroker starts a broker enforcing client quotas and limits, metering
// usage into the returned recorder.
func quotaBroker(t *testing.T) (*testutil.BrokerHandle, *broker.StaticLimits, *usageRecorder) {
	t.Helper()
	limits := &broker.StaticLimits{}
	rec := &usageRecorder{}
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true, Configure: func(cfg *broker.Config) {
		store := cfg.Catalog.(interface {
			storage.ClientQuotas
			storage.Usage
		})
		cfg.ClientQuotas = store
		cfg.StorageUsage = store
		cfg.Limits = limits
		cfg.UsageSink = rec
		cfg.UsageFlushInterval = 100 * time.Millisecond
	}})
	return h, limits, rec
}

func setQuota(t *testing.T, adm *kadm.Client, user, key string, value float64) {
	t.Helper()
	name := user
	op := kadm.AlterClientQuotaOp{Key: key, Value: value, Remove: value == 0}
	res, err := adm.AlterClientQuotas(testContext(t), []kadm.AlterClientQuotaEntry{{
		Entity: kadm.ClientQuotaEntity{{Type: "user", Name: &name}},
		Ops:    []kadm.AlterClientQuotaOp{op},
	}})
	if err != nil {
		t.Fatalf("alter client quota %s of %s: %v", key, user, err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("alter client quota %s of %s: %v (%s)", key, user, r.Err, r.ErrMessage)
		}
	}
}

// produceFor produces values of size bytes as fast as the client may for d
// and returns the value bytes acknowledged within d.
func produceFor(t *testing.T, cl *kgo.Client, topic string, size int, d time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	value := randomValue(size)
	var acked atomic.Int64
	var failed atomic.Value
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				failed.CompareAndSwap(nil, err)
			case err == nil && time.Now().Before(deadline):
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	cancel() // what is still buffered is not waited for
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	return acked.Load()
}

// fairnessRound has free produce for 12s, and throttled (over its quota)
// produce in seconds 3 to 9; it returns the medians of free's per-second
// throughput alone (seconds 1-2 and 10-11) and beside throttled (4-8).
func fairnessRound(t *testing.T, free, throttled *kgo.Client, valueSize int) (alone, beside float64) {
	t.Helper()
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	perSecond := make([]atomic.Int64, 12)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		value := randomValue(valueSize)
		for ctx.Err() == nil {
			free.Produce(ctx, &kgo.Record{Topic: "free", Value: value}, func(r *kgo.Record, err error) {
				if i := int(time.Since(start) / time.Second); err == nil && i < len(perSecond) {
					perSecond[i].Add(int64(len(r.Value)))
				}
			})
		}
	})
	time.Sleep(3 * time.Second)
	produceFor(t, throttled, "throttled", valueSize, 6*time.Second)
	time.Sleep(time.Until(start.Add(12 * time.Second)))
	stop()
	wg.Wait()
	var a, b []float64
	for i := range perSecond {
		rate := float64(perSecond[i].Load()) / mib
		switch {
		case i == 1 || i == 2 || i == 10 || i == 11:
			a = append(a, rate)
		case i >= 4 && i <= 8:
			b = append(b, rate)
		}
	}
	return median(a), median(b)
}

// TestClientQuotaThrottlesProduceAndFetch: with a 1 MiB/s quota, a client
// producing (then consuming) as fast as it can for 10s gets 1 MiB/s, within
// 15%; a tenant without quota on the same broker keeps its throughput
// within 20% of what it has alone.
func TestClientQuotaThrottlesProduceAndFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("measures throughput for about 40s")
	}
	h, _, _ := quotaBroker(t)
	adm := h.Admin(t)
	other := h.Tenants[1]
	otherAdm := kadm.NewClient(newClient(t, h, other))
	createTopic(t, adm, "throttled", 3, nil)
	createTopic(t, adm, "consumed", 3, nil)
	createTopic(t, otherAdm, "free", 3, nil)

	// Data to consume, produced before any quota.
	const valueSize = 1 << 10
	filler := h.Client(t, uncompressed)
	if n := produceFor(t, filler, "consumed", valueSize, 2*time.Second); n < 16*mib {
		produceUntil(t, filler, "consumed", valueSize, 16*mib-n)
	}

	// The other tenant produces throughout: alone, then beside the
	// throttled one, then alone again; comparing the medians of its
	// per-second throughput keeps a passing load on the machine from
	// passing for unfairness (or hiding it).
	freeClient := newClient(t, h, other)
	const phase = 10 * time.Second
	freeCtx, stopFree := context.WithCancel(t.Context())
	perSecond := make([]atomic.Int64, 2*phase/time.Second)
	freeStart := time.Now()
	var free sync.WaitGroup
	free.Go(func() {
		value := randomValue(valueSize)
		for freeCtx.Err() == nil {
			freeClient.Produce(freeCtx, &kgo.Record{Topic: "free", Value: value}, func(r *kgo.Record, err error) {
				if i := int(time.Since(freeStart) / time.Second); err == nil && i < len(perSecond) {
					perSecond[i].Add(int64(len(r.Value)))
				}
			})
		}
	})
	time.Sleep(phase / 2)
	setQuota(t, adm, h.Username, "producer_byte_rate", mib)
	quotaBytes := produceFor(t, h.Client(t, uncompressed), "throttled", valueSize, phase)
	time.Sleep(time.Until(freeStart.Add(2 * phase)))
	stopFree()
	free.Wait()

	produceRate := float64(quotaBytes) / phase.Seconds() / mib
	t.Logf("produce with a 1 MiB/s quota: %.3f MiB/s over %v", produceRate, phase)
	if produceRate < 0.85 || produceRate > 1.15 {
		t.Errorf("produce with a 1 MiB/s quota achieved %.3f MiB/s, want 1 MiB/s ±15%%", produceRate)
	}
	// Seconds 0-4 and 15-19 alone, 5-14 beside (the quota is set at 5s).
	var alone, beside []float64
	for i := range perSecond {
		rate := float64(perSecond[i].Load()) / mib
		if i >= 5 && i < 15 {
			beside = append(beside, rate)
		} else {
			alone = append(alone, rate)
		}
	}
	aloneRate, besideRate := median(alone), median(beside)
	t.Logf("tenant without quota (median MiB/s): %.2f alone, %.2f beside the throttled tenant; per second alone %.0f, beside %.0f",
		aloneRate, besideRate, alone, beside)
	// The machine running the tests is shared (other test packages run
	// at the same time), and a few noisy seconds can sink one round;
	// unfairness sinks every round. Up to two more rounds, each with the
	// throttled tenant producing in its middle, settle it.
	for round := 2; besideRate < 0.8*aloneRate && round <= 3; round++ {
		aloneRate, besideRate = fairnessRound(t, freeClient, h.Client(t, uncompressed), valueSize)
		t.Logf("round %d: tenant without quota (median MiB/s): %.2f alone, %.2f beside the throttled tenant", round, aloneRate, besideRate)
	}
	if besideRate < 0.8*aloneRate {
		t.Errorf("tenant without quota: %.2f MiB/s beside the throttled tenant, %.2f MiB/s alone: want within 20%%", besideRate, aloneRate)
	}

	setQuota(t, adm, h.Username, "consumer_byte_rate", mib)
	consumer := h.Client(t, kgo.ConsumeTopics("consumed"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(t.Context(), phase)
	defer cancel()
	var consumed int64
	for ctx.Err() == nil {
		fs := consumer.PollFetches(ctx)
		fs.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", topic, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) { consumed += int64(len(r.Value)) })
	}
	consumeRate := float64(consumed) / phase.Seconds() / mib
	t.Logf("consume with a 1 MiB/s quota: %.3f MiB/s over %v", consumeRate, phase)
	if consumeRate < 0.85 || consumeRate > 1.15 {
		t.Errorf("consume with a 1 MiB/s quota achieved %.3f MiB/s, want 1 MiB/s ±15%%", consumeRate)
	}
}

// randomValue is size random bytes: what compression cannot shrink.
func randomValue(size int) []byte {
	v := make([]byte, size)
	_, _ = rand.Read(v)
	return v
}

// uncompressed makes byte counts those of the values.
var uncompressed = kgo.ProducerBatchCompression(kgo.NoCompression())

func median(v []float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func newClient(t *testing.T, h *testutil.BrokerHandle, tn testutil.Tenant, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append(append(h.ClientOpts(tn), uncompressed), extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// produceUntil produces n more bytes of values of size, synchronously.
func produceUntil(t *testing.T, cl *kgo.Client, topic string, size int, n int64) {
	t.Helper()
	value := randomValue(size)
	var records []*kgo.Record
	for i := int64(0); i < n; i += int64(size) {
		records = append(records, &kgo.Record{Topic: topic, Value: value})
	}
	if err := cl.ProduceSync(testContext(t), records...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// eventually retries check until it passes or 5s pass; a limit raised
// through the LimitSource applies at once, stored bytes within a second.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func wantLimitErr(err error, code *kerr.Error, mentions string) error {
	switch {
	case err == nil:
		return errors.New("succeeded, want an error")
	case code != nil && !errors.Is(err, code):
		return err
	case !strings.Contains(err.Error(), mentions):
		return errors.New(err.Error() + ": does not mention " + mentions)
	}
	return nil
}

// TestClusterLimits: exceeding the partition, storage, message size and
// connection limits gives the documented errors, naming the limit; raising
// the limit lifts it without restart.
func TestClusterLimits(t *testing.T) {
	h, limits, _ := quotaBroker(t)
	adm := h.Admin(t)
	limits.Set(h.Cluster, broker.ClusterLimits{MaxPartitions: 4})

	t.Run("partitions", func(t *testing.T) {
		createTopic(t, adm, "three", 3, nil)
		resp, err := adm.CreateTopic(testContext(t), 2, -1, nil, "two")
		if resp.Err != nil {
			err = fmt.Errorf("%w: %s", resp.Err, resp.ErrMessage)
		}
		if e := wantLimitErr(err, kerr.PolicyViolation, "max_partitions"); e != nil {
			t.Fatalf("create topic beyond max_partitions: %v", e)
		}
		cp, err := adm.UpdatePartitions(testContext(t), 5, "three")
		if r := cp["three"]; err == nil && r.Err != nil {
			err = fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
		}
		if e := wantLimitErr(err, kerr.PolicyViolation, "limited to 4 partitions"); e != nil {
			t.Fatalf("create partitions beyond max_partitions: %v", e)
		}
		limits.Set(h.Cluster, broker.ClusterLimits{MaxPartitions: 10})
		createTopic(t, adm, "two", 2, nil)
	})

	t.Run("storage", func(t *testing.T) {
		limits.Set(h.Cluster, broker.ClusterLimits{MaxStorageBytes: 64 << 10})
		cl := h.Client(t, kgo.RecordRetries(0), uncompressed)
		value := randomValue(8 << 10)
		eventually(t, "produce beyond max_storage_bytes", func() error {
			err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "three", Value: value}).FirstErr()
			// franz-go drops the partition's error message; the broker's
			// tests check that it names max_storage_bytes.
			return wantLimitErr(err, kerr.PolicyViolation, "")
		})
		limits.Set(h.Cluster, broker.ClusterLimits{MaxStorageBytes: 100 * mib})
		eventually(t, "produce after raising max_storage_bytes", func() error {
			return cl.ProduceSync(testContext(t), &kgo.Record{Topic: "three", Value: value}).FirstErr()
		})
	})

	t.Run("message size", func(t *testing.T) {
		limits.Set(h.Cluster, broker.ClusterLimits{MaxMessageBytes: 16 << 10})
		cl := h.Client(t, kgo.RecordRetries(0), uncompressed)
		err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "three", Value: randomValue(32 << 10)}).FirstErr()
		if e := wantLimitErr(err, kerr.MessageTooLarge, ""); e != nil {
			t.Fatalf("produce beyond max_message_bytes: %v", e)
		}
		limits.Set(h.Cluster, broker.ClusterLimits{})
		if err := cl.ProduceSync(testContext(t), &kgo.Record{Topic: "three", Value: make([]byte, 32<<10)}).FirstErr(); err != nil {
			t.Fatalf("produce after lifting max_message_bytes: %v", err)
		}
	})

	// Connections of the other tenant, so that the clients above are not
	// counted.
	other := h.Tenants[1]
	ping := func() error {
		cl, err := kgo.NewClient(append(h.ClientOpts(other), kgo.RequestRetries(0))...)
		if err != nil {
			return err
		}
		t.Cleanup(cl.Close)
		return cl.Ping(testContext(t))
	}
	t.Run("connections", func(t *testing.T) {
		limits.Set(other.Cluster, broker.ClusterLimits{MaxConnections: 3})
		var err error
		for i := 0; i < 4 && err == nil; i++ {
			err = ping()
		}
		if e := wantLimitErr(err, kerr.SaslAuthenticationFailed, "max_connections"); e != nil {
			t.Fatalf("connections beyond max_connections: %v", e)
		}
		limits.Set(other.Cluster, broker.ClusterLimits{MaxConnections: 100})
		if err := ping(); err != nil {
			t.Fatalf("connect after raising max_connections: %v", err)
		}
	})

	t.Run("connection attempts", func(t *testing.T) {
		limits.Set(other.Cluster, broker.ClusterLimits{MaxConnectionAttemptRate: 1})
		var err error
		for i := 0; i < 30 && err == nil; i++ {
			err = ping()
		}
		if e := wantLimitErr(err, kerr.SaslAuthenticationFailed, "max_connection_attempt_rate"); e != nil {
			t.Fatalf("connections beyond max_connection_attempt_rate: %v", e)
		}
		limits.Set(other.Cluster, broker.ClusterLimits{MaxConnectionAttemptRate: 1000})
		if err := ping(); err != nil {
			t.Fatalf("connect after raising max_connection_attempt_rate: %v", err)
		}
	})
}

// TestUsageTotals: the bytes metered in and out are the bytes produced and
// consumed, give or take the record batches' framing.
func TestUsageTotals(t *testing.T) {
	h, _, rec := quotaBroker(t)
	createTopic(t, h.Admin(t), "metered", 2, nil)
	const n, size = 2000, 1000
	produceUntil(t, h.Client(t, uncompressed), "metered", size, n*size)
	got := consume(t, h, "metered", n)
	var consumed int64
	for _, r := range got {
		consumed += int64(len(r.Value))
	}
	h.Stop() // the last flush
	in, out, requests := rec.total(h.Cluster, "")
	pin, pout, _ := rec.total(h.Cluster, "User:"+h.Username)
	t.Logf("produced %d value bytes, metered %d in; consumed %d, metered %d out; %d requests", n*size, in, consumed, out, requests)
	within := func(what string, metered, want int64) {
		if metered < want || metered > want+want/10 {
			t.Errorf("%s metered %d bytes, want %d plus at most 10%% of record overhead", what, metered, want)
		}
	}
	within("produce", in, n*size)
	within("fetch", out, consumed)
	if pin != in || pout != out {
		t.Errorf("principal's usage %d in, %d out; cluster's %d in, %d out: want the same (one principal)", pin, pout, in, out)
	}
	if requests == 0 {
		t.Error("no requests metered")
	}
	if in2, _, _ := rec.total(h.Tenants[1].Cluster, ""); in2 != 0 {
		t.Errorf("the other cluster metered %d bytes in, want 0", in2)
	}
}
