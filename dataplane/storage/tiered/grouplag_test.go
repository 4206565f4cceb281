package tiered

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

func TestGroupLagMetric(t *testing.T) {
	forEachBackend(t, func(t *testing.T, cfg Config) {
		ctx := context.Background()
		reg := prometheus.NewRegistry()
		cfg.Metrics = reg
		s := openStore(t, cfg)
		createTopic(t, s, "lkc-a", "orders", 2)
		createTopic(t, s, "lkc-b", "orders", 1)
		for p, n := range []int{10, 5} {
			mustAppend(t, s, storage.TopicPartition{Cluster: "lkc-a", Topic: "orders", Partition: int32(p)}, makeBatch(t, batchSpec{records: n}))
		}
		mustAppend(t, s, storage.TopicPartition{Cluster: "lkc-b", Topic: "orders"}, makeBatch(t, batchSpec{records: 3}))
		commit := func(cluster string, offsets ...groups.CommittedOffset) {
			t.Helper()
			if err := s.CommitOffsets(ctx, cluster, "billing", offsets); err != nil {
				t.Fatal(err)
			}
		}
		commit("lkc-a", groups.CommittedOffset{Topic: "orders", Partition: 0, Offset: 4}, groups.CommittedOffset{Topic: "orders", Partition: 1, Offset: 5})
		// The same group and topic names in another cluster are another group.
		commit("lkc-b", groups.CommittedOffset{Topic: "orders", Partition: 0, Offset: 1})

		want := `# HELP affluent_kafka_consumer_group_lag Records a consumer group has yet to consume of a topic (high watermark minus committed offset, summed over partitions). At most 10,000 series, the largest lags.
# TYPE affluent_kafka_consumer_group_lag gauge
affluent_kafka_consumer_group_lag{cluster="lkc-a",group="billing",topic="orders"} 6
affluent_kafka_consumer_group_lag{cluster="lkc-b",group="billing",topic="orders"} 2
`
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "affluent_kafka_consumer_group_lag"); err != nil {
			t.Fatal(err)
		}
		lags, err := s.GroupLags(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(lags) != 1 || lags[0].Cluster != "lkc-a" {
			t.Fatalf("limited to one row: %+v, want the largest lag (lkc-a)", lags)
		}
	})
}
