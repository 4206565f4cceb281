// Package certificateauthority serves affluent.v1.CertificateAuthorityService:
// the CAs whose client certificates brokers accept on the mTLS listener.
package certificateauthority

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

const kind = "certificate authority"

// Service manages certificate authorities.
type Service struct {
	pb.UnimplementedCertificateAuthorityServiceServer
	guard *access.Guard
	cas   rpc.Collection[resource.CertificateAuthority]
}

var _ pb.CertificateAuthorityServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, cas rpc.Collection[resource.CertificateAuthority]) *Service {
	return &Service{guard: guard, cas: cas}
}

var mask = rpc.Mask{
	Updatable:  []string{"display_name", "description", "certificate_chain"},
	OutputOnly: append([]string{"fingerprints", "expiration_times"}, rpc.CommonOutputOnly...),
}

func (s *Service) CreateCertificateAuthority(ctx context.Context, req *pb.CreateCertificateAuthorityRequest) (*pb.CreateCertificateAuthorityResponse, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return nil, err
	}
	in := req.GetCertificateAuthority()
	var r validate.Report
	r.DisplayName("certificate_authority.display_name", in.GetDisplayName(), true)
	r.Description("certificate_authority.description", in.GetDescription())
	r.CertificateChain("certificate_authority.certificate_chain", in.GetCertificateChain())
	r.RequestID("request_id", req.GetRequestId())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.guard.Authorize(ctx, authz.CertificateAuthorityCreate, resource.OrganizationCRN(caller.OrgID)); err != nil {
		return nil, err
	}
	ca := resource.CertificateAuthority{Meta: rpc.Meta(caller.OrgID, resource.PrefixCertificateAuthority),
		DisplayName: in.GetDisplayName(), Description: in.GetDescription(), CertificateChain: in.GetCertificateChain()}
	created, err := s.cas.Create(ctx, ca, rpc.RequestKey("CreateCertificateAuthority", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", ca.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, ca.ID)
	}
	return &pb.CreateCertificateAuthorityResponse{CertificateAuthority: toProto(created)}, nil
}

func (s *Service) get(ctx context.Context, id string, action authz.Action) (resource.CertificateAuthority, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.CertificateAuthority{}, err
	}
	var r validate.Report
	r.ID("id", id, resource.PrefixCertificateAuthority)
	if err := r.Err(); err != nil {
		return resource.CertificateAuthority{}, err
	}
	if err := s.guard.Authorize(ctx, action, resource.CertificateAuthorityCRN(caller.OrgID, id)); err != nil {
		return resource.CertificateAuthority{}, err
	}
	ca, err := s.cas.Get(ctx, caller.OrgID, id)
	return ca, rpc.StoreError(err, kind, id)
}

func (s *Service) GetCertificateAuthority(ctx context.Context, req *pb.GetCertificateAuthorityRequest) (*pb.GetCertificateAuthorityResponse, error) {
	ca, err := s.get(ctx, req.GetId(), authz.CertificateAuthorityDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetCertificateAuthorityResponse{CertificateAuthority: toProto(ca)}, nil
}

func (s *Service) ListCertificateAuthorities(ctx context.Context, req *pb.ListCertificateAuthoritiesRequest) (*pb.ListCertificateAuthoritiesResponse, error) {
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
	cas, next, err := s.cas.List(ctx, caller.OrgID, store.Query{PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListCertificateAuthoritiesResponse{CertificateAuthorities: []*pb.CertificateAuthority{}, NextPageToken: next}
	for _, ca := range cas {
		if s.guard.Allowed(ctx, authz.CertificateAuthorityDescribe, resource.CertificateAuthorityCRN(caller.OrgID, ca.ID)) {
			resp.CertificateAuthorities = append(resp.CertificateAuthorities, toProto(ca))
		}
	}
	return resp, nil
}

func (s *Service) UpdateCertificateAuthority(ctx context.Context, req *pb.UpdateCertificateAuthorityRequest) (*pb.UpdateCertificateAuthorityResponse, error) {
	in := req.GetCertificateAuthority()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "display_name":
			return in.GetDisplayName() != ""
		case "description":
			return in.GetDescription() != ""
		}
		return in.GetCertificateChain() != ""
	})
	if err != nil {
		return nil, err
	}
	ca, err := s.get(ctx, req.GetId(), authz.CertificateAuthorityUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), ca.Etag, kind, ca.ID); err != nil {
		return nil, err
	}
	prev := ca.Etag
	var r validate.Report
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("certificate_authority.display_name", in.GetDisplayName(), true)
			ca.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("certificate_authority.description", in.GetDescription())
			ca.Description = in.GetDescription()
		case "certificate_chain":
			r.CertificateChain("certificate_authority.certificate_chain", in.GetCertificateChain())
			ca.CertificateChain = in.GetCertificateChain()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	updated, err := s.cas.Update(ctx, ca, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", ca.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, ca.ID)
	}
	return &pb.UpdateCertificateAuthorityResponse{CertificateAuthority: toProto(updated)}, nil
}

func (s *Service) DeleteCertificateAuthority(ctx context.Context, req *pb.DeleteCertificateAuthorityRequest) (*pb.DeleteCertificateAuthorityResponse, error) {
	var r validate.Report
	r.Etag("etag", req.GetEtag())
	if err := r.Err(); err != nil {
		return nil, err
	}
	ca, err := s.get(ctx, req.GetId(), authz.CertificateAuthorityDelete)
	if err != nil {
		return nil, err
	}
	if err := s.cas.Delete(ctx, ca.OrgID, ca.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, ca.ID)
	}
	return &pb.DeleteCertificateAuthorityResponse{}, nil
}
