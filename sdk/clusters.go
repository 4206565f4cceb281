package sdk

import (
	"context"
	"iter"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// ClusterFilter narrows ListClusters; zero fields do not filter.
type ClusterFilter struct {
	// Phase is PROVISIONING, RUNNING, FAILED or DELETING.
	Phase string
}

// CreateCluster asks for a cluster in environment env. It returns the
// cluster in phase PROVISIONING; WaitClusterRunning waits until it serves.
func (c *Client) CreateCluster(ctx context.Context, env string, cluster *Cluster, opts ...CallOption) (*Cluster, error) {
	s := applyCall(opts)
	resp, err := c.clusters.CreateCluster(ctx, &pb.CreateClusterRequest{Environment: env, Cluster: cluster, RequestId: s.requestID})
	return resp.GetCluster(), err
}

// GetCluster reads cluster id (lkc-…) of environment env.
func (c *Client) GetCluster(ctx context.Context, env, id string) (*Cluster, error) {
	resp, err := c.clusters.GetCluster(ctx, &pb.GetClusterRequest{Environment: env, Id: id})
	return resp.GetCluster(), err
}

// ListClusters iterates over the clusters of environment env.
func (c *Client) ListClusters(ctx context.Context, env string, f ClusterFilter) iter.Seq2[*Cluster, error] {
	return pages(func(token string) ([]*Cluster, string, error) {
		resp, err := c.clusters.ListClusters(ctx, &pb.ListClustersRequest{Environment: env, PageSize: c.pageSize, PageToken: token, Phase: f.Phase})
		return resp.GetClusters(), resp.GetNextPageToken(), err
	})
}

// UpdateCluster changes cluster.Id of environment env: the fields named by
// paths (display_name, spec.plan, spec.limits or one of its fields,
// spec.brokers), or without paths every updatable field that is set.
// Changing spec.brokers resizes a DEDICATED cluster: the answer carries the
// resize's operation (status.operation_id) for WaitOperation, and
// status.brokers reaches spec.brokers when it is done.
func (c *Client) UpdateCluster(ctx context.Context, env string, cluster *Cluster, paths ...string) (*Cluster, error) {
	resp, err := c.clusters.UpdateCluster(ctx, &pb.UpdateClusterRequest{Environment: env, Id: cluster.GetId(), Cluster: cluster, UpdateMask: updateMask(paths)})
	return resp.GetCluster(), err
}

// ResizeCluster gives DEDICATED cluster id of environment env brokers
// brokers (1 to 32) and returns it with the resize under way; WaitOperation
// on its status.operation_id waits for the end.
func (c *Client) ResizeCluster(ctx context.Context, env, id string, brokers int32) (*Cluster, error) {
	return c.UpdateCluster(ctx, env, &Cluster{Id: id, Spec: &ClusterSpec{Brokers: brokers}}, "spec.brokers")
}

// DeleteCluster starts deleting a cluster and returns it in phase DELETING;
// WaitClusterDeleted waits until it is gone.
func (c *Client) DeleteCluster(ctx context.Context, env, id string, opts ...CallOption) (*Cluster, error) {
	s := applyCall(opts)
	resp, err := c.clusters.DeleteCluster(ctx, &pb.DeleteClusterRequest{Environment: env, Id: id, Etag: s.etag})
	return resp.GetCluster(), err
}

// UsageRange selects the hours of ClusterUsage: those starting in
// [Start rounded down to the hour, End). Zero End is now, zero Start 24
// hours before End; at most 31 days. ByPrincipal gives one bucket per
// principal and hour instead of one per hour.
type UsageRange struct {
	Start, End  time.Time
	ByPrincipal bool
}

// ClusterUsage returns the hourly usage of cluster id (lkc-…) of
// environment env, oldest first: bytes in and out, requests, peak
// connections, partitions and stored bytes.
func (c *Client) ClusterUsage(ctx context.Context, env, id string, r UsageRange) ([]*UsageBucket, error) {
	req := &pb.GetClusterUsageRequest{Environment: env, Id: id, ByPrincipal: r.ByPrincipal}
	if !r.Start.IsZero() {
		req.StartTime = timestamppb.New(r.Start)
	}
	if !r.End.IsZero() {
		req.EndTime = timestamppb.New(r.End)
	}
	resp, err := c.clusters.GetClusterUsage(ctx, req)
	return resp.GetBuckets(), err
}
