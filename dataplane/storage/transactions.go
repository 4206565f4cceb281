package storage

import (
	"context"
	"errors"
)

// ErrTxnConflict is returned by SaveTransaction when the stored record is
// no longer the version the caller read: another broker changed it.
var ErrTxnConflict = errors.New("transaction record changed concurrently")

// Transaction states, as Kafka names them (DescribeTransactions,
// ListTransactions).
const (
	TxnEmpty          = "Empty"
	TxnOngoing        = "Ongoing"
	TxnPrepareCommit  = "PrepareCommit"
	TxnPrepareAbort   = "PrepareAbort"
	TxnCompleteCommit = "CompleteCommit"
	TxnCompleteAbort  = "CompleteAbort"
)

// TxnPartition is a partition a transaction wrote to.
type TxnPartition struct {
	Topic     string
	Partition int32
}

// Transaction is the coordinator's durable state of one transactional id.
type Transaction struct {
	TransactionalID string
	ProducerID      int64
	ProducerEpoch   int16
	// LastProducerID and LastProducerEpoch are the producer id and epoch
	// that the last InitProducerId replaced, when its request named them
	// (KIP-360); -1 when it did not, or when nothing did.
	LastProducerID    int64
	LastProducerEpoch int16
	State             string
	TimeoutMs         int32
	Partitions        []TxnPartition // added to the current transaction
	Groups            []string       // whose offsets it commits
	StartTime         int64          // unix ms the current transaction began; -1 when none
	UpdateTime        int64          // unix ms of the last change
	// Version counts saves; SaveTransaction writes only over the version
	// read (0: no record yet).
	Version int64
}

// TxnOffset is a group offset committed inside a transaction, visible to
// the group only once the transaction commits.
type TxnOffset struct {
	Group       string
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommitTime  int64
}

// AbortedTxn is an aborted transaction's span in one partition: the
// producer's first offset in it and the offset of its abort marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// ProducerInfo is what a partition remembers of a producer
// (DescribeProducers).
type ProducerInfo struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32
	LastTimestamp    int64 // unix ms of its last write
	TxnStartOffset   int64 // first offset of its open transaction; -1 when none
	CoordinatorEpoch int32
}

// ClusterTransaction is a transaction with its cluster, for passes over
// every cluster (timeouts).
type ClusterTransaction struct {
	Cluster string
	Transaction
}

// Transactions keeps transaction coordinator state and the transactional
// index of the partition logs (open transactions, aborted ones), all in the
// metadata DB, so that any broker resumes where another stopped.
//
// A Log that implements Transactions records, when it commits a batch with
// the transactional flag, that its producer has a transaction open in the
// partition from that offset; a control batch (commit or abort marker)
// closes it, and an abort marker records the aborted span.
type Transactions interface {
	Transaction(ctx context.Context, cluster, transactionalID string) (Transaction, bool, error)
	// SaveTransaction writes t if the stored record is at t.Version, and
	// advances t.Version; ErrTxnConflict otherwise.
	SaveTransaction(ctx context.Context, cluster string, t *Transaction) error
	ListTransactions(ctx context.Context, cluster string) ([]Transaction, error)
	// OngoingTransactions returns the unfinished (Ongoing, PrepareCommit,
	// PrepareAbort) transactions of every cluster whose last change is
	// older than before (unix ms).
	OngoingTransactions(ctx context.Context, before int64) ([]ClusterTransaction, error)
	// IdleTransactions returns the transactional ids of every cluster
	// with no transaction under way (Empty, CompleteCommit,
	// CompleteAbort) whose last change is older than before (unix ms).
	IdleTransactions(ctx context.Context, before int64) ([]ClusterTransaction, error)
	// DeleteTransaction forgets t's transactional id if its record is
	// still the one t was read from (its version and last change: a
	// record deleted and made again starts at version 1 again);
	// ErrTxnConflict otherwise.
	DeleteTransaction(ctx context.Context, cluster string, t Transaction) error

	// StageTxnOffsets keeps offsets committed by a transactional producer
	// until its transaction ends, if — checked in the same DB transaction,
	// against the coordinator's saves — that transaction is still Ongoing
	// at producerID and epoch with each offset's group added; else
	// ErrInvalidProducerEpoch (another epoch) or ErrInvalidTxnState, and
	// nothing is staged. Offsets staged by a request that raced the end of
	// the transaction would otherwise outlive it: holding the partitions
	// unstable, then committed by the producer's next transaction.
	StageTxnOffsets(ctx context.Context, cluster, transactionalID string, producerID int64, epoch int16, offsets []TxnOffset) error
	// PendingTxnOffsets returns the partitions of group with offsets
	// staged by a transaction not ended yet.
	PendingTxnOffsets(ctx context.Context, cluster, group string) ([]TxnPartition, error)
	// CompleteTransaction ends t's transaction in one DB transaction: the
	// offsets staged by its producer become the groups' committed offsets
	// (commit) or are dropped (abort), and t is saved as SaveTransaction
	// would.
	CompleteTransaction(ctx context.Context, cluster string, t *Transaction, commit bool) error

	// FirstUnstableOffset is the first offset of the earliest transaction
	// still open in tp, -1 when none: the last stable offset is the
	// smaller of it and the high watermark.
	FirstUnstableOffset(ctx context.Context, tp TopicPartition) (int64, error)
	// AbortedTransactions returns the aborted transactions of tp whose
	// span reaches [from, to), ordered by first offset.
	AbortedTransactions(ctx context.Context, tp TopicPartition, from, to int64) ([]AbortedTxn, error)
	// Producers returns the producers tp remembers.
	Producers(ctx context.Context, tp TopicPartition) ([]ProducerInfo, error)
	// DeleteClusterTransactions drops every transactional id of a cluster
	// and the offsets its transactions staged (the partitions' index goes
	// with the topics).
	DeleteClusterTransactions(ctx context.Context, cluster string) error
}

// Control record types of the markers ending a transaction in a partition
// (the key of a control record: version 0, then this type).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)
