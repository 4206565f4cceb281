package broker

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestTopicMetricsAreBounded(t *testing.T) {
	m := newTopicMetrics(prometheus.NewRegistry())
	for i := range maxTopicSeries {
		m.in("lkc-a", fmt.Sprint("t", i), 10)
	}
	m.in("lkc-b", "one-too-many", 7)
	m.in("lkc-b", "another", 3)
	m.in("lkc-a", "t0", 5) // an exported topic stays exported
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("lkc-b", otherTopics)); got != 10 {
		t.Fatalf("__other = %v, want 10 (the two topics past the cap)", got)
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("lkc-a", "t0")); got != 15 {
		t.Fatalf("t0 = %v, want 15", got)
	}
	if n := testutil.CollectAndCount(m.bytesIn); n != maxTopicSeries+1 {
		t.Fatalf("%d series, want %d", n, maxTopicSeries+1)
	}
}
