package cluster

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// usageReader reads the hourly usage brokers metered (*store.Store).
type usageReader interface {
	ClusterUsage(ctx context.Context, cluster string, start, end time.Time, byPrincipal bool) ([]store.UsageBucket, error)
}

// Bounds of GetClusterUsage's range.
const (
	defaultUsageRange = 24 * time.Hour
	maxUsageRange     = 31 * 24 * time.Hour
)

// GetClusterUsage answers the cluster's hourly usage; reading it is
// describing the cluster (authz.ClusterDescribe).
func (s *Service) GetClusterUsage(ctx context.Context, req *pb.GetClusterUsageRequest) (*pb.GetClusterUsageResponse, error) {
	end := time.Now()
	if req.GetEndTime() != nil {
		end = req.GetEndTime().AsTime()
	}
	start := end.Add(-defaultUsageRange)
	if req.GetStartTime() != nil {
		start = req.GetStartTime().AsTime()
	}
	start = start.UTC().Truncate(time.Hour)
	var r validate.Report
	for field, ts := range map[string]*timestamppb.Timestamp{"start_time": req.GetStartTime(), "end_time": req.GetEndTime()} {
		if ts != nil && ts.CheckValid() != nil {
			r.Add(field, "not a valid time")
		}
	}
	switch {
	case !end.After(start):
		r.Add("end_time", "must be after start_time (rounded down to the hour: %s)", start.Format(time.RFC3339))
	case end.Sub(start) > maxUsageRange:
		r.Add("end_time", "at most %d days after start_time", int(maxUsageRange/(24*time.Hour)))
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	c, err := s.get(ctx, req.GetEnvironment(), req.GetId(), authz.ClusterDescribe)
	if err != nil {
		return nil, err
	}
	buckets, err := s.lifecycle.ClusterUsage(ctx, c.ID, start, end, req.GetByPrincipal())
	if err != nil {
		return nil, rpc.StoreError(err, kind, c.ID)
	}
	resp := &pb.GetClusterUsageResponse{Buckets: make([]*pb.UsageBucket, 0, len(buckets))}
	for _, b := range buckets {
		resp.Buckets = append(resp.Buckets, &pb.UsageBucket{
			StartTime:    timestamppb.New(b.Hour),
			EndTime:      timestamppb.New(b.Hour.Add(time.Hour)),
			Principal:    b.Principal,
			BytesIn:      b.BytesIn,
			BytesOut:     b.BytesOut,
			Requests:     b.Requests,
			Connections:  b.Connections,
			Partitions:   b.Partitions,
			StorageBytes: b.StoredBytes,
		})
	}
	return resp, nil
}
