package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// The compactor runs passes over every partition: retention (drop whole
// segments and WAL chunks older or beyond what the topic keeps, advance the
// log start offset), roll (move WAL chunks into segments), clean
// (cleanup.policy=compact), then GC of objects nothing points at.
//
// Every change is the same three idempotent steps, so a crash anywhere
// loses nothing and leaves at most garbage that a later pass removes:
//
//  1. write new segment objects (invisible: nothing points at them);
//  2. in one metadata transaction, check that the rows to replace are
//     still exactly the ones the segments were written from, swap them for
//     the new ones, and queue the objects they pointed at for GC;
//  3. later, GC deletes queued objects that nothing points at any more,
//     once GCGrace has passed (so reads that looked them up finish), and
//     objects never committed once OrphanGrace has.
//
// Segments merge as a binary counter: new WAL data becomes a segment
// merged with the open (not full, younger than segment.ms) segments before
// it while they are no larger than what is being added, so a partition
// holds O(log(segment.bytes / bytes per pass)) open segments and each byte
// is rewritten about as many times.

// CompactionStats counts what one pass did.
type CompactionStats struct {
	Partitions       int   // partitions that had work
	SegmentsWritten  int   // segment objects committed
	BytesWritten     int64 // their bytes
	ChunksReplaced   int   // chunk rows (WAL chunks and blocks) swapped out
	RecordsRemoved   int64 // by cleaning (superseded values and tombstones)
	LogStartAdvanced int   // partitions whose log start moved (retention)
	ObjectsDeleted   int   // by GC
	Conflicts        int   // swaps abandoned because the partition changed
}

func (a *CompactionStats) add(b CompactionStats) {
	a.Partitions += b.Partitions
	a.SegmentsWritten += b.SegmentsWritten
	a.BytesWritten += b.BytesWritten
	a.ChunksReplaced += b.ChunksReplaced
	a.RecordsRemoved += b.RecordsRemoved
	a.LogStartAdvanced += b.LogStartAdvanced
	a.ObjectsDeleted += b.ObjectsDeleted
	a.Conflicts += b.Conflicts
}

// runCompactor runs a pass every CompactionInterval until Close.
func (s *Store) runCompactor() {
	ctx, cancel := context.WithCancel(s.bg)
	defer cancel()
	go func() { // Close stops a pass under way
		select {
		case <-s.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	timer := time.NewTimer(s.cfg.CompactionInterval)
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		stats, err := s.Compact(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("compaction pass failed", "err", err, "partitions", stats.Partitions)
		}
		timer.Reset(s.cfg.CompactionInterval)
	}
}

// partitionJob is one partition's share of a pass, as read at its start.
type partitionJob struct {
	key      partitionKey
	tp       storage.TopicPartition
	policy   topicPolicy
	next     int64
	logStart int64
	cleaned  int64 // cleaned_offset
	horizon  int64 // tombstone_horizon_ms, -1 when none
	segments []segmentRow
	wal      walSummary
}

// walSummary is what a partition has in the WAL.
type walSummary struct {
	chunks       int
	bytes        int64
	oldestAppend int64
	minMaxTs     int64
}

// Compact runs one pass now and waits for it; passes never overlap. The
// background compactor calls it; tests and tools may too. Partitions that
// fail are reported (joined) and retried by the next pass.
//
// A pass with work logs its start and its end at debug level, so that a
// log cut short says whether a pass was under way.
func (s *Store) Compact(ctx context.Context) (stats CompactionStats, err error) {
	if err := s.checkOpen(); err != nil {
		return CompactionStats{}, err
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	start := time.Now()
	logged := false
	defer func() {
		s.metrics.observePass(start, stats, err)
		if logged || stats.Partitions > 0 || stats.ObjectsDeleted > 0 {
			s.log.Debug("compaction pass finished", "partitions", stats.Partitions, "segments", stats.SegmentsWritten,
				"bytes", stats.BytesWritten, "chunks", stats.ChunksReplaced, "removed", stats.RecordsRemoved,
				"gc", stats.ObjectsDeleted, "conflicts", stats.Conflicts, "duration", time.Since(start), "err", err)
		}
	}()
	jobs, err := s.planPass(ctx)
	if err != nil {
		return CompactionStats{}, err
	}
	if len(jobs) > 0 {
		logged = true
		s.log.Debug("compaction pass started", "partitions", len(jobs))
	}
	var (
		mu    sync.Mutex
		total CompactionStats
		errs  []error
		wg    sync.WaitGroup
		queue = make(chan *partitionJob)
	)
	for range max(1, s.cfg.CompactionWorkers) {
		wg.Go(func() {
			for j := range queue {
				stats, err := s.compactPartition(ctx, j)
				mu.Lock()
				total.add(stats)
				if err != nil {
					errs = append(errs, fmt.Errorf("compact %s/%s/%d: %w", j.tp.Cluster, j.tp.Topic, j.tp.Partition, err))
				}
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		select {
		case queue <- j:
		case <-ctx.Done():
		}
	}
	close(queue)
	wg.Wait()
	if s.local != nil {
		s.local.enforce(s.localLimits(jobs), s.now())
	}
	scanOrphans := s.now().Sub(s.lastOrphanScan) >= s.cfg.OrphanScanInterval
	deleted, err := s.collectGarbage(ctx, scanOrphans)
	total.ObjectsDeleted += deleted
	if err != nil {
		errs = append(errs, err)
	} else if scanOrphans {
		s.lastOrphanScan = s.now()
	}
	return total, errors.Join(errs...)
}

// planPass reads every partition's state and keeps those with work.
func (s *Store) planPass(ctx context.Context) ([]*partitionJob, error) {
	configs := map[string]map[string]string{}
	err := queryEach(ctx, s.db.read, `SELECT topic_id, config_name, config_value FROM topic_configs`, nil,
		func(rows *sql.Rows) error {
			var id, k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				return err
			}
			if configs[id] == nil {
				configs[id] = map[string]string{}
			}
			configs[id][k] = v
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("plan compaction: topic configs: %w", err)
	}
	policies := map[string]topicPolicy{}
	var all []*partitionJob
	byKey := map[partitionKey]*partitionJob{}
	err = queryEach(ctx, s.db.read, `SELECT p.topic_id, p.partition_id, p.next_offset, p.log_start_offset,
		p.cleaned_offset, p.tombstone_horizon_ms, t.cluster, t.name
		FROM partitions p JOIN topics t ON t.topic_id = p.topic_id`, nil, func(rows *sql.Rows) error {
		j := &partitionJob{}
		if err := rows.Scan(&j.key.topicID, &j.key.partition, &j.next, &j.logStart, &j.cleaned, &j.horizon,
			&j.tp.Cluster, &j.tp.Topic); err != nil {
			return err
		}
		j.tp.Partition = j.key.partition
		pol, ok := policies[j.key.topicID]
		if !ok {
			pol = s.cfg.policyOf(configs[j.key.topicID])
			policies[j.key.topicID] = pol
		}
		j.policy = pol
		all = append(all, j)
		byKey[j.key] = j
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan compaction: partitions: %w", err)
	}
	err = queryEach(ctx, s.db.read, `SELECT topic_id, partition_id, `+segmentColumns+` FROM segments
		ORDER BY topic_id, partition_id, last_offset`, nil, func(rows *sql.Rows) error {
		var (
			k      partitionKey
			seg    segmentRow
			sealed int
		)
		if err := rows.Scan(&k.topicID, &k.partition, &seg.base, &seg.last, &seg.objectKey, &seg.size,
			&seg.maxTimestamp, &seg.firstAppend, &sealed); err != nil {
			return err
		}
		seg.sealed = sealed != 0
		if j := byKey[k]; j != nil {
			j.segments = append(j.segments, seg)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("plan compaction: segments: %w", err)
	}
	err = queryEach(ctx, s.db.read, `SELECT topic_id, partition_id, COUNT(*), SUM(byte_length),
		MIN(append_time_ms), MIN(max_timestamp) FROM chunks WHERE kind = 0 GROUP BY topic_id, partition_id`, nil,
		func(rows *sql.Rows) error {
			var (
				k partitionKey
				w walSummary
			)
			if err := rows.Scan(&k.topicID, &k.partition, &w.chunks, &w.bytes, &w.oldestAppend, &w.minMaxTs); err != nil {
				return err
			}
			if j := byKey[k]; j != nil {
				j.wal = w
			}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("plan compaction: wal: %w", err)
	}
	nowMs := s.now().UnixMilli()
	if s.metrics.exported {
		if err := s.measureWAL(ctx, nowMs); err != nil {
			return nil, err
		}
	}
	jobs := all[:0]
	for _, j := range all {
		if j.retentionDue(nowMs) || j.rollDue(nowMs, s.cfg.WALHold) || j.cleanDue(nowMs) {
			jobs = append(jobs, j)
		}
	}
	if s.local != nil {
		// The local tier wants every partition's limits, work or not.
		return all, nil
	}
	return jobs, nil
}

// measureWAL sets the gauges of the WAL data not yet compacted. They are
// about the whole metadata DB: brokers sharing it report the same.
func (s *Store) measureWAL(ctx context.Context, nowMs int64) error {
	var objects, bytes, oldest int64
	err := s.db.read.QueryRowContext(ctx, `SELECT COUNT(DISTINCT object_key), COALESCE(SUM(byte_length), 0),
		COALESCE(MIN(append_time_ms), 0) FROM chunks WHERE kind = 0`).Scan(&objects, &bytes, &oldest)
	if err != nil {
		return fmt.Errorf("plan compaction: wal backlog: %w", err)
	}
	lag := 0.0
	if objects > 0 {
		lag = max(0, float64(nowMs-oldest)/1000)
	}
	s.metrics.walPendingObjs.Set(float64(objects))
	s.metrics.walPendingBytes.Set(float64(bytes))
	s.metrics.compactionLag.Set(lag)
	return nil
}

// queryEach runs query and calls fn for each row.
func queryEach(ctx context.Context, q queryer, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (j *partitionJob) totalBytes() int64 {
	total := j.wal.bytes
	for _, seg := range j.segments {
		total += seg.size
	}
	return total
}

// retentionDue reports whether retention may have something to drop; the
// exact answer needs the WAL chunks in order.
func (j *partitionJob) retentionDue(nowMs int64) bool {
	p := j.policy
	if !p.delete {
		return false
	}
	if p.retentionBytes >= 0 && j.totalBytes() > p.retentionBytes {
		return true
	}
	if p.retentionMs < 0 {
		return false
	}
	first := j.wal.minMaxTs
	if len(j.segments) > 0 {
		first = j.segments[0].maxTimestamp
	} else if j.wal.chunks == 0 {
		return false
	}
	return first < nowMs-p.retentionMs
}

func (j *partitionJob) rollDue(nowMs int64, hold time.Duration) bool {
	return j.wal.chunks > 0 && j.wal.oldestAppend <= nowMs-hold.Milliseconds()
}

// compactPartition runs the steps a partition needs, each from fresh state.
func (s *Store) compactPartition(ctx context.Context, j *partitionJob) (CompactionStats, error) {
	// Segments older than half the orphan grace are never committed, so
	// work that takes longer is lost anyway: stop it (a stuck upload too).
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OrphanGrace/2)
	defer cancel()
	var stats CompactionStats
	nowMs := s.now().UnixMilli()
	worked := false
	if j.retentionDue(nowMs) {
		worked = true
		target, err := s.retentionTarget(ctx, j, nowMs)
		if err != nil {
			return stats, err
		}
		if target > j.logStart {
			start, err := s.truncate(ctx, j.tp, j.key, target)
			if err != nil {
				return stats, err
			}
			if start > j.logStart {
				stats.LogStartAdvanced++
			}
			j.logStart = start
		}
	}
	if j.rollDue(nowMs, s.cfg.WALHold) {
		worked = true
		if err := s.roll(ctx, j, &stats); err != nil {
			return stats, err
		}
	}
	if j.policy.compact {
		segs, err := loadSegments(ctx, s.db.read, j.key)
		if err != nil {
			return stats, err
		}
		j.segments = segs
		if j.cleanDue(s.now().UnixMilli()) {
			worked = true
			if err := s.clean(ctx, j, &stats); err != nil {
				return stats, err
			}
		}
	}
	if worked {
		stats.Partitions++
	}
	return stats, nil
}

// retentionTarget is the log start offset retention.ms and retention.bytes
// ask for: past the longest run of whole segments, then WAL chunks, from
// the start of the log that are all older than retention.ms or that the
// log can lose and still hold retention.bytes.
func (s *Store) retentionTarget(ctx context.Context, j *partitionJob, nowMs int64) (int64, error) {
	p := j.policy
	total := j.totalBytes()
	target := j.logStart
	// drop reports whether a unit of size bytes whose newest record has
	// timestamp maxTs goes.
	drop := func(size, maxTs int64) bool {
		byTime := p.retentionMs >= 0 && maxTs < nowMs-p.retentionMs
		bySize := p.retentionBytes >= 0 && total-size >= p.retentionBytes
		return byTime || bySize
	}
	for _, seg := range j.segments {
		if !drop(seg.size, seg.maxTimestamp) {
			return target, nil
		}
		target, total = max(target, seg.last+1), total-seg.size
	}
	err := queryEach(ctx, s.db.read, `SELECT last_offset, byte_length, max_timestamp FROM chunks
		WHERE topic_id = $1 AND partition_id = $2 AND kind = 0 ORDER BY last_offset`,
		[]any{j.key.topicID, j.key.partition}, func(rows *sql.Rows) error {
			var last, size, maxTs int64
			if err := rows.Scan(&last, &size, &maxTs); err != nil {
				return err
			}
			if !drop(size, maxTs) {
				return errStopScan
			}
			target, total = max(target, last+1), total-size
			return nil
		})
	if err != nil && !errors.Is(err, errStopScan) {
		return 0, fmt.Errorf("retention of %s/%d: %w", j.key.topicID, j.key.partition, err)
	}
	return target, nil
}

var errStopScan = errors.New("stop scan")

// truncate advances the log start offset of k to before (-1: the high
// watermark), never back, and forgets the chunks and segments wholly below
// it, queueing their objects for GC. It is DeleteRecords and retention.
func (s *Store) truncate(ctx context.Context, tp storage.TopicPartition, k partitionKey, before int64) (int64, error) {
	var logStart int64
	notBefore := s.now().Add(s.cfg.GCGrace).UnixMilli()
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var next int64
		err := tx.QueryRowContext(ctx, `SELECT next_offset, log_start_offset FROM partitions
			WHERE topic_id = $1 AND partition_id = $2`+s.db.dialect.forUpdate, k.topicID, k.partition).Scan(&next, &logStart)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrUnknownTopic
		}
		if err != nil {
			return err
		}
		target := before
		if before == -1 {
			target = next
		}
		if target < 0 || target > next {
			return fmt.Errorf("%w: delete before %d, high watermark %d", storage.ErrOffsetOutOfRange, before, next)
		}
		if target <= logStart {
			return nil
		}
		logStart = target
		if _, err := tx.ExecContext(ctx, `UPDATE partitions SET log_start_offset = $1
			WHERE topic_id = $2 AND partition_id = $3`, target, k.topicID, k.partition); err != nil {
			return err
		}
		for _, q := range []string{
			`INSERT INTO object_gc (object_key, not_before_ms) SELECT DISTINCT object_key, CAST($4 AS BIGINT) FROM chunks
				WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3 ORDER BY object_key
				ON CONFLICT (object_key) DO NOTHING`,
			`INSERT INTO object_gc (object_key, not_before_ms) SELECT DISTINCT object_key, CAST($4 AS BIGINT) FROM segments
				WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3 ORDER BY object_key
				ON CONFLICT (object_key) DO NOTHING`,
		} {
			if _, err := tx.ExecContext(ctx, q, k.topicID, k.partition, target, notBefore); err != nil {
				return fmt.Errorf("queue objects for GC: %w", err)
			}
		}
		for _, q := range []string{
			`DELETE FROM chunks WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3`,
			`DELETE FROM segments WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3`,
			// Aborted transactions wholly below the log start have
			// nothing left to hide.
			`DELETE FROM txn_aborted WHERE topic_id = $1 AND partition_id = $2 AND last_offset < $3`,
			// A transaction still open across the log start now starts
			// there, as Kafka bounds the first unstable offset by it:
			// the last stable offset never falls below the log start,
			// where read_committed consumers would wait for the
			// transaction's end, and its marker records the span that
			// is left.
			`UPDATE txn_open SET first_offset = $3 WHERE topic_id = $1 AND partition_id = $2 AND first_offset < $3`,
		} {
			if _, err := tx.ExecContext(ctx, q, k.topicID, k.partition, target); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("delete records of %s/%d before %d: %w", tp.Topic, tp.Partition, before, err)
	}
	ps := s.parts.get(k)
	ps.mu.Lock()
	ps.advanceStart(logStart)
	ps.mu.Unlock()
	s.watches.notify(tp)
	return logStart, nil
}

// rollBudget bounds the WAL bytes one roll step takes, so that a backlog
// is moved in several swaps of bounded size.
func (p topicPolicy) rollBudget() int64 {
	return min(max(p.segmentBytes, 64<<20), 1<<30)
}

// roll moves the partition's WAL chunks older than WALHold into segments,
// merged with the open segments before them by the binary-counter rule.
func (s *Store) roll(ctx context.Context, j *partitionJob, stats *CompactionStats) error {
	for {
		nowMs := s.now().UnixMilli()
		wal, more, err := s.walToRoll(ctx, j, nowMs-s.cfg.WALHold.Milliseconds())
		if err != nil || len(wal) == 0 {
			return err
		}
		segs, err := loadSegments(ctx, s.db.read, j.key)
		if err != nil {
			return err
		}
		var adding int64
		for _, c := range wal {
			adding += c.length
		}
		open := len(segs)
		for open > 0 && j.policy.openSegment(segs[open-1], nowMs) {
			open--
		}
		merge := len(segs)
		for merge > open && (segs[merge-1].size <= adding || segs[merge-1].size+adding <= s.cfg.SegmentIndexBytes) {
			merge--
			adding += segs[merge].size
		}
		from, through := wal[0].base, wal[len(wal)-1].last
		if merge < len(segs) {
			from = segs[merge].base
		}
		sources := wal
		if merge < len(segs) {
			blocks, err := chunksBetween(ctx, s.db.read, j.key, from, segs[len(segs)-1].last)
			if err != nil {
				return err
			}
			sources = append(blocks, wal...)
		}
		logStart, err := s.currentLogStart(ctx, j.key)
		if err != nil {
			return err
		}
		built, _, err := s.rewrite(ctx, j, sources, logStart, nil)
		if err != nil {
			return s.staleSources(ctx, j.key, from, through, sources, err, stats)
		}
		plan := swapPlan{from: from, through: through, oldChunks: sources, oldSegments: segs[merge:], newSegments: built}
		if err := s.swap(ctx, j, plan, stats); err != nil {
			return err
		}
		if !more {
			return nil
		}
	}
}

// walToRoll returns the partition's oldest WAL chunks committed before
// holdUntil, up to the roll budget, and whether eligible ones remain.
func (s *Store) walToRoll(ctx context.Context, j *partitionJob, holdUntil int64) ([]chunkRef, bool, error) {
	budget := j.policy.rollBudget()
	var (
		out  []chunkRef
		size int64
		more bool
	)
	err := queryEach(ctx, s.db.read, `SELECT `+chunkColumns+` FROM chunks
		WHERE topic_id = $1 AND partition_id = $2 AND kind = 0 ORDER BY last_offset`,
		[]any{j.key.topicID, j.key.partition}, func(rows *sql.Rows) error {
			c, err := scanChunk(rows)
			if err != nil {
				return err
			}
			if c.appendTime > holdUntil {
				return errStopScan
			}
			if len(out) > 0 && size+c.length > budget {
				more = true
				return errStopScan
			}
			out = append(out, c)
			size += c.length
			return nil
		})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, false, fmt.Errorf("wal chunks of %s/%d: %w", j.key.topicID, j.key.partition, err)
	}
	return out, more, nil
}

func (s *Store) currentLogStart(ctx context.Context, k partitionKey) (int64, error) {
	var next, logStart int64
	err := s.db.read.QueryRowContext(ctx, `SELECT next_offset, log_start_offset FROM partitions
		WHERE topic_id = $1 AND partition_id = $2`, k.topicID, k.partition).Scan(&next, &logStart)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errSwapConflict
	}
	return logStart, err
}

// batchFilter decides about each batch being rewritten: keep it as it is,
// drop it, or replace it (nil batch: dropped). It is how cleaning plugs
// into rewrite.
type batchFilter func(batch []byte, h batchHeader, base int64) (out []byte, outHeader batchHeader, err error)

// rewrite writes the batches of sources at or after logStart, through
// filter when one is given, into new segments. It returns them and the
// bytes read.
func (s *Store) rewrite(ctx context.Context, j *partitionJob, sources []chunkRef, logStart int64, filter batchFilter) ([]builtSegment, int64, error) {
	b := s.newSegmentBuilder(ctx, j.key, j.policy.segmentBytes)
	var read int64
	err := s.streamChunks(ctx, sources, func(c chunkRef, data chunkData) error {
		read += c.length
		var addErr error
		walkErr := data.walk(c.base, c.stamped, func(batch []byte, h batchHeader, base int64) bool {
			if base+int64(h.lastOffsetDelta) < logStart {
				return true
			}
			if filter != nil {
				var err error
				if batch, h, err = filter(batch, h, base); err != nil {
					addErr = err
					return false
				}
				if batch == nil {
					return true
				}
			}
			addErr = b.add(batch, h, base, c.appendTime)
			return addErr == nil
		})
		if err := errors.Join(walkErr, addErr); err != nil {
			return fmt.Errorf("rewrite chunk %s@%d: %w", c.objectKey, c.pos, err)
		}
		return nil
	})
	if err == nil {
		var built []builtSegment
		if built, err = b.finish(); err == nil {
			return built, read, nil
		}
	}
	if !errors.Is(err, errCrash) {
		b.abandon()
	}
	return nil, read, err
}

// swapPlan replaces the rows of offsets [from, through] of a partition.
type swapPlan struct {
	from, through int64
	// oldChunks are all the chunk rows in the range when the new segments
	// were planned; oldSegments the segment rows.
	oldChunks   []chunkRef
	oldSegments []segmentRow
	newSegments []builtSegment
	// cleaned, when set, records a cleaning: the new cleaned_offset and
	// tombstone horizon.
	cleaned *cleanerState
}

// cleanerState is a partition's cleaning checkpoint.
type cleanerState struct {
	offset  int64
	horizon int64
}

// errSwapConflict: the partition changed between planning and swapping
// (DeleteRecords, retention, another broker's compactor, a deleted topic);
// the work is discarded and the next pass plans again.
var errSwapConflict = errors.New("partition changed during compaction")

// compactionHook, when set (tests), is called at each step of a
// compaction; an error stops it there. errCrash stops it as a crash would:
// at once, without cleaning up.
var compactionHook func(step string) error

var errCrash = errors.New("simulated crash")

func hook(step string) error {
	if compactionHook == nil {
		return nil
	}
	return compactionHook(step)
}

// swap commits plan: new segments and their blocks in, old rows out, the
// objects they pointed at queued for GC.
func (s *Store) swap(ctx context.Context, j *partitionJob, plan swapPlan, stats *CompactionStats) error {
	var newKeys []string
	for _, seg := range plan.newSegments {
		newKeys = append(newKeys, seg.row.objectKey)
	}
	if err := hook("segments-written"); err != nil {
		return err
	}
	for _, key := range newKeys {
		if s.tooOldToCommit(key) {
			s.deleteUnreferenced(newKeys)
			stats.Conflicts++
			return fmt.Errorf("%w: segment %s took too long to write", errSwapConflict, key)
		}
	}
	k := j.key
	notBefore := s.now().Add(s.cfg.GCGrace).UnixMilli()
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		var next, logStart int64
		err := tx.QueryRowContext(ctx, `SELECT next_offset, log_start_offset FROM partitions
			WHERE topic_id = $1 AND partition_id = $2`+s.db.dialect.forUpdate, k.topicID, k.partition).Scan(&next, &logStart)
		if errors.Is(err, sql.ErrNoRows) {
			return errSwapConflict
		}
		if err != nil {
			return err
		}
		current, err := chunksBetween(ctx, tx, k, plan.from, plan.through)
		if err != nil {
			return err
		}
		if !sameChunks(current, plan.oldChunks) {
			return errSwapConflict
		}
		var currentSegs []string
		err = queryEach(ctx, tx, `SELECT object_key FROM segments WHERE topic_id = $1 AND partition_id = $2
			AND last_offset >= $3 AND last_offset <= $4 ORDER BY last_offset`,
			[]any{k.topicID, k.partition, plan.from, plan.through}, func(rows *sql.Rows) error {
				var key string
				err := rows.Scan(&key)
				currentSegs = append(currentSegs, key)
				return err
			})
		if err != nil {
			return err
		}
		if !slices.EqualFunc(currentSegs, plan.oldSegments, func(key string, seg segmentRow) bool { return key == seg.objectKey }) {
			return errSwapConflict
		}
		for _, q := range []string{
			`DELETE FROM chunks WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND last_offset <= $4`,
			`DELETE FROM segments WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 AND last_offset <= $4`,
		} {
			if _, err := tx.ExecContext(ctx, q, k.topicID, k.partition, plan.from, plan.through); err != nil {
				return err
			}
		}
		insertChunk := tx.StmtContext(ctx, s.db.insertChunk)
		for _, seg := range plan.newSegments {
			r := seg.row
			if _, err := tx.ExecContext(ctx, `INSERT INTO segments (topic_id, partition_id, last_offset, base_offset,
				object_key, size_bytes, max_timestamp, first_append_ms, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				k.topicID, k.partition, r.last, r.base, r.objectKey, r.size, r.maxTimestamp, r.firstAppend, boolInt(r.sealed)); err != nil {
				return fmt.Errorf("insert segment: %w", err)
			}
			for _, c := range seg.blocks {
				if err := insertChunkRow(ctx, insertChunk, k, c); err != nil {
					return fmt.Errorf("insert segment block: %w", err)
				}
			}
		}
		old := map[string]bool{}
		for _, c := range plan.oldChunks {
			old[c.objectKey] = true
		}
		for _, seg := range plan.oldSegments {
			old[seg.objectKey] = true
		}
		for _, key := range slices.Sorted(maps.Keys(old)) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO object_gc (object_key, not_before_ms) VALUES ($1, $2)
				ON CONFLICT (object_key) DO NOTHING`, key, notBefore); err != nil {
				return fmt.Errorf("queue object for GC: %w", err)
			}
		}
		if plan.cleaned != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE partitions SET cleaned_offset = $1, tombstone_horizon_ms = $2
				WHERE topic_id = $3 AND partition_id = $4`, plan.cleaned.offset, plan.cleaned.horizon,
				k.topicID, k.partition); err != nil {
				return err
			}
		}
		return hook("swap-before-commit")
	})
	if errors.Is(err, errSwapConflict) {
		s.deleteUnreferenced(newKeys)
		stats.Conflicts++
		return nil // the next pass plans again
	}
	if err != nil {
		// The commit may or may not have happened: orphan GC decides
		// about the new objects by what the DB says.
		return fmt.Errorf("swap segments of %s/%d: %w", k.topicID, k.partition, err)
	}
	ps := s.parts.get(k)
	ps.mu.Lock()
	ps.forgetThrough(plan.through)
	ps.mu.Unlock()
	if plan.cleaned != nil && s.local != nil {
		// The local tier holds the range as it was before cleaning;
		// serving it next to cleaned segments could show a deleted key's
		// old value without its tombstone.
		s.local.forget(k, plan.through)
	}
	stats.ChunksReplaced += len(plan.oldChunks)
	for _, seg := range plan.newSegments {
		stats.SegmentsWritten++
		stats.BytesWritten += seg.row.size
	}
	return hook("swap-committed")
}

// staleSources returns nil for a compaction that failed because one of its
// source objects is gone, when the rows it was planned from changed
// meanwhile (another broker compacted them and GC collected the objects):
// the next pass plans again. Otherwise it returns err: an object missing
// while the metadata DB still points at it is loss, which must be seen.
func (s *Store) staleSources(ctx context.Context, k partitionKey, from, through int64, sources []chunkRef, err error, stats *CompactionStats) error {
	if !errors.Is(err, errObjectNotFound) {
		return err
	}
	current, qerr := chunksBetween(ctx, s.db.read, k, from, through)
	if qerr != nil || sameChunks(current, sources) {
		return err
	}
	stats.Conflicts++
	return nil
}

func sameChunks(a, b []chunkRef) bool {
	return slices.EqualFunc(a, b, func(x, y chunkRef) bool {
		return x.last == y.last && x.base == y.base && x.objectKey == y.objectKey && x.pos == y.pos && x.length == y.length
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
