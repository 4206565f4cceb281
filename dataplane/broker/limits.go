package broker

// ClusterLimits are the limits of one cluster (from its plan, changed
// through the API) that brokers enforce. Zero means unlimited.
type ClusterLimits struct {
	// IngressByteRate bounds produce throughput, bytes per second.
	IngressByteRate int64
	// EgressByteRate bounds fetch throughput, bytes per second.
	EgressByteRate int64
	// MaxPartitions bounds the partitions over all topics.
	MaxPartitions int32
	// MaxStorageBytes bounds the retained bytes over all topics.
	MaxStorageBytes int64
	// MaxConnections bounds concurrent client connections.
	MaxConnections int32
	// MaxConnectionAttemptRate bounds new connections per second.
	MaxConnectionAttemptRate int32
	// MaxMessageBytes bounds the record batch a producer may send.
	MaxMessageBytes int32
	// MaxRequestRate bounds requests per second over all connections.
	MaxRequestRate int32
}

// LimitSource gives a cluster's current limits. It is asked often (per
// request), so it must answer from memory; a change must show in its
// answers without a restart.
type LimitSource interface {
	ClusterLimits(cluster string) ClusterLimits
}
