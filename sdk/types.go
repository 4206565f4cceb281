package sdk

import (
	"crypto/rand"
	"encoding/hex"
	"iter"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// The API's resources, as the generated code of proto/affluent/v1 defines
// them; see there for what each field means.
type (
	Environment          = pb.Environment
	Cluster              = pb.Cluster
	ClusterSpec          = pb.ClusterSpec
	ClusterLimits        = pb.ClusterLimits
	ClusterStatus        = pb.ClusterStatus
	UsageBucket          = pb.UsageBucket
	Topic                = pb.Topic
	ACL                  = pb.Acl
	ClientQuota          = pb.ClientQuota
	ServiceAccount       = pb.ServiceAccount
	User                 = pb.User
	APIKey               = pb.ApiKey
	RoleBinding          = pb.RoleBinding
	IdentityProvider     = pb.IdentityProvider
	IdentityPool         = pb.IdentityPool
	CertificateAuthority = pb.CertificateAuthority
	CertificatePool      = pb.CertificatePool
	Organization         = pb.Organization
	Operation            = pb.Operation
	AuditEvent           = pb.AuditEvent
)

// Cluster phases (ClusterStatus.Phase).
const (
	PhaseProvisioning = "PROVISIONING"
	PhaseRunning      = "RUNNING"
	PhaseFailed       = "FAILED"
	PhaseDeleting     = "DELETING"
)

// CloudResource is the resource of API keys for the API itself (as opposed
// to a cluster id, for Kafka keys).
const CloudResource = "cloud"

// CallOption tunes one call: RequestID applies to creates, IfMatch to
// deletes; others ignore them.
type CallOption func(*callSettings)

type callSettings struct {
	requestID string
	etag      string
}

// RequestID sets the idempotency key of a create: a create retried with the
// same request id (by this client or another process) returns what the
// first made. Without it each create call gets a fresh one, which still
// makes the client's own retries safe.
func RequestID(id string) CallOption { return func(s *callSettings) { s.requestID = id } }

// IfMatch makes a delete fail with ErrConflict unless the resource still has
// this etag.
func IfMatch(etag string) CallOption { return func(s *callSettings) { s.etag = etag } }

func applyCall(opts []CallOption) callSettings {
	var s callSettings
	for _, o := range opts {
		o(&s)
	}
	if s.requestID == "" {
		s.requestID = newRequestID()
	}
	return s
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "sdk-" + hex.EncodeToString(b[:])
}

// pages iterates over a paged list, fetching the next page only when the
// caller has consumed the previous one.
func pages[T any](fetch func(token string) ([]T, string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		token := ""
		for {
			items, next, err := fetch(token)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == "" || next == token {
				return
			}
			token = next
		}
	}
}

// Collect gathers what an iterator yields, stopping at its first error.
func Collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}
