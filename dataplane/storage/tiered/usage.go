package tiered

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/dataplane/storage"
)

var _ storage.Usage = (*Store)(nil)

// StoredBytes implements storage.Usage: the bytes of the WAL chunks
// (kind 0) and segments of the cluster's topics, from the metadata DB. A
// segment's blocks (chunks of kind 1) point into the segment and are not
// counted twice; data of deleted topics is not counted, even before its
// objects are collected.
func (s *Store) StoredBytes(ctx context.Context, cluster string) (int64, error) {
	if err := s.checkOpen(); err != nil {
		return 0, err
	}
	var wal, segments int64
	err := s.db.read.QueryRowContext(ctx, `SELECT
		CAST(COALESCE((SELECT SUM(c.byte_length) FROM chunks c JOIN topics t ON t.topic_id = c.topic_id
			WHERE t.cluster = $1 AND c.kind = 0), 0) AS BIGINT),
		CAST(COALESCE((SELECT SUM(g.size_bytes) FROM segments g JOIN topics t ON t.topic_id = g.topic_id
			WHERE t.cluster = $1), 0) AS BIGINT)`, cluster).Scan(&wal, &segments)
	if err != nil {
		return 0, fmt.Errorf("stored bytes of %s: %w", cluster, err)
	}
	return wal + segments, nil
}
