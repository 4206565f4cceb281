package tiered

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/affluent-io/affluent/dataplane/storage"
)

var _ storage.Transactions = (*Store)(nil)

// txnMembers is the JSON document of a transaction's partitions and groups.
type txnMembers struct {
	Partitions []storage.TxnPartition `json:"partitions,omitempty"`
	Groups     []string               `json:"groups,omitempty"`
}

const txnColumns = `transactional_id, producer_id, producer_epoch, last_producer_id, last_producer_epoch,
	state, timeout_ms, members, start_time_ms, update_time_ms, version`

// scanTxn reads a row of txnColumns, after the columns that lead names.
func scanTxn(row interface{ Scan(...any) error }, lead ...any) (storage.Transaction, error) {
	var (
		t                storage.Transaction
		epoch, lastEpoch int32
		members          string
		m                txnMembers
	)
	dest := append(lead, &t.TransactionalID, &t.ProducerID, &epoch, &t.LastProducerID, &lastEpoch,
		&t.State, &t.TimeoutMs, &members, &t.StartTime, &t.UpdateTime, &t.Version)
	if err := row.Scan(dest...); err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(members), &m); err != nil {
		return t, fmt.Errorf("decode transaction %s: %w", t.TransactionalID, err)
	}
	t.ProducerEpoch, t.LastProducerEpoch, t.Partitions, t.Groups = int16(epoch), int16(lastEpoch), m.Partitions, m.Groups
	return t, nil
}

// Transaction implements storage.Transactions.
func (s *Store) Transaction(ctx context.Context, cluster, id string) (storage.Transaction, bool, error) {
	if err := s.checkOpen(); err != nil {
		return storage.Transaction{}, false, err
	}
	// The write pool: a save just made by this broker must be seen.
	t, err := scanTxn(s.db.write.QueryRowContext(ctx, `SELECT `+txnColumns+` FROM transactions
		WHERE cluster = $1 AND transactional_id = $2`, cluster, id))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Transaction{}, false, nil
	}
	if err != nil {
		return storage.Transaction{}, false, fmt.Errorf("load transaction %s/%s: %w", cluster, id, err)
	}
	return t, true, nil
}

// SaveTransaction implements storage.Transactions.
func (s *Store) SaveTransaction(ctx context.Context, cluster string, t *storage.Transaction) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error { return saveTxn(ctx, tx, cluster, t) })
	if err != nil {
		return fmt.Errorf("save transaction %s/%s: %w", cluster, t.TransactionalID, err)
	}
	t.Version++
	return nil
}

// saveTxn writes t over version t.Version (inserting it at version 0); the
// caller advances t.Version once the DB transaction commits.
func saveTxn(ctx context.Context, tx *sql.Tx, cluster string, t *storage.Transaction) error {
	members, err := json.Marshal(txnMembers{Partitions: t.Partitions, Groups: t.Groups})
	if err != nil {
		return err
	}
	var res sql.Result
	if t.Version == 0 {
		res, err = tx.ExecContext(ctx, `INSERT INTO transactions (cluster, `+txnColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1) ON CONFLICT DO NOTHING`,
			cluster, t.TransactionalID, t.ProducerID, int32(t.ProducerEpoch), t.LastProducerID, int32(t.LastProducerEpoch),
			t.State, t.TimeoutMs, string(members), t.StartTime, t.UpdateTime)
	} else {
		res, err = tx.ExecContext(ctx, `UPDATE transactions SET producer_id = $3, producer_epoch = $4,
			last_producer_id = $5, last_producer_epoch = $6, state = $7, timeout_ms = $8, members = $9,
			start_time_ms = $10, update_time_ms = $11, version = version + 1
			WHERE cluster = $1 AND transactional_id = $2 AND version = $12`,
			cluster, t.TransactionalID, t.ProducerID, int32(t.ProducerEpoch), t.LastProducerID, int32(t.LastProducerEpoch),
			t.State, t.TimeoutMs, string(members), t.StartTime, t.UpdateTime, t.Version)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return storage.ErrTxnConflict
	}
	return nil
}

// ListTransactions implements storage.Transactions.
func (s *Store) ListTransactions(ctx context.Context, cluster string) ([]storage.Transaction, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+txnColumns+` FROM transactions
		WHERE cluster = $1 ORDER BY transactional_id`, cluster)
	if err != nil {
		return nil, fmt.Errorf("list transactions of %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []storage.Transaction
	for rows.Next() {
		t, err := scanTxn(rows)
		if err != nil {
			return nil, fmt.Errorf("list transactions of %s: %w", cluster, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// OngoingTransactions implements storage.Transactions.
func (s *Store) OngoingTransactions(ctx context.Context, before int64) ([]storage.ClusterTransaction, error) {
	out, err := s.transactionsIn(ctx, before, storage.TxnOngoing, storage.TxnPrepareCommit, storage.TxnPrepareAbort)
	if err != nil {
		return nil, fmt.Errorf("list ongoing transactions: %w", err)
	}
	return out, nil
}

// IdleTransactions implements storage.Transactions.
func (s *Store) IdleTransactions(ctx context.Context, before int64) ([]storage.ClusterTransaction, error) {
	out, err := s.transactionsIn(ctx, before, storage.TxnEmpty, storage.TxnCompleteCommit, storage.TxnCompleteAbort)
	if err != nil {
		return nil, fmt.Errorf("list idle transactional ids: %w", err)
	}
	return out, nil
}

// transactionsIn returns the transactions of every cluster in one of three
// states whose last change is older than before.
func (s *Store) transactionsIn(ctx context.Context, before int64, a, b, c string) ([]storage.ClusterTransaction, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT cluster, `+txnColumns+` FROM transactions
		WHERE state IN ($1, $2, $3) AND update_time_ms < $4`, a, b, c, before)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []storage.ClusterTransaction
	for rows.Next() {
		var ct storage.ClusterTransaction
		if ct.Transaction, err = scanTxn(rows, &ct.Cluster); err != nil {
			return nil, err
		}
		out = append(out, ct)
	}
	return out, rows.Err()
}

// DeleteTransaction implements storage.Transactions.
func (s *Store) DeleteTransaction(ctx context.Context, cluster string, t storage.Transaction) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM transactions WHERE cluster = $1 AND transactional_id = $2
			AND version = $3 AND update_time_ms = $4`, cluster, t.TransactionalID, t.Version, t.UpdateTime)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return storage.ErrTxnConflict
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete transaction %s/%s at version %d: %w", cluster, t.TransactionalID, t.Version, err)
	}
	return nil
}

// StageTxnOffsets implements storage.Transactions.
func (s *Store) StageTxnOffsets(ctx context.Context, cluster, transactionalID string, producerID int64, epoch int16, offsets []storage.TxnOffset) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		// The row lock orders this with the coordinator's saves: staged
		// before the transaction ends (and ended with it), or refused.
		t, err := scanTxn(tx.QueryRowContext(ctx, `SELECT `+txnColumns+` FROM transactions
			WHERE cluster = $1 AND transactional_id = $2`+s.db.dialect.forUpdate, cluster, transactionalID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: no transactional id %s", storage.ErrInvalidTxnState, transactionalID)
		case err != nil:
			return err
		case t.ProducerID != producerID:
			return fmt.Errorf("%w: producer %d is not %s's", storage.ErrInvalidTxnState, producerID, transactionalID)
		case t.ProducerEpoch != epoch:
			return fmt.Errorf("%w: epoch %d, the transaction is at %d", storage.ErrInvalidProducerEpoch, epoch, t.ProducerEpoch)
		case t.State != storage.TxnOngoing:
			return fmt.Errorf("%w: transaction %s is %s", storage.ErrInvalidTxnState, transactionalID, t.State)
		}
		for _, o := range offsets {
			if !slices.Contains(t.Groups, o.Group) {
				return fmt.Errorf("%w: group %s is not in transaction %s", storage.ErrInvalidTxnState, o.Group, transactionalID)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO txn_offsets (cluster, producer_id, group_name, topic,
				partition_id, committed_offset, leader_epoch, metadata, commit_time_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (cluster, producer_id, group_name, topic, partition_id) DO UPDATE SET
				committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
				metadata = excluded.metadata, commit_time_ms = excluded.commit_time_ms`,
				cluster, producerID, o.Group, o.Topic, o.Partition, o.Offset, o.LeaderEpoch, o.Metadata, o.CommitTime); err != nil {
				return fmt.Errorf("%s %s/%d: %w", o.Group, o.Topic, o.Partition, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("stage transactional offsets of %s in %s: %w", transactionalID, cluster, err)
	}
	return nil
}

// PendingTxnOffsets implements storage.Transactions.
func (s *Store) PendingTxnOffsets(ctx context.Context, cluster, group string) ([]storage.TxnPartition, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.write.QueryContext(ctx, `SELECT DISTINCT topic, partition_id FROM txn_offsets
		WHERE cluster = $1 AND group_name = $2`, cluster, group)
	if err != nil {
		return nil, fmt.Errorf("pending transactional offsets of %s/%s: %w", cluster, group, err)
	}
	defer rows.Close()
	var out []storage.TxnPartition
	for rows.Next() {
		var p storage.TxnPartition
		if err := rows.Scan(&p.Topic, &p.Partition); err != nil {
			return nil, fmt.Errorf("pending transactional offsets of %s/%s: %w", cluster, group, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CompleteTransaction implements storage.Transactions.
func (s *Store) CompleteTransaction(ctx context.Context, cluster string, t *storage.Transaction, commit bool) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		// The transaction's row first, as StageTxnOffsets takes it: the
		// two then queue on it rather than deadlock on the staged rows.
		var version int64
		if err := tx.QueryRowContext(ctx, `SELECT version FROM transactions WHERE cluster = $1 AND transactional_id = $2`+
			s.db.dialect.forUpdate, cluster, t.TransactionalID).Scan(&version); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("lock transaction: %w", err)
		}
		if commit {
			if _, err := tx.ExecContext(ctx, `INSERT INTO committed_offsets (cluster, group_name, topic,
				partition_id, committed_offset, leader_epoch, metadata, commit_time_ms)
				SELECT cluster, group_name, topic, partition_id, committed_offset, leader_epoch, metadata,
				commit_time_ms FROM txn_offsets WHERE cluster = $1 AND producer_id = $2
				ON CONFLICT (cluster, group_name, topic, partition_id) DO UPDATE SET
				committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
				metadata = excluded.metadata, commit_time_ms = excluded.commit_time_ms`,
				cluster, t.ProducerID); err != nil {
				return fmt.Errorf("commit offsets: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM txn_offsets WHERE cluster = $1 AND producer_id = $2`,
			cluster, t.ProducerID); err != nil {
			return fmt.Errorf("drop staged offsets: %w", err)
		}
		return saveTxn(ctx, tx, cluster, t)
	})
	if err != nil {
		return fmt.Errorf("complete transaction %s/%s: %w", cluster, t.TransactionalID, err)
	}
	t.Version++
	return nil
}

// FirstUnstableOffset implements storage.Transactions.
func (s *Store) FirstUnstableOffset(ctx context.Context, tp storage.TopicPartition) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return -1, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return -1, err
	}
	var first sql.NullInt64
	if err := s.db.read.QueryRowContext(ctx, `SELECT MIN(first_offset) FROM txn_open
		WHERE topic_id = $1 AND partition_id = $2`, k.topicID, k.partition).Scan(&first); err != nil {
		return -1, fmt.Errorf("first unstable offset of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	if !first.Valid {
		return -1, nil
	}
	return first.Int64, nil
}

// AbortedTransactions implements storage.Transactions.
func (s *Store) AbortedTransactions(ctx context.Context, tp storage.TopicPartition, from, to int64) ([]storage.AbortedTxn, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT producer_id, first_offset, last_offset FROM txn_aborted
		WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND first_offset < $4
		ORDER BY first_offset`, k.topicID, k.partition, from, to)
	if err != nil {
		return nil, fmt.Errorf("aborted transactions of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	defer rows.Close()
	var out []storage.AbortedTxn
	for rows.Next() {
		var a storage.AbortedTxn
		if err := rows.Scan(&a.ProducerID, &a.FirstOffset, &a.LastOffset); err != nil {
			return nil, fmt.Errorf("aborted transactions of %s/%d: %w", tp.Topic, tp.Partition, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Producers implements storage.Transactions.
func (s *Store) Producers(ctx context.Context, tp storage.TopicPartition) ([]storage.ProducerInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	k, err := s.route(ctx, tp)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT p.producer_id, p.producer_epoch, p.last_sequence,
		p.update_time_ms, COALESCE(o.first_offset, -1) FROM producers p
		LEFT JOIN txn_open o ON o.topic_id = p.topic_id AND o.partition_id = p.partition_id
			AND o.producer_id = p.producer_id
		WHERE p.topic_id = $1 AND p.partition_id = $2 ORDER BY p.producer_id`, k.topicID, k.partition)
	if err != nil {
		return nil, fmt.Errorf("producers of %s/%d: %w", tp.Topic, tp.Partition, err)
	}
	defer rows.Close()
	var out []storage.ProducerInfo
	for rows.Next() {
		var p storage.ProducerInfo
		var epoch int32
		if err := rows.Scan(&p.ProducerID, &epoch, &p.LastSequence, &p.LastTimestamp, &p.TxnStartOffset); err != nil {
			return nil, fmt.Errorf("producers of %s/%d: %w", tp.Topic, tp.Partition, err)
		}
		p.ProducerEpoch = int16(epoch)
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeleteClusterTransactions implements storage.Transactions.
func (s *Store) DeleteClusterTransactions(ctx context.Context, cluster string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM txn_offsets WHERE cluster = $1`,
			`DELETE FROM transactions WHERE cluster = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, cluster); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete transactions of %s: %w", cluster, err)
	}
	return nil
}

// txnCheckCache holds the transaction records read by one commit.
type txnCheckCache map[[2]string]*storage.Transaction // by cluster and transactional id; nil: none

// check decides, inside the commit transaction and under the partition's
// lock, about each transactional batch of g that names its transactional
// id. A data batch commits only while its transaction is ongoing at its
// producer id and epoch with the partition added: a coordinator ends a
// transaction by saving its Prepare state before it writes the markers,
// which need this partition's lock, so a batch checked here either commits
// before the marker, which then closes its transaction in the partition,
// or sees the transaction ending and is refused — never a batch landing
// after the marker and holding the last stable offset back for good (a
// produce the client gave up on, still in a broker's pipeline). A marker
// commits only while its transaction is in the matching Prepare state: one
// left over from an earlier attempt to end a transaction, committing late,
// must not close (or abort) the producer's next transaction.
func (c txnCheckCache) check(ctx context.Context, tx *sql.Tx, g *partitionBatches) error {
	for _, pb := range g.batches {
		pb.txnErr = nil
		b := pb.batch
		if !b.Transactional || b.TransactionalID == "" {
			continue
		}
		key := [2]string{g.tp.Cluster, b.TransactionalID}
		t, ok := c[key]
		if !ok {
			loaded, err := scanTxn(tx.QueryRowContext(ctx, `SELECT `+txnColumns+` FROM transactions
				WHERE cluster = $1 AND transactional_id = $2`, g.tp.Cluster, b.TransactionalID))
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("load transaction %s: %w", b.TransactionalID, err)
			default:
				t = &loaded
			}
			c[key] = t
		}
		want := storage.TxnOngoing
		if b.Control {
			want = storage.TxnPrepareAbort
			if b.ControlType == storage.ControlCommit {
				want = storage.TxnPrepareCommit
			}
		}
		switch {
		case t == nil || t.ProducerID != b.ProducerID:
			pb.txnErr = fmt.Errorf("%w: producer %d has no transaction %s", storage.ErrInvalidTxnState, b.ProducerID, b.TransactionalID)
		case t.ProducerEpoch != b.ProducerEpoch:
			pb.txnErr = fmt.Errorf("%w: epoch %d, the transaction is at %d", storage.ErrInvalidProducerEpoch, b.ProducerEpoch, t.ProducerEpoch)
		case t.State != want || !slices.Contains(t.Partitions, storage.TxnPartition{Topic: g.tp.Topic, Partition: g.tp.Partition}):
			pb.txnErr = fmt.Errorf("%w: transaction %s is %s", storage.ErrInvalidTxnState, b.TransactionalID, t.State)
		}
	}
	return nil
}

// recordTxnBatches updates the transactional index of a partition for the
// accepted transactional batches of g, inside the commit transaction that
// gives them their offsets: a producer's first batch opens its transaction
// in the partition, a marker closes it, and an abort marker records the
// aborted span.
func recordTxnBatches(ctx context.Context, tx *sql.Tx, g *partitionBatches) error {
	for _, pb := range g.batches {
		b := pb.batch
		if !pb.accepted || !b.Transactional || b.ProducerID < 0 {
			continue
		}
		offset := pb.result.BaseOffset
		if !b.Control {
			if _, err := tx.ExecContext(ctx, `INSERT INTO txn_open (topic_id, partition_id, producer_id, first_offset)
				VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, g.key.topicID, g.key.partition, b.ProducerID, offset); err != nil {
				return fmt.Errorf("open transaction of producer %d: %w", b.ProducerID, err)
			}
			continue
		}
		var first int64
		err := tx.QueryRowContext(ctx, `DELETE FROM txn_open WHERE topic_id = $1 AND partition_id = $2
			AND producer_id = $3 RETURNING first_offset`, g.key.topicID, g.key.partition, b.ProducerID).Scan(&first)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the transaction wrote nothing here
		}
		if err != nil {
			return fmt.Errorf("close transaction of producer %d: %w", b.ProducerID, err)
		}
		if b.ControlType != storage.ControlAbort {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO txn_aborted (topic_id, partition_id, last_offset, producer_id, first_offset)
			VALUES ($1, $2, $3, $4, $5)`, g.key.topicID, g.key.partition, offset, b.ProducerID, first); err != nil {
			return fmt.Errorf("record aborted transaction of producer %d: %w", b.ProducerID, err)
		}
	}
	return nil
}
