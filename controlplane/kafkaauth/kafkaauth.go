// Package kafkaauth holds the rules by which a Kafka credential is accepted
// — an API key and secret, an OAuth token, a client certificate — and what
// a principal's role bindings allow in a cluster. The rules run over a
// Directory of tenants and credentials: the control plane's is its store,
// a broker's the snapshot the control plane pushes it. Both call this
// package, so each rule has one implementation.
package kafkaauth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/filter"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// Identity is who a Kafka credential authenticates.
type Identity struct {
	// Principal is User:sa-…, User:u-… or User:pool-….
	Principal string
	// Cluster is the cluster the connection is in.
	Cluster string
	// Identity names the caller in logs beyond the principal: a token's
	// subject, a certificate's external identifier.
	Identity string
	// Expiry ends the session: a token's exp, a certificate's NotAfter.
	Expiry time.Time
	// Grant is what the authentication rested on besides the secret or
	// signature, for Recheck.
	Grant Grant
}

// Grant names what an authentication rested on in the directory, so that
// a session can be checked again when the directory changes (Recheck):
// deleting any of it ends the sessions it opened, without waiting for a
// re-authentication. It holds ids, never a secret. The cluster is the
// Identity's.
type Grant struct {
	// APIKey is the Kafka API key of a SASL/PLAIN login, or the API key
	// (Kafka or cloud) an own OAuth token was issued for.
	APIKey string
	// Pool is the identity pool of an external token, or the certificate
	// pool of a client certificate.
	Pool string
}

// grantPrefixes tag a Grant's kind in its string form.
const (
	grantAPIKey = "api-key:"
	grantPool   = "pool:"
)

// String is the grant in one string (broker.Principal.Credential):
// "api-key:<id>", "pool:<id>", or "" for none.
func (g Grant) String() string {
	switch {
	case g.APIKey != "":
		return grantAPIKey + g.APIKey
	case g.Pool != "":
		return grantPool + g.Pool
	}
	return ""
}

// ParseGrant reads a Grant's string form; anything else is no grant.
func ParseGrant(s string) Grant {
	if id, ok := strings.CutPrefix(s, grantAPIKey); ok {
		return Grant{APIKey: id}
	}
	if id, ok := strings.CutPrefix(s, grantPool); ok {
		return Grant{Pool: id}
	}
	return Grant{}
}

// Refusals. Each wraps the reason (never the credential).
var (
	// ErrInvalidKey is returned for an unknown key, a wrong secret, or a
	// key that is not a Kafka API key of a running cluster.
	ErrInvalidKey = errors.New("invalid Kafka API key or secret")
	// ErrInvalidToken is returned for a token brokers must refuse.
	ErrInvalidToken = errors.New("invalid OAuth token for Kafka")
	// ErrInvalidCertificate is returned for a client certificate no
	// certificate pool accepts.
	ErrInvalidCertificate = errors.New("client certificate not accepted")
)

// ErrUnknown is also wrapped by a refusal caused by something the
// directory does not hold: an API key, a cluster, a signing key, an
// identity provider or a certificate pool. A directory that may lag behind
// the control plane (a broker's snapshot) can ask the control plane again.
var ErrUnknown = errors.New("not in the directory")

// ErrNotFound is what a Directory returns for what it does not hold.
var ErrNotFound = errors.New("not found")

// ErrRevoked is wrapped by Recheck's answer when what a session
// authenticated with no longer stands.
var ErrRevoked = errors.New("credential revoked")

// Directory is what the rules read. Lookups of what is not there return
// an error wrapping ErrNotFound.
type Directory interface {
	Cluster(ctx context.Context, id string) (resource.Cluster, error)
	APIKey(ctx context.Context, id string) (resource.APIKey, error)
	// BindingsOf returns principal's role bindings in organization org.
	BindingsOf(ctx context.Context, org, principal string) ([]authz.Binding, error)
	// CertificatePools returns every certificate pool bound to a cluster
	// and the certificate authorities by id.
	CertificatePools(ctx context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error)
}

// TokenVerifier checks a bearer token's signature and claims
// (*oauth.TokenVerifier, *oauth.Service).
type TokenVerifier interface {
	Verify(ctx context.Context, raw, org string) (oauth.Identity, error)
}

// Rules decide Kafka authentication and authorization over a directory.
type Rules struct {
	dir    Directory
	keys   *credential.Verifier
	tokens TokenVerifier // nil: OAuth is not configured
	roots  caRoots
	log    *slog.Logger
}

// New returns the rules over dir. keys checks secrets against their hashes
// (and caches successes); tokens may be nil when there is no OAuth issuer.
func New(dir Directory, keys *credential.Verifier, tokens TokenVerifier, log *slog.Logger) *Rules {
	if log == nil {
		log = slog.Default()
	}
	return &Rules{dir: dir, keys: keys, tokens: tokens, log: log}
}

// refusal wraps kind and, when the cause is a missing entry, ErrUnknown.
func refusal(kind error, unknown bool, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if unknown {
		return fmt.Errorf("%w: %s (%w)", kind, msg, ErrUnknown)
	}
	return fmt.Errorf("%w: %s", kind, msg)
}

// uncheckedKey is VerifyKey's refusal of an unknown key: no secret was
// checked (SpendUnknownKeyCheck).
type uncheckedKey struct{ error }

func (u uncheckedKey) Unwrap() error { return u.error }

// unknownKeyHash is the hash of a secret nobody knows, with the costs of
// every key's hash (credential.DefaultParams).
var unknownKeyHash = sync.OnceValue(func() string {
	return credential.Hash(credential.NewSecret(), credential.DefaultParams)
})

// SpendUnknownKeyCheck makes VerifyKey's refusal err of an unknown key
// cost what the refusal of a known key with a wrong secret costs — one
// argon2id check, against a hash no secret matches — so that how long a
// refusal takes does not tell which keys exist. It reports whether it
// checked; a caller about to ask someone who does it (a broker asking the
// control plane) skips it.
func SpendUnknownKeyCheck(err error, secret string) bool {
	if _, unchecked := errors.AsType[uncheckedKey](err); !unchecked {
		return false
	}
	_, _ = credential.Verify(unknownKeyHash(), secret)
	return true
}

// VerifyKey checks a Kafka API key and secret (SASL/PLAIN username and
// password): the key must exist with that secret, belong to a cluster
// (not be a cloud key) of its organization, and that cluster must be
// running.
func (r *Rules) VerifyKey(ctx context.Context, key, secret string) (Identity, error) {
	if !credential.IsKey(key) || len(secret) != credential.SecretLength {
		return Identity{}, refusal(ErrInvalidKey, false, "not an API key and secret")
	}
	k, err := r.dir.APIKey(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, uncheckedKey{refusal(ErrInvalidKey, true, "unknown API key %s", key)}
	}
	if err != nil {
		return Identity{}, fmt.Errorf("look up API key %s: %w", key, err)
	}
	if !r.keys.Check(k.ID, secret, k.SecretHash) {
		return Identity{}, refusal(ErrInvalidKey, false, "wrong secret for API key %s", key)
	}
	if k.Resource == resource.CloudResource {
		return Identity{}, refusal(ErrInvalidKey, false, "%s is a cloud API key", key)
	}
	c, err := r.dir.Cluster(ctx, k.Resource)
	switch {
	case errors.Is(err, ErrNotFound):
		return Identity{}, refusal(ErrInvalidKey, true, "unknown cluster %s", k.Resource)
	case err != nil:
		return Identity{}, fmt.Errorf("look up cluster %s: %w", k.Resource, err)
	case c.OrgID != k.OrgID || c.Phase != resource.PhaseRunning:
		return Identity{}, refusal(ErrInvalidKey, false, "cluster %s is not running", k.Resource)
	}
	return Identity{Principal: resource.Principal(k.Owner), Cluster: c.ID, Grant: Grant{APIKey: k.ID}}, nil
}

// VerifyToken checks a SASL/OAUTHBEARER token for a connection to cluster
// (the logicalCluster extension, may be empty). A token issued for a Kafka
// API key is good for that key's cluster only; one issued for a cloud API
// key, or by an external identity provider through an identity pool, for
// the clusters of its organization, named by the extension. The cluster
// must be running, and the API key a token was issued for must still
// exist (deleting the key revokes its tokens).
func (r *Rules) VerifyToken(ctx context.Context, token, cluster string) (Identity, error) {
	if r.tokens == nil {
		return Identity{}, refusal(ErrInvalidToken, false, "OAuth is not configured")
	}
	var c resource.Cluster
	var err error
	if cluster != "" {
		if c, err = r.dir.Cluster(ctx, cluster); errors.Is(err, ErrNotFound) {
			return Identity{}, refusal(ErrInvalidToken, true, "unknown cluster %q", cluster)
		} else if err != nil {
			return Identity{}, err
		}
	}
	// The cluster's organization picks the identity providers an external
	// token may come from.
	id, err := r.tokens.Verify(ctx, token, c.OrgID)
	if errors.Is(err, oauth.ErrInvalidToken) {
		return Identity{}, refusal(ErrInvalidToken, oauth.IsUnknown(err), "%v", err)
	}
	if err != nil {
		return Identity{}, err
	}
	switch {
	case id.Cluster != "" && cluster == "":
		if c, err = r.dir.Cluster(ctx, id.Cluster); err != nil {
			return Identity{}, refusal(ErrInvalidToken, errors.Is(err, ErrNotFound), "cluster %s of the token: %v", id.Cluster, err)
		}
	case id.Cluster != "" && id.Cluster != cluster:
		return Identity{}, refusal(ErrInvalidToken, false, "the token is for cluster %s, not %s", id.Cluster, cluster)
	case cluster == "":
		return Identity{}, refusal(ErrInvalidToken, false, "name the cluster with the SASL extension logicalCluster=lkc-…")
	}
	if c.OrgID != id.OrgID {
		return Identity{}, refusal(ErrInvalidToken, false, "cluster %s is not of the token's organization", c.ID)
	}
	if c.Phase != resource.PhaseRunning {
		return Identity{}, refusal(ErrInvalidToken, false, "cluster %s is %s", c.ID, c.Phase)
	}
	if err := r.CheckTokenKey(ctx, id); err != nil {
		return Identity{}, refusal(ErrInvalidToken, errors.Is(err, ErrUnknown), "%v", err)
	}
	return Identity{Principal: id.Principal, Cluster: c.ID, Identity: id.Subject, Expiry: id.Expiry, Grant: TokenGrant(id)}, nil
}

// TokenGrant is what a verified token rests on: the API key it was issued
// for (own tokens), or the identity pool that mapped it (external ones).
func TokenGrant(id oauth.Identity) Grant {
	if id.ClientID != "" {
		return Grant{APIKey: id.ClientID}
	}
	return Grant{Pool: id.PrincipalID}
}

// CheckTokenKey refuses an own token whose API key is gone or changed
// hands; external tokens (no client id) pass.
func (r *Rules) CheckTokenKey(ctx context.Context, id oauth.Identity) error {
	if id.ClientID == "" {
		return nil
	}
	k, err := r.dir.APIKey(ctx, id.ClientID)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("API key %s of the token no longer exists (%w)", id.ClientID, ErrUnknown)
	case err != nil:
		return err
	case k.Owner != id.PrincipalID:
		return fmt.Errorf("API key %s of the token no longer exists", id.ClientID)
	}
	return nil
}

// AuthenticateCertificate maps a client certificate chain (leaf first,
// unverified) to the first certificate pool, bound to a running cluster,
// whose certificate authority issued it and whose filter it passes. The
// pool is the principal (User:pool-…); the pool's external identifier
// (CN, …) names the caller in logs.
func (r *Rules) AuthenticateCertificate(ctx context.Context, chain []*x509.Certificate) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, refusal(ErrInvalidCertificate, false, "no certificate")
	}
	pools, cas, err := r.dir.CertificatePools(ctx)
	if err != nil {
		return Identity{}, err
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	fields := filter.CertificateFields(leaf)
	issued := map[string]bool{} // CA id → whether it issued leaf
	for _, p := range pools {
		ca, ok := cas[p.CAID]
		if !ok || ca.OrgID != p.OrgID {
			continue
		}
		ok, seen := issued[ca.ID]
		if !seen {
			roots, err := r.roots.of(ca)
			if err != nil {
				r.log.Warn("certificate authority unusable", "ca", ca.ID, "err", err)
			}
			_, verr := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			ok = err == nil && verr == nil
			issued[ca.ID] = ok
		}
		if !ok {
			continue
		}
		if match, err := filter.ForCertificate().Match(p.Filter, fields); !match {
			if err != nil {
				r.log.Debug("certificate pool filter did not evaluate", "pool", p.ID, "err", err)
			}
			continue
		}
		ident := filter.ExternalIdentifier(fields, p.ExternalIdentifier)
		if ident == "" {
			continue
		}
		c, err := r.dir.Cluster(ctx, p.ClusterID)
		if err != nil || c.OrgID != p.OrgID || c.Phase != resource.PhaseRunning {
			continue
		}
		return Identity{Principal: resource.Principal(p.ID), Cluster: c.ID, Identity: ident, Expiry: leaf.NotAfter,
			Grant: Grant{Pool: p.ID}}, nil
	}
	return Identity{}, refusal(ErrInvalidCertificate, true, "no certificate pool accepts %q", leaf.Subject.String())
}

// Policy returns the compiled role bindings of principal in the
// organization of clusterID and the CRN of the cluster's Kafka resources,
// for brokers to authorize Kafka requests with authz.
func (r *Rules) Policy(ctx context.Context, clusterID, principal string) (*authz.Policy, authz.CRN, error) {
	c, err := r.dir.Cluster(ctx, clusterID)
	if err != nil {
		return nil, authz.CRN{}, fmt.Errorf("cluster %s: %w", clusterID, err)
	}
	bindings, err := r.dir.BindingsOf(ctx, c.OrgID, principal)
	if err != nil {
		return nil, authz.CRN{}, fmt.Errorf("role bindings of %s: %w", principal, err)
	}
	return authz.Compile(principal, bindings), resource.KafkaCRN(c.OrgID, c.EnvironmentID, c.ID), nil
}

// caRoots caches each certificate authority's trust anchor: the first
// certificate of its chain (the CA itself; the rest of the chain are its
// issuers, which must not be trusted for what else they issued).
type caRoots struct {
	mu    sync.Mutex // guards pools
	pools map[string]caRoot
}

type caRoot struct {
	etag  string
	chain string
	pool  *x509.CertPool
	err   error
}

func (r *caRoots) of(ca resource.CertificateAuthority) (*x509.CertPool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if got, ok := r.pools[ca.ID]; ok && got.etag == ca.Etag && got.chain == ca.CertificateChain {
		return got.pool, got.err
	}
	root := caRoot{etag: ca.Etag, chain: ca.CertificateChain, pool: x509.NewCertPool()}
	block, _ := pem.Decode([]byte(strings.TrimSpace(ca.CertificateChain)))
	if block == nil {
		root.err = errors.New("certificate chain is not PEM")
	} else if cert, err := x509.ParseCertificate(block.Bytes); err != nil {
		root.err = err
	} else {
		root.pool.AddCert(cert)
	}
	if r.pools == nil {
		r.pools = map[string]caRoot{}
	}
	r.pools[ca.ID] = root
	return root.pool, root.err
}
