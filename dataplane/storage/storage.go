// Package storage is the dataplane's durable state: topics and their
// configuration, partition logs kept in WAL objects and segments on object
// storage, producer-id allocation and idempotence state, and the records of
// consumer groups. Everything is keyed by cluster (the tenant), so two
// clusters may use the same topic or group name without ever meeting.
//
// The interfaces here speak Kafka (append a record batch, read from an
// offset, list offsets) so the broker's handlers stay thin. Engines are chosen
// by URL: the object store by gocloud.dev/blob URL (file://, s3://), the
// metadata DB by sqlite:// or postgres://.
package storage

import (
	"context"
	"errors"
	"time"
)

// Errors the broker maps to Kafka error codes in one place.
var (
	ErrUnknownTopic         = errors.New("unknown topic or partition")
	ErrTopicExists          = errors.New("topic already exists")
	ErrInvalidPartitions    = errors.New("invalid partition count")
	ErrOffsetOutOfRange     = errors.New("offset out of range")
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")
	ErrDuplicateSequence    = errors.New("duplicate sequence number")
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
	// ErrInvalidTxnState: a transactional batch whose transaction is not
	// ongoing with its partition (any more) when it commits.
	ErrInvalidTxnState   = errors.New("invalid transaction state")
	ErrUnknownProducerID = errors.New("unknown producer id")
	ErrCorruptMessage    = errors.New("corrupt record batch") // framing disagrees with the parsed header
	ErrClosed            = errors.New("storage closed")
	// ErrUnavailable wraps failures of the object store or the metadata DB
	// that a retry may not meet (errors, throttling, timeouts). Nothing was
	// acknowledged: a produce that fails with it may or may not have been
	// committed, as with any timeout, and idempotent producers retry
	// without duplicates. Map it to a retriable Kafka error.
	ErrUnavailable = errors.New("storage temporarily unavailable")
)

// Defaults of segment.bytes and segment.ms, which the broker reports and
// the engine applies. Kafka's are 1 GiB and 7 days, sized for local disks;
// on object storage a segment is rewritten whole by merges and cleaning and
// retention drops whole segments, so smaller ones keep both cheap.
const (
	DefaultSegmentBytes = 128 << 20
	DefaultSegmentAge   = 24 * time.Hour
)

// TopicPartition names one partition of one cluster's topic.
type TopicPartition struct {
	Cluster   string
	Topic     string
	Partition int32
}

// Topic is a topic as the catalog knows it.
type Topic struct {
	Cluster    string
	Name       string
	ID         [16]byte // Kafka topic UUID, random, never reused
	Partitions int32
	Configs    map[string]string // only configs explicitly set; defaults are the broker's
	CreateTime time.Time
}

// Catalog holds topics and their configuration.
type Catalog interface {
	CreateTopic(ctx context.Context, cluster, name string, partitions int32, configs map[string]string) (Topic, error)
	// DeleteTopic removes the topic and (asynchronously) its data.
	DeleteTopic(ctx context.Context, cluster, name string) error
	Topic(ctx context.Context, cluster, name string) (Topic, error)
	TopicByID(ctx context.Context, cluster string, id [16]byte) (Topic, error)
	Topics(ctx context.Context, cluster string) ([]Topic, error)
	// AddPartitions grows the topic to total partitions.
	AddPartitions(ctx context.Context, cluster, name string, total int32) error
	// UpdateConfigs sets the given keys and removes those in remove.
	UpdateConfigs(ctx context.Context, cluster, name string, set map[string]string, remove []string) error
	// ReplaceConfigs makes configs the complete set of explicit configs.
	ReplaceConfigs(ctx context.Context, cluster, name string, configs map[string]string) error
}

// Batch is one Kafka record batch (magic 2) as a producer sent it, with the
// header fields the broker already parsed and validated (CRC included).
type Batch struct {
	Raw            []byte // the whole batch, as received
	NumRecords     int32  // LastOffsetDelta + 1
	FirstTimestamp int64
	MaxTimestamp   int64
	ProducerID     int64 // -1 when not idempotent
	ProducerEpoch  int16
	BaseSequence   int32
	Transactional  bool
	Control        bool
	// ControlType is the marker a control batch carries (ControlAbort,
	// ControlCommit); control batches are written by the transaction
	// coordinator only.
	ControlType int16
	// TransactionalID is the transactional id of a transactional data
	// batch; a Log that keeps transactions checks, as it commits the
	// batch, that its transaction is still ongoing with this partition.
	TransactionalID string
	LogAppendTime   bool // the topic uses message.timestamp.type=LogAppendTime
}

// AppendResult is what a committed append produced.
type AppendResult struct {
	BaseOffset     int64
	LogAppendTime  int64 // -1 unless the topic uses LogAppendTime
	LogStartOffset int64
}

// ReadResult holds whole record batches starting at or before the requested
// offset, their baseOffset fields rewritten to the assigned offsets.
type ReadResult struct {
	Records          []byte
	HighWatermark    int64
	LastStableOffset int64
	LogStartOffset   int64
}

// Enqueuer is a Log that can split Append in two: Enqueue gives batch its
// place in its partition's order and returns at once; the returned wait
// blocks until the batch is durable and gives what Append would have. A
// producer's pipelined requests are then ordered by their Enqueue calls,
// and the next request need not wait for the previous one's durability.
type Enqueuer interface {
	Enqueue(ctx context.Context, tp TopicPartition, batch Batch) (wait func(context.Context) (AppendResult, error), err error)
}

// Log is the set of partition logs.
type Log interface {
	// Append makes batch durable (object storage + metadata commit) and
	// returns its offsets. It blocks until then. A duplicate of an already
	// committed idempotent batch returns that batch's original result and
	// ErrDuplicateSequence wrapped in nothing (callers treat it as success).
	Append(ctx context.Context, tp TopicPartition, batch Batch) (AppendResult, error)
	// (See Enqueuer for a Log that can also take a batch's place in its
	// partition's order without waiting.)
	// Read returns batches from offset, at most maxBytes unless the first
	// batch alone is larger (Kafka's rule: always make progress).
	Read(ctx context.Context, tp TopicPartition, offset int64, maxBytes int32) (ReadResult, error)
	// Offsets returns the log start offset and the high watermark.
	Offsets(ctx context.Context, tp TopicPartition) (start, end int64, err error)
	// OffsetForTime returns the first offset whose timestamp is >= ts, with
	// that timestamp; offset -1 when none.
	OffsetForTime(ctx context.Context, tp TopicPartition, ts int64) (offset, timestamp int64, err error)
	// MaxTimestamp returns the offset and timestamp of the record with the
	// largest timestamp (ListOffsets -3); offset -1 when empty.
	MaxTimestamp(ctx context.Context, tp TopicPartition) (offset, timestamp int64, err error)
	// DeleteRecords advances the log start offset to before (-1: to the high
	// watermark) and returns the new log start offset.
	DeleteRecords(ctx context.Context, tp TopicPartition, before int64) (int64, error)
	// Watch returns a channel closed at the next commit to tp (and when
	// the store closes). Call it before the Read whose emptiness you wait
	// on, or a commit in between goes unnoticed.
	Watch(tp TopicPartition) <-chan struct{}
	// AllocateProducerID hands out a new producer id (epoch 0).
	AllocateProducerID(ctx context.Context) (int64, error)
}
