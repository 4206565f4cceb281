package cpwatch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/dataplane/usage"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// usageChunk bounds the records of one ReportUsage call (the control plane
// takes at most 4096, and its gRPC messages at most 4 MiB).
const usageChunk = 1000

var _ usage.Sink = (*Client)(nil)

// usageReporter sends the meter's records to the control plane so that
// each batch is applied once (controlplane/brokerconfig/usage.go): every
// call (chunk) carries this process's incarnation and the next sequence,
// and a batch whose outcome is unknown (the call failed: the control plane
// may or may not have stored it) is resent under the same ids before
// anything newer.
//
// It relies on the meter's contract: a failed flush's records are merged
// back and come again, counters added to newer ones, in the next flush
// (usage.Meter.Flush). So once the unsure batch is acknowledged, its
// counters are taken out of what the meter hands over, and only the rest
// goes out as a new batch.
type usageReporter struct {
	incarnation string

	mu sync.Mutex // serializes reports; guards the fields below
	// sequence is the last sequence number given to a chunk.
	sequence uint64
	// unsent are the chunks of the last batch not yet acknowledged, in
	// order; batch is all that batch's records (nil: none pending).
	unsent []*bpb.ReportUsageRequest
	batch  []usage.Record
}

func newUsageReporter() *usageReporter {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return &usageReporter{incarnation: hex.EncodeToString(b)}
}

// RecordUsage implements usage.Sink: an error leaves the records with the
// meter, which sends them again with the next flush.
func (c *Client) RecordUsage(ctx context.Context, records []usage.Record) error {
	r := c.usage
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.batch != nil {
		if err := c.sendUsage(ctx); err != nil {
			return err
		}
		records = withoutCounters(records, r.batch)
		r.batch = nil
	}
	if len(records) == 0 {
		return nil
	}
	for start := 0; start < len(records); start += usageChunk {
		r.sequence++
		req := &bpb.ReportUsageRequest{Incarnation: r.incarnation, Sequence: r.sequence}
		for _, rec := range records[start:min(start+usageChunk, len(records))] {
			req.Records = append(req.Records, &bpb.UsageRecord{Cluster: rec.Cluster, Principal: rec.Principal,
				Hour: timestamppb.New(rec.Hour), Broker: rec.Broker, BytesIn: rec.BytesIn, BytesOut: rec.BytesOut,
				Requests: rec.Requests, Connections: rec.Connections, Partitions: rec.Partitions, StoredBytes: rec.StoredBytes})
		}
		r.unsent = append(r.unsent, req)
	}
	r.batch = records
	if err := c.sendUsage(ctx); err != nil {
		return err
	}
	r.batch = nil
	return nil
}

// sendUsage sends the unsent chunks in order. Called with usage.mu held.
func (c *Client) sendUsage(ctx context.Context) error {
	r := c.usage
	for len(r.unsent) > 0 {
		_, err := c.rpc.ReportUsage(ctx, r.unsent[0])
		if status.Code(err) == codes.InvalidArgument {
			// Malformed records: resending cannot help.
			c.log.Error("control plane refused usage records; dropped", "records", len(r.unsent[0].GetRecords()), "err", err)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("report usage to the control plane: %w", err)
		}
		r.unsent = r.unsent[1:]
	}
	return nil
}

// withoutCounters returns records less the counters of sent (which the
// meter merged back into them after a failed flush), and without those
// left with nothing new. Peaks are kept: the control plane keeps the
// larger, so sending one twice is harmless.
func withoutCounters(records, sent []usage.Record) []usage.Record {
	type key struct {
		cluster, principal string
		hour               int64
	}
	counted := make(map[key]usage.Record, len(sent))
	for _, s := range sent {
		counted[key{s.Cluster, s.Principal, s.Hour.UnixNano()}] = s
	}
	out := make([]usage.Record, 0, len(records))
	for _, rec := range records {
		if s, ok := counted[key{rec.Cluster, rec.Principal, rec.Hour.UnixNano()}]; ok {
			// max(…, 0): should the meter ever hand over less than it
			// was given back, nothing goes negative.
			rec.BytesIn = max(rec.BytesIn-s.BytesIn, 0)
			rec.BytesOut = max(rec.BytesOut-s.BytesOut, 0)
			rec.Requests = max(rec.Requests-s.Requests, 0)
			if rec.BytesIn == 0 && rec.BytesOut == 0 && rec.Requests == 0 && rec.Connections <= s.Connections &&
				rec.Partitions <= s.Partitions && rec.StoredBytes <= s.StoredBytes {
				continue // nothing the control plane does not have
			}
		}
		out = append(out, rec)
	}
	return out
}
