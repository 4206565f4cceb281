package store

import (
	"context"
	"fmt"
	"time"
)

// UsageRecord is one broker's usage of a cluster during one hour, by one
// principal or (Principal empty) by all: what brokers flush
// (dataplane/usage.Record, field for field).
type UsageRecord struct {
	Cluster   string
	Principal string
	Hour      time.Time // start of the UTC hour
	Broker    string

	BytesIn, BytesOut, Requests          int64 // added to what is stored
	Connections, Partitions, StoredBytes int64 // peaks: the larger is kept
}

// UsageBucket is a cluster's (or a principal's) usage during one hour over
// all brokers.
type UsageBucket struct {
	Hour      time.Time
	Principal string // empty: the whole cluster

	BytesIn, BytesOut, Requests int64
	// Connections sums the brokers' peaks; Partitions and StoredBytes are
	// the largest any broker saw.
	Connections, Partitions, StoredBytes int64
}

// AddUsage adds records to the hourly usage, in one transaction. It does
// not go through s.tx: usage arrives every few seconds from every broker
// and is no change of configuration brokers need to hear of (OnCommit).
func (s *Store) AddUsage(ctx context.Context, records []UsageRecord) error {
	if len(records) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	// Peaks keep the larger value with CASE, which both engines know
	// (SQLite's max(a, b) is PostgreSQL's GREATEST).
	stmt, err := tx.PrepareContext(ctx, s.dialect.rebind(`INSERT INTO cluster_usage (cluster_id, principal, hour_start, broker,
		bytes_in, bytes_out, requests, connections, partitions, stored_bytes, update_time)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (cluster_id, principal, hour_start, broker) DO UPDATE SET
		bytes_in = cluster_usage.bytes_in + excluded.bytes_in,
		bytes_out = cluster_usage.bytes_out + excluded.bytes_out,
		requests = cluster_usage.requests + excluded.requests,
		connections = CASE WHEN excluded.connections > cluster_usage.connections THEN excluded.connections ELSE cluster_usage.connections END,
		partitions = CASE WHEN excluded.partitions > cluster_usage.partitions THEN excluded.partitions ELSE cluster_usage.partitions END,
		stored_bytes = CASE WHEN excluded.stored_bytes > cluster_usage.stored_bytes THEN excluded.stored_bytes ELSE cluster_usage.stored_bytes END,
		update_time = excluded.update_time`))
	if err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	defer stmt.Close()
	now := s.nowMicro().UnixMicro()
	for _, r := range records {
		if _, err := stmt.ExecContext(ctx, r.Cluster, r.Principal, r.Hour.UTC().Truncate(time.Hour).UnixMicro(), r.Broker,
			r.BytesIn, r.BytesOut, r.Requests, r.Connections, r.Partitions, r.StoredBytes, now); err != nil {
			return fmt.Errorf("add usage of %s: %w", r.Cluster, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("add usage: commit: %w", err)
	}
	return nil
}

// ClusterUsage returns a cluster's hourly usage for the hours starting in
// [start, end), oldest first: one bucket per hour for the whole cluster, or
// with byPrincipal one per principal and hour (sorted by principal within
// an hour). Hours without usage have no bucket.
func (s *Store) ClusterUsage(ctx context.Context, cluster string, start, end time.Time, byPrincipal bool) ([]UsageBucket, error) {
	who := "principal = ''"
	if byPrincipal {
		who = "principal <> ''"
	}
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(`SELECT hour_start, principal,
		CAST(SUM(bytes_in) AS BIGINT), CAST(SUM(bytes_out) AS BIGINT), CAST(SUM(requests) AS BIGINT),
		CAST(SUM(connections) AS BIGINT), MAX(partitions), MAX(stored_bytes)
		FROM cluster_usage WHERE cluster_id = ? AND `+who+` AND hour_start >= ? AND hour_start < ?
		GROUP BY hour_start, principal ORDER BY hour_start, principal`),
		cluster, start.UTC().Truncate(time.Hour).UnixMicro(), end.UTC().UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("read usage of %s: %w", cluster, err)
	}
	defer rows.Close()
	var out []UsageBucket
	for rows.Next() {
		var b UsageBucket
		var hour int64
		if err := rows.Scan(&hour, &b.Principal, &b.BytesIn, &b.BytesOut, &b.Requests, &b.Connections, &b.Partitions, &b.StoredBytes); err != nil {
			return nil, fmt.Errorf("read usage of %s: %w", cluster, err)
		}
		b.Hour = time.UnixMicro(hour).UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read usage of %s: %w", cluster, err)
	}
	return out, nil
}
