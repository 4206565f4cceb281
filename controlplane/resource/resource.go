// Package resource holds the control plane's domain model: the resources
// the API manages as the services and stores see them (no protobuf), their
// identifiers and their CRNs.
package resource

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/affluent-io/affluent/controlplane/authz"
)

// Identifier prefixes (CONTRACT.md).
const (
	PrefixEnvironment          = "env-"
	PrefixCluster              = "lkc-"
	PrefixServiceAccount       = "sa-"
	PrefixUser                 = "u-"
	PrefixRoleBinding          = "rb-"
	PrefixOperation            = "op-"
	PrefixCertificateAuthority = "ca-"
	PrefixPool                 = "pool-"
	PrefixIdentityProvider     = "idp-"
	PrefixClientQuota          = "cq-"
	PrefixAuditEvent           = "ae-"
)

// CloudResource is the resource of API keys that authenticate to the API.
const CloudResource = "cloud"

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns prefix followed by 10 random lowercase letters and digits
// (about 51 bits).
func NewID(prefix string) string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = idAlphabet[int(c)%len(idAlphabet)]
	}
	return prefix + string(out)
}

// HasID reports whether id is prefix followed by 1 to 64 lowercase letters
// and digits.
func HasID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(idAlphabet, rune(rest[i])) {
			return false
		}
	}
	return true
}

// Principal is the name a service account, user or pool acts as in role
// bindings and Kafka ACLs.
func Principal(id string) string { return "User:" + id }

// PrincipalID returns the id inside `User:<id>`.
func PrincipalID(principal string) (string, bool) {
	return strings.CutPrefix(principal, "User:")
}

// Meta are the fields every stored resource has.
type Meta struct {
	ID         string
	OrgID      string
	CreateTime time.Time
	UpdateTime time.Time
	// Etag changes on every update.
	Etag string
}

// Organization is a tenant of the control plane.
type Organization struct {
	Meta
	DisplayName string
}

// Environment groups clusters.
type Environment struct {
	Meta
	DisplayName string
	Description string
}

// Cluster phases.
const (
	PhaseProvisioning = "PROVISIONING"
	PhaseRunning      = "RUNNING"
	PhaseFailed       = "FAILED"
	PhaseDeleting     = "DELETING"
)

// Cluster types.
const (
	ClusterServerless = "SERVERLESS"
	ClusterDedicated  = "DEDICATED"
)

// Cluster is a Kafka cluster: its spec (what was asked) and status (what is).
type Cluster struct {
	Meta
	EnvironmentID string
	DisplayName   string
	Type          string
	Cloud         string
	Region        string
	Plan          string
	Limits        Limits
	// Brokers is a DEDICATED cluster's broker count (0 for SERVERLESS).
	Brokers int32
	// Status.
	Phase            string
	BootstrapServers string
	RestEndpoint     string
	OperationID      string
	Message          string
	// ObservedBrokers are the brokers a DEDICATED cluster runs; it differs
	// from Brokers while a resize is under way.
	ObservedBrokers int32
}

// Limits are a cluster's quotas.
type Limits struct {
	IngressByteRate int64 `json:"ingress_byte_rate,omitempty"`
	EgressByteRate  int64 `json:"egress_byte_rate,omitempty"`
	MaxPartitions   int32 `json:"max_partitions,omitempty"`
	MaxStorageBytes int64 `json:"max_storage_bytes,omitempty"`
	MaxConnections  int32 `json:"max_connections,omitempty"`
	MaxMessageBytes int32 `json:"max_message_bytes,omitempty"`
	MaxRequestRate  int32 `json:"max_request_rate,omitempty"`
	// MaxConnectionAttemptRate is new connections per second.
	MaxConnectionAttemptRate int32 `json:"max_connection_attempt_rate,omitempty"`
}

// ServiceAccount is a principal for applications.
type ServiceAccount struct {
	Meta
	DisplayName string
	Description string
}

// User is a person.
type User struct {
	Meta
	DisplayName string
	Email       string
}

// APIKey is a credential; only the hash of its secret is kept.
type APIKey struct {
	Meta
	DisplayName string
	Description string
	Owner       string // sa-… or u-…
	Resource    string // CloudResource or a cluster id
	// SecretHash is the PHC-encoded argon2id hash of the secret.
	SecretHash string
}

// RoleBinding grants a role to a principal on a CRN pattern.
type RoleBinding struct {
	Meta
	Principal  string
	RoleName   string
	CRNPattern string
}

// IdentityProvider is an external OIDC issuer.
type IdentityProvider struct {
	Meta
	DisplayName string
	Description string
	Issuer      string
	JWKSURI     string
}

// IdentityPool maps an identity provider's tokens to a principal.
type IdentityPool struct {
	Meta
	ProviderID    string
	DisplayName   string
	Description   string
	IdentityClaim string
	Filter        string
}

// CertificateAuthority is a CA trusted for mTLS.
type CertificateAuthority struct {
	Meta
	DisplayName      string
	Description      string
	CertificateChain string
}

// CertificatePool maps a CA's client certificates to a principal.
type CertificatePool struct {
	Meta
	CAID               string
	DisplayName        string
	Description        string
	ExternalIdentifier string
	Filter             string
	ClusterID          string
}

// ClientQuota groups principals under one throughput limit in a cluster.
type ClientQuota struct {
	Meta
	EnvironmentID   string
	ClusterID       string
	DisplayName     string
	Description     string
	Principals      []string
	IngressByteRate int64
	EgressByteRate  int64
}

// Operation verbs.
const (
	VerbCreate = "CREATE"
	VerbUpdate = "UPDATE"
	VerbDelete = "DELETE"
)

// Operation is a long-running operation.
type Operation struct {
	Meta
	// Target is the resource path, environments/E/clusters/C.
	Target string
	// TargetCRN is the CRN authorization checks reading the operation.
	TargetCRN    string
	Verb         string
	Done         bool
	ErrorCode    int32
	ErrorMessage string
}

// AuditEvent is one entry of the audit log.
type AuditEvent struct {
	ID            string
	OrgID         string
	Time          time.Time
	Principal     string
	Action        string
	Resource      string
	Outcome       string
	RequestID     string
	SourceAddress string
	Method        string
	Message       string
}

// CRNs of the resources, as authorization sees them.

func OrganizationCRN(org string) authz.CRN { return authz.Organization(org) }

func EnvironmentCRN(org, env string) authz.CRN {
	return authz.Organization(org).Child(authz.TypeEnvironment, env)
}

func ClusterCRN(org, env, cluster string) authz.CRN {
	return EnvironmentCRN(org, env).Child(authz.TypeCloudCluster, cluster)
}

// KafkaCRN is the Kafka cluster inside a cloud cluster: topics, groups,
// ACLs and quotas live here.
func KafkaCRN(org, env, cluster string) authz.CRN {
	return ClusterCRN(org, env, cluster).Child(authz.TypeKafka, cluster)
}

func TopicCRN(org, env, cluster, topic string) authz.CRN {
	return KafkaCRN(org, env, cluster).Child(authz.TypeTopic, topic)
}

func ServiceAccountCRN(org, id string) authz.CRN {
	return authz.Organization(org).Child(authz.TypeServiceAccount, id)
}

func UserCRN(org, id string) authz.CRN { return authz.Organization(org).Child(authz.TypeUser, id) }

func IdentityProviderCRN(org, id string) authz.CRN {
	return authz.Organization(org).Child(authz.TypeIdentityProvider, id)
}

func IdentityPoolCRN(org, provider, id string) authz.CRN {
	return IdentityProviderCRN(org, provider).Child(authz.TypeIdentityPool, id)
}

func CertificateAuthorityCRN(org, id string) authz.CRN {
	return authz.Organization(org).Child(authz.TypeCertificateAuthority, id)
}

func CertificatePoolCRN(org, ca, id string) authz.CRN {
	return CertificateAuthorityCRN(org, ca).Child(authz.TypeCertificatePool, id)
}

// ClusterPath is the REST-style name of a cluster, used as operation target.
func ClusterPath(env, cluster string) string {
	return "environments/" + env + "/clusters/" + cluster
}

// Metadata gives generic code (the store) access to the common fields.
func (m *Meta) Metadata() *Meta { return m }
