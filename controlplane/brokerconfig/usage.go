package brokerconfig

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/affluent-io/affluent/controlplane/store"
	bpb "github.com/affluent-io/affluent/proto/gen/go/affluent/brokerconfig/v1"
)

// Usage reports are applied at most once per batch id.
//
// A broker's meter flushes counters (bytes, requests since its previous
// flush) and keeps a batch that failed for the next flush, so the same
// counts may arrive twice: a report whose reply was lost after the store
// committed it is sent again. Adding it again would bill twice. Each batch
// therefore carries an id — the broker process's random incarnation and a
// sequence that increases with every batch — and the broker resends a
// batch whose outcome it does not know under the same id before any newer
// one (internal/cpwatch/usage.go). The service remembers, per incarnation,
// the highest sequence it applied and acknowledges anything not above it
// without applying it again. Peaks (connections, partitions, stored bytes)
// are kept as maxima by the store and are idempotent anyway.
//
// Why a watermark in memory rather than absolute per-broker totals or a
// table of batch ids: the store adds (store.AddUsage), and a watermark per
// live broker process is one number. The window it leaves open is a
// control plane that commits a batch and dies before answering: after its
// restart the watermark is gone and the retried batch counts twice — at
// most one flush interval (5 s) of one broker's counters, once per control
// plane crash. Closing it needs the watermark written in AddUsage's
// transaction (a column in the store), which is for the store's owners.

// maxUsageRecordsPerCall bounds one report (brokers send in chunks below).
const maxUsageRecordsPerCall = 4096

// incarnationTTL is how long the watermark of a broker process that stopped
// reporting is kept: far above the meter's flush interval and its retries.
const incarnationTTL = time.Hour

// UsageStore stores the usage brokers report (store.Store.AddUsage).
type UsageStore interface {
	AddUsage(ctx context.Context, records []store.UsageRecord) error
}

// usageBatches is the watermark of applied batches per incarnation.
type usageBatches struct {
	mu        sync.Mutex // guards the fields below
	byID      map[string]*incarnation
	lastSweep time.Time
}

// incarnation is one broker process's applied batches. Its mutex is held
// while a batch is applied, so that a batch and its retry, racing, are
// applied once.
type incarnation struct {
	mu       sync.Mutex // guards applied and seen; held across AddUsage
	applied  uint64
	seen     time.Time
	reserved int // calls holding or waiting for mu; guarded by usageBatches.mu
}

// acquire returns the incarnation named id, locked, and forgets those not
// seen for incarnationTTL.
func (u *usageBatches) acquire(id string, now time.Time) *incarnation {
	u.mu.Lock()
	if u.byID == nil {
		u.byID = map[string]*incarnation{}
	}
	if now.Sub(u.lastSweep) > incarnationTTL/10 {
		u.lastSweep = now
		for k, inc := range u.byID {
			if inc.reserved == 0 && now.Sub(inc.seen) > incarnationTTL {
				delete(u.byID, k)
			}
		}
	}
	inc := u.byID[id]
	if inc == nil {
		inc = &incarnation{seen: now}
		u.byID[id] = inc
	}
	inc.reserved++
	u.mu.Unlock()
	inc.mu.Lock()
	return inc
}

func (u *usageBatches) release(inc *incarnation) {
	inc.mu.Unlock()
	u.mu.Lock()
	inc.reserved--
	u.mu.Unlock()
}

// ReportUsage stores a broker's usage batch once (see the top of the file).
func (s *Service) ReportUsage(ctx context.Context, req *bpb.ReportUsageRequest) (*bpb.ReportUsageResponse, error) {
	if s.usage == nil {
		return nil, status.Error(codes.Unimplemented, "this control plane stores no usage")
	}
	if req.GetIncarnation() == "" || len(req.GetIncarnation()) > 128 || req.GetSequence() == 0 {
		return nil, status.Error(codes.InvalidArgument, "usage batch id required: incarnation (at most 128 bytes) and sequence > 0")
	}
	if len(req.GetRecords()) > maxUsageRecordsPerCall {
		return nil, status.Errorf(codes.InvalidArgument, "%d usage records in one call; at most %d", len(req.GetRecords()), maxUsageRecordsPerCall)
	}
	records := make([]store.UsageRecord, 0, len(req.GetRecords()))
	for i, r := range req.GetRecords() {
		if err := checkUsageRecord(r); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "usage record %d: %v", i, err)
		}
		records = append(records, store.UsageRecord{Cluster: r.GetCluster(), Principal: r.GetPrincipal(),
			Hour: r.GetHour().AsTime(), Broker: r.GetBroker(), BytesIn: r.GetBytesIn(), BytesOut: r.GetBytesOut(),
			Requests: r.GetRequests(), Connections: r.GetConnections(), Partitions: r.GetPartitions(),
			StoredBytes: r.GetStoredBytes()})
	}
	inc := s.batches.acquire(req.GetIncarnation(), time.Now())
	defer s.batches.release(inc)
	inc.seen = time.Now()
	if req.GetSequence() <= inc.applied {
		return &bpb.ReportUsageResponse{Duplicate: true}, nil
	}
	if err := s.usage.AddUsage(ctx, records); err != nil {
		s.log.Warn("storing broker usage failed; the broker will retry", "records", len(records), "err", err)
		return nil, status.Error(codes.Unavailable, "storing usage failed")
	}
	inc.applied = req.GetSequence()
	return &bpb.ReportUsageResponse{}, nil
}

// checkUsageRecord refuses what no meter sends: negative counts, a
// missing cluster or hour, absurd sizes.
func checkUsageRecord(r *bpb.UsageRecord) error {
	switch {
	case r.GetCluster() == "" || len(r.GetCluster()) > 64:
		return fmt.Errorf("cluster %q: required, at most 64 bytes", r.GetCluster())
	case len(r.GetPrincipal()) > 512 || len(r.GetBroker()) > 256:
		return fmt.Errorf("principal or broker too long")
	case r.GetHour() == nil || r.GetHour().CheckValid() != nil:
		return fmt.Errorf("hour required")
	case r.GetBytesIn() < 0 || r.GetBytesOut() < 0 || r.GetRequests() < 0 || r.GetConnections() < 0 ||
		r.GetPartitions() < 0 || r.GetStoredBytes() < 0:
		return fmt.Errorf("negative count")
	}
	return nil
}
