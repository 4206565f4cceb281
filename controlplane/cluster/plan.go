package cluster

import "github.com/affluent-io/affluent/controlplane/resource"

// Plans and the limits they set: the default of each limit and its maximum.
const (
	PlanBasic      = "BASIC"
	PlanStandard   = "STANDARD"
	PlanEnterprise = "ENTERPRISE"
)

// Byte sizes. Rates and storage are in decimal units, as cloud plans
// publish them (MB/s, TB); message sizes in binary ones, as Kafka's
// message.max.bytes is usually set.
const (
	mib = 1 << 20
	mb  = 1_000_000
	gb  = 1000 * mb
	tb  = 1000 * gb
)

// The plans are sized like the serverless tiers of hosted Kafka (Confluent
// Cloud's Basic: 250 MB/s in, 750 MB/s out, 4,096 partitions, 5 TB,
// 1,000 connections, 80 connection attempts/s, 15,000 requests/s, 8 MB
// messages), each tier above the one below. They guard a shared fleet
// against one tenant, not a tenant against itself: limits low enough to
// throttle a benchmark would only hide the broker's own speed. A tenant
// lowers them per cluster (spec.limits) within its plan.
var plans = map[string]resource.Limits{
	PlanBasic: {
		IngressByteRate: 250 * mb, EgressByteRate: 750 * mb, MaxPartitions: 4096, MaxStorageBytes: 5 * tb,
		MaxConnections: 1000, MaxMessageBytes: 8 * mib, MaxRequestRate: 15_000, MaxConnectionAttemptRate: 80,
	},
	PlanStandard: {
		IngressByteRate: 500 * mb, EgressByteRate: 1500 * mb, MaxPartitions: 10_000, MaxStorageBytes: 50 * tb,
		MaxConnections: 10_000, MaxMessageBytes: 8 * mib, MaxRequestRate: 50_000, MaxConnectionAttemptRate: 500,
	},
	// ENTERPRISE is also what `affluent dev` bootstraps, so that local
	// development and `make bench` (10,000 partitions, as fast as the
	// machine goes) run unthrottled.
	PlanEnterprise: {
		IngressByteRate: 10 * gb, EgressByteRate: 30 * gb, MaxPartitions: 100_000, MaxStorageBytes: 1000 * tb,
		MaxConnections: 100_000, MaxMessageBytes: 20 * mib, MaxRequestRate: 1_000_000, MaxConnectionAttemptRate: 10_000,
	},
}

// PlanLimits returns the limits of plan.
func PlanLimits(plan string) (resource.Limits, bool) {
	l, ok := plans[plan]
	return l, ok
}

// effectiveLimits fills the zero fields of asked with the plan's values and
// reports the fields above the plan's.
func effectiveLimits(plan string, asked resource.Limits) (resource.Limits, []string) {
	max := plans[plan]
	var over []string
	pick64 := func(name string, v, m int64) int64 {
		if v == 0 {
			return m
		}
		if v > m || v < 0 {
			over = append(over, name)
		}
		return v
	}
	pick32 := func(name string, v, m int32) int32 { return int32(pick64(name, int64(v), int64(m))) }
	return resource.Limits{
		IngressByteRate: pick64("ingress_byte_rate", asked.IngressByteRate, max.IngressByteRate),
		EgressByteRate:  pick64("egress_byte_rate", asked.EgressByteRate, max.EgressByteRate),
		MaxPartitions:   pick32("max_partitions", asked.MaxPartitions, max.MaxPartitions),
		MaxStorageBytes: pick64("max_storage_bytes", asked.MaxStorageBytes, max.MaxStorageBytes),
		MaxConnections:  pick32("max_connections", asked.MaxConnections, max.MaxConnections),
		MaxMessageBytes: pick32("max_message_bytes", asked.MaxMessageBytes, max.MaxMessageBytes),
		MaxRequestRate:  pick32("max_request_rate", asked.MaxRequestRate, max.MaxRequestRate),
		MaxConnectionAttemptRate: pick32("max_connection_attempt_rate", asked.MaxConnectionAttemptRate,
			max.MaxConnectionAttemptRate),
	}, over
}
