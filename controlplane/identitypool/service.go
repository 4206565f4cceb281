// Package identitypool serves affluent.v1.IdentityPoolService: which
// tokens of an identity provider act as which principal.
package identitypool

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/filter"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "identity pool"

type providerReader interface {
	Get(ctx context.Context, org, id string) (resource.IdentityProvider, error)
}

// Service manages identity pools.
type Service struct {
	pb.UnimplementedIdentityPoolServiceServer
	guard     *access.Guard
	pools     rpc.Collection[resource.IdentityPool]
	providers providerReader
}

var _ pb.IdentityPoolServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, pools rpc.Collection[resource.IdentityPool], providers providerReader) *Service {
	return &Service{guard: guard, pools: pools, providers: providers}
}

var mask = rpc.Mask{
	Updatable:  []string{"display_name", "description", "identity_claim", "filter"},
	OutputOnly: append([]string{"provider", "principal"}, rpc.CommonOutputOnly...),
}

func validateClaim(r *validate.Report, claim string) {
	if r.Required("identity_pool.identity_claim", claim) && len(claim) > 256 {
		r.Add("identity_pool.identity_claim", "at most 256 characters")
	} else if err := filter.ForClaims().CheckString(claim); claim != "" && err != nil {
		r.Add("identity_pool.identity_claim", "%v", err)
	}
}

// validateFilter checks the filter is a CEL condition on claims, as the
// token verifier evaluates it.
func validateFilter(r *validate.Report, expr string) {
	r.Filter("identity_pool.filter", expr)
	if err := filter.ForClaims().CheckBool(expr); expr != "" && len(expr) <= validate.MaxFilter && err != nil {
		r.Add("identity_pool.filter", "%v", err)
	}
}

// provider checks the parent, authorizes action on crn and reads the parent.
func (s *Service) provider(ctx context.Context, providerID string, action authz.Action, crn func(org string) authz.CRN) (access.Caller, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return caller, err
	}
	if err := s.guard.Authorize(ctx, action, crn(caller.OrgID)); err != nil {
		return caller, err
	}
	if _, err := s.providers.Get(ctx, caller.OrgID, providerID); err != nil {
		return caller, rpc.StoreError(err, "identity provider", providerID)
	}
	return caller, nil
}

func (s *Service) CreateIdentityPool(ctx context.Context, req *pb.CreateIdentityPoolRequest) (*pb.CreateIdentityPoolResponse, error) {
	in := req.GetIdentityPool()
	var r validate.Report
	r.ID("provider", req.GetProvider(), resource.PrefixIdentityProvider)
	r.DisplayName("identity_pool.display_name", in.GetDisplayName(), true)
	r.Description("identity_pool.description", in.GetDescription())
	validateClaim(&r, in.GetIdentityClaim())
	validateFilter(&r, in.GetFilter())
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	caller, err := s.provider(ctx, req.GetProvider(), authz.IdentityPoolCreate, func(org string) authz.CRN {
		return resource.IdentityProviderCRN(org, req.GetProvider())
	})
	if err != nil {
		return nil, err
	}
	p := resource.IdentityPool{Meta: rpc.Meta(caller.OrgID, resource.PrefixPool), ProviderID: req.GetProvider(),
		DisplayName: in.GetDisplayName(), Description: in.GetDescription(), IdentityClaim: in.GetIdentityClaim(), Filter: in.GetFilter()}
	created, err := s.pools.Create(ctx, p, rpc.RequestKey("CreateIdentityPool", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", p.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, "identity provider", p.ProviderID)
	}
	return &pb.CreateIdentityPoolResponse{IdentityPool: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, providerID, id string, action authz.Action) (resource.IdentityPool, error) {
	var r validate.Report
	r.ID("provider", providerID, resource.PrefixIdentityProvider)
	r.ID("id", id, resource.PrefixPool)
	if err := r.Err(); err != nil {
		return resource.IdentityPool{}, err
	}
	caller, err := s.provider(ctx, providerID, action, func(org string) authz.CRN {
		return resource.IdentityPoolCRN(org, providerID, id)
	})
	if err != nil {
		return resource.IdentityPool{}, err
	}
	p, err := s.pools.Get(ctx, caller.OrgID, id)
	if err == nil && p.ProviderID != providerID {
		err = store.ErrNotFound
	}
	return p, rpc.StoreError(err, kind, id)
}

func (s *Service) GetIdentityPool(ctx context.Context, req *pb.GetIdentityPoolRequest) (*pb.GetIdentityPoolResponse, error) {
	p, err := s.get(ctx, req.GetProvider(), req.GetId(), authz.IdentityPoolDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetIdentityPoolResponse{IdentityPool: toProto(p)}, nil
}

func (s *Service) ListIdentityPools(ctx context.Context, req *pb.ListIdentityPoolsRequest) (*pb.ListIdentityPoolsResponse, error) {
	var r validate.Report
	r.ID("provider", req.GetProvider(), resource.PrefixIdentityProvider)
	size := r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	caller, err := s.provider(ctx, req.GetProvider(), authz.IdentityProviderDescribe, func(org string) authz.CRN {
		return resource.IdentityProviderCRN(org, req.GetProvider())
	})
	if err != nil {
		return nil, err
	}
	pools, next, err := s.pools.List(ctx, caller.OrgID, store.Query{Parent: req.GetProvider(), PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListIdentityPoolsResponse{IdentityPools: []*pb.IdentityPool{}, NextPageToken: next}
	for _, p := range pools {
		if s.guard.Allowed(ctx, authz.IdentityPoolDescribe, resource.IdentityPoolCRN(caller.OrgID, p.ProviderID, p.ID)) {
			resp.IdentityPools = append(resp.IdentityPools, toProto(p))
		}
	}
	return resp, nil
}

func (s *Service) UpdateIdentityPool(ctx context.Context, req *pb.UpdateIdentityPoolRequest) (*pb.UpdateIdentityPoolResponse, error) {
	in := req.GetIdentityPool()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "display_name":
			return in.GetDisplayName() != ""
		case "description":
			return in.GetDescription() != ""
		case "identity_claim":
			return in.GetIdentityClaim() != ""
		}
		return in.GetFilter() != ""
	})
	if err != nil {
		return nil, err
	}
	p, err := s.get(ctx, req.GetProvider(), req.GetId(), authz.IdentityPoolUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), p.Etag, kind, p.ID); err != nil {
		return nil, err
	}
	prev := p.Etag
	var r validate.Report
	for _, path := range paths {
		switch path {
		case "display_name":
			r.DisplayName("identity_pool.display_name", in.GetDisplayName(), true)
			p.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("identity_pool.description", in.GetDescription())
			p.Description = in.GetDescription()
		case "identity_claim":
			validateClaim(&r, in.GetIdentityClaim())
			p.IdentityClaim = in.GetIdentityClaim()
		case "filter":
			validateFilter(&r, in.GetFilter())
			p.Filter = in.GetFilter()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.pools.Update(ctx, p, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", p.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, p.ID)
	}
	return &pb.UpdateIdentityPoolResponse{IdentityPool: toProto(updated)}, nil
}

func (s *Service) DeleteIdentityPool(ctx context.Context, req *pb.DeleteIdentityPoolRequest) (*pb.DeleteIdentityPoolResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	p, err := s.get(ctx, req.GetProvider(), req.GetId(), authz.IdentityPoolDelete)
	if err != nil {
		return nil, err
	}
	if err := s.pools.Delete(ctx, p.OrgID, p.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, p.ID)
	}
	return &pb.DeleteIdentityPoolResponse{}, nil
}
