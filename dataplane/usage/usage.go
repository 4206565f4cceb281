// Package usage meters what each cluster (tenant) uses of a broker — bytes
// in and out, requests, connections, partitions and stored bytes — per
// principal and per hour, for billing and the usage API. A broker counts in
// memory (Meter) and flushes every few seconds to a Sink, the control
// plane's store of hourly buckets; the same counts are exported to
// Prometheus with a cluster label.
//
// Principals are not a Prometheus label: a cluster may have any number of
// service accounts and identity-pool identities, so the series would be
// unbounded. The per-principal view is the usage API's.
package usage

import (
	"context"
	"time"
)

// Record is one broker's usage of one cluster during one hour, by one
// principal or by all of them.
//
// A Sink adds the counters (BytesIn, BytesOut, Requests: what happened
// since the broker's previous flush) to what it holds for (Cluster,
// Principal, Hour, Broker) and raises the peaks (Connections, Partitions,
// StoredBytes) to the record's when they are larger. A sink must accept the
// same hour twice.
type Record struct {
	Cluster string
	// Principal is who used the cluster (User:sa-…); empty for the whole
	// cluster, whose record sums every principal's counters and alone
	// carries Partitions and StoredBytes.
	Principal string
	// Hour is the start of the UTC hour.
	Hour time.Time
	// Broker is the broker that measured (its node id), so that peaks of
	// several brokers are kept apart: connections add up over brokers,
	// partitions and stored bytes do not.
	Broker string

	BytesIn  int64 // record batch bytes produced
	BytesOut int64 // record batch bytes fetched
	Requests int64

	Connections int64 // peak concurrent connections to this broker
	Partitions  int64 // peak partitions over all topics (cluster record)
	StoredBytes int64 // peak bytes retained in storage (cluster record)
}

// Sink stores usage records: the control plane's usage store in
// production.
type Sink interface {
	RecordUsage(ctx context.Context, records []Record) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, records []Record) error

// RecordUsage implements Sink.
func (f SinkFunc) RecordUsage(ctx context.Context, records []Record) error { return f(ctx, records) }

// HourOf is the start of the UTC hour holding t.
func HourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }
