package broker

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/internal/promreg"
)

// topicMetrics count record bytes produced to and fetched from each topic
// (Kafka's per-topic BytesInPerSec and BytesOutPerSec). Topics are many
// and chosen by tenants, so a broker exports at most maxTopicSeries of
// them; the traffic of the rest is counted under topic "__other".
type topicMetrics struct {
	bytesIn  *prometheus.CounterVec // cluster, topic
	bytesOut *prometheus.CounterVec // cluster, topic

	mu   sync.Mutex // guards seen
	seen map[[2]string]bool
}

const (
	maxTopicSeries = 10000
	otherTopics    = "__other"
)

func newTopicMetrics(reg prometheus.Registerer) *topicMetrics {
	m := &topicMetrics{
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_topic_bytes_in_total",
			Help: "Record bytes produced to a topic (accepted batches, as sent). At most 10,000 topics per broker; the rest count as topic __other.",
		}, []string{"cluster", "topic"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_kafka_topic_bytes_out_total",
			Help: "Record bytes fetched from a topic. At most 10,000 topics per broker; the rest count as topic __other.",
		}, []string{"cluster", "topic"}),
		seen: map[[2]string]bool{},
	}
	if reg != nil {
		m.bytesIn = promreg.Shared(reg, m.bytesIn)
		m.bytesOut = promreg.Shared(reg, m.bytesOut)
	}
	return m
}

// label is the topic label of cluster's topic: the topic, or __other once
// the broker exports maxTopicSeries topics.
func (m *topicMetrics) label(cluster, topic string) string {
	k := [2]string{cluster, topic}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[k] {
		return topic
	}
	if len(m.seen) >= maxTopicSeries {
		return otherTopics
	}
	m.seen[k] = true
	return topic
}

func (m *topicMetrics) in(cluster, topic string, n int) {
	if n > 0 {
		m.bytesIn.WithLabelValues(cluster, m.label(cluster, topic)).Add(float64(n))
	}
}

func (m *topicMetrics) out(cluster, topic string, n int) {
	if n > 0 {
		m.bytesOut.WithLabelValues(cluster, m.label(cluster, topic)).Add(float64(n))
	}
}
