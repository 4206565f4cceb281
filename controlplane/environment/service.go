// Package environment serves affluent.v1.EnvironmentService.
package environment

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "environment"

// Service manages environments.
type Service struct {
	pb.UnimplementedEnvironmentServiceServer
	guard *access.Guard
	envs  rpc.Collection[resource.Environment]
}

var _ pb.EnvironmentServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, envs rpc.Collection[resource.Environment]) *Service {
	return &Service{guard: guard, envs: envs}
}

var mask = rpc.Mask{Updatable: []string{"display_name", "description"}, OutputOnly: rpc.CommonOutputOnly}

func (s *Service) CreateEnvironment(ctx context.Context, req *pb.CreateEnvironmentRequest) (*pb.CreateEnvironmentResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetEnvironment()
	var r validate.Report
	r.DisplayName("environment.display_name", in.GetDisplayName(), true)
	r.Description("environment.description", in.GetDescription())
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.EnvironmentCreate, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	env := fromProto(in)
	env.Meta = rpc.Meta(caller.OrgID, resource.PrefixEnvironment)
	created, err := s.envs.Create(ctx, env, rpc.RequestKey("CreateEnvironment", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", env.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, env.ID)
	}
	return &pb.CreateEnvironmentResponse{Environment: toProto(created)}, nil
}

func (s *Service) GetEnvironment(ctx context.Context, req *pb.GetEnvironmentRequest) (*pb.GetEnvironmentResponse, error) {
	env, err := s.get(ctx, req.GetId(), authz.EnvironmentDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetEnvironmentResponse{Environment: toProto(env)}, nil
}

// get validates id, authorizes action on the environment and reads it.
func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.Environment, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.Environment{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixEnvironment)
	if err := r.Err(); err != nil {
		return resource.Environment{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.EnvironmentCRN(caller.OrgID, id)); err != nil {
		return resource.Environment{}, err
	}
	env, err := s.envs.Get(ctx, caller.OrgID, id)
	return env, rpc.StoreError(err, kind, id)
}

func (s *Service) ListEnvironments(ctx context.Context, req *pb.ListEnvironmentsRequest) (*pb.ListEnvironmentsResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.OrganizationDescribe, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	q := store.Query{PageSize: size, PageToken: req.GetPageToken()}
	if req.GetDisplayName() != "" {
		q.Filters = append(q.Filters, store.Eq("display_name", req.GetDisplayName()))
	}
	envs, next, err := s.envs.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListEnvironmentsResponse{Environments: []*pb.Environment{}, NextPageToken: next}
	for _, env := range envs {
		if s.guard.Allowed(ctx, authz.EnvironmentDescribe, resource.EnvironmentCRN(caller.OrgID, env.ID)) {
			resp.Environments = append(resp.Environments, toProto(env))
		}
	}
	return resp, nil
}

func (s *Service) UpdateEnvironment(ctx context.Context, req *pb.UpdateEnvironmentRequest) (*pb.UpdateEnvironmentResponse, error) {
	in := req.GetEnvironment()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		return p == "display_name" && in.GetDisplayName() != "" || p == "description" && in.GetDescription() != ""
	})
	if err != nil {
		return nil, err
	}
	env, err := s.get(ctx, req.GetId(), authz.EnvironmentUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), env.Etag, kind, env.ID); err != nil {
		return nil, err
	}
	prev := env.Etag
	var r validate.Report
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("environment.display_name", in.GetDisplayName(), true)
			env.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("environment.description", in.GetDescription())
			env.Description = in.GetDescription()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.envs.Update(ctx, env, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", env.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, env.ID)
	}
	return &pb.UpdateEnvironmentResponse{Environment: toProto(updated)}, nil
}

func (s *Service) DeleteEnvironment(ctx context.Context, req *pb.DeleteEnvironmentRequest) (*pb.DeleteEnvironmentResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	r.ID("id", req.GetId(), resource.PrefixEnvironment)
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.EnvironmentDelete, resource.EnvironmentCRN(caller.OrgID, req.GetId())); err != nil {
		return nil, err
	}
	if err := s.envs.Delete(ctx, caller.OrgID, req.GetId(), req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, req.GetId())
	}
	return &pb.DeleteEnvironmentResponse{}, nil
}
