package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// CreateTopic implements storage.Catalog.
func (s *Store) CreateTopic(ctx context.Context, cluster, name string, partitions int32, configs map[string]string) (storage.Topic, error) {
	if err := s.checkOpen(); err != nil {
		return storage.Topic{}, err
	}
	if partitions <= 0 {
		return storage.Topic{}, fmt.Errorf("%w: %d", storage.ErrInvalidPartitions, partitions)
	}
	t := storage.Topic{
		Cluster:    cluster,
		Name:       name,
		ID:         uuid.New(),
		Partitions: partitions,
		Configs:    maps.Clone(configs),
		CreateTime: time.UnixMilli(time.Now().UnixMilli()).UTC(),
	}
	if t.Configs == nil {
		t.Configs = map[string]string{}
	}
	id := topicIDString(t.ID)
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		// Checking first keeps the common case clear of a failed
		// insert; a concurrent create on PostgreSQL is caught below.
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM topics WHERE cluster = $1 AND name = $2`, cluster, name).Scan(&one)
		if err == nil {
			return storage.ErrTopicExists
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO topics (topic_id, cluster, name, partitions, create_time_ms)
			VALUES ($1, $2, $3, $4, $5)`, id, cluster, name, partitions, t.CreateTime.UnixMilli()); err != nil {
			if s.db.dialect.uniqueViolation(err) { // another broker created it meanwhile
				return storage.ErrTopicExists
			}
			return err
		}
		if err := insertConfigs(ctx, tx, id, t.Configs); err != nil {
			return err
		}
		return insertPartitions(ctx, tx, id, 0, partitions)
	})
	if err != nil {
		return storage.Topic{}, fmt.Errorf("create topic %s/%s: %w", cluster, name, err)
	}
	s.routes.set(clusterTopic{cluster, name}, topicRoute{id: id, partitions: partitions})
	return t, nil
}

func insertConfigs(ctx context.Context, tx *sql.Tx, topicID string, configs map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO topic_configs (topic_id, config_name, config_value)
			VALUES ($1, $2, $3) ON CONFLICT (topic_id, config_name) DO UPDATE SET config_value = excluded.config_value`,
			topicID, k, configs[k]); err != nil {
			return fmt.Errorf("set config %s: %w", k, err)
		}
	}
	return nil
}

func insertPartitions(ctx context.Context, tx *sql.Tx, topicID string, from, to int32) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO partitions (topic_id, partition_id, next_offset, log_start_offset)
		VALUES ($1, $2, 0, 0)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for p := from; p < to; p++ {
		if _, err := stmt.ExecContext(ctx, topicID, p); err != nil {
			return fmt.Errorf("create partition %d: %w", p, err)
		}
	}
	return nil
}

// DeleteTopic implements storage.Catalog. The rows go at once, committed
// offsets of the topic included; the objects are queued for GC, which
// deletes them once no other topic's chunks share them.
func (s *Store) DeleteTopic(ctx context.Context, cluster, name string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var id string
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if id, err = lookupTopicID(ctx, tx, cluster, name); err != nil {
			return err
		}
		notBefore := s.now().Add(s.cfg.GCGrace).UnixMilli()
		for _, q := range []string{
			`INSERT INTO object_gc (object_key, not_before_ms) SELECT DISTINCT object_key, CAST($2 AS BIGINT) FROM chunks
				WHERE topic_id = $1 ORDER BY object_key ON CONFLICT (object_key) DO NOTHING`,
			`INSERT INTO object_gc (object_key, not_before_ms) SELECT DISTINCT object_key, CAST($2 AS BIGINT) FROM segments
				WHERE topic_id = $1 ORDER BY object_key ON CONFLICT (object_key) DO NOTHING`,
		} {
			if _, err := tx.ExecContext(ctx, q, id, notBefore); err != nil {
				return fmt.Errorf("queue objects for GC: %w", err)
			}
		}
		for _, q := range []string{
			`DELETE FROM topic_configs WHERE topic_id = $1`,
			`DELETE FROM partitions WHERE topic_id = $1`,
			`DELETE FROM chunks WHERE topic_id = $1`,
			`DELETE FROM segments WHERE topic_id = $1`,
			`DELETE FROM producers WHERE topic_id = $1`,
			`DELETE FROM txn_open WHERE topic_id = $1`,
			`DELETE FROM txn_aborted WHERE topic_id = $1`,
			`DELETE FROM topics WHERE topic_id = $1`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM txn_offsets WHERE cluster = $1 AND topic = $2`, cluster, name); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM committed_offsets WHERE cluster = $1 AND topic = $2`, cluster, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete topic %s/%s: %w", cluster, name, err)
	}
	s.routes.drop(clusterTopic{cluster, name})
	s.parts.dropTopic(id)
	s.watches.notifyTopic(cluster, name)
	return nil
}

func lookupTopicID(ctx context.Context, tx *sql.Tx, cluster, name string) (string, error) {
	var id string
	err := tx.QueryRowContext(ctx, `SELECT topic_id FROM topics WHERE cluster = $1 AND name = $2`, cluster, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", storage.ErrUnknownTopic
	}
	return id, err
}

// Topic implements storage.Catalog.
func (s *Store) Topic(ctx context.Context, cluster, name string) (storage.Topic, error) {
	return s.oneTopic(ctx, `topics.cluster = $1 AND topics.name = $2`, cluster, name)
}

// TopicByID implements storage.Catalog.
func (s *Store) TopicByID(ctx context.Context, cluster string, id [16]byte) (storage.Topic, error) {
	return s.oneTopic(ctx, `topics.cluster = $1 AND topics.topic_id = $2`, cluster, topicIDString(id))
}

func (s *Store) oneTopic(ctx context.Context, where string, args ...any) (storage.Topic, error) {
	topics, err := s.queryTopics(ctx, where, args...)
	if err != nil {
		return storage.Topic{}, err
	}
	if len(topics) == 0 {
		return storage.Topic{}, storage.ErrUnknownTopic
	}
	return topics[0], nil
}

// Topics implements storage.Catalog, sorted by name.
func (s *Store) Topics(ctx context.Context, cluster string) ([]storage.Topic, error) {
	return s.queryTopics(ctx, `topics.cluster = $1`, cluster)
}

// queryTopics reads the topics matching where (over the topics table) with
// their configs. where qualifies columns with "topics.".
func (s *Store) queryTopics(ctx context.Context, where string, args ...any) ([]storage.Topic, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT topic_id, cluster, name, partitions, create_time_ms
		FROM topics WHERE `+where+` ORDER BY name`, args...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var (
		topics []storage.Topic
		byID   = map[string]int{}
	)
	for rows.Next() {
		var (
			t       storage.Topic
			id      string
			created int64
		)
		if err := rows.Scan(&id, &t.Cluster, &t.Name, &t.Partitions, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list topics: %w", err)
		}
		parsed, err := uuid.Parse(id)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("topic %s has a bad id %q: %w", t.Name, id, err)
		}
		t.ID, t.CreateTime, t.Configs = parsed, time.UnixMilli(created).UTC(), map[string]string{}
		byID[id] = len(topics)
		topics = append(topics, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	if len(topics) == 0 {
		return nil, nil
	}
	// By byte order whatever the DB's collation (PostgreSQL's follows the
	// locale).
	slices.SortFunc(topics, func(a, b storage.Topic) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range topics {
		byID[topicIDString(t.ID)] = i
	}
	rows, err = s.db.read.QueryContext(ctx, `SELECT c.topic_id, c.config_name, c.config_value
		FROM topic_configs c JOIN topics ON topics.topic_id = c.topic_id WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list topic configs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return nil, fmt.Errorf("list topic configs: %w", err)
		}
		if i, ok := byID[id]; ok {
			topics[i].Configs[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list topic configs: %w", err)
	}
	return topics, nil
}

// AddPartitions implements storage.Catalog.
func (s *Store) AddPartitions(ctx context.Context, cluster, name string, total int32) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	var id string
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var current int32
		err := tx.QueryRowContext(ctx, `SELECT topic_id, partitions FROM topics WHERE cluster = $1 AND name = $2`,
			cluster, name).Scan(&id, &current)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrUnknownTopic
		}
		if err != nil {
			return err
		}
		if total <= current {
			return fmt.Errorf("%w: topic has %d partitions, asked for %d", storage.ErrInvalidPartitions, current, total)
		}
		if err := insertPartitions(ctx, tx, id, current, total); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE topics SET partitions = $1 WHERE topic_id = $2`, total, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("add partitions to %s/%s: %w", cluster, name, err)
	}
	s.routes.set(clusterTopic{cluster, name}, topicRoute{id: id, partitions: total})
	return nil
}

// UpdateConfigs implements storage.Catalog.
func (s *Store) UpdateConfigs(ctx context.Context, cluster, name string, set map[string]string, remove []string) error {
	return s.changeConfigs(ctx, cluster, name, func(tx *sql.Tx, id string) error {
		for _, k := range remove {
			if _, err := tx.ExecContext(ctx, `DELETE FROM topic_configs WHERE topic_id = $1 AND config_name = $2`, id, k); err != nil {
				return fmt.Errorf("remove config %s: %w", k, err)
			}
		}
		return insertConfigs(ctx, tx, id, set)
	})
}

// ReplaceConfigs implements storage.Catalog.
func (s *Store) ReplaceConfigs(ctx context.Context, cluster, name string, configs map[string]string) error {
	return s.changeConfigs(ctx, cluster, name, func(tx *sql.Tx, id string) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM topic_configs WHERE topic_id = $1`, id); err != nil {
			return err
		}
		return insertConfigs(ctx, tx, id, configs)
	})
}

func (s *Store) changeConfigs(ctx context.Context, cluster, name string, change func(tx *sql.Tx, id string) error) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		id, err := lookupTopicID(ctx, tx, cluster, name)
		if err != nil {
			return err
		}
		return change(tx, id)
	})
	if err != nil {
		return fmt.Errorf("configure topic %s/%s: %w", cluster, name, err)
	}
	return nil
}

func topicIDString(id [16]byte) string { return uuid.UUID(id).String() }
