package controlplane

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/affluent-io/affluent/controlplane/access"
	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// This file is what brokers and the gateway ask of the control plane about
// credentials other than API keys: OAuth tokens (issued here, verified for
// Kafka and for the API), client certificates of certificate pools, and
// the audit of failed Kafka authentications.

// KafkaIdentity is who a Kafka credential authenticates.
type KafkaIdentity = kafkaauth.Identity

// ErrInvalidKafkaToken is returned for a token brokers must refuse; the
// wrapped text says why (never the token).
var ErrInvalidKafkaToken = kafkaauth.ErrInvalidToken

// ErrInvalidKafkaCertificate is returned for a client certificate no
// certificate pool accepts.
var ErrInvalidKafkaCertificate = kafkaauth.ErrInvalidCertificate

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
// cluster (the logicalCluster extension, may be empty), by the rules of
// kafkaauth.Rules.VerifyToken over the store.
func (cp *ControlPlane) VerifyKafkaToken(ctx context.Context, token, cluster string) (KafkaIdentity, error) {
	return cp.rules.VerifyToken(ctx, token, cluster)
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
	if err := r.cp.rules.CheckTokenKey(ctx, id); err != nil {
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
// first, unverified) to the certificate pool that accepts it, by the rules
// of kafkaauth.Rules.AuthenticateCertificate over the store.
func (cp *ControlPlane) AuthenticateKafkaCertificate(ctx context.Context, chain []*x509.Certificate) (KafkaIdentity, error) {
	return cp.rules.AuthenticateCertificate(ctx, chain)
}

// storeDirectory is the directory the control plane's kafkaauth rules
// read: its store.
type storeDirectory struct{ st *store.Store }

var _ kafkaauth.Directory = storeDirectory{}

// notFound maps the store's ErrNotFound to the directory's.
func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %v", kafkaauth.ErrNotFound, err)
	}
	return err
}

func (d storeDirectory) Cluster(ctx context.Context, id string) (resource.Cluster, error) {
	c, err := d.st.ClusterByID(ctx, id)
	return c, notFound(err)
}

func (d storeDirectory) APIKey(ctx context.Context, id string) (resource.APIKey, error) {
	k, err := d.st.LookupAPIKey(ctx, id)
	return k, notFound(err)
}

func (d storeDirectory) BindingsOf(ctx context.Context, org, principal string) ([]authz.Binding, error) {
	return bindingSource(d).BindingsOf(ctx, org, principal)
}

func (d storeDirectory) CertificatePools(ctx context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error) {
	return d.st.CertificatePoolsWithAuthorities(ctx)
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
