package broker

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestErrorCodesFindsNestedCodes(t *testing.T) {
	produce := kmsg.NewPtrProduceResponse()
	for _, codes := range [][]int16{{0, kerr.NotLeaderForPartition.Code}, {kerr.MessageTooLarge.Code}} {
		topic := kmsg.NewProduceResponseTopic()
		for _, c := range codes {
			p := kmsg.NewProduceResponseTopicPartition()
			p.ErrorCode = c
			topic.Partitions = append(topic.Partitions, p)
		}
		produce.Topics = append(produce.Topics, topic)
	}
	meta := kmsg.NewPtrMetadataResponse()
	mt := kmsg.NewMetadataResponseTopic()
	mt.ErrorCode = kerr.TopicAuthorizationFailed.Code
	meta.Topics = append(meta.Topics, mt)
	group := kmsg.NewPtrJoinGroupResponse()
	group.ErrorCode = kerr.NotCoordinator.Code

	for _, tc := range []struct {
		resp kmsg.Response
		want []int16
	}{
		{produce, []int16{kerr.NotLeaderForPartition.Code, kerr.MessageTooLarge.Code}},
		{meta, []int16{kerr.TopicAuthorizationFailed.Code}},
		{group, []int16{kerr.NotCoordinator.Code}},
		{kmsg.NewPtrApiVersionsResponse(), nil},
	} {
		var got []int16
		errorCodes(tc.resp, func(c int16) { got = append(got, c) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%T: codes %v, want %v", tc.resp, got, tc.want)
		}
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newRequestMetrics(reg)
	ok := kmsg.NewPtrProduceResponse()
	bad := kmsg.NewPtrProduceResponse()
	topic := kmsg.NewProduceResponseTopic()
	for _, c := range []int16{kerr.NotLeaderForPartition.Code, kerr.NotLeaderForPartition.Code, kerr.InvalidRecord.Code} {
		p := kmsg.NewProduceResponseTopicPartition()
		p.ErrorCode = c
		topic.Partitions = append(topic.Partitions, p)
	}
	bad.Topics = append(bad.Topics, topic)
	began := time.Now().Add(-3 * time.Millisecond)
	m.observe(0, ok, began)
	m.observe(0, bad, began)
	m.observe(0, nil, began) // acks=0: no response

	want := `# HELP affluent_kafka_request_errors_total Kafka responses carrying an error, by API and error code; a response with several codes counts once per distinct code (Kafka's ErrorsPerSec).
# TYPE affluent_kafka_request_errors_total counter
affluent_kafka_request_errors_total{api="Produce",error_code="INVALID_RECORD"} 1
affluent_kafka_request_errors_total{api="Produce",error_code="NOT_LEADER_FOR_PARTITION"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "affluent_kafka_request_errors_total"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Produce")); got != 3 {
		t.Fatalf("Produce requests = %v, want 3", got)
	}
	if n := testutil.CollectAndCount(m.duration, "affluent_kafka_request_duration_seconds"); n < len(apis) {
		t.Fatalf("%d duration series, want one per API (%d) from the start", n, len(apis))
	}
}

func BenchmarkErrorCodesProduce16(b *testing.B) {
	resp := kmsg.NewPtrProduceResponse()
	topic := kmsg.NewProduceResponseTopic()
	for range 16 {
		topic.Partitions = append(topic.Partitions, kmsg.NewProduceResponseTopicPartition())
	}
	resp.Topics = append(resp.Topics, topic)
	for b.Loop() {
		errorCodes(resp, func(int16) {})
	}
}
