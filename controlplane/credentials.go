package controlplane

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/filter"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// This file is what brokers and the gateway ask of the control plane about
// credentials other than API keys: OAuth tokens (issued here, verified for
// Kafka and for the API), client certificates of certificate pools, and
// the audit of failed Kafka authentications.

// KafkaIdentity is who a Kafka credential authenticates.
type KafkaIdentity struct {
	// Principal is User:sa-…, User:u-… or User:pool-….
	Principal string
	// Cluster is the cluster the connection is in.
	Cluster string
	// Identity names the caller in logs beyond the principal: a token's
	// subject, a certificate's external identifier.
	Identity string
	// Expiry ends the session: a token's exp, a certificate's NotAfter.
	Expiry time.Time
}

// ErrInvalidKafkaToken is returned for a token brokers must refuse; the
// wrapped text says why (never the token).
var ErrInvalidKafkaToken = errors.New("invalid OAuth token for Kafka")

// ErrInvalidKafkaCertificate is returned for a client certificate no
// certificate pool accepts.
var ErrInvalidKafkaCertificate = errors.New("client certificate not accepted")

// Tokens is the OAuth service (nil when the control plane has no issuer
// URL): the gateway's token endpoint and JWKS use it.
func (cp *ControlPlane) Tokens() *oauth.Service { return cp.tokens }

// JWKS is the JSON Web Key Set of the token signing keys.
func (cp *ControlPlane) JWKS(ctx context.Context) ([]byte, error) {
	if cp.tokens == nil {
		return nil, errors.New("no OAuth issuer configured")
	}
	return cp.tokens.JWKS(ctx)
}

// OAuthIssuer is the iss of the tokens issued ("" without OAuth).
func (cp *ControlPlane) OAuthIssuer() string {
	if cp.tokens == nil {
		return ""
	}
	return cp.tokens.Issuer()
}

// IssueToken runs the client credentials grant for the gateway's
// /oauth2/token and writes the outcome to the audit log.
func (cp *ControlPlane) IssueToken(ctx context.Context, clientID, secret, source string) (oauth.Token, error) {
	if cp.tokens == nil {
		return oauth.Token{}, errors.New("no OAuth issuer configured")
	}
	tok, err := cp.tokens.IssueToken(ctx, clientID, secret)
	e := resource.AuditEvent{Action: "oauth.token.issue", Method: "POST /oauth2/token", SourceAddress: source, Outcome: "OK"}
	switch {
	case err == nil:
		e.OrgID, e.Principal, e.Message = tok.OrgID, tok.Principal, "token issued for API key "+tok.KeyID
	case errors.Is(err, oauth.ErrInvalidClient):
		// Audited in the key's organization when the key exists.
		if !credential.IsKey(clientID) {
			return tok, err
		}
		k, lookupErr := cp.store.LookupAPIKey(ctx, clientID)
		if lookupErr != nil {
			return tok, err
		}
		e.OrgID, e.Principal, e.Outcome, e.Message = k.OrgID, resource.Principal(k.Owner), string(apierr.Unauthenticated),
			"invalid client secret for API key "+k.ID
	default:
		return tok, err
	}
	cp.audit.add(e)
	return tok, err
}

// VerifyKafkaToken checks a SASL/OAUTHBEARER token for a connection to
// cluster (the logicalCluster extension, may be empty). A token issued for
// a Kafka API key is good for that key's cluster only; one issued for a
// cloud API key, or by an external identity provider through an identity
// pool, for the clusters of its organization, named by the extension. The
// cluster must be running, and the API key a token was issued for must
// still exist (deleting the key revokes its tokens).
func (cp *ControlPlane) VerifyKafkaToken(ctx context.Context, token, cluster string) (KafkaIdentity, error) {
	if cp.tokens == nil {
		return KafkaIdentity{}, fmt.Errorf("%w: OAuth is not configured", ErrInvalidKafkaToken)
	}
	refuse := func(format string, args ...any) (KafkaIdentity, error) {
		return KafkaIdentity{}, fmt.Errorf("%w: %s", ErrInvalidKafkaToken, fmt.Sprintf(format, args...))
	}
	var c resource.Cluster
	var err error
	if cluster != "" {
		if c, err = cp.store.ClusterByID(ctx, cluster); errors.Is(err, store.ErrNotFound) {
			return refuse("unknown cluster %q", cluster)
		} else if err != nil {
			return KafkaIdentity{}, err
		}
	}
	// The cluster's organization picks the identity providers an external
	// token may come from.
	id, err := cp.tokens.Verify(ctx, token, c.OrgID)
	if errors.Is(err, oauth.ErrInvalidToken) {
		return refuse("%v", err)
	}
	if err != nil {
		return KafkaIdentity{}, err
	}
	switch {
	case id.Cluster != "" && cluster == "":
		if c, err = cp.store.ClusterByID(ctx, id.Cluster); err != nil {
			return refuse("cluster %s of the token: %v", id.Cluster, err)
		}
	case id.Cluster != "" && id.Cluster != cluster:
		return refuse("the token is for cluster %s, not %s", id.Cluster, cluster)
	case cluster == "":
		return refuse("name the cluster with the SASL extension logicalCluster=lkc-…")
	}
	if c.OrgID != id.OrgID {
		return refuse("cluster %s is not of the token's organization", c.ID)
	}
	if c.Phase != resource.PhaseRunning {
		return refuse("cluster %s is %s", c.ID, c.Phase)
	}
	if err := cp.checkTokenKey(ctx, id); err != nil {
		return refuse("%v", err)
	}
	return KafkaIdentity{Principal: id.Principal, Cluster: c.ID, Identity: id.Subject, Expiry: id.Expiry}, nil
}

// checkTokenKey refuses an own token whose API key is gone or changed
// hands.
func (cp *ControlPlane) checkTokenKey(ctx context.Context, id oauth.Identity) error {
	if id.ClientID == "" {
		return nil
	}
	k, err := cp.store.LookupAPIKey(ctx, id.ClientID)
	if errors.Is(err, store.ErrNotFound) || err == nil && k.Owner != id.PrincipalID {
		return fmt.Errorf("API key %s of the token no longer exists", id.ClientID)
	}
	return err
}

// restTokens verifies bearer tokens of the API (access.TokenVerifier).
type restTokens struct{ cp *ControlPlane }

func (r restTokens) VerifyToken(ctx context.Context, token string) (access.Caller, error) {
	id, err := r.cp.tokens.Verify(ctx, token, "")
	if err != nil {
		return access.Caller{}, apierr.Wrap(err, apierr.Unauthenticated, "invalid bearer token")
	}
	if id.Cluster != "" {
		return access.Caller{}, apierr.New(apierr.Unauthenticated,
			"the token was issued for Kafka API key %s of cluster %s; the API needs a token of a cloud API key", id.ClientID, id.Cluster)
	}
	if err := r.cp.checkTokenKey(ctx, id); err != nil {
		return access.Caller{}, apierr.Wrap(err, apierr.Unauthenticated, "invalid bearer token")
	}
	credential := "token"
	if id.ClientID != "" {
		credential = "token:" + id.ClientID
	} else if id.Provider != "" {
		credential = "token:" + id.Provider
	}
	return access.Caller{PrincipalID: id.PrincipalID, Principal: id.Principal, OrgID: id.OrgID, Credential: credential}, nil
}

// AuthenticateKafkaCertificate maps a client certificate chain (leaf
// first, unverified) to the first certificate pool, bound to a running
// cluster, whose certificate authority issued it and whose filter it
// passes. The pool is the principal (User:pool-…); the pool's external
// identifier (CN, …) names the caller in logs.
func (cp *ControlPlane) AuthenticateKafkaCertificate(ctx context.Context, chain []*x509.Certificate) (KafkaIdentity, error) {
	if len(chain) == 0 {
		return KafkaIdentity{}, fmt.Errorf("%w: no certificate", ErrInvalidKafkaCertificate)
	}
	pools, cas, err := cp.store.CertificatePoolsWithAuthorities(ctx)
	if err != nil {
		return KafkaIdentity{}, err
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
			roots, err := cp.caRoots.of(ca)
			if err != nil {
				cp.log.Warn("certificate authority unusable", "ca", ca.ID, "err", err)
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
				cp.log.Debug("certificate pool filter did not evaluate", "pool", p.ID, "err", err)
			}
			continue
		}
		ident := filter.ExternalIdentifier(fields, p.ExternalIdentifier)
		if ident == "" {
			continue
		}
		c, err := cp.store.ClusterByID(ctx, p.ClusterID)
		if err != nil || c.OrgID != p.OrgID || c.Phase != resource.PhaseRunning {
			continue
		}
		return KafkaIdentity{Principal: resource.Principal(p.ID), Cluster: c.ID, Identity: ident, Expiry: leaf.NotAfter}, nil
	}
	return KafkaIdentity{}, fmt.Errorf("%w: no certificate pool accepts %q", ErrInvalidKafkaCertificate, leaf.Subject.String())
}

// caRoots caches each certificate authority's trust anchor: the first
// certificate of its chain (the CA itself; the rest of the chain are its
// issuers, which must not be trusted for what else they issued).
type caRoots struct {
	mu    sync.Mutex // guards pools
	pools map[string]caRoot
}

type caRoot struct {
	etag string
	pool *x509.CertPool
	err  error
}

func (r *caRoots) of(ca resource.CertificateAuthority) (*x509.CertPool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if got, ok := r.pools[ca.ID]; ok && got.etag == ca.Etag {
		return got.pool, got.err
	}
	root := caRoot{etag: ca.Etag, pool: x509.NewCertPool()}
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

// KafkaAuthFailure is a failed authentication a broker reports.
type KafkaAuthFailure struct {
	Time      time.Time
	Remote    string
	Listener  string
	Mechanism string
	// Identity is who the client claimed to be (an API key id, a SCRAM
	// user, a certificate subject), never a secret.
	Identity string
	Cluster  string
	Reason   string
}

// RecordKafkaAuthFailure writes a failed Kafka authentication to the audit
// log of the organization it concerns, when one can be told: the cluster's,
// or the API key's. It does not block; under a flood, events are dropped
// (the brokers' metrics still count them).
func (cp *ControlPlane) RecordKafkaAuthFailure(f KafkaAuthFailure) {
	cp.audit.addFunc(func(ctx context.Context) (resource.AuditEvent, bool) {
		e := resource.AuditEvent{Time: f.Time, Principal: "anonymous", Action: "kafka.authenticate",
			Outcome: string(apierr.Unauthenticated), SourceAddress: f.Remote,
			Method: "kafka/" + f.Listener + "/" + f.Mechanism, Message: f.Reason}
		if f.Identity != "" {
			e.Message = f.Reason + " (identity " + f.Identity + ")"
		}
		if credential.IsKey(f.Identity) {
			if k, err := cp.store.LookupAPIKey(ctx, f.Identity); err == nil {
				e.OrgID, e.Principal = k.OrgID, resource.Principal(k.Owner)
				if f.Cluster == "" && k.Resource != resource.CloudResource {
					f.Cluster = k.Resource
				}
			}
		}
		if f.Cluster != "" {
			if c, err := cp.store.ClusterByID(ctx, f.Cluster); err == nil {
				e.OrgID = c.OrgID
				e.Resource = resource.KafkaCRN(c.OrgID, c.EnvironmentID, c.ID).String()
			}
		}
		return e, e.OrgID != ""
	})
}

// auditQueue writes audit events from outside RPCs (token endpoint, Kafka
// authentication failures) on one goroutine, so that callers never wait on
// the database; when full it drops events rather than letting a flood of
// failures become a flood of writes.
type auditQueue struct {
	events chan func(ctx context.Context) (resource.AuditEvent, bool)
	store  interface {
		AppendAuditEvent(ctx context.Context, e resource.AuditEvent) error
	}
	log interface {
		Warn(msg string, args ...any)
	}
}

func (q *auditQueue) add(e resource.AuditEvent) {
	q.addFunc(func(context.Context) (resource.AuditEvent, bool) { return e, e.OrgID != "" })
}

func (q *auditQueue) addFunc(f func(ctx context.Context) (resource.AuditEvent, bool)) {
	select {
	case q.events <- f:
	default:
	}
}

// run writes queued events until ctx ends.
func (q *auditQueue) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-q.events:
			e, ok := f(ctx)
			if !ok {
				continue
			}
			e.ID = resource.NewID(resource.PrefixAuditEvent)
			if e.Time.IsZero() {
				e.Time = time.Now()
			}
			e.Time = e.Time.UTC().Truncate(time.Microsecond)
			if err := q.store.AppendAuditEvent(ctx, e); err != nil && ctx.Err() == nil {
				q.log.Warn("audit log write failed", "action", e.Action, "err", err)
			}
		}
	}
}
