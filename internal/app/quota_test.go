package app_test

// Acceptance of cluster limits and usage metering (issue 7) against a real
// `affluent dev`: limits set through the REST API are enforced by the
// broker with Kafka's errors naming the limit, raised without a restart,
// and what franz-go produced and consumed is what the usage API reports.
// Byte-rate throttling is proven at broker level
// (dataplane/brokertest/quota_test.go).

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// recordBatchOverhead is the header of a v2 record batch (offset, length,
// epoch, magic, CRC, attributes, offsets, timestamps, producer, records
// count): on the wire beyond the records franz-go's batch metrics count.
const recordBatchOverhead = 61

// tenantCluster is a cluster made through the REST API with a service
// account administering it and its Kafka API key.
type tenantCluster struct {
	id, key, secret string
	path            string // REST path of the cluster
}

// newTenantCluster creates a serverless cluster with limits (nil: the
// plan's), waits until it runs, and makes a Kafka API key for it.
func newTenantCluster(t *testing.T, e *devEnv, name string, limits map[string]any) tenantCluster {
	t.Helper()
	c := e.creds
	spec := map[string]any{"type": "SERVERLESS", "cloud": "LOCAL", "region": "local", "plan": "BASIC"}
	if limits != nil {
		spec["limits"] = limits
	}
	created := e.mustREST(t, "POST", "/v1/environments/"+c.EnvironmentID+"/clusters", map[string]any{"display_name": name, "spec": spec})
	id := created["id"].(string)
	waitRunning(t, e, id)
	sa := e.mustREST(t, "POST", "/v1/service-accounts", map[string]any{"display_name": name + "-admin"})
	e.mustREST(t, "POST", "/v1/role-bindings", map[string]any{"principal": "User:" + sa["id"].(string),
		"role_name": "CloudClusterAdmin", "crn_pattern": resource.ClusterCRN(c.OrganizationID, c.EnvironmentID, id).String()})
	k := e.mustREST(t, "POST", "/v1/api-keys", map[string]any{"display_name": name, "owner": sa["id"], "resource": id})
	return tenantCluster{id: id, key: k["id"].(string), secret: k["secret"].(string),
		path: "/v1/environments/" + c.EnvironmentID + "/clusters/" + id}
}

// setLimit changes one limit through the API with an update mask.
func (tc tenantCluster) setLimit(t *testing.T, e *devEnv, name string, value int64) {
	t.Helper()
	e.mustREST(t, "PATCH", tc.path+"?update_mask=spec.limits."+name,
		map[string]any{"spec": map[string]any{"limits": map[string]any{name: value}}})
}

// eventually retries try every 100ms until it succeeds or limit passes, and
// returns how long it took.
func eventually(t *testing.T, what string, limit time.Duration, try func() error) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		err := try()
		if err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: still failing after %v: %v", what, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantLimitError checks that err is Kafka's code and that it or the
// response's error message (kadm keeps it apart) names the limit.
func wantLimitError(t *testing.T, what string, err error, message string, code *kerr.Error, limit string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: succeeded, want %s naming %s", what, code.Message, limit)
	}
	if !errors.Is(err, code) && !strings.Contains(err.Error(), code.Message) {
		t.Errorf("%s: %v, want %s", what, err, code.Message)
	}
	text := strings.TrimSpace(err.Error() + " " + message)
	if !strings.Contains(text, limit) {
		t.Errorf("%s: %q does not name the limit %s", what, text, limit)
	}
	t.Logf("%s: %s", what, text)
}

func TestClusterLimitsAndUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs affluent dev")
	}
	e := startDev(t)
	addr := e.p.KafkaAddr

	t.Run("max_connections", func(t *testing.T) {
		tc := newTenantCluster(t, e, "conns", map[string]any{"max_connections": 2})
		// Each client's Ping uses one connection.
		for i := range 2 {
			cl := plainClient(t, addr, tc.key, tc.secret)
			if err := cl.Ping(context.Background()); err != nil {
				t.Fatalf("connection %d of 2: %v", i+1, err)
			}
		}
		third := plainClient(t, addr, tc.key, tc.secret)
		wantLimitError(t, "third connection", refused(t, third), "", kerr.SaslAuthenticationFailed, "max_connections")
		tc.setLimit(t, e, "max_connections", 10)
		took := eventually(t, "a third connection after raising max_connections", 5*time.Second, func() error {
			return plainClient(t, addr, tc.key, tc.secret).Ping(context.Background())
		})
		t.Logf("max_connections raised → third connection in after %v", took.Round(time.Millisecond))
	})

	t.Run("max_partitions", func(t *testing.T) {
		tc := newTenantCluster(t, e, "partitions", map[string]any{"max_partitions": 3})
		adm := admin(t, addr, tc)
		ctx := context.Background()
		if _, err := adm.CreateTopic(ctx, 2, -1, nil, "first"); err != nil {
			t.Fatalf("2 of 3 partitions: %v", err)
		}
		created, err := adm.CreateTopic(ctx, 2, -1, nil, "second")
		wantLimitError(t, "CreateTopics beyond max_partitions", err, created.ErrMessage, kerr.PolicyViolation, "max_partitions")
		grown, err := adm.CreatePartitions(ctx, 2, "first")
		if err == nil {
			err = grown["first"].Err
		}
		wantLimitError(t, "CreatePartitions beyond max_partitions", err, grown["first"].ErrMessage, kerr.PolicyViolation, "max_partitions")
		tc.setLimit(t, e, "max_partitions", 10)
		took := eventually(t, "CreateTopics after raising max_partitions", 5*time.Second, func() error {
			_, err := adm.CreateTopic(ctx, 2, -1, nil, "second")
			if errors.Is(err, kerr.TopicAlreadyExists) {
				return nil
			}
			return err
		})
		t.Logf("max_partitions raised → topic created after %v", took.Round(time.Millisecond))
	})

	t.Run("max_storage_bytes", func(t *testing.T) {
		const limit = 64 << 10
		tc := newTenantCluster(t, e, "storage", map[string]any{"max_storage_bytes": limit})
		if _, err := admin(t, addr, tc).CreateTopic(context.Background(), 1, -1, nil, "filling"); err != nil {
			t.Fatal(err)
		}
		cl := plainClient(t, addr, tc.key, tc.secret, kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(5*time.Second),
			kgo.ProducerBatchCompression(kgo.NoCompression()))
		value := make([]byte, 8<<10)
		_, _ = rand.Read(value)
		var produced int
		var err error
		// Stored bytes are read at most a second old: the producer may
		// overshoot by a second of its throughput, not more.
		deadline := time.Now().Add(20 * time.Second)
		for err == nil && time.Now().Before(deadline) {
			if err = produceOnce(cl, "filling", string(value)); err == nil {
				produced += len(value)
			}
		}
		// franz-go's producer drops the partition's error message: the
		// same produce, sent raw, shows it.
		wantLimitError(t, "produce beyond max_storage_bytes", err, rawProduceMessage(t, cl, "filling", value),
			kerr.PolicyViolation, "max_storage_bytes")
		t.Logf("refused after %d bytes produced (limit %d)", produced, limit)
		if produced < limit {
			t.Errorf("refused after %d bytes, before the limit of %d", produced, limit)
		}
		tc.setLimit(t, e, "max_storage_bytes", 1<<30)
		took := eventually(t, "produce after raising max_storage_bytes", 5*time.Second, func() error {
			return produceOnce(cl, "filling", "after the raise")
		})
		t.Logf("max_storage_bytes raised → produce accepted after %v", took.Round(time.Millisecond))
	})

	t.Run("usage", func(t *testing.T) {
		tc := newTenantCluster(t, e, "metered", nil)
		if _, err := admin(t, addr, tc).CreateTopic(context.Background(), 2, -1, nil, "metered"); err != nil {
			t.Fatal(err)
		}
		// The batch metrics franz-go reports are what went over the wire,
		// less each batch's header: bytes_in and bytes_out must equal them
		// plus 61 bytes per batch exactly (the broker meters record
		// batches as sent and served), and exceed the values produced by
		// the records' framing (a few bytes each) and the headers alone.
		var meter batchMeter
		producer := plainClient(t, addr, tc.key, tc.secret, kgo.WithHooks(&meter),
			kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond))
		const records, size = 500, 1000
		var payload int64
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		var produceErr error
		var mu sync.Mutex
		for i := range records {
			value := make([]byte, size)
			_, _ = rand.Read(value)
			payload += int64(len(value))
			wg.Add(1)
			producer.Produce(ctx, &kgo.Record{Topic: "metered", Value: value, Key: []byte(strconv.Itoa(i))}, func(_ *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					mu.Lock()
					produceErr = errors.Join(produceErr, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if produceErr != nil {
			t.Fatalf("produce: %v", produceErr)
		}
		consumer := plainClient(t, addr, tc.key, tc.secret, kgo.WithHooks(&meter), kgo.ConsumeTopics("metered"))
		for consumed := 0; consumed < records; {
			fs := consumer.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %d of %d records: %v", consumed, records, err)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			consumed += fs.NumRecords()
		}
		producer.Close()
		consumer.Close()
		sent, served := meter.totals()
		t.Logf("produced %d records, %d bytes of values: %d batches, %d bytes on the wire; consumed %d batches, %d bytes",
			records, payload, sent.batches, sent.bytes, served.batches, served.bytes)

		// The meter flushes every 5s; wait for everything to be flushed.
		var in, out int64
		took := eventually(t, "usage reaching the API", 30*time.Second, func() error {
			in, out = clusterUsage(t, e, tc)
			if in != sent.bytes || out != served.bytes {
				return fmt.Errorf("bytes_in %d, bytes_out %d; want %d, %d", in, out, sent.bytes, served.bytes)
			}
			return nil
		})
		t.Logf("usage API after %v: bytes_in %d (values %d, +%.1f%%), bytes_out %d", took.Round(time.Millisecond),
			in, payload, 100*float64(in-payload)/float64(payload), out)
		// Framing bound: the key (≤ 3 bytes) and at most 12 bytes of
		// varints and attributes per record, plus each batch's header.
		if most := payload + records*(3+12) + sent.batches*recordBatchOverhead; in < payload || in > most {
			t.Errorf("bytes_in %d outside [%d, %d]", in, payload, most)
		}
	})
}

// rawProduceMessage produces value to partition 0 of topic with a
// hand-made request and returns the partition's error message.
func rawProduceMessage(t *testing.T, cl *kgo.Client, topic string, value []byte) string {
	t.Helper()
	var body []byte
	body = kbin.AppendInt8(body, 0)            // attributes
	body = kbin.AppendVarlong(body, 0)         // timestamp delta
	body = kbin.AppendVarint(body, 0)          // offset delta
	body = kbin.AppendVarintBytes(body, nil)   // key
	body = kbin.AppendVarintBytes(body, value) // value
	body = kbin.AppendVarint(body, 0)          // headers
	now := time.Now().UnixMilli()
	batch := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: now, MaxTimestamp: now,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1,
		Records: append(kbin.AppendVarint(nil, int32(len(body))), body...)}
	raw := batch.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli)))
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = raw
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.Partitions = topic, []kmsg.ProduceRequestTopicPartition{rp}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("raw produce: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("raw produce: %d topics in the response", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if p.ErrorMessage == nil {
		return kerr.ErrorForCode(p.ErrorCode).Error()
	}
	return *p.ErrorMessage
}

// admin is a Kafka admin client of tc with its API key.
func admin(t *testing.T, addr string, tc tenantCluster) *kadm.Client {
	return kadm.NewClient(plainClient(t, addr, tc.key, tc.secret))
}

// batchMeter adds up the record batches franz-go produced and fetched.
type batchMeter struct {
	mu            sync.Mutex // guards the fields below
	sent, fetched wireTotals
}

type wireTotals struct{ batches, bytes int64 }

var (
	_ kgo.HookProduceBatchWritten = (*batchMeter)(nil)
	_ kgo.HookFetchBatchRead      = (*batchMeter)(nil)
)

func (m *batchMeter) OnProduceBatchWritten(_ kgo.BrokerMetadata, _ string, _ int32, b kgo.ProduceBatchMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent.batches++
	m.sent.bytes += int64(b.CompressedBytes) + recordBatchOverhead
}

func (m *batchMeter) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, b kgo.FetchBatchMetrics) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fetched.batches++
	m.fetched.bytes += int64(b.CompressedBytes) + recordBatchOverhead
}

func (m *batchMeter) totals() (sent, fetched wireTotals) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sent, m.fetched
}

// clusterUsage sums the cluster's hourly usage buckets of the last day.
func clusterUsage(t *testing.T, e *devEnv, tc tenantCluster) (in, out int64) {
	t.Helper()
	resp := e.mustREST(t, "GET", tc.path+"/usage", nil)
	buckets, _ := resp["buckets"].([]any)
	for _, b := range buckets {
		bucket, _ := b.(map[string]any)
		in += jsonInt(bucket["bytes_in"])
		out += jsonInt(bucket["bytes_out"])
	}
	return in, out
}

// jsonInt reads an int64 field of protojson (a string) or a number.
func jsonInt(v any) int64 {
	switch v := v.(type) {
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	case float64:
		return int64(v)
	}
	return 0
}
