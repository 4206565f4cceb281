// Package cluster serves affluent.v1.ClusterService and runs the cluster
// lifecycle: plans and their limits, the reconciler that drives clusters to
// their desired state through a Provisioner, and the provisioner of
// serverless clusters on a shared broker fleet.
package cluster

import (
	"context"
	"regexp"
	"strings"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "cluster"

// Clouds a cluster may name.
var clouds = []string{"LOCAL", "AWS", "GCP", "AZURE"}

var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// MaxBrokers bounds spec.brokers of a DEDICATED cluster.
const MaxBrokers = 32

type environmentReader interface {
	Get(ctx context.Context, org, id string) (resource.Environment, error)
}

// lifecycle is what the service asks of the store beyond the clusters
// collection: starting a deletion or a resize, and reading usage
// (usage.go).
type lifecycle interface {
	BeginClusterDeletion(ctx context.Context, c resource.Cluster, prevEtag string) (resource.Cluster, error)
	BeginClusterResize(ctx context.Context, c resource.Cluster, prevEtag string) (resource.Cluster, error)
	usageReader
}

type notifier interface{ Notify() }

// Service manages clusters.
type Service struct {
	pb.UnimplementedClusterServiceServer
	guard      *access.Guard
	clusters   rpc.Collection[resource.Cluster]
	envs       environmentReader
	lifecycle  lifecycle
	reconciler notifier
}

var _ pb.ClusterServiceServer = (*Service)(nil)

// New returns the service; reconciler is told of every create and delete.
func New(guard *access.Guard, clusters rpc.Collection[resource.Cluster], envs environmentReader, lc lifecycle, reconciler notifier) *Service {
	return &Service{guard: guard, clusters: clusters, envs: envs, lifecycle: lc, reconciler: reconciler}
}

func (s *Service) CreateCluster(ctx context.Context, req *pb.CreateClusterRequest) (*pb.CreateClusterResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	c := fromProto(req.GetCluster())
	var r validate.Report
	r.ID("environment", req.GetEnvironment(), resource.PrefixEnvironment)
	r.DisplayName("cluster.display_name", c.DisplayName, true)
	r.RequestID("request_id", req.GetRequestId())
	validateSpec(&r, &c)
	if err := r.Err(); err != nil {
		return nil, err
	}
	envCRN := resource.EnvironmentCRN(caller.OrgID, req.GetEnvironment())
	if err := s.guard.Authorize(ctx, authz.ClusterCreate, envCRN); err != nil {
		return nil, err
	}
	if _, err := s.envs.Get(ctx, caller.OrgID, req.GetEnvironment()); err != nil {
		return nil, rpc.StoreError(err, "environment", req.GetEnvironment())
	}
	c.Meta = rpc.Meta(caller.OrgID, resource.PrefixCluster)
	c.EnvironmentID = req.GetEnvironment()
	c.Phase = resource.PhaseProvisioning
	c.OperationID = resource.NewID(resource.PrefixOperation)
	created, err := s.clusters.Create(ctx, c, rpc.RequestKey("CreateCluster", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", c.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, "environment", c.EnvironmentID)
	}
	s.reconciler.Notify()
	return &pb.CreateClusterResponse{Cluster: toProto(created)}, nil
}

// validateSpec checks the spec and fills the limits from the plan.
func validateSpec(r *validate.Report, c *resource.Cluster) {
	r.OneOf("cluster.spec.type", c.Type, true, resource.ClusterServerless, resource.ClusterDedicated)
	r.OneOf("cluster.spec.cloud", c.Cloud, true, clouds...)
	if !regionRE.MatchString(c.Region) {
		r.Add("cluster.spec.region", "%q must be 1 to 63 of [a-z0-9-]", c.Region)
	}
	switch {
	case c.Type == resource.ClusterServerless && c.Brokers != 0:
		r.Add("cluster.spec.brokers", "must be unset for a SERVERLESS cluster, whose brokers are the shared fleet's")
	case c.Type == resource.ClusterDedicated && (c.Brokers < 1 || c.Brokers > MaxBrokers):
		r.Add("cluster.spec.brokers", "a DEDICATED cluster needs 1 to %d brokers, not %d", MaxBrokers, c.Brokers)
	}
	if _, ok := plans[c.Plan]; !ok {
		r.OneOf("cluster.spec.plan", c.Plan, true, PlanBasic, PlanStandard, PlanEnterprise)
		return
	}
	limits, over := effectiveLimits(c.Plan, c.Limits)
	for _, f := range over {
		r.Add("cluster.spec.limits."+f, "must be between 1 and the %s plan's maximum", c.Plan)
	}
	c.Limits = limits
}

func (s *Service) GetCluster(ctx context.Context, req *pb.GetClusterRequest) (*pb.GetClusterResponse, error) {
	c, err := s.get(ctx, req.GetEnvironment(), req.GetId(), authz.ClusterDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetClusterResponse{Cluster: toProto(c)}, nil
}

func (s *Service) get(ctx context.Context, env, id string, action authz.Action) (resource.Cluster, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.Cluster{}, err
	}
	var r validate.Report
	r.ID("environment", env, resource.PrefixEnvironment)
	r.ID("id", id, resource.PrefixCluster)
	if err := r.Err(); err != nil {
		return resource.Cluster{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.ClusterCRN(caller.OrgID, env, id)); err != nil {
		return resource.Cluster{}, err
	}
	c, err := s.clusters.Get(ctx, caller.OrgID, id)
	if err == nil && c.EnvironmentID != env {
		err = store.ErrNotFound
	}
	return c, rpc.StoreError(err, kind, id)
}

func (s *Service) ListClusters(ctx context.Context, req *pb.ListClustersRequest) (*pb.ListClustersResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	r.ID("environment", req.GetEnvironment(), resource.PrefixEnvironment)
	size := r.PageSize("page_size", req.GetPageSize())
	r.OneOf("phase", req.GetPhase(), false, resource.PhaseProvisioning, resource.PhaseRunning, resource.PhaseFailed, resource.PhaseDeleting)
	if err := r.Err(); err != nil {
		return nil, err
	}
	env := req.GetEnvironment()
	if err := s.guard.Authorize(ctx, authz.EnvironmentDescribe, resource.EnvironmentCRN(caller.OrgID, env)); err != nil {
		return nil, err
	}
	if _, err := s.envs.Get(ctx, caller.OrgID, env); err != nil {
		return nil, rpc.StoreError(err, "environment", env)
	}
	q := store.Query{Parent: env, PageSize: size, PageToken: req.GetPageToken()}
	if req.GetPhase() != "" {
		q.Filters = append(q.Filters, store.Eq("phase", req.GetPhase()))
	}
	clusters, next, err := s.clusters.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListClustersResponse{Clusters: []*pb.Cluster{}, NextPageToken: next}
	for _, c := range clusters {
		if s.guard.Allowed(ctx, authz.ClusterDescribe, resource.ClusterCRN(caller.OrgID, env, c.ID)) {
			resp.Clusters = append(resp.Clusters, toProto(c))
		}
	}
	return resp, nil
}

var limitFields = []string{"ingress_byte_rate", "egress_byte_rate", "max_partitions", "max_storage_bytes",
	"max_connections", "max_message_bytes", "max_request_rate", "max_connection_attempt_rate"}

var mask = func() rpc.Mask {
	m := rpc.Mask{
		Updatable:  []string{"display_name", "spec", "spec.plan", "spec.limits", "spec.brokers"},
		OutputOnly: append([]string{"environment", "status", "spec.type", "spec.cloud", "spec.region"}, rpc.CommonOutputOnly...),
	}
	for _, f := range limitFields {
		m.Updatable = append(m.Updatable, "spec.limits."+f)
	}
	return m
}()

func (s *Service) UpdateCluster(ctx context.Context, req *pb.UpdateClusterRequest) (*pb.UpdateClusterResponse, error) {
	in := req.GetCluster()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		return p == "display_name" && in.GetDisplayName() != "" || p == "spec.plan" && in.GetSpec().GetPlan() != "" ||
			p == "spec.limits" && in.GetSpec().GetLimits() != nil || p == "spec.brokers" && in.GetSpec().GetBrokers() != 0
	})
	if err != nil {
		return nil, err
	}
	c, err := s.get(ctx, req.GetEnvironment(), req.GetId(), authz.ClusterUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), c.Etag, kind, c.ID); err != nil {
		return nil, err
	}
	if c.Phase == resource.PhaseDeleting {
		return nil, apierr.New(apierr.FailedPrecondition, "cluster %q is being deleted", c.ID)
	}
	prev := c.Etag
	var r validate.Report
	// Immutable fields may be sent back unchanged, not changed.
	spec := in.GetSpec()
	for field, pair := range map[string][2]string{"type": {spec.GetType(), c.Type}, "cloud": {spec.GetCloud(), c.Cloud}, "region": {spec.GetRegion(), c.Region}} {
		if pair[0] != "" && pair[0] != pair[1] {
			r.Add("cluster.spec."+field, "cannot be changed; create a new cluster")
		}
	}
	newLimits := limitsFromProto(spec.GetLimits())
	limits := resource.Limits{}
	planChanged := false
	brokers := c.Brokers
	for _, p := range paths {
		if p == "spec.brokers" || p == "spec" && spec.GetBrokers() != 0 {
			brokers = spec.GetBrokers()
		}
		switch {
		case p == "display_name":
			r.DisplayName("cluster.display_name", in.GetDisplayName(), true)
			c.DisplayName = in.GetDisplayName()
		case p == "spec" || p == "spec.plan":
			if spec.GetPlan() != "" && spec.GetPlan() != c.Plan {
				c.Plan, planChanged = spec.GetPlan(), true
			}
			if p == "spec" {
				limits = newLimits
			}
		case p == "spec.limits":
			limits = newLimits
		case strings.HasPrefix(p, "spec.limits."):
			setLimit(&limits, strings.TrimPrefix(p, "spec.limits."), newLimits)
		}
	}
	if !planChanged {
		// Unchanged limits keep their value; a new plan resets them to its own.
		limits = merge(c.Limits, limits)
	}
	c.Limits = limits
	resize, brokersBefore := brokers != c.Brokers, c.Brokers
	c.Brokers = brokers
	validateSpec(&r, &c)
	if err := r.Err(); err != nil {
		return nil, err
	}
	if resize {
		return s.resize(ctx, c, prev, brokersBefore)
	}
	updated, err := s.clusters.Update(ctx, c, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", c.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, c.ID)
	}
	return &pb.UpdateClusterResponse{Cluster: toProto(updated)}, nil
}

// resize writes c, whose broker count changed, under a new UPDATE
// operation that the reconciler ends once the brokers run.
func (s *Service) resize(ctx context.Context, c resource.Cluster, prev string, before int32) (*pb.UpdateClusterResponse, error) {
	switch {
	case c.Phase != resource.PhaseRunning:
		return nil, apierr.New(apierr.FailedPrecondition, "cluster %q is %s: resize it once it is RUNNING", c.ID, c.Phase)
	case before != c.ObservedBrokers:
		// One resize at a time: each has its operation to end.
		return nil, apierr.New(apierr.FailedPrecondition,
			"cluster %q is being resized to %d brokers (operation %s); wait for it to end", c.ID, before, c.OperationID)
	}
	c.OperationID = resource.NewID(resource.PrefixOperation)
	updated, err := s.lifecycle.BeginClusterResize(ctx, c, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", c.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, c.ID)
	}
	s.reconciler.Notify()
	return &pb.UpdateClusterResponse{Cluster: toProto(updated)}, nil
}

// setLimit copies one named limit from src to dst.
func setLimit(dst *resource.Limits, name string, src resource.Limits) {
	switch name {
	case "ingress_byte_rate":
		dst.IngressByteRate = src.IngressByteRate
	case "egress_byte_rate":
		dst.EgressByteRate = src.EgressByteRate
	case "max_partitions":
		dst.MaxPartitions = src.MaxPartitions
	case "max_storage_bytes":
		dst.MaxStorageBytes = src.MaxStorageBytes
	case "max_connections":
		dst.MaxConnections = src.MaxConnections
	case "max_message_bytes":
		dst.MaxMessageBytes = src.MaxMessageBytes
	case "max_request_rate":
		dst.MaxRequestRate = src.MaxRequestRate
	case "max_connection_attempt_rate":
		dst.MaxConnectionAttemptRate = src.MaxConnectionAttemptRate
	}
}

// merge takes the non-zero fields of changed over base.
func merge(base, changed resource.Limits) resource.Limits {
	for _, f := range limitFields {
		var one resource.Limits
		setLimit(&one, f, changed)
		if one != (resource.Limits{}) {
			setLimit(&base, f, changed)
		}
	}
	return base
}

func (s *Service) DeleteCluster(ctx context.Context, req *pb.DeleteClusterRequest) (*pb.DeleteClusterResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	c, err := s.get(ctx, req.GetEnvironment(), req.GetId(), authz.ClusterDelete)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(req.GetEtag(), c.Etag, kind, c.ID); err != nil {
		return nil, err
	}
	if c.Phase == resource.PhaseDeleting {
		return &pb.DeleteClusterResponse{Cluster: toProto(c)}, nil
	}
	prev := c.Etag
	c.OperationID = resource.NewID(resource.PrefixOperation)
	deleting, err := s.lifecycle.BeginClusterDeletion(ctx, c, prev)
	if err != nil {
		return nil, rpc.StoreError(err, kind, c.ID)
	}
	s.reconciler.Notify()
	return &pb.DeleteClusterResponse{Cluster: toProto(deleting)}, nil
}
