package brokertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(testContext(t), partitions, -1, configs, topic)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v (%s)", topic, err, resp.Err, resp.ErrMessage)
	}
}

// consume reads n records from the start of topic without a group.
func consume(t *testing.T, h *testutil.BrokerHandle, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := h.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testContext(t)
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records of %s before %v", len(got), n, topic, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		got = append(got, fs.Records()...)
	}
	return got
}

func TestProduceConsume(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	createTopic(t, h.Admin(t), "orders", 3, nil)

	// The default franz-go producer is idempotent.
	producer := h.Client(t, kgo.DefaultProduceTopic("orders"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	const n = 300
	var records []*kgo.Record
	for i := range n {
		records = append(records, &kgo.Record{Partition: int32(i % 3), Key: []byte(strconv.Itoa(i)), Value: []byte(fmt.Sprintf("order-%d", i))})
	}
	if err := producer.ProduceSync(testContext(t), records...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	for i, r := range records {
		if want := int64(i / 3); r.Offset != want {
			t.Fatalf("record %d got offset %d in partition %d, want %d", i, r.Offset, r.Partition, want)
		}
	}

	got := consume(t, h, "orders", n)
	perPartition := map[int32][]string{}
	for _, r := range got {
		perPartition[r.Partition] = append(perPartition[r.Partition], string(r.Value))
	}
	for p := range int32(3) {
		var want []string
		for i := int(p); i < n; i += 3 {
			want = append(want, fmt.Sprintf("order-%d", i))
		}
		if !slices.Equal(perPartition[p], want) {
			t.Fatalf("partition %d consumed %d records %v..., want %d in order", p, len(perPartition[p]), perPartition[p][:min(3, len(perPartition[p]))], len(want))
		}
	}

	end, err := h.Admin(t).ListEndOffsets(testContext(t), "orders")
	if err != nil {
		t.Fatal(err)
	}
	end.Each(func(o kadm.ListedOffset) {
		if o.Err != nil || o.Offset != n/3 {
			t.Errorf("end offset of %s/%d = %d (%v), want %d", o.Topic, o.Partition, o.Offset, o.Err, n/3)
		}
	})
}

func TestCompressedProduceConsume(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	createTopic(t, h.Admin(t), "compressed", 1, nil)
	for _, codec := range []kgo.CompressionCodec{kgo.GzipCompression(), kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression()} {
		producer := h.Client(t, kgo.DefaultProduceTopic("compressed"), kgo.ProducerBatchCompression(codec))
		if err := producer.ProduceSync(testContext(t), &kgo.Record{Value: []byte("squeezed, squeezed, squeezed")}).FirstErr(); err != nil {
			t.Fatalf("produce with %v: %v", codec, err)
		}
	}
	for _, r := range consume(t, h, "compressed", 4) {
		if string(r.Value) != "squeezed, squeezed, squeezed" {
			t.Fatalf("record %d: %q", r.Offset, r.Value)
		}
	}
}

func TestConsumerGroupResumesFromCommit(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	createTopic(t, h.Admin(t), "events", 2, nil)
	producer := h.Client(t, kgo.DefaultProduceTopic("events"))
	produce := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			rs = append(rs, &kgo.Record{Value: []byte(strconv.Itoa(i))})
		}
		if err := producer.ProduceSync(testContext(t), rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	consumeGroup := func(n int) map[string]bool {
		cl, err := kgo.NewClient(append(h.ClientOpts(),
			kgo.ConsumerGroup("billing"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())...)
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx := testContext(t)
		seen := map[string]bool{}
		for len(seen) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("group consumed %d of %d records", len(seen), n)
			}
			fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
			fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)] = true })
		}
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
		return seen
	}

	produce(0, 50)
	if got := consumeGroup(50); len(got) != 50 {
		t.Fatalf("first member saw %d records, want 50", len(got))
	}
	produce(50, 80)
	got := consumeGroup(30)
	for v := range got {
		if i, _ := strconv.Atoi(v); i < 50 {
			t.Fatalf("second member re-read record %s: the commit was not used", v)
		}
	}

	adm := h.Admin(t)
	described, err := adm.DescribeGroups(testContext(t), "billing")
	if err != nil || described["billing"].Err != nil {
		t.Fatalf("describe group: %v %v", err, described["billing"].Err)
	}
	offsets, err := adm.FetchOffsets(testContext(t), "billing")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 80 {
		t.Fatalf("committed offsets sum to %d, want 80", committed)
	}
}

func TestAdminTopics(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	adm := h.Admin(t)
	ctx := testContext(t)
	str := func(s string) *string { return &s }

	t.Run("create rules", func(t *testing.T) {
		tests := []struct {
			name       string
			topic      string
			partitions int32
			rf         int16
			configs    map[string]*string
			want       error
		}{
			{"defaults", "ok-defaults", -1, -1, nil, nil},
			{"rf 3", "ok-rf3", 2, 3, nil, nil},
			{"configs", "ok-configs", 1, -1, map[string]*string{"retention.ms": str("3600000"), "cleanup.policy": str("compact,delete")}, nil},
			{"illegal char", "bad/name", 1, -1, nil, kerr.InvalidTopicException},
			{"dot", ".", 1, -1, nil, kerr.InvalidTopicException},
			{"too long", string(slices.Repeat([]byte("x"), 250)), 1, -1, nil, kerr.InvalidTopicException},
			{"zero partitions", "zero-parts", 0, -1, nil, kerr.InvalidPartitions},
			{"rf zero", "rf-zero", 1, 0, nil, kerr.InvalidReplicationFactor},
			{"rf four", "rf-four", 1, 4, nil, kerr.InvalidReplicationFactor},
			{"unknown config", "bad-config", 1, -1, map[string]*string{"no.such.config": str("1")}, kerr.InvalidConfig},
			{"bad config value", "bad-value", 1, -1, map[string]*string{"cleanup.policy": str("shred")}, kerr.InvalidConfig},
			{"exists", "ok-defaults", 1, -1, nil, kerr.TopicAlreadyExists},
			{"dots", "dotted.name", 1, -1, nil, nil},
			{"collides with dots", "dotted_name", 1, -1, nil, kerr.InvalidTopicException},
		}
		for _, tt := range tests {
			// kadm returns a topic's error both in err and in resp.
			resp, _ := adm.CreateTopic(ctx, tt.partitions, tt.rf, tt.configs, tt.topic)
			if !errors.Is(resp.Err, tt.want) && resp.Err != tt.want {
				t.Errorf("%s: got %v (%s), want %v", tt.name, resp.Err, resp.ErrMessage, tt.want)
			}
			if tt.want == kerr.InvalidConfig && resp.ErrMessage == "" {
				t.Errorf("%s: INVALID_CONFIG without a message naming the key", tt.name)
			}
		}
	})

	t.Run("validate only creates nothing", func(t *testing.T) {
		resp, err := adm.ValidateCreateTopics(ctx, 4, -1, nil, "dry-run")
		if err != nil || resp["dry-run"].Err != nil {
			t.Fatalf("validate: %v %v", err, resp["dry-run"].Err)
		}
		topics, err := adm.ListTopics(ctx)
		if err != nil || topics.Has("dry-run") {
			t.Fatalf("dry-run topic exists after validate only (%v)", err)
		}
	})

	t.Run("configs", func(t *testing.T) {
		createTopic(t, adm, "configured", 1, map[string]*string{"retention.ms": str("1000")})
		alter, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "max.message.bytes", Value: str("2048")},
			{Op: kadm.DeleteConfig, Name: "retention.ms"},
			{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: str("compact")},
		}, "configured")
		if err != nil || alter[0].Err != nil {
			t.Fatalf("alter: %v %v", err, alter)
		}
		described, err := adm.DescribeTopicConfigs(ctx, "configured")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := described.On("configured", nil)
		if err != nil || rc.Err != nil {
			t.Fatalf("describe: %v %v", err, rc.Err)
		}
		want := map[string]struct {
			value  string
			source string
		}{
			"max.message.bytes": {"2048", "DYNAMIC_TOPIC_CONFIG"},
			"retention.ms":      {"604800000", "DEFAULT_CONFIG"},
			"cleanup.policy":    {"delete,compact", "DYNAMIC_TOPIC_CONFIG"},
		}
		for _, c := range rc.Configs {
			if w, ok := want[c.Key]; ok {
				if c.MaybeValue() != w.value || c.Source.String() != w.source {
					t.Errorf("%s = %q (%s), want %q (%s)", c.Key, c.MaybeValue(), c.Source, w.value, w.source)
				}
				delete(want, c.Key)
			}
		}
		if len(want) > 0 {
			t.Errorf("configs missing from DescribeConfigs: %v", want)
		}
		bad, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: str("soon")}}, "configured")
		if err != nil || !errors.Is(bad[0].Err, kerr.InvalidConfig) {
			t.Fatalf("bad value: %v %v, want INVALID_CONFIG", err, bad)
		}
		brokerAlter, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "num.partitions", Value: str("3")}})
		if err != nil || !errors.Is(brokerAlter[0].Err, kerr.PolicyViolation) {
			t.Fatalf("broker alter: %v %v, want POLICY_VIOLATION", err, brokerAlter)
		}
		brokerConfigs, err := adm.DescribeBrokerConfigs(ctx)
		if err != nil || len(brokerConfigs) != 1 || len(brokerConfigs[0].Configs) == 0 {
			t.Fatalf("describe broker configs: %v %v", err, brokerConfigs)
		}
	})

	t.Run("partitions", func(t *testing.T) {
		createTopic(t, adm, "growing", 2, nil)
		if resp, err := adm.UpdatePartitions(ctx, 5, "growing"); err != nil || resp["growing"].Err != nil {
			t.Fatalf("grow to 5: %v %v", err, resp["growing"].Err)
		}
		if resp, err := adm.UpdatePartitions(ctx, 3, "growing"); err != nil || !errors.Is(resp["growing"].Err, kerr.InvalidPartitions) {
			t.Fatalf("shrink to 3: %v %v, want INVALID_PARTITIONS", err, resp["growing"].Err)
		}
		md, err := adm.Metadata(ctx, "growing")
		if err != nil || len(md.Topics["growing"].Partitions) != 5 {
			t.Fatalf("metadata after growing: %v %v", err, md.Topics["growing"])
		}
	})

	t.Run("delete records and list offsets", func(t *testing.T) {
		createTopic(t, adm, "trimmed", 1, nil)
		producer := h.Client(t, kgo.DefaultProduceTopic("trimmed"))
		before := time.Now().UnixMilli()
		for i := range 10 {
			if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		after, err := adm.ListOffsetsAfterMilli(ctx, before, "trimmed")
		if err != nil || after["trimmed"][0].Offset != 0 {
			t.Fatalf("offset after %d: %v %v, want 0", before, err, after)
		}
		deleted, err := adm.DeleteRecords(ctx, kadm.Offsets{"trimmed": {0: {Topic: "trimmed", Partition: 0, At: 4}}})
		if err != nil || deleted["trimmed"][0].Err != nil || deleted["trimmed"][0].LowWatermark != 4 {
			t.Fatalf("delete records: %v %v, want low watermark 4", err, deleted)
		}
		start, err := adm.ListStartOffsets(ctx, "trimmed")
		if err != nil || start["trimmed"][0].Offset != 4 {
			t.Fatalf("start offset after delete records: %v %v, want 4", err, start)
		}
		maxTS, err := adm.ListMaxTimestampOffsets(ctx, "trimmed")
		if err != nil || maxTS["trimmed"][0].Offset < 4 {
			t.Fatalf("max timestamp offset: %v %v", err, maxTS)
		}
	})

	t.Run("delete records of a compacted topic", func(t *testing.T) {
		for policy, want := range map[string]error{"compact": kerr.PolicyViolation, "compact,delete": nil} {
			name := "compacted-" + strings.ReplaceAll(policy, ",", "-")
			createTopic(t, adm, name, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr(policy)})
			deleted, err := adm.DeleteRecords(ctx, kadm.Offsets{name: {0: {Topic: name, Partition: 0, At: -1}}})
			if err != nil || !errors.Is(deleted[name][0].Err, want) {
				t.Fatalf("delete records with cleanup.policy=%s: %v %v, want %v", policy, err, deleted[name][0].Err, want)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		createTopic(t, adm, "doomed", 1, nil)
		if resp, err := adm.DeleteTopic(ctx, "doomed"); err != nil || resp.Err != nil {
			t.Fatalf("delete: %v %v", err, resp.Err)
		}
		if resp, _ := adm.DeleteTopic(ctx, "doomed"); !errors.Is(resp.Err, kerr.UnknownTopicOrPartition) {
			t.Fatalf("delete again: %v, want UNKNOWN_TOPIC_OR_PARTITION", resp.Err)
		}
	})

	t.Run("metadata", func(t *testing.T) {
		md, err := adm.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if md.Cluster != h.Cluster || len(md.Brokers) != 1 || md.Brokers[0].NodeID != 1 || md.Controller != 1 {
			t.Fatalf("cluster %q brokers %v controller %d", md.Cluster, md.Brokers, md.Controller)
		}
		if got := fmt.Sprintf("%s:%d", md.Brokers[0].Host, md.Brokers[0].Port); got != h.Addr {
			t.Fatalf("advertised %s, want %s", got, h.Addr)
		}
	})
}

func TestTenantsAreIsolated(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	createTopic(t, h.Admin(t), "shared-name", 1, nil)
	other, err := kgo.NewClient(h.ClientOpts(h.Tenants[1])...)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	adm := kadm.NewClient(other)
	topics, err := adm.ListTopics(testContext(t))
	if err != nil || len(topics) != 0 {
		t.Fatalf("other tenant sees topics %v (%v), want none", topics.Names(), err)
	}
	// The same name in another cluster is another topic.
	resp, err := adm.CreateTopic(testContext(t), 4, -1, nil, "shared-name")
	if err != nil || resp.Err != nil {
		t.Fatalf("other tenant creating shared-name: %v %v", err, resp.Err)
	}
	md, err := h.Admin(t).Metadata(testContext(t), "shared-name")
	if err != nil || len(md.Topics["shared-name"].Partitions) != 1 {
		t.Fatalf("first tenant's shared-name changed: %v %v", err, md.Topics["shared-name"])
	}
}

func TestSASLCredentials(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	bad := h.Tenants[0]
	bad.Password = "not-the-secret"
	cl, err := kgo.NewClient(append(h.ClientOpts(bad), kgo.RequestRetries(0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = kadm.NewClient(cl).ListTopics(testContext(t))
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("bad password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	if _, err := h.Admin(t).ListTopics(testContext(t)); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
}

func TestMessageTooLarge(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	limit := "1024"
	createTopic(t, h.Admin(t), "small", 1, map[string]*string{"max.message.bytes": &limit})
	producer := h.Client(t, kgo.DefaultProduceTopic("small"), kgo.RecordRetries(0))
	incompressible := make([]byte, 4096)
	_, _ = rand.Read(incompressible)
	err := producer.ProduceSync(testContext(t), &kgo.Record{Value: incompressible}).FirstErr()
	if !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("4 KiB record into max.message.bytes=1024: %v, want MESSAGE_TOO_LARGE", err)
	}
	if err := producer.ProduceSync(testContext(t), &kgo.Record{Value: make([]byte, 100)}).FirstErr(); err != nil {
		t.Fatalf("small record: %v", err)
	}
}

func TestLogAppendTime(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	typ := "LogAppendTime"
	createTopic(t, h.Admin(t), "stamped", 1, map[string]*string{"message.timestamp.type": &typ})
	producer := h.Client(t, kgo.DefaultProduceTopic("stamped"))
	before := time.Now().Add(-time.Second)
	if err := producer.ProduceSync(testContext(t), &kgo.Record{Value: []byte("x"), Timestamp: before.Add(-24 * time.Hour)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := consume(t, h, "stamped", 1)[0]
	if got.Timestamp.Before(before) || got.Attrs.TimestampType() != 1 {
		t.Fatalf("consumed timestamp %v (type %d), want the broker's append time (after %v, type 1)", got.Timestamp, got.Attrs.TimestampType(), before)
	}
}
