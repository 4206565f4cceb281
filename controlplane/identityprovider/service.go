// Package identityprovider serves affluent.v1.IdentityProviderService:
// external OpenID Connect issuers whose tokens the platform may accept.
package identityprovider

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

const kind = "identity provider"

// Service manages identity providers.
type Service struct {
	pb.UnimplementedIdentityProviderServiceServer
	guard *access.Guard
	idps  rpc.Collection[resource.IdentityProvider]
}

var _ pb.IdentityProviderServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, idps rpc.Collection[resource.IdentityProvider]) *Service {
	return &Service{guard: guard, idps: idps}
}

var mask = rpc.Mask{Updatable: []string{"display_name", "description", "issuer", "jwks_uri"}, OutputOnly: rpc.CommonOutputOnly}

func (s *Service) CreateIdentityProvider(ctx context.Context, req *pb.CreateIdentityProviderRequest) (*pb.CreateIdentityProviderResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetIdentityProvider()
	var r validate.Report
	r.DisplayName("identity_provider.display_name", in.GetDisplayName(), true)
	r.Description("identity_provider.description", in.GetDescription())
	r.URL("identity_provider.issuer", in.GetIssuer())
	r.URL("identity_provider.jwks_uri", in.GetJwksUri())
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.IdentityProviderCreate, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	idp := resource.IdentityProvider{Meta: rpc.Meta(caller.OrgID, resource.PrefixIdentityProvider),
		DisplayName: in.GetDisplayName(), Description: in.GetDescription(), Issuer: in.GetIssuer(), JWKSURI: in.GetJwksUri()}
	created, err := s.idps.Create(ctx, idp, rpc.RequestKey("CreateIdentityProvider", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", idp.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, idp.ID)
	}
	return &pb.CreateIdentityProviderResponse{IdentityProvider: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.IdentityProvider, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.IdentityProvider{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixIdentityProvider)
	if err := r.Err(); err != nil {
		return resource.IdentityProvider{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.IdentityProviderCRN(caller.OrgID, id)); err != nil {
		return resource.IdentityProvider{}, err
	}
	idp, err := s.idps.Get(ctx, caller.OrgID, id)
	return idp, rpc.StoreError(err, kind, id)
}

func (s *Service) GetIdentityProvider(ctx context.Context, req *pb.GetIdentityProviderRequest) (*pb.GetIdentityProviderResponse, error) {
	idp, err := s.get(ctx, req.GetId(), authz.IdentityProviderDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetIdentityProviderResponse{IdentityProvider: toProto(idp)}, nil
}

func (s *Service) ListIdentityProviders(ctx context.Context, req *pb.ListIdentityProvidersRequest) (*pb.ListIdentityProvidersResponse, error) {
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
	idps, next, err := s.idps.List(ctx, caller.OrgID, store.Query{PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListIdentityProvidersResponse{IdentityProviders: []*pb.IdentityProvider{}, NextPageToken: next}
	for _, idp := range idps {
		if s.guard.Allowed(ctx, authz.IdentityProviderDescribe, resource.IdentityProviderCRN(caller.OrgID, idp.ID)) {
			resp.IdentityProviders = append(resp.IdentityProviders, toProto(idp))
		}
	}
	return resp, nil
}

func (s *Service) UpdateIdentityProvider(ctx context.Context, req *pb.UpdateIdentityProviderRequest) (*pb.UpdateIdentityProviderResponse, error) {
	in := req.GetIdentityProvider()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "display_name":
			return in.GetDisplayName() != ""
		case "description":
			return in.GetDescription() != ""
		case "issuer":
			return in.GetIssuer() != ""
		}
		return in.GetJwksUri() != ""
	})
	if err != nil {
		return nil, err
	}
	idp, err := s.get(ctx, req.GetId(), authz.IdentityProviderUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), idp.Etag, kind, idp.ID); err != nil {
		return nil, err
	}
	prev := idp.Etag
	var r validate.Report
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("identity_provider.display_name", in.GetDisplayName(), true)
			idp.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("identity_provider.description", in.GetDescription())
			idp.Description = in.GetDescription()
		case "issuer":
			r.URL("identity_provider.issuer", in.GetIssuer())
			idp.Issuer = in.GetIssuer()
		case "jwks_uri":
			r.URL("identity_provider.jwks_uri", in.GetJwksUri())
			idp.JWKSURI = in.GetJwksUri()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.idps.Update(ctx, idp, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", idp.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, idp.ID)
	}
	return &pb.UpdateIdentityProviderResponse{IdentityProvider: toProto(updated)}, nil
}

func (s *Service) DeleteIdentityProvider(ctx context.Context, req *pb.DeleteIdentityProviderRequest) (*pb.DeleteIdentityProviderResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	idp, err := s.get(ctx, req.GetId(), authz.IdentityProviderDelete)
	if err != nil {
		return nil, err
	}
	if err := s.idps.Delete(ctx, idp.OrgID, idp.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, idp.ID)
	}
	return &pb.DeleteIdentityProviderResponse{}, nil
}
