// Package clientquota serves affluent.v1.ClientQuotaService. Brokers
// enforce quotas as Kafka client quotas of entity `user` (the principal's
// id), written with the Kafka Admin API; the control plane keeps the
// grouping of principals under a named quota.
package clientquota

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/store"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "client quota"

// Kafka's quota keys for the two rates.
const (
	producerByteRate = "producer_byte_rate"
	consumerByteRate = "consumer_byte_rate"
)

type clusterOpener interface {
	Open(ctx context.Context, org, env, id string) (resource.Cluster, *kadm.Client, error)
}

type principals interface {
	PrincipalExists(ctx context.Context, org, id string) (bool, error)
}

// Service manages client quotas.
type Service struct {
	pb.UnimplementedClientQuotaServiceServer
	guard      *access.Guard
	quotas     rpc.Collection[resource.ClientQuota]
	clusters   clusterOpener
	principals principals
}

var _ pb.ClientQuotaServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, quotas rpc.Collection[resource.ClientQuota], clusters clusterOpener, p principals) *Service {
	return &Service{guard: guard, quotas: quotas, clusters: clusters, principals: p}
}

var mask = rpc.Mask{
	Updatable:  []string{"display_name", "description", "principals", "ingress_byte_rate", "egress_byte_rate"},
	OutputOnly: append([]string{"environment", "cluster"}, rpc.CommonOutputOnly...),
}

func validateQuota(r *validate.Report, q *pb.ClientQuota) {
	r.DisplayName("client_quota.display_name", q.GetDisplayName(), true)
	r.Description("client_quota.description", q.GetDescription())
	validatePrincipals(r, q.GetPrincipals())
	validateRates(r, q)
}

func validatePrincipals(r *validate.Report, ps []string) {
	switch {
	case len(ps) == 0:
		r.Add("client_quota.principals", "name at least one principal")
	case len(ps) > validate.MaxPrincipals:
		r.Add("client_quota.principals", "at most %d", validate.MaxPrincipals)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		r.Principal("client_quota.principals", p, false)
		if seen[p] {
			r.Add("client_quota.principals", "%q named twice", p)
		}
		seen[p] = true
	}
}

func validateRates(r *validate.Report, q *pb.ClientQuota) {
	if q.GetIngressByteRate() < 0 {
		r.Add("client_quota.ingress_byte_rate", "must not be negative")
	}
	if q.GetEgressByteRate() < 0 {
		r.Add("client_quota.egress_byte_rate", "must not be negative")
	}
}

// open validates the cluster's address, authorizes action and opens it.
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

func (s *Service) checkPrincipals(ctx context.Context, org string, ps []string) error {
	for _, p := range ps {
		id, _ := resource.PrincipalID(p)
		ok, err := s.principals.PrincipalExists(ctx, org, id)
		if err != nil {
			return err
		}
		if !ok {
			return apierr.NotFoundf("principal", p)
		}
	}
	return nil
}

func (s *Service) CreateClientQuota(ctx context.Context, req *pb.CreateClientQuotaRequest) (*pb.CreateClientQuotaResponse, error) {
	in := req.GetClientQuota()
	var r validate.Report
	validateQuota(&r, in)
	r.RequestID("request_id", req.GetRequestId())
	caller, cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ClientQuotaCreate)
	if err != nil {
		return nil, err
	}
	if err := s.checkPrincipals(ctx, caller.OrgID, in.GetPrincipals()); err != nil {
		return nil, err
	}
	q := resource.ClientQuota{Meta: rpc.Meta(caller.OrgID, resource.PrefixClientQuota), EnvironmentID: cl.EnvironmentID,
		ClusterID: cl.ID, DisplayName: in.GetDisplayName(), Description: in.GetDescription(), Principals: in.GetPrincipals(),
		IngressByteRate: in.GetIngressByteRate(), EgressByteRate: in.GetEgressByteRate()}
	// The row claims the principals first (one quota each per cluster);
	// then the brokers learn the limits. If they cannot, the row goes.
	created, err := s.quotas.Create(ctx, q, rpc.RequestKey("CreateClientQuota", req.GetRequestId(), req))
	if err := rpc.AlreadyExists(err, kind, "display_name", q.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, q.ID)
	}
	if created.ID != q.ID {
		return &pb.CreateClientQuotaResponse{ClientQuota: toProto(created)}, nil
	}
	if err := apply(ctx, adm, nil, &created); err != nil {
		_ = s.quotas.Delete(context.WithoutCancel(ctx), created.OrgID, created.ID, "")
		return nil, err
	}
	return &pb.CreateClientQuotaResponse{ClientQuota: toProto(created)}, nil
}

// apply makes the brokers' client quotas those of now (nil: none), given
// what was there before (nil: nothing).
func apply(ctx context.Context, adm *kadm.Client, before, now *resource.ClientQuota) error {
	var entries []kadm.AlterClientQuotaEntry
	var kept []string
	if now != nil {
		kept = now.Principals
		for _, p := range now.Principals {
			entries = append(entries, kadm.AlterClientQuotaEntry{Entity: entity(p), Ops: []kadm.AlterClientQuotaOp{
				rateOp(producerByteRate, now.IngressByteRate), rateOp(consumerByteRate, now.EgressByteRate)}})
		}
	}
	if before != nil {
		for _, p := range before.Principals {
			if !slices.Contains(kept, p) {
				entries = append(entries, kadm.AlterClientQuotaEntry{Entity: entity(p), Ops: []kadm.AlterClientQuotaOp{
					{Key: producerByteRate, Remove: true}, {Key: consumerByteRate, Remove: true}}})
			}
		}
	}
	if len(entries) == 0 {
		return nil
	}
	results, err := adm.AlterClientQuotas(ctx, entries)
	if err != nil {
		return kafka.Error(err, "", "client quotas")
	}
	for _, res := range results {
		if res.Err != nil {
			return kafka.Error(res.Err, res.ErrMessage, "client quota of "+res.Entity.String())
		}
	}
	return nil
}

// entity is the Kafka quota entity of a principal: user=<id>.
func entity(principal string) kadm.ClientQuotaEntity {
	id, _ := resource.PrincipalID(principal)
	return kadm.ClientQuotaEntity{{Type: "user", Name: &id}}
}

// rateOp sets a rate; 0 means unlimited, which in Kafka is no quota at all.
func rateOp(key string, rate int64) kadm.AlterClientQuotaOp {
	if rate == 0 {
		return kadm.AlterClientQuotaOp{Key: key, Remove: true}
	}
	return kadm.AlterClientQuotaOp{Key: key, Value: float64(rate)}
}

func (s *Service) get(ctx context.Context, env, cluster, id string, action authz.Action) (resource.ClientQuota, *kadm.Client, error) {
	var r validate.Report
	r.ID("id", id, resource.PrefixClientQuota)
	caller, _, adm, err := s.open(ctx, &r, env, cluster, action)
	if err != nil {
		return resource.ClientQuota{}, nil, err
	}
	q, err := s.quotas.Get(ctx, caller.OrgID, id)
	if err == nil && q.ClusterID != cluster {
		err = store.ErrNotFound
	}
	return q, adm, rpc.StoreError(err, kind, id)
}

func (s *Service) GetClientQuota(ctx context.Context, req *pb.GetClientQuotaRequest) (*pb.GetClientQuotaResponse, error) {
	q, _, err := s.get(ctx, req.GetEnvironment(), req.GetCluster(), req.GetId(), authz.ClientQuotaDescribe)
	if err != nil {
		return nil, err
	}
	return &pb.GetClientQuotaResponse{ClientQuota: toProto(q)}, nil
}

func (s *Service) ListClientQuotas(ctx context.Context, req *pb.ListClientQuotasRequest) (*pb.ListClientQuotasResponse, error) {
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	caller, cl, _, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ClientQuotaDescribe)
	if err != nil {
		return nil, err
	}
	quotas, next, err := s.quotas.List(ctx, caller.OrgID, store.Query{Parent: cl.ID, PageSize: size, PageToken: req.GetPageToken()})
	if err != nil {
		return nil, rpc.StoreError(err, kind, "")
	}
	resp := &pb.ListClientQuotasResponse{ClientQuotas: []*pb.ClientQuota{}, NextPageToken: next}
	for _, q := range quotas {
		resp.ClientQuotas = append(resp.ClientQuotas, toProto(q))
	}
	return resp, nil
}

func (s *Service) UpdateClientQuota(ctx context.Context, req *pb.UpdateClientQuotaRequest) (*pb.UpdateClientQuotaResponse, error) {
	in := req.GetClientQuota()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "display_name":
			return in.GetDisplayName() != ""
		case "description":
			return in.GetDescription() != ""
		case "principals":
			return len(in.GetPrincipals()) > 0
		case "ingress_byte_rate":
			return in.GetIngressByteRate() != 0
		}
		return in.GetEgressByteRate() != 0
	})
	if err != nil {
		return nil, err
	}
	q, adm, err := s.get(ctx, req.GetEnvironment(), req.GetCluster(), req.GetId(), authz.ClientQuotaUpdate)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(in.GetEtag(), q.Etag, kind, q.ID); err != nil {
		return nil, err
	}
	before, prev := q, q.Etag
	var r validate.Report
	for _, p := range paths {
		switch p {
		case "display_name":
			r.DisplayName("client_quota.display_name", in.GetDisplayName(), true)
			q.DisplayName = in.GetDisplayName()
		case "description":
			r.Description("client_quota.description", in.GetDescription())
			q.Description = in.GetDescription()
		case "principals":
			validatePrincipals(&r, in.GetPrincipals())
			q.Principals = in.GetPrincipals()
		case "ingress_byte_rate":
			validateRates(&r, in)
			q.IngressByteRate = in.GetIngressByteRate()
		case "egress_byte_rate":
			validateRates(&r, in)
			q.EgressByteRate = in.GetEgressByteRate()
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if err := s.checkPrincipals(ctx, q.OrgID, q.Principals); err != nil {
		return nil, err
	}
	updated, err := s.quotas.Update(ctx, q, prev)
	if err := rpc.AlreadyExists(err, kind, "display_name", q.DisplayName); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, rpc.StoreError(err, kind, q.ID)
	}
	if err := apply(ctx, adm, &before, &updated); err != nil {
		// Put the row back as it was; the brokers kept the old limits.
		_, _ = s.quotas.Update(context.WithoutCancel(ctx), before, updated.Etag)
		return nil, err
	}
	return &pb.UpdateClientQuotaResponse{ClientQuota: toProto(updated)}, nil
}

func (s *Service) DeleteClientQuota(ctx context.Context, req *pb.DeleteClientQuotaRequest) (*pb.DeleteClientQuotaResponse, error) {
	q, adm, err := s.get(ctx, req.GetEnvironment(), req.GetCluster(), req.GetId(), authz.ClientQuotaDelete)
	if err != nil {
		return nil, err
	}
	if err := rpc.CheckEtag(req.GetEtag(), q.Etag, kind, q.ID); err != nil {
		return nil, err
	}
	if err := apply(ctx, adm, &q, nil); err != nil {
		return nil, err
	}
	if err := s.quotas.Delete(ctx, q.OrgID, q.ID, req.GetEtag()); err != nil {
		return nil, rpc.StoreError(err, kind, q.ID)
	}
	return &pb.DeleteClientQuotaResponse{}, nil
}
