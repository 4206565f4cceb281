// Package certificatepool serves affluent.v1.CertificatePoolService: which
// client certificates of a CA act as which principal, on which cluster.
package certificatepool

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

const kind = "certificate pool"

// Certificate fields a pool may name its callers by.
var identifiers = []string{"CN", "UID", "OU", "O", "SAN"}

type caReader interface {
	Get(ctx context.Context, org, id string) (resource.CertificateAuthority, error)
}

type clusterReader interface {
	Get(ctx context.Context, org, id string) (resource.Cluster, error)
}

// Service manages certificate pools.
type Service struct {
	pb.UnimplementedCertificatePoolServiceServer
	guard    *access.Guard
	pools    rpc.Collection[resource.CertificatePool]
	cas      caReader
	clusters clusterReader
}

var _ pb.CertificatePoolServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, pools rpc.Collection[resource.CertificatePool], cas caReader, clusters clusterReader) *Service {
	return &Service{guard: guard, pools: pools, cas: cas, clusters: clusters}
}

var mask = rpc.Mask{
	Updatable:  []string{"display_name", "description", "external_identifier", "filter", "cluster"},
	OutputOnly: append([]string{"certificate_authority", "principal"}, rpc.CommonOutputOnly...),
}

// validateFilter checks the filter is a CEL condition on the certificate,
// as brokers' certificate authentication evaluates it.
func validateFilter(r *validate.Report, expr string) {
	r.Filter("certificate_pool.filter", expr)
	if err := filter.ForCertificate().CheckBool(expr); expr != "" && len(expr) <= validate.MaxFilter && err != nil {
		r.Add("certificate_pool.filter", "%v", err)
	}
}

// parent authorizes action on crn and checks the CA exists.
func (s *Service) parent(ctx context.Context, caID string, action authz.Action, crn func(org string) authz.CRN) (access.Caller, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return caller, err
	}
	if err := s.guard.Authorize(ctx, action, crn(caller.OrgID)); err != nil {
		return caller, err
	}
	if _, err := s.cas.Get(ctx, caller.OrgID, caID); err != nil {
		return caller, rpc.StoreError(err, "certificate authority", caID)
	}
	return caller, nil
}

// checkCluster reports a cluster that is not the organization's.
func (s *Service) checkCluster(ctx context.Context, org, id string) error {
	if id == "" {
		return nil
	}
	_, err := s.clusters.Get(ctx, org, id)
	return rpc.StoreError(err, "cluster", id)
}

func (s *Service) CreateCertificatePool(ctx context.Context, req *pb.CreateCertificatePoolRequest) (*pb.CreateCertificatePoolResponse, error) {
	in := req.GetCertificatePool()
	var r validate.Report
	r.ID("ca", req.GetCa(), resource.PrefixCertificateAuthority)
	r.DisplayName("certificate_pool.display_name", in.GetDisplayName(), true)
	r.Description("certificate_pool.description", in.GetDescription())
	r.OneOf("certificate_pool.external_identifier", in.GetExternalIdentifier(), true, identifiers...)
	validateFilter(&r, in.GetFilter())
	if in.GetCluster() != "" {
		r.ID("certificate_pool.cluster", in.GetCluster(), resource.PrefixCluster)
	}
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	caller, err := s.parent(ctx, req.GetCa(), authz.CertificatePoolCreate, func(org string) authz.CRN {
		return resource.CertificateAuthorityCRN(org, req.GetCa())
	})
	if err != nil {
		return nil, err
	}
	if err := s.checkCluster(ctx, caller.OrgID, in.GetCluster()); err != nil {
		return nil, err
	}
	p := resource.CertificatePool{Meta: rpc.Meta(caller.OrgID, resource.PrefixPool), CAID: req.GetCa(),
		DisplayName: in.GetDisplayName(), Description: in.GetDescription(), ExternalIdentifier: in.GetExternalIdentifier(),
		Filter: in.GetFilter(), ClusterID: in.GetCluster()}
	created, err := s.pools.Create(ctx, p, rpc.RequestKey("CreateCertificatePool", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", p.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, "certificate authority", p.CAID)
	}
	return &pb.CreateCertificatePoolResponse{CertificatePool: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, caID, id string, action authz.Action) (resource.CertificatePool, error) {
	var r validate.Report
	r.ID("ca", caID, resource.PrefixCertificateAuthority)
	r.ID("id", id, resource.PrefixPool)
	if err := r.Err(); err != nil {
		return resource.CertificatePool{}, err
	}
	caller, err := s.parent(ctx, caID, action, func(org string) authz.CRN {
		return resource.CertificatePoolCRN(org, caID, id)
	})
	if err != nil {
		return resource.CertificatePool{}, err
	}
	p, err := s.pools.Get(ctx, caller.OrgID, id)
	if err == nil && p.CAID != caID {
		err = store.ErrNotFound
	}
	return p, rpc.StoreError(err, kind, id)
}

func (s *Service) GetCertificatePool(ctx context.Context, req *pb.GetCertificatePoolRequest) (*pb.GetCertificatePoolResponse, error) {
	p, err := s.get(ctx, req.GetCa(), req.GetId(), authz.CertificatePoolDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetCertificatePoolResponse{CertificatePool: toProto(p)}, nil
}

func (s *Service) ListCertificatePools(ctx context.Context, req *pb.ListCertificatePoolsRequest) (*pb.ListCertificatePoolsResponse, error) {
	var r validate.Report
	r.ID("ca", req.GetCa(), resource.PrefixCertificateAuthority)
	size := r.PageSize("page_size", req.GetPageSize())
	if err := r.Err(); err != nil {
		return nil, err
	}
	caller, err := s.parent(ctx, req.GetCa(), authz.CertificateAuthorityDescribe, func(org string) authz.CRN {
		return resource.CertificateAuthorityCRN(org, req.GetCa())
	})
	if err != nil {
		return nil, err
	}
	pools, next, err := s.pools.List(ctx, caller.OrgID, store.Query{Parent: req.GetCa(), PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListCertificatePoolsResponse{CertificatePools: []*pb.CertificatePool{}, NextPageToken: next}
	for _, p := range pools {
		if s.guard.Allowed(ctx, authz.CertificatePoolDescribe, resource.CertificatePoolCRN(caller.OrgID, p.CAID, p.ID)) {
			resp.CertificatePools = append(resp.CertificatePools, toProto(p))
		}
	}
	return resp, nil
}

func (s *Service) UpdateCertificatePool(ctx context.Context, req *pb.UpdateCertificatePoolRequest) (*pb.UpdateCertificatePoolResponse, error) {
	in := req.GetCertificatePool()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "display_name":
			return in.GetDisplayName() != ""
		case "description":
			return in.GetDescription() != ""
		case "external_identifier":
			return in.GetExternalIdentifier() != ""
		case "filter":
			return in.GetFilter() != ""
		}
		return in.GetCluster() != ""
	})
	if err != nil {
		return nil, err
	}
	p, err := s.get(ctx, req.GetCa(), req.GetId(), authz.CertificatePoolUpdate)
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
			r.DisplayName("certificate_pool.display_name", in.GetDisplayName(), true)
			p.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("certificate_pool.description", in.GetDescription())
			p.Description = in.GetDescription()
		case "external_identifier":
			r.OneOf("certificate_pool.external_identifier", in.GetExternalIdentifier(), true, identifiers...)
			p.ExternalIdentifier = in.GetExternalIdentifier()
		case "filter":
			validateFilter(&r, in.GetFilter())
			p.Filter = in.GetFilter()
		case "cluster":
			if in.GetCluster() != "" {
				r.ID("certificate_pool.cluster", in.GetCluster(), resource.PrefixCluster)
			}
			p.ClusterID = in.GetCluster()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.checkCluster(ctx, p.OrgID, p.ClusterID); err != nil {
		return nil, err
	}
	updated, err := s.pools.Update(ctx, p, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", p.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, p.ID)
	}
	return &pb.UpdateCertificatePoolResponse{CertificatePool: toProto(updated)}, nil
}

func (s *Service) DeleteCertificatePool(ctx context.Context, req *pb.DeleteCertificatePoolRequest) (*pb.DeleteCertificatePoolResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	p, err := s.get(ctx, req.GetCa(), req.GetId(), authz.CertificatePoolDelete)
	if err != nil {
		return nil, err
	}
	if err := s.pools.Delete(ctx, p.OrgID, p.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, p.ID)
	}
	return &pb.DeleteCertificatePoolResponse{}, nil
}
