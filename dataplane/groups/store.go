package groups

import "context"

// Store persists group state and committed offsets. The dataplane metadata
// DB implements it, so a broker restart (or another broker) resumes a group
// where it stopped.
type Store interface {
	// SaveGroup records the group's durable state (protocol type, protocol,
	// generation, leader, members with their metadata and assignments).
	SaveGroup(ctx context.Context, cluster string, g GroupRecord) error
	LoadGroups(ctx context.Context, cluster string) ([]GroupRecord, error)
	DeleteGroup(ctx context.Context, cluster, group string) error

	CommitOffsets(ctx context.Context, cluster, group string, offsets []CommittedOffset) error
	// FetchOffsets returns committed offsets; topics nil means all.
	FetchOffsets(ctx context.Context, cluster, group string, topics []string) ([]CommittedOffset, error)
	DeleteOffsets(ctx context.Context, cluster, group string, topic string, partitions []int32) error
}

// GroupRecord is the durable form of a classic consumer group.
type GroupRecord struct {
	Name         string
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	State        string // Empty, Stable, ... as Kafka names them
	Members      []MemberRecord
}

// MemberRecord is one member of a group.
type MemberRecord struct {
	MemberID           string
	GroupInstanceID    string // static membership (KIP-345); empty when dynamic
	ClientID           string
	ClientHost         string
	SessionTimeoutMs   int32
	RebalanceTimeoutMs int32
	Metadata           []byte // the protocol metadata chosen
	Assignment         []byte
}

// CommittedOffset is one committed offset of a group.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64 // unix ms
}
