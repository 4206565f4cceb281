package tiered

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// Brokers sharing a PostgreSQL metadata DB each keep the in-memory view of
// a partition (partitionState) that their own commits advance. Another
// broker's commits reach it three ways: a read below the log start or past
// the high watermark it knows asks the DB before answering out of range;
// Offsets asks the DB when its view is older than sharedPollInterval; and
// the partitions that fetches wait on (Watch) are polled every
// sharedPollInterval, waking the fetch when their high watermark moved. A
// long poll on one broker so wakes within about that interval of a commit
// on another. A SQLite file is shared the same way when several broker
// processes on one machine write it (Config.SharedMetadata); otherwise one
// process writes, and its commits wake its own fetches at once.

// sharedPollInterval is how often waited-on partitions are polled, and how
// old a partition view may be before Offsets reads the DB.
const sharedPollInterval = 50 * time.Millisecond

// pollBatch bounds the topic ids of one poll query.
const pollBatch = 500

// shared reports whether other brokers may write the partitions of this
// store's metadata DB.
func (s *Store) shared() bool { return s.db.dialect.name == "postgres" || s.cfg.SharedMetadata }

// refresh moves the view to the DB's values, read at time at. Caller holds
// ps.mu. It reports whether the high watermark advanced.
func (ps *partitionState) refresh(next, logStart int64, at time.Time) bool {
	advanced := next > ps.next
	if advanced {
		// Others committed [ps.next, next): the tail index no longer ends
		// at the high watermark, and our next commit must not leave a gap
		// in it. Reads of the new data look its chunks up in the DB.
		ps.recent = nil
		ps.next = next
	}
	ps.advanceStart(logStart)
	ps.confirmed = at
	return advanced
}

// reload reads the partition's offsets from the DB into its view. Caller
// holds ps.mu, and ps is loaded.
func (s *Store) reload(ctx context.Context, k partitionKey, ps *partitionState) (advanced bool, err error) {
	at := time.Now()
	var next, logStart int64
	if err := s.db.selectPartition.QueryRowContext(ctx, k.topicID, k.partition).Scan(&next, &logStart); err != nil {
		return false, fmt.Errorf("reload partition %s/%d: %w", k.topicID, k.partition, err)
	}
	return ps.refresh(next, logStart, at), nil
}

// freshPartition is partition, read again from the DB when other brokers
// may have written it since the view was last confirmed more than maxAge
// ago.
func (s *Store) freshPartition(ctx context.Context, k partitionKey, maxAge time.Duration) (*partitionState, error) {
	ps, err := s.partition(ctx, k)
	if err != nil || !s.shared() {
		return ps, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if time.Since(ps.confirmed) > maxAge {
		if _, err := s.reload(ctx, k, ps); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

// runWatchPoller polls the partitions fetches wait on until the store
// stops.
func (s *Store) runWatchPoller() {
	t := time.NewTicker(sharedPollInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.stopping:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(s.bg, 10*sharedPollInterval)
		err := s.pollWatched(ctx)
		cancel()
		if err != nil && !failing {
			s.log.Warn("polling high watermarks of waited-on partitions", "err", err)
		}
		failing = err != nil
	}
}

// pollWatched reads the offsets of every partition being watched and wakes
// the watchers of those another broker advanced (or that are gone).
func (s *Store) pollWatched(ctx context.Context) error {
	tps := s.watches.watched()
	if len(tps) == 0 {
		return nil
	}
	byKey := make(map[partitionKey]storage.TopicPartition, len(tps))
	var topicIDs []string
	seen := make(map[string]bool)
	var gone []storage.TopicPartition
	for _, tp := range tps {
		k, err := s.route(ctx, tp)
		if err != nil {
			if errors.Is(err, storage.ErrUnknownTopic) {
				gone = append(gone, tp)
				continue
			}
			return err
		}
		byKey[k] = tp
		if !seen[k.topicID] {
			seen[k.topicID] = true
			topicIDs = append(topicIDs, k.topicID)
		}
	}
	s.watches.notify(gone...)
	at := time.Now()
	var woken []storage.TopicPartition
	for len(topicIDs) > 0 {
		batch := topicIDs[:min(len(topicIDs), pollBatch)]
		topicIDs = topicIDs[len(batch):]
		args := make([]any, len(batch))
		marks := make([]string, len(batch))
		for i, id := range batch {
			args[i], marks[i] = id, "$"+strconv.Itoa(i+1)
		}
		rows, err := s.db.read.QueryContext(ctx, `SELECT topic_id, partition_id, next_offset, log_start_offset
			FROM partitions WHERE topic_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return fmt.Errorf("poll partitions: %w", err)
		}
		for rows.Next() {
			var k partitionKey
			var next, logStart int64
			if err := rows.Scan(&k.topicID, &k.partition, &next, &logStart); err != nil {
				rows.Close()
				return fmt.Errorf("poll partitions: %w", err)
			}
			tp, ok := byKey[k]
			if !ok {
				continue
			}
			ps := s.parts.get(k)
			ps.mu.Lock()
			if ps.loaded && ps.refresh(next, logStart, at) {
				woken = append(woken, tp)
			}
			ps.mu.Unlock()
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("poll partitions: %w", err)
		}
	}
	s.watches.notify(woken...)
	return nil
}

// watched returns the partitions someone waits on.
func (w *watchers) watched() []storage.TopicPartition {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]storage.TopicPartition, 0, len(w.chans))
	for tp := range w.chans {
		out = append(out, tp)
	}
	return out
}
