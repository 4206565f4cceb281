package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// GC deletes objects nothing points at. Candidates come from the object_gc
// queue, filled by the transactions that drop the last rows pointing at an
// object (compaction swaps, retention, DeleteRecords, DeleteTopic), and are
// deleted once their grace has passed if still unreferenced: a WAL object
// shared by several partitions is queued by each that lets go of it, and
// deleted by the last. Orphans, objects no transaction ever pointed at (an
// upload whose commit failed, segments of a compaction that crashed, temp
// files of an interrupted write), are found by listing the bucket, and
// deleted once older than OrphanGrace; WAL objects and segments that old are
// never committed (see tooOldToCommit), so an orphan cannot gain a
// reference after it is found.

// gcBatch is how many queued objects one query takes.
const gcBatch = 500

// collectGarbage deletes due candidates, and orphans when scanOrphans, and
// returns how many objects it deleted.
func (s *Store) collectGarbage(ctx context.Context, scanOrphans bool) (int, error) {
	deleted := 0
	for {
		var due []string
		err := queryEach(ctx, s.db.read, `SELECT object_key FROM object_gc WHERE not_before_ms <= $1
			ORDER BY not_before_ms, object_key LIMIT $2`, []any{s.now().UnixMilli(), gcBatch},
			func(rows *sql.Rows) error {
				var key string
				err := rows.Scan(&key)
				due = append(due, key)
				return err
			})
		if err != nil {
			return deleted, fmt.Errorf("gc: list due objects: %w", err)
		}
		for _, key := range due {
			referenced, err := s.referenced(ctx, key)
			if err != nil {
				return deleted, err
			}
			if !referenced {
				if err := s.objects.delete(ctx, key); err != nil {
					return deleted, fmt.Errorf("gc: %w", err)
				}
				deleted++
				s.metrics.gcDeleted.WithLabelValues(gcUnreferenced).Inc()
				if err := hook("gc-object-deleted"); err != nil {
					return deleted, err
				}
			}
			// A still referenced object is queued again by whatever drops
			// its last reference.
			if err := s.db.inTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `DELETE FROM object_gc WHERE object_key = $1`, key)
				return err
			}); err != nil {
				return deleted, fmt.Errorf("gc: dequeue %s: %w", key, err)
			}
		}
		if len(due) < gcBatch {
			break
		}
	}
	if !scanOrphans {
		return deleted, nil
	}
	n, err := s.deleteOrphans(ctx)
	return deleted + n, err
}

// referenced reports whether a chunk or segment row points at key.
func (s *Store) referenced(ctx context.Context, key string) (bool, error) {
	for _, q := range []string{
		`SELECT 1 FROM chunks WHERE object_key = $1 LIMIT 1`,
		`SELECT 1 FROM segments WHERE object_key = $1 LIMIT 1`,
	} {
		var one int
		err := s.db.read.QueryRowContext(ctx, q, key).Scan(&one)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, fmt.Errorf("gc: is %s referenced: %w", key, err)
		}
	}
	return false, nil
}

// deleteOrphans lists the WAL and segment objects and deletes those older
// than OrphanGrace that nothing points at, and old temp files.
func (s *Store) deleteOrphans(ctx context.Context) (int, error) {
	deleted := 0
	cutoff := s.now().Add(-s.cfg.OrphanGrace)
	for _, prefix := range []string{walPrefix, segmentPrefix} {
		err := s.objects.list(ctx, prefix, func(o objectInfo) error {
			born, ok := objectKeyTime(o.key)
			if !ok {
				born = o.modTime
			}
			if !born.Before(cutoff) {
				return nil
			}
			if strings.HasSuffix(o.key, tempSuffix) {
				// Also by the real clock: a write may be under way (a
				// spare WAL writer waits up to spareMaxAge).
				if time.Since(born) < 2*max(spareMaxAge, uploadTimeout) {
					return nil
				}
			} else {
				referenced, err := s.referenced(ctx, o.key)
				if err != nil || referenced {
					return err
				}
			}
			if err := s.objects.delete(ctx, o.key); err != nil {
				return err
			}
			s.log.Info("deleted orphan object", "object", o.key, "bytes", o.size)
			deleted++
			s.metrics.gcDeleted.WithLabelValues(gcOrphan).Inc()
			return nil
		})
		if err != nil {
			return deleted, fmt.Errorf("gc: orphans under %s: %w", prefix, err)
		}
	}
	return deleted, nil
}
