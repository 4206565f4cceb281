package groups

import (
	"context"
	"errors"
)

// Store persists group state and committed offsets. The dataplane metadata
// DB implements it, so a broker restart (or another broker) resumes a group
// where it stopped.
type Store interface {
	// SaveGroup records the group's durable state (protocol type, protocol,
	// generation, leader, members with their metadata and assignments)
	// if the stored record is still at g.Version (0: there is none), and
	// raises its version to g.Version+1; otherwise it fails with
	// ErrGroupFenced and writes nothing.
	SaveGroup(ctx context.Context, cluster string, g GroupRecord) error
	// LoadGroups returns the records with their versions.
	LoadGroups(ctx context.Context, cluster string) ([]GroupRecord, error)
	DeleteGroup(ctx context.Context, cluster, group string) error
	// DeleteGroupAt deletes the group's record and all its committed
	// offsets at once, if the record is at version; otherwise it fails
	// with ErrGroupFenced and deletes nothing.
	DeleteGroupAt(ctx context.Context, cluster, group string, version int64) error

	CommitOffsets(ctx context.Context, cluster, group string, offsets []CommittedOffset) error
	// CommitOffsetsAt is CommitOffsets made only while the group's record
	// is at version (0: while there is none); otherwise it fails with
	// ErrGroupFenced and commits nothing.
	CommitOffsetsAt(ctx context.Context, cluster, group string, version int64, offsets []CommittedOffset) error
	// FetchOffsets returns committed offsets; topics nil means all.
	FetchOffsets(ctx context.Context, cluster, group string, topics []string) ([]CommittedOffset, error)
	DeleteOffsets(ctx context.Context, cluster, group string, topic string, partitions []int32) error
}

// ErrGroupFenced is returned by Store writes made over a group record
// that another coordinator changed since: the writer is no longer (or not
// yet) the group's coordinator.
var ErrGroupFenced = errors.New("group record changed by another coordinator")

// GroupRecord is the durable form of a classic consumer group.
type GroupRecord struct {
	// Version is the record's version in the Store (not part of the
	// document): what LoadGroups read, what SaveGroup expects to replace.
	Version      int64 `json:"-"`
	Name         string
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	State        string // Empty, Stable, PreparingRebalance, as Kafka names them
	// RebalanceDeadlineMs is, in PreparingRebalance, when the join phase
	// ends (unix ms): members that have not rejoined by then are removed.
	RebalanceDeadlineMs int64 `json:",omitempty"`
	Members             []MemberRecord
	// Consumer is set for a KIP-848 consumer group (then Members is empty).
	Consumer *ConsumerGroupRecord `json:",omitempty"`
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

// ConsumerGroupRecord is the durable state of a KIP-848 consumer group: the
// group and target assignment epochs, the topics the target was computed
// from, and each member with its subscription, epoch and assignments.
type ConsumerGroupRecord struct {
	Epoch           int32
	AssignmentEpoch int32
	Assignor        string // the server assignor that computed the target
	Topics          []ConsumerTopicRecord
	Members         []ConsumerMemberRecord
}

// ConsumerTopicRecord is a subscribed topic as the target assignment saw it.
type ConsumerTopicRecord struct {
	Name       string
	ID         [16]byte
	Partitions int32
}

// ConsumerMemberRecord is one member of a consumer group.
type ConsumerMemberRecord struct {
	MemberID             string
	InstanceID           string `json:",omitempty"`
	RackID               string `json:",omitempty"`
	ClientID             string
	ClientHost           string
	SubscribedTopicNames []string
	SubscribedTopicRegex string `json:",omitempty"`
	ServerAssignor       string `json:",omitempty"`
	RebalanceTimeoutMs   int32
	MemberEpoch          int32
	PreviousMemberEpoch  int32
	// LeftStatic is set for a static member that left with epoch -2 and
	// keeps its assignment until it returns or its session expires.
	LeftStatic bool `json:",omitempty"`
	State      string
	Assigned   []TopicPartitionsRecord
	// AssignedEpochs parallels Assigned: the member epoch at which each
	// partition was given, to judge commits of older epochs.
	AssignedEpochs [][]int32               `json:",omitempty"`
	Revoking       []TopicPartitionsRecord `json:",omitempty"`
	Target         []TopicPartitionsRecord
	// Classic is set for a member speaking the classic protocol.
	Classic *ClassicMemberRecord `json:",omitempty"`
}

// ClassicMemberRecord is what a consumer group keeps of a member speaking
// the classic protocol: its session timeout and JoinGroup protocols.
type ClassicMemberRecord struct {
	SessionTimeoutMs int32
	Protocols        []ClassicProtocolRecord
}

// ClassicProtocolRecord is one protocol of a classic member.
type ClassicProtocolRecord struct {
	Name     string
	Metadata []byte
}

// TopicPartitionsRecord is a set of partitions of one topic, by topic id.
type TopicPartitionsRecord struct {
	TopicID    [16]byte
	Partitions []int32
}
