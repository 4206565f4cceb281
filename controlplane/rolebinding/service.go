// Package rolebinding serves affluent.v1.RoleBindingService. Granting is
// itself authorized on the binding's CRN pattern, so a principal can only
// grant roles on resources it administers.
package rolebinding

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "role binding"

type principals interface {
	PrincipalExists(ctx context.Context, org, id string) (bool, error)
}

// Service manages role bindings.
type Service struct {
	pb.UnimplementedRoleBindingServiceServer
	guard      *access.Guard
	bindings   rpc.Collection[resource.RoleBinding]
	principals principals
}

var _ pb.RoleBindingServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, bindings rpc.Collection[resource.RoleBinding], p principals) *Service {
	return &Service{guard: guard, bindings: bindings, principals: p}
}

func (s *Service) CreateRoleBinding(ctx context.Context, req *pb.CreateRoleBindingRequest) (*pb.CreateRoleBindingResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetRoleBinding()
	var r validate.Report
	r.Principal("role_binding.principal", in.GetPrincipal(), false)
	r.Required("role_binding.role_name", in.GetRoleName())
	var pattern authz.CRN
	if r.Required("role_binding.crn_pattern", in.GetCrnPattern()) && in.GetRoleName() != "" {
		if err := authz.ValidateBinding(in.GetRoleName(), in.GetCrnPattern()); err != nil {
			r.Add("role_binding", "%v", err)
		} else {
			pattern, _ = authz.ParsePattern(in.GetCrnPattern())
			if pattern.Value(authz.TypeOrganization) != caller.OrgID {
				r.Add("role_binding.crn_pattern", "must be inside your organization %s", resource.OrganizationCRN(caller.OrgID))
			}
		}
	}
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.RoleBindingCreate, pattern); err != nil {
		return nil, err
	}
	id, _ := resource.PrincipalID(in.GetPrincipal())
	ok, err := s.principals.PrincipalExists(ctx, caller.OrgID, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf("principal", in.GetPrincipal())
	}
	rb := resource.RoleBinding{
		Meta:       rpc.Meta(caller.OrgID, resource.PrefixRoleBinding),
		Principal:  in.GetPrincipal(),
		RoleName:   in.GetRoleName(),
		CRNPattern: pattern.String(),
	}
	created, err := s.bindings.Create(ctx, rb, rpc.RequestKey("CreateRoleBinding", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "principal, role and pattern", fmt.Sprintf("%s %s %s", rb.Principal, rb.RoleName, rb.CRNPattern)); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, rb.ID)
	}
	return &pb.CreateRoleBindingResponse{RoleBinding: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.RoleBinding, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.RoleBinding{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixRoleBinding)
	if err := r.Err(); err != nil {
		return resource.RoleBinding{}, err
	}
	rb, err := s.bindings.Get(ctx, caller.OrgID, id)
	if err != nil {
		if authErr := s.guard.Authorize(ctx, authz.OrganizationDescribe, resource.OrganizationCRN(caller.OrgID)); authErr != nil {
			return rb, authErr
		}
		return rb, rpc.StoreError(err, kind, id)
	}
	pattern, err := authz.ParsePattern(rb.CRNPattern)
	if err != nil {
		return rb, fmt.Errorf("stored role binding %s: %w", rb.ID, err)
	}
	if err := s.guard.Authorize(ctx, action, pattern); err != nil {
		return rb, err
	}
	return rb, nil
}

func (s *Service) GetRoleBinding(ctx context.Context, req *pb.GetRoleBindingRequest) (*pb.GetRoleBindingResponse, error) {
	rb, err := s.get(ctx, req.GetId(), authz.RoleBindingDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetRoleBindingResponse{RoleBinding: toProto(rb)}, nil
}

func (s *Service) ListRoleBindings(ctx context.Context, req *pb.ListRoleBindingsRequest) (*pb.ListRoleBindingsResponse, error) {
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
	if req.GetPrincipal() != "" {
		q.Filters = append(q.Filters, store.Eq("principal", req.GetPrincipal()))
	}
	if req.GetRoleName() != "" {
		q.Filters = append(q.Filters, store.Eq("role_name", req.GetRoleName()))
	}
	if req.GetCrnPattern() != "" {
		q.Filters = append(q.Filters, store.HasPrefix("crn_pattern", req.GetCrnPattern()))
	}
	rbs, next, err := s.bindings.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListRoleBindingsResponse{RoleBindings: []*pb.RoleBinding{}, NextPageToken: next}
	for _, rb := range rbs {
		pattern, err := authz.ParsePattern(rb.CRNPattern)
		if err == nil && s.guard.Allowed(ctx, authz.RoleBindingDescribe, pattern) {
			resp.RoleBindings = append(resp.RoleBindings, toProto(rb))
		}
	}
	return resp, nil
}

func (s *Service) DeleteRoleBinding(ctx context.Context, req *pb.DeleteRoleBindingRequest) (*pb.DeleteRoleBindingResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	rb, err := s.get(ctx, req.GetId(), authz.RoleBindingDelete)
	if err != nil {
		return nil, err
	}
	if err := s.bindings.Delete(ctx, rb.OrgID, rb.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, rb.ID)
	}
	return &pb.DeleteRoleBindingResponse{}, nil
}
