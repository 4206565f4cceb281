package tiered

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/affluent-io/affluent/dataplane/groups"
)

// SaveGroup implements groups.Store: the record is kept as one JSON
// document, written over the version it was read at.
func (s *Store) SaveGroup(ctx context.Context, cluster string, g groups.GroupRecord) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	doc, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("encode group %s: %w", g.Name, err)
	}
	err = s.db.inTx(ctx, func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if g.Version == 0 {
			res, err = tx.ExecContext(ctx, `INSERT INTO consumer_groups (cluster, group_name, record, update_time_ms, version)
				VALUES ($1, $2, $3, $4, 1) ON CONFLICT (cluster, group_name) DO NOTHING`,
				cluster, g.Name, string(doc), time.Now().UnixMilli())
		} else {
			res, err = tx.ExecContext(ctx, `UPDATE consumer_groups SET record = $1, update_time_ms = $2, version = version + 1
				WHERE cluster = $3 AND group_name = $4 AND version = $5`,
				string(doc), time.Now().UnixMilli(), cluster, g.Name, g.Version)
		}
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w (expected version %d)", groups.ErrGroupFenced, g.Version)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("save group %s/%s: %w", cluster, g.Name, err)
	}
	return nil
}

// LoadGroups implements groups.Store, sorted by name.
func (s *Store) LoadGroups(ctx context.Context, cluster string) ([]groups.GroupRecord, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT group_name, record, version FROM consumer_groups
		WHERE cluster = $1 ORDER BY group_name`, cluster)
	if err != nil {
		return nil, fmt.Errorf("load groups of %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []groups.GroupRecord
	for rows.Next() {
		var name, doc string
		var version int64
		if err := rows.Scan(&name, &doc, &version); err != nil {
			return nil, fmt.Errorf("load groups of %s: %w", cluster, err)
		}
		var g groups.GroupRecord
		if err := json.Unmarshal([]byte(doc), &g); err != nil {
			return nil, fmt.Errorf("decode group %s/%s: %w", cluster, name, err)
		}
		g.Version = version
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load groups of %s: %w", cluster, err)
	}
	slices.SortFunc(out, func(a, b groups.GroupRecord) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeleteGroup implements groups.Store; the group's committed offsets go too,
// as Kafka's DeleteGroups does.
func (s *Store) DeleteGroup(ctx context.Context, cluster, group string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM committed_offsets WHERE cluster = $1 AND group_name = $2`, cluster, group); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM consumer_groups WHERE cluster = $1 AND group_name = $2`, cluster, group)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete group %s/%s: %w", cluster, group, err)
	}
	return nil
}

// DeleteGroupAt implements groups.Store: the record is locked, its
// version checked, and the offsets and record deleted in one transaction.
func (s *Store) DeleteGroupAt(ctx context.Context, cluster, group string, version int64) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.checkGroupVersion(ctx, tx, cluster, group, version); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM committed_offsets WHERE cluster = $1 AND group_name = $2`, cluster, group); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM consumer_groups WHERE cluster = $1 AND group_name = $2`, cluster, group)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete group %s/%s: %w", cluster, group, err)
	}
	return nil
}

// checkGroupVersion locks the group's record (or sees it absent: version
// 0) in tx and fails with groups.ErrGroupFenced unless it is at version.
func (s *Store) checkGroupVersion(ctx context.Context, tx *sql.Tx, cluster, group string, version int64) error {
	var stored int64
	err := tx.QueryRowContext(ctx, `SELECT version FROM consumer_groups WHERE cluster = $1 AND group_name = $2`+
		s.db.dialect.forUpdate, cluster, group).Scan(&stored)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		stored = 0
	case err != nil:
		return fmt.Errorf("read version of group: %w", err)
	}
	if stored != version {
		return fmt.Errorf("%w (version %d, expected %d)", groups.ErrGroupFenced, stored, version)
	}
	return nil
}

// CommitOffsets implements groups.Store, all offsets in one transaction.
func (s *Store) CommitOffsets(ctx context.Context, cluster, group string, offsets []groups.CommittedOffset) error {
	return s.commitOffsets(ctx, cluster, group, -1, offsets)
}

// CommitOffsetsAt implements groups.Store: the group's record is locked
// (or seen absent) in the transaction that writes the offsets, so a save
// by another coordinator comes wholly before or after it.
func (s *Store) CommitOffsetsAt(ctx context.Context, cluster, group string, version int64, offsets []groups.CommittedOffset) error {
	return s.commitOffsets(ctx, cluster, group, version, offsets)
}

// commitOffsets writes offsets, after checking the group record's version
// unless version is negative.
func (s *Store) commitOffsets(ctx context.Context, cluster, group string, version int64, offsets []groups.CommittedOffset) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		if version >= 0 {
			if err := s.checkGroupVersion(ctx, tx, cluster, group, version); err != nil {
				return err
			}
		}
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO committed_offsets (cluster, group_name, topic, partition_id,
			committed_offset, leader_epoch, metadata, commit_time_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (cluster, group_name, topic, partition_id) DO UPDATE SET
			committed_offset = excluded.committed_offset, leader_epoch = excluded.leader_epoch,
			metadata = excluded.metadata, commit_time_ms = excluded.commit_time_ms`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range offsets {
			if _, err := stmt.ExecContext(ctx, cluster, group, o.Topic, o.Partition, o.Offset,
				o.LeaderEpoch, o.Metadata, o.CommitTime); err != nil {
				return fmt.Errorf("%s/%d: %w", o.Topic, o.Partition, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit offsets of %s/%s: %w", cluster, group, err)
	}
	return nil
}

// FetchOffsets implements groups.Store, sorted by topic and partition.
func (s *Store) FetchOffsets(ctx context.Context, cluster, group string, topics []string) ([]groups.CommittedOffset, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	const query = `SELECT topic, partition_id, committed_offset, leader_epoch, metadata, commit_time_ms
		FROM committed_offsets WHERE cluster = $1 AND group_name = $2`
	var out []groups.CommittedOffset
	scan := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var o groups.CommittedOffset
			if err := rows.Scan(&o.Topic, &o.Partition, &o.Offset, &o.LeaderEpoch, &o.Metadata, &o.CommitTime); err != nil {
				return err
			}
			out = append(out, o)
		}
		return rows.Err()
	}
	var err error
	if topics == nil {
		err = scan(s.db.read.QueryContext(ctx, query+` ORDER BY topic, partition_id`, cluster, group))
	}
	for _, t := range topics {
		if err = scan(s.db.read.QueryContext(ctx, query+` AND topic = $3 ORDER BY partition_id`, cluster, group, t)); err != nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of %s/%s: %w", cluster, group, err)
	}
	if topics == nil { // by byte order whatever the DB's collation
		slices.SortStableFunc(out, func(a, b groups.CommittedOffset) int {
			if c := strings.Compare(a.Topic, b.Topic); c != 0 {
				return c
			}
			return int(a.Partition) - int(b.Partition)
		})
	}
	return out, nil
}

// DeleteOffsets implements groups.Store.
func (s *Store) DeleteOffsets(ctx context.Context, cluster, group string, topic string, partitions []int32) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, p := range partitions {
			if _, err := tx.ExecContext(ctx, `DELETE FROM committed_offsets
				WHERE cluster = $1 AND group_name = $2 AND topic = $3 AND partition_id = $4`,
				cluster, group, topic, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete offsets of %s/%s on %s: %w", cluster, group, topic, err)
	}
	return nil
}
