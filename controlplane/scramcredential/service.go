// Package scramcredential serves affluent.v1.ScramCredentialService over
// the Kafka Admin API of the cluster's brokers, which hold SCRAM
// credentials (DescribeUserScramCredentials, AlterUserScramCredentials):
// one source of truth, as for ACLs. Passwords are salted here (kadm, with
// a fresh random salt) and only the salted password travels to the
// brokers, as KIP-554 asks; nothing of them is kept in the control plane.
package scramcredential

import (
	"context"
	"errors"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/kafka"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/rpc"
	"github.com/affluent-io/affluent/controlplane/validate"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

const kind = "SCRAM credential"

// Bounds of the inputs.
const (
	minIterations  = 4096
	maxIterations  = 16384
	maxUserLength  = 255
	maxPasswordLen = 1024
)

// reservedPrefixes start the names of Affluent's own principals; the
// brokers refuse them too.
var reservedPrefixes = []string{"sa-", "u-", "pool-", "__"}

type clusterOpener interface {
	Open(ctx context.Context, org, env, id string) (resource.Cluster, *kadm.Client, error)
}

// Service manages SCRAM credentials. Managing them is administering the
// Kafka cluster's security, authorized as ACLs are (acl.create,
// acl.describe, acl.delete on the Kafka cluster).
type Service struct {
	pb.UnimplementedScramCredentialServiceServer
	guard    *access.Guard
	clusters clusterOpener
}

var _ pb.ScramCredentialServiceServer = (*Service)(nil)

// New returns the service.
func New(guard *access.Guard, clusters clusterOpener) *Service {
	return &Service{guard: guard, clusters: clusters}
}

var mask = rpc.Mask{
	Updatable:  []string{"password", "mechanisms", "iterations"},
	OutputOnly: []string{"user", "principal", "environment", "cluster"},
}

// open validates the cluster's address, authorizes action on it and opens it.
func (s *Service) open(ctx context.Context, r *validate.Report, env, id string, action authz.Action) (resource.Cluster, *kadm.Client, error) {
	caller, err := s.guard.Caller(ctx)
	if err != nil {
		return resource.Cluster{}, nil, err
	}
	r.ID("environment", env, resource.PrefixEnvironment)
	r.ID("cluster", id, resource.PrefixCluster)
	if err := r.Err(); err != nil {
		return resource.Cluster{}, nil, err
	}
	if err := s.guard.Authorize(ctx, action, resource.KafkaCRN(caller.OrgID, env, id)); err != nil {
		return resource.Cluster{}, nil, err
	}
	return s.clusters.Open(ctx, caller.OrgID, env, id)
}

func validateUser(r *validate.Report, field, user string) {
	if !r.Required(field, user) {
		return
	}
	switch {
	case len(user) > maxUserLength:
		r.Add(field, "at most %d bytes", maxUserLength)
	case !utf8.ValidString(user) || strings.ContainsFunc(user, unicode.IsControl):
		r.Add(field, "must be UTF-8 without control characters")
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(user, p) {
			r.Add(field, "names starting with %q are reserved", p)
		}
	}
}

func validatePassword(r *validate.Report, password string) {
	if r.Required("scram_credential.password", password) && len(password) > maxPasswordLen {
		r.Add("scram_credential.password", "at most %d bytes", maxPasswordLen)
	}
}

// mechanismsOf checks the mechanisms asked for (default: both).
func mechanismsOf(r *validate.Report, names []string) []kadm.ScramMechanism {
	if len(names) == 0 {
		return []kadm.ScramMechanism{kadm.ScramSha256, kadm.ScramSha512}
	}
	var out []kadm.ScramMechanism
	for _, n := range names {
		m, ok := mechanismByName(n)
		if !ok {
			r.Add("scram_credential.mechanisms", "%q: want SCRAM-SHA-256 or SCRAM-SHA-512", n)
			continue
		}
		for _, seen := range out {
			if seen == m {
				r.Add("scram_credential.mechanisms", "%s repeated", n)
			}
		}
		out = append(out, m)
	}
	return out
}

func iterationsOf(r *validate.Report, n int32) int32 {
	if n == 0 {
		return minIterations
	}
	if n < minIterations || n > maxIterations {
		r.Add("scram_credential.iterations", "%d: want %d to %d", n, minIterations, maxIterations)
	}
	return n
}

// describe reads user's credentials; ok is false when it has none.
func describe(ctx context.Context, adm *kadm.Client, user string) (kadm.DescribedUserSCRAM, bool, error) {
	described, err := adm.DescribeUserSCRAMs(ctx, user)
	if err != nil {
		return kadm.DescribedUserSCRAM{}, false, kafka.Error(err, "", kind)
	}
	d, ok := described[user]
	switch {
	case !ok, errors.Is(d.Err, kerr.ResourceNotFound):
		return d, false, nil
	case d.Err != nil:
		return d, false, kafka.Error(d.Err, d.ErrMessage, kind)
	}
	return d, len(d.CredInfos) > 0, nil
}

// alter applies upserts and deletions of one user and reports its error.
func alter(ctx context.Context, adm *kadm.Client, user string, del []kadm.DeleteSCRAM, up []kadm.UpsertSCRAM) error {
	altered, err := adm.AlterUserSCRAMs(ctx, del, up)
	if err != nil {
		return kafka.Error(err, "", kind)
	}
	res := altered[user]
	switch {
	case errors.Is(res.Err, kerr.UnacceptableCredential), errors.Is(res.Err, kerr.UnsupportedSaslMechanism):
		return apierr.New(apierr.InvalidArgument, "%s: %s", kind, res.ErrMessage)
	case res.Err != nil:
		return kafka.Error(res.Err, res.ErrMessage, kind)
	}
	return nil
}

func upserts(user, password string, iterations int32, mechs []kadm.ScramMechanism) []kadm.UpsertSCRAM {
	out := make([]kadm.UpsertSCRAM, len(mechs))
	for i, m := range mechs {
		out[i] = kadm.UpsertSCRAM{User: user, Mechanism: m, Iterations: iterations, Password: password}
	}
	return out
}

func (s *Service) CreateScramCredential(ctx context.Context, req *pb.CreateScramCredentialRequest) (*pb.CreateScramCredentialResponse, error) {
	in := req.GetScramCredential()
	var r validate.Report
	validateUser(&r, "scram_credential.user", in.GetUser())
	validatePassword(&r, in.GetPassword())
	mechs := mechanismsOf(&r, in.GetMechanisms())
	iters := iterationsOf(&r, in.GetIterations())
	r.RequestID("request_id", req.GetRequestId())
	cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLCreate)
	if err != nil {
		return nil, err
	}
	existing, _, err := describe(ctx, adm, in.GetUser())
	if err != nil {
		return nil, err
	}
	for _, info := range existing.CredInfos {
		for _, m := range mechs {
			if info.Mechanism == m {
				return nil, apierr.New(apierr.AlreadyExists, "%s of %s for %s already exists; update it to change the password", kind, in.GetUser(), m)
			}
		}
	}
	if err := alter(ctx, adm, in.GetUser(), nil, upserts(in.GetUser(), in.GetPassword(), iters, mechs)); err != nil {
		return nil, err
	}
	d, _, err := describe(ctx, adm, in.GetUser())
	if err != nil {
		return nil, err
	}
	return &pb.CreateScramCredentialResponse{ScramCredential: toProto(cl, d)}, nil
}

func (s *Service) GetScramCredential(ctx context.Context, req *pb.GetScramCredentialRequest) (*pb.GetScramCredentialResponse, error) {
	var r validate.Report
	validateUser(&r, "user", req.GetUser())
	cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDescribe)
	if err != nil {
		return nil, err
	}
	d, ok, err := describe(ctx, adm, req.GetUser())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf(kind, req.GetUser())
	}
	return &pb.GetScramCredentialResponse{ScramCredential: toProto(cl, d)}, nil
}

func (s *Service) ListScramCredentials(ctx context.Context, req *pb.ListScramCredentialsRequest) (*pb.ListScramCredentialsResponse, error) {
	var r validate.Report
	size := r.PageSize("page_size", req.GetPageSize())
	cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDescribe)
	if err != nil {
		return nil, err
	}
	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		return nil, kafka.Error(err, "", kind)
	}
	users := make([]string, 0, len(described))
	for u, d := range described {
		if d.Err == nil && len(d.CredInfos) > 0 {
			users = append(users, u)
		}
	}
	sort.Strings(users)
	resp := &pb.ListScramCredentialsResponse{ScramCredentials: []*pb.ScramCredential{}}
	for _, u := range users {
		if u <= req.GetPageToken() {
			continue
		}
		if len(resp.ScramCredentials) == size {
			resp.NextPageToken = resp.ScramCredentials[size-1].GetUser()
			break
		}
		resp.ScramCredentials = append(resp.ScramCredentials, toProto(cl, described[u]))
	}
	return resp, nil
}

func (s *Service) UpdateScramCredential(ctx context.Context, req *pb.UpdateScramCredentialRequest) (*pb.UpdateScramCredentialResponse, error) {
	in := req.GetScramCredential()
	paths, err := mask.Paths(req.GetUpdateMask(), func(p string) bool {
		switch p {
		case "password":
			return in.GetPassword() != ""
		case "mechanisms":
			return len(in.GetMechanisms()) > 0
		case "iterations":
			return in.GetIterations() != 0
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	var r validate.Report
	validateUser(&r, "user", req.GetUser())
	has := func(p string) bool {
		for _, x := range paths {
			if x == p {
				return true
			}
		}
		return false
	}
	// A credential is derived from the password: changing how it is
	// derived needs the password again.
	if !has("password") {
		r.Add("scram_credential.password", "required: an update sets a new password")
	}
	validatePassword(&r, in.GetPassword())
	var mechs []kadm.ScramMechanism
	if has("mechanisms") {
		mechs = mechanismsOf(&r, in.GetMechanisms())
	}
	iters := iterationsOf(&r, in.GetIterations())
	cl, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLCreate)
	if err != nil {
		return nil, err
	}
	existing, ok, err := describe(ctx, adm, req.GetUser())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf(kind, req.GetUser())
	}
	var dels []kadm.DeleteSCRAM
	if mechs == nil {
		for _, info := range existing.CredInfos {
			mechs = append(mechs, info.Mechanism)
		}
	} else {
		for _, info := range existing.CredInfos {
			if !containsMech(mechs, info.Mechanism) {
				dels = append(dels, kadm.DeleteSCRAM{User: req.GetUser(), Mechanism: info.Mechanism})
			}
		}
	}
	if !has("iterations") {
		iters = minIterations
		for _, info := range existing.CredInfos {
			iters = max(iters, info.Iterations)
		}
	}
	if err := alter(ctx, adm, req.GetUser(), dels, upserts(req.GetUser(), in.GetPassword(), iters, mechs)); err != nil {
		return nil, err
	}
	d, _, err := describe(ctx, adm, req.GetUser())
	if err != nil {
		return nil, err
	}
	return &pb.UpdateScramCredentialResponse{ScramCredential: toProto(cl, d)}, nil
}

func (s *Service) DeleteScramCredential(ctx context.Context, req *pb.DeleteScramCredentialRequest) (*pb.DeleteScramCredentialResponse, error) {
	var r validate.Report
	validateUser(&r, "user", req.GetUser())
	_, adm, err := s.open(ctx, &r, req.GetEnvironment(), req.GetCluster(), authz.ACLDelete)
	if err != nil {
		return nil, err
	}
	existing, ok, err := describe(ctx, adm, req.GetUser())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, apierr.NotFoundf(kind, req.GetUser())
	}
	var dels []kadm.DeleteSCRAM
	for _, info := range existing.CredInfos {
		dels = append(dels, kadm.DeleteSCRAM{User: req.GetUser(), Mechanism: info.Mechanism})
	}
	if err := alter(ctx, adm, req.GetUser(), dels, nil); err != nil {
		return nil, err
	}
	return &pb.DeleteScramCredentialResponse{}, nil
}

func containsMech(list []kadm.ScramMechanism, m kadm.ScramMechanism) bool {
	for _, x := range list {
		if x == m {
			return true
		}
	}
	return false
}
