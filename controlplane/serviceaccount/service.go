// Package serviceaccount serves affluent.v1.ServiceAccountService.
package serviceaccount

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

const kind = "service account"

// Service manages service accounts.
type Service struct {
	pb.UnimplementedServiceAccountServiceServer
	guard *access.Guard
	sas   rpc.Collection[resource.ServiceAccount]
}

var _ pb.ServiceAccountServiceServer = (*Service)(nil)

// New returns the service. Deleting a principal deletes its API keys and
// role bindings with it.
func New(guard *access.Guard, sas rpc.Collection[resource.ServiceAccount]) *Service {
	return &Service{guard: guard, sas: sas}
}

var mask = rpc.Mask{Updatable: []string{"display_name", "description"}, OutputOnly: append([]string{"principal"}, rpc.CommonOutputOnly...)}

func (s *Service) CreateServiceAccount(ctx context.Context, req *pb.CreateServiceAccountRequest) (*pb.CreateServiceAccountResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetServiceAccount()
	var r validate.Report
	r.DisplayName("service_account.display_name", in.GetDisplayName(), true)
	r.Description("service_account.description", in.GetDescription())
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.ServiceAccountCreate, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	sa := resource.ServiceAccount{Meta: rpc.Meta(caller.OrgID, resource.PrefixServiceAccount),
		DisplayName: in.GetDisplayName(), Description: in.GetDescription()}
	created, err := s.sas.Create(ctx, sa, rpc.RequestKey("CreateServiceAccount", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", sa.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, sa.ID)
	}
	return &pb.CreateServiceAccountResponse{ServiceAccount: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.ServiceAccount, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.ServiceAccount{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixServiceAccount)
	if err := r.Err(); err != nil {
		return resource.ServiceAccount{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.ServiceAccountCRN(caller.OrgID, id)); err != nil {
		return resource.ServiceAccount{}, err
	}
	sa, err := s.sas.Get(ctx, caller.OrgID, id)
	return sa, rpc.StoreError(err, kind, id)
}

func (s *Service) GetServiceAccount(ctx context.Context, req *pb.GetServiceAccountRequest) (*pb.GetServiceAccountResponse, error) {
	sa, err := s.get(ctx, req.GetId(), authz.ServiceAccountDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetServiceAccountResponse{ServiceAccount: toProto(sa)}, nil
}

func (s *Service) ListServiceAccounts(ctx context.Context, req *pb.ListServiceAccountsRequest) (*pb.ListServiceAccountsResponse, error) {
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
	sas, next, err := s.sas.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListServiceAccountsResponse{ServiceAccounts: []*pb.ServiceAccount{}, NextPageToken: next}
	for _, sa := range sas {
		if s.guard.Allowed(ctx, authz.ServiceAccountDescribe, resource.ServiceAccountCRN(caller.OrgID, sa.ID)) {
			resp.ServiceAccounts = append(resp.ServiceAccounts, toProto(sa))
		}
	}
	return resp, nil
}

func (s *Service) UpdateServiceAccount(ctx context.Context, req *pb.UpdateServiceAccountRequest) (*pb.UpdateServiceAccountResponse, error) {
	in := req.GetServiceAccount()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		return p == "display_name" && in.GetDisplayName() != "" || p == "description" && in.GetDescription() != ""
	})
	if err != nil {
		return nil, err
	}
	sa, err := s.get(ctx, req.GetId(), authz.ServiceAccountUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), sa.Etag, kind, sa.ID); err != nil {
		return nil, err
	}
	prev := sa.Etag
	var r validate.Report
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("service_account.display_name", in.GetDisplayName(), true)
			sa.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("service_account.description", in.GetDescription())
			sa.Description = in.GetDescription()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.sas.Update(ctx, sa, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", sa.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, sa.ID)
	}
	return &pb.UpdateServiceAccountResponse{ServiceAccount: toProto(updated)}, nil
}

func (s *Service) DeleteServiceAccount(ctx context.Context, req *pb.DeleteServiceAccountRequest) (*pb.DeleteServiceAccountResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	sa, err := s.get(ctx, req.GetId(), authz.ServiceAccountDelete)
	if err != nil {
		return nil, err
	}
	if err := s.sas.Delete(ctx, sa.OrgID, sa.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, sa.ID)
	}
	return &pb.DeleteServiceAccountResponse{}, nil
}
