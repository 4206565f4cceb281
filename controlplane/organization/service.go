// Package organization serves affluent.v1.OrganizationService: the
// caller's own organization.
package organization

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "organization"

// Service reads and renames organizations.
type Service struct {
	pb.UnimplementedOrganizationServiceServer
	guard *access.Guard
	orgs  rpc.Collection[resource.Organization]
}

var _ pb.OrganizationServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, orgs rpc.Collection[resource.Organization]) *Service {
	return &Service{guard: guard, orgs: orgs}
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.Organization, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.Organization{}, err
	}
	var r validate.Report
	r.Required("id", id)
	if err := r.Err(); err != nil {
		return resource.Organization{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.OrganizationCRN(id)); err != nil {
		return resource.Organization{}, err
	}
	// A principal belongs to one organization: others do not exist for it.
	org, err := s.orgs.Get(ctx, caller.OrgID, id)
	return org, rpc.StoreError(err, kind, id)
}

func (s *Service) GetOrganization(ctx context.Context, req *pb.GetOrganizationRequest) (*pb.GetOrganizationResponse, error) {
	org, err := s.get(ctx, req.GetId(), authz.OrganizationDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetOrganizationResponse{Organization: toProto(org)}, nil
}

func (s *Service) ListOrganizations(ctx context.Context, req *pb.ListOrganizationsRequest) (*pb.ListOrganizationsResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var r validate.Report
	r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	resp := &pb.ListOrganizationsResponse{Organizations: []*pb.Organization{}}
	if !s.guard.Allowed(ctx, authz.OrganizationDescribe, resource.OrganizationCRN(caller.OrgID)) || req.GetPageToken() != "" {
		return resp, nil
	}
	org, err := s.orgs.Get(ctx, caller.OrgID, caller.OrgID)
	if err != nil {
		return nil, rpc.StoreError(err, kind, caller.OrgID)
	}
	resp.Organizations = append(resp.Organizations, toProto(org))
	return resp, nil
}

var mask = rpc.Mask{Updatable: []string{"display_name"}, OutputOnly: rpc.CommonOutputOnly}

func (s *Service) UpdateOrganization(ctx context.Context, req *pb.UpdateOrganizationRequest) (*pb.UpdateOrganizationResponse, error) {
	in := req.GetOrganization()
	paths, err := mask.Paths(req.GetUpdateMask(), func(string) bool { return in.GetDisplayName() != "" })
	if err != nil {
		return nil, err
	}
	org, err := s.get(ctx, req.GetId(), authz.OrganizationUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), org.Etag, kind, org.ID); err != nil {
		return nil, err
	}
	prev := org.Etag
	var r validate.Report
	for range paths {
		r.DisplayName("organization.display_name", in.GetDisplayName(), true)
		org.DisplayName = in.GetDisplayName()
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.orgs.Update(ctx, org, prev)
	if err != nil {
		return nil, rpc.StoreError(err, kind, org.ID)
	}
	return &pb.UpdateOrganizationResponse{Organization: toProto(updated)}, nil
}
