package cpwatch

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics exports what the broker serves from: which snapshot,
// how old, how large, and whether the watch delivers. A broker whose
// watch is down serves its snapshot on; these tell an operator how stale
// that is, and the size how close a fleet gets to MaxSnapshotBytes.
func (c *Client) registerMetrics(reg prometheus.Registerer) error {
	served := func(f func(x *index) float64) func() float64 {
		return func() float64 {
			if x := c.current.Load(); x != nil {
				return f(x)
			}
			return 0
		}
	}
	collectors := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_snapshot_version",
			Help: "Version of the broker config snapshot served (0: none).",
		}, served(func(x *index) float64 { return float64(x.snap.GetVersion()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_snapshot_store_sequence",
			Help: "Control-plane write sequence the served broker config snapshot was read at.",
		}, served(func(x *index) float64 { return float64(x.snap.GetStoreSequence()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_snapshot_age_seconds",
			Help: "Seconds since the control plane built the served broker config snapshot.",
		}, served(func(x *index) float64 {
			if x.snap.GetCreateTime() == nil {
				return 0
			}
			return time.Since(x.snap.GetCreateTime().AsTime()).Seconds()
		})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_snapshot_bytes",
			Help: "Encoded size of the served broker config snapshot.",
		}, func() float64 { return float64(c.snapshotBytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_snapshot_applied_timestamp_seconds",
			Help: "Unix time this broker last applied a snapshot received from the control plane (0: none since start).",
		}, func() float64 {
			if at := c.appliedAt.Load(); at != 0 {
				return float64(at) / 1e9
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "affluent_broker_config_watch_connected",
			Help: "1 while the broker's config watch stream delivers, 0 while it serves its last snapshot alone.",
		}, func() float64 {
			if c.connected.Load() {
				return 1
			}
			return 0
		}),
	}
	for _, col := range collectors {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("register broker config metrics: %w", err)
		}
	}
	return nil
}
