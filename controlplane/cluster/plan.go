package cluster

import "github.com/affluent-io/affluent/controlplane/resource"

// Plans and the limits they set: the default of each limit and its maximum.
const (
	PlanBasic      = "BASIC"
	PlanStandard   = "STANDARD"
	PlanEnterprise = "ENTERPRISE"
)

const (
	mib = 1 << 20
	gib = 1 << 30
	tib = 1 << 40
)

var plans = map[string]resource.Limits{
	PlanBasic: {
		IngressByteRate: 10 * mib, EgressByteRate: 30 * mib, MaxPartitions: 100, MaxStorageBytes: 10 * gib,
		MaxConnections: 100, MaxMessageBytes: 8 * mib, MaxRequestRate: 1000, MaxConnectionAttemptRate: 100,
	},
	PlanStandard: {
		IngressByteRate: 100 * mib, EgressByteRate: 300 * mib, MaxPartitions: 1000, MaxStorageBytes: tib,
		MaxConnections: 1000, MaxMessageBytes: 8 * mib, MaxRequestRate: 10000, MaxConnectionAttemptRate: 500,
	},
	PlanEnterprise: {
		IngressByteRate: gib, EgressByteRate: 3 * gib, MaxPartitions: 10000, MaxStorageBytes: 100 * tib,
		MaxConnections: 10000, MaxMessageBytes: 20 * mib, MaxRequestRate: 100000, MaxConnectionAttemptRate: 5000,
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
