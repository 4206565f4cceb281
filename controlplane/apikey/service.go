// Package apikey serves affluent.v1.ApiKeyService. A key's secret is made
// here, returned once in the create response, and stored only as a salted
// argon2id hash.
package apikey

import (
	"context"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "API key"

type principals interface {
	PrincipalExists(ctx context.Context, org, id string) (bool, error)
}

type clusterReader interface {
	Get(ctx context.Context, org, id string) (resource.Cluster, error)
}

type forgetter interface{ Forget(keyID string) }

// Service manages API keys.
type Service struct {
	pb.UnimplementedApiKeyServiceServer
	guard      *access.Guard
	keys       rpc.Collection[resource.APIKey]
	principals principals
	clusters   clusterReader
	verifier   forgetter
	params     credential.Params
}

var _ pb.ApiKeyServiceServer = (*Service)(nil)

// New returns the service. Secrets are hashed with params; verifier's cache
// forgets deleted keys.
func New(guard *access.Guard, keys rpc.Collection[resource.APIKey], p principals, clusters clusterReader, verifier forgetter, params credential.Params) *Service {
	return &Service{guard: guard, keys: keys, principals: p, clusters: clusters, verifier: verifier, params: params}
}

var mask = rpc.Mask{
	Updatable:  []string{"display_name", "description"},
	OutputOnly: append([]string{"owner", "resource", "secret"}, rpc.CommonOutputOnly...),
}

// crn is where a key lives for authorization: in the organization (cloud
// keys) or in its cluster.
func (s *Service) crn(ctx context.Context, org, resourceID, key string) (authz.CRN, error) {
	if resourceID == resource.CloudResource {
		return resource.OrganizationCRN(org).Child(authz.TypeAPIKey, key), nil
	}
	c, err := s.clusters.Get(ctx, org, resourceID)
	if err != nil {
		return authz.CRN{}, rpc.StoreError(err, "cluster", resourceID)
	}
	return resource.ClusterCRN(org, c.EnvironmentID, c.ID).Child(authz.TypeAPIKey, key), nil
}

func (s *Service) CreateApiKey(ctx context.Context, req *pb.CreateApiKeyRequest) (*pb.CreateApiKeyResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetApiKey()
	var r validate.Report
	if r.Required("api_key.owner", in.GetOwner()) &&
		!resource.HasID(in.GetOwner(), resource.PrefixServiceAccount) && !resource.HasID(in.GetOwner(), resource.PrefixUser) {
		r.Add("api_key.owner", "%q must be a service account (sa-…) or user (u-…) id", in.GetOwner())
	}
	if r.Required("api_key.resource", in.GetResource()) &&
		in.GetResource() != resource.CloudResource && !resource.HasID(in.GetResource(), resource.PrefixCluster) {
		r.Add("api_key.resource", "%q must be %q or a cluster id (lkc-…)", in.GetResource(), resource.CloudResource)
	}
	r.DisplayName("api_key.display_name", in.GetDisplayName(), false)
	r.Description("api_key.description", in.GetDescription())
	r.RequestID("request_id", req.GetRequestId())
	if in.Secret != nil {
		r.Add("api_key.secret", "is made by the server")
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	// Where the key will live decides who may create it.
	parent := resource.OrganizationCRN(caller.OrgID)
	if in.GetResource() != resource.CloudResource {
		c, err := s.clusters.Get(ctx, caller.OrgID, in.GetResource())
		if err != nil {
			if authErr := s.guard.Authorize(ctx, authz.APIKeyCreate, parent); authErr != nil {
				return nil, authErr
			}
			return nil, rpc.StoreError(err, "cluster", in.GetResource())
		}
		parent = resource.ClusterCRN(caller.OrgID, c.EnvironmentID, c.ID)
	}
	if err := s.guard.Authorize(ctx, authz.APIKeyCreate, parent); err != nil {
		return nil, err
	}
	ok, err := s.principals.PrincipalExists(ctx, caller.OrgID, in.GetOwner())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf(ownerKind(in.GetOwner()), in.GetOwner())
	}
	secret := credential.NewSecret()
	k := resource.APIKey{
		Meta:        resource.Meta{ID: credential.NewKey(), OrgID: caller.OrgID},
		DisplayName: in.GetDisplayName(),
		Description: in.GetDescription(),
		Owner:       in.GetOwner(),
		Resource:    in.GetResource(),
		SecretHash:  credential.Hash(secret, s.params),
	}
	created, err := s.keys.Create(ctx, k, rpc.RequestKey("CreateApiKey", req.GetRequestId(), req))
	if err != nil {
		return nil, rpc.StoreError(err, kind, k.ID)
	}
	out := toProto(created)
	if created.ID == k.ID {
		// A retry of an earlier create gets the key, never a secret again.
		out.Secret = &secret
	}
	return &pb.CreateApiKeyResponse{ApiKey: out}, nil
}

func ownerKind(id string) string {
	if resource.HasID(id, resource.PrefixUser) {
		return "user"
	}
	return "service account"
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.APIKey, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.APIKey{}, err
	}
	var r validate.Report
	if r.Required("id", id) && !credential.IsKey(id) {
		r.Add("id", "%q is not an API key (16 uppercase letters and digits)", id)
	}
	if err := r.Err(); err != nil {
		return resource.APIKey{}, err
	}
	k, err := s.keys.Get(ctx, caller.OrgID, id)
	if err != nil {
		if authErr := s.guard.Authorize(ctx, action, resource.OrganizationCRN(caller.OrgID).Child(authz.TypeAPIKey, id)); authErr != nil {
			return resource.APIKey{}, authErr
		}
		return resource.APIKey{}, rpc.StoreError(err, kind, id)
	}
	crn, err := s.crn(ctx, caller.OrgID, k.Resource, k.ID)
	if err != nil {
		return resource.APIKey{}, err
	}
	if err := s.guard.Authorize(ctx, action, crn); err != nil {
		return resource.APIKey{}, err
	}
	return k, nil
}

func (s *Service) GetApiKey(ctx context.Context, req *pb.GetApiKeyRequest) (*pb.GetApiKeyResponse, error) {
	k, err := s.get(ctx, req.GetId(), authz.APIKeyDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetApiKeyResponse{ApiKey: toProto(k)}, nil
}

func (s *Service) ListApiKeys(ctx context.Context, req *pb.ListApiKeysRequest) (*pb.ListApiKeysResponse, error) {
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
	if req.GetOwner() != "" {
		q.Filters = append(q.Filters, store.Eq("owner", req.GetOwner()))
	}
	if req.GetResource() != "" {
		q.Filters = append(q.Filters, store.Eq("resource", req.GetResource()))
	}
	keys, next, err := s.keys.List(ctx, caller.OrgID, q)
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListApiKeysResponse{ApiKeys: []*pb.ApiKey{}, NextPageToken: next}
	for _, k := range keys {
		crn, err := s.crn(ctx, caller.OrgID, k.Resource, k.ID)
		if err == nil && s.guard.Allowed(ctx, authz.APIKeyDescribe, crn) {
			resp.ApiKeys = append(resp.ApiKeys, toProto(k))
		}
	}
	return resp, nil
}

func (s *Service) UpdateApiKey(ctx context.Context, req *pb.UpdateApiKeyRequest) (*pb.UpdateApiKeyResponse, error) {
	in := req.GetApiKey()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		return p == "display_name" && in.GetDisplayName() != "" || p == "description" && in.GetDescription() != ""
	})
	if err != nil {
		return nil, err
	}
	k, err := s.get(ctx, req.GetId(), authz.APIKeyUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), k.Etag, kind, k.ID); err != nil {
		return nil, err
	}
	var r validate.Report
	if in.GetOwner() != "" && in.GetOwner() != k.Owner {
		r.Add("api_key.owner", "cannot be changed")
	}
	if in.GetResource() != "" && in.GetResource() != k.Resource {
		r.Add("api_key.resource", "cannot be changed")
	}
	prev := k.Etag
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("api_key.display_name", in.GetDisplayName(), false)
			k.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("api_key.description", in.GetDescription())
			k.Description = in.GetDescription()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.keys.Update(ctx, k, prev)
	if err != nil {
		return nil, rpc.StoreError(err, kind, k.ID)
	}
	return &pb.UpdateApiKeyResponse{ApiKey: toProto(updated)}, nil
}

func (s *Service) DeleteApiKey(ctx context.Context, req *pb.DeleteApiKeyRequest) (*pb.DeleteApiKeyResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	k, err := s.get(ctx, req.GetId(), authz.APIKeyDelete)
	if err != nil {
		return nil, err
	}
	if err := s.keys.Delete(ctx, k.OrgID, k.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, k.ID)
	}
	s.verifier.Forget(k.ID)
	return &pb.DeleteApiKeyResponse{}, nil
}
