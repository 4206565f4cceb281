package tiered

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GroupLag is how far one consumer group is behind on one topic: the sum
// over the topic's partitions the group committed of high watermark minus
// committed offset.
type GroupLag struct {
	Cluster, Group, Topic string
	Lag                   int64
}

// GroupLags reads the lag of every group with committed offsets, at most
// limit rows, largest lag first. It is one query over the metadata DB, so
// every broker sharing the DB sees (and exports) the same lags: queries take
// the max over brokers.
func (s *Store) GroupLags(ctx context.Context, limit int) ([]GroupLag, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT o.cluster, o.group_name, o.topic,
			SUM(CASE WHEN p.next_offset > o.committed_offset THEN p.next_offset - o.committed_offset ELSE 0 END) AS lag
		FROM committed_offsets o
		JOIN topics t ON t.cluster = o.cluster AND t.name = o.topic
		JOIN partitions p ON p.topic_id = t.topic_id AND p.partition_id = o.partition_id
		GROUP BY o.cluster, o.group_name, o.topic
		ORDER BY lag DESC, o.cluster, o.group_name, o.topic
		LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read consumer group lag: %w", err)
	}
	defer rows.Close()
	var lags []GroupLag
	for rows.Next() {
		var l GroupLag
		if err := rows.Scan(&l.Cluster, &l.Group, &l.Topic, &l.Lag); err != nil {
			return nil, fmt.Errorf("read consumer group lag: %w", err)
		}
		lags = append(lags, l)
	}
	return lags, rows.Err()
}

// groupLagCollector exports affluent_kafka_consumer_group_lag. A scrape
// reads the DB at most once per refresh interval, and at most maxSeries
// series (the largest lags) are exported, so that neither a scrape storm
// nor a tenant with many groups costs the DB or Prometheus much.
type groupLagCollector struct {
	store     *Store
	desc      *prometheus.Desc
	maxSeries int
	refresh   time.Duration

	mu   sync.Mutex // guards last and read
	last []GroupLag
	read time.Time
}

const (
	groupLagMaxSeries = 10000
	groupLagRefresh   = 10 * time.Second
)

func newGroupLagCollector(s *Store) *groupLagCollector {
	return &groupLagCollector{
		store: s,
		desc: prometheus.NewDesc("affluent_kafka_consumer_group_lag",
			"Records a consumer group has yet to consume of a topic (high watermark minus committed offset, summed over partitions). At most 10,000 series, the largest lags.",
			[]string{"cluster", "group", "topic"}, nil),
		maxSeries: groupLagMaxSeries,
		refresh:   groupLagRefresh,
	}
}

func (c *groupLagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *groupLagCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	if time.Since(c.read) >= c.refresh {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		lags, err := c.store.GroupLags(ctx, c.maxSeries)
		cancel()
		if err != nil {
			c.store.log.Warn("consumer group lag not exported", "err", err)
		} else {
			c.last, c.read = lags, time.Now()
		}
	}
	lags := c.last
	c.mu.Unlock()
	for _, l := range lags {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(l.Lag), l.Cluster, l.Group, l.Topic)
	}
}
