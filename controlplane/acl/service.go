// Package acl serves affluent.v1.AclService over the Kafka Admin API of
// the cluster's brokers, where ACLs live.
package acl

import (
	"context"
	"net"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// Values of the binding fields.
var (
	resourceTypes = []string{"TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"}
	patternTypes  = []string{"LITERAL", "PREFIXED"}
	operations    = []string{"ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
		"DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"}
	permissions = []string{"ALLOW", "DENY"}
)

// clusterResourceName is the name of the CLUSTER resource in Kafka.
const clusterResourceName = "kafka-cluster"

type clusterOpener interface {
	Open(ctx context.Context, org, env, id string) (resource.Cluster, *kadm.Client, error)
}

type principals interface {
	PrincipalExists(ctx context.Context, org, id string) (bool, error)
}

// Service manages ACLs.
type Service struct {
	pb.UnimplementedAclServiceServer
	guard      *access.Guard
	clusters   clusterOpener
	principals principals
}

var _ pb.AclServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, clusters clusterOpener, p principals) *Service {
	return &Service{guard: guard, clusters: clusters, principals: p}
}

// open validates the cluster's address, authorizes action on it and opens it.
func (s *Service) open(ctx context.Context, r *validate.Report, env, id string, action authz.Action) (access.Caller, resource.Cluster, *kadm.Client, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return caller, resource.Cluster{}, nil, err
	}
	r.ID("environment", env, resource.PrefixEnvironment)
	r.ID("cluster", id, resource.PrefixCluster)
	if err := r.Err(); err != nil {
		return caller, resource.Cluster{}, nil, err
	}
	if err := s.guard.Authorize(ctx, action, resource.KafkaCRN(caller.OrgID, env, id)); err != nil {
		return caller, resource.Cluster{}, nil, err
	}
	cl, adm, err := s.clusters.Open(ctx, caller.OrgID, env, id)
	return caller, cl, adm, err
}

func validateBinding(r *validate.Report, b binding) {
	r.OneOf("acl.resource_type", b.ResourceType, true, resourceTypes...)
	r.OneOf("acl.pattern_type", b.PatternType, true, patternTypes...)
	r.OneOf("acl.operation", b.Operation, true, operations...)
	r.OneOf("acl.permission", b.Permission, true, permissions...)
	r.Principal("acl.principal", b.Principal, true)
	switch {
	case b.ResourceType == "CLUSTER" && b.ResourceName != clusterResourceName:
		r.Add("acl.resource_name", "must be %q for CLUSTER", clusterResourceName)
	case b.ResourceType == "TOPIC" && b.ResourceName != "*":
		r.TopicName("acl.resource_name", b.ResourceName)
	case !r.Required("acl.resource_name", b.ResourceName):
	case len(b.ResourceName) > 255:
		r.Add("acl.resource_name", "at most 255 characters")
	}
	if b.Host != "*" && net.ParseIP(b.Host) == nil {
		r.Add("acl.host", "%q must be * or an IP address", b.Host)
	}
}

func (s *Service) CreateAcl(ctx context.Context, req *pb.CreateAclRequest) (*pb.CreateAclResponse, error) {
	b := fromProto(req.GetAcl())
	var r validate.Report
	validateBinding(&r, b)
	r.RequestID("request_id", req.GetRequestId())
	caller, cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLCreate)
	if err != nil {
		return nil, err
	}
	if id, _ := resource.PrincipalID(b.Principal); id != "*" {
		ok, err := s.principals.PrincipalExists(ctx, caller.OrgID, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apierr.NotFoundf("principal", b.Principal)
		}
	}
	// Creating an existing binding succeeds in Kafka: ACLs are idempotent.
	results, err := adm.CreateACLs(ctx, b.builder())
	if err != nil {
		return nil, kafka.Error(err, "", "ACL")
	}
	for _, res := range results {
		if res.Err != nil {
			return nil, kafka.Error(res.Err, res.ErrMessage, "ACL")
		}
	}
	return &pb.CreateAclResponse{Acl: b.toProto(cl)}, nil
}

// describeAll reads every ACL of the cluster.
func describeAll(ctx context.Context, adm *kadm.Client) ([]binding, error) {
	filter := kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	results, err := adm.DescribeACLs(ctx, filter)
	if err != nil {
		return nil, kafka.Error(err, "", "ACLs")
	}
	seen := map[string]bool{}
	var out []binding
	for _, res := range results {
		if res.Err != nil {
			return nil, kafka.Error(res.Err, res.ErrMessage, "ACLs")
		}
		for _, d := range res.Described {
			b := fromKafka(d)
			if id := b.id(); !seen[id] {
				seen[id] = true
				out = append(out, b)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id() < out[j].id() })
	return out, nil
}

func (s *Service) GetAcl(ctx context.Context, req *pb.GetAclRequest) (*pb.GetAclResponse, error) {
	var r validate.Report
	want, err := parseID(req.GetId())
	if err != nil {
		r.Add("id", "%q is not an ACL id", req.GetId())
	}
	_, cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDescribe)
	if err != nil {
		return nil, err
	}
	all, err := describeAll(ctx, adm)
	if err != nil {
		return nil, err
	}
	for _, b := range all {
		if b == want {
			return &pb.GetAclResponse{Acl: b.toProto(cl)}, nil
		}
	}
	return nil, apierr.NotFoundf("ACL", req.GetId())
}

func (s *Service) ListAcls(ctx context.Context, req *pb.ListAclsRequest) (*pb.ListAclsResponse, error) {
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	r.OneOf("resource_type", req.GetResourceType(), false, resourceTypes...)
	r.OneOf("pattern_type", req.GetPatternType(), false, append(patternTypes, "MATCH")...)
	r.OneOf("operation", req.GetOperation(), false, operations...)
	r.OneOf("permission", req.GetPermission(), false, permissions...)
	_, cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDescribe)
	if err != nil {
		return nil, err
	}
	all, err := describeAll(ctx, adm)
	if err != nil {
		return nil, err
	}
	resp := &pb.ListAclsResponse{Acls: []*pb.Acl{}}
	for _, b := range all {
		if b.id() <= req.GetPageToken() || !b.matches(req) {
			continue
		}
		if len(resp.Acls) == size {
			resp.NextPageToken = resp.Acls[size-1].GetId()
			break
		}
		resp.Acls = append(resp.Acls, b.toProto(cl))
	}
	return resp, nil
}

func (s *Service) DeleteAcl(ctx context.Context, req *pb.DeleteAclRequest) (*pb.DeleteAclResponse, error) {
	var r validate.Report
	b, err := parseID(req.GetId())
	if err != nil {
		r.Add("id", "%q is not an ACL id", req.GetId())
	}
	_, _, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDelete)
	if err != nil {
		return nil, err
	}
	results, err := adm.DeleteACLs(ctx, b.builder())
	if err != nil {
		return nil, kafka.Error(err, "", "ACL")
	}
	deleted := 0
	for _, res := range results {
		if res.Err != nil {
			return nil, kafka.Error(res.Err, res.ErrMessage, "ACL")
		}
		deleted += len(res.Deleted)
	}
	if deleted == 0 {
		return nil, apierr.NotFoundf("ACL", req.GetId())
	}
	return &pb.DeleteAclResponse{}, nil
}
