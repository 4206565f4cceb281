package oauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/affluent-io/affluent/controlplane/filter"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// Identity is who a verified token names.
type Identity struct {
	// Principal is User:sa-… (own tokens) or User:pool-… (external tokens
	// mapped by an identity pool); PrincipalID is the id inside.
	Principal   string
	PrincipalID string
	OrgID       string
	// Cluster is the cluster an own token is bound to (issued for a Kafka
	// API key); empty for cloud keys and external tokens.
	Cluster string
	// ClientID is the API key an own token was issued for; empty for
	// external tokens.
	ClientID string
	// Provider is the identity provider of an external token.
	Provider string
	// Subject names the caller in logs: sub, or the pool's identity claim.
	Subject string
	Expiry  time.Time
}

// ErrInvalidToken wraps every reason a token is refused. The error text
// says why (expired, wrong audience…) and never holds the token.
var ErrInvalidToken = errors.New("invalid token")

// Reasons a token is refused, the outcome label of the verification
// metric.
const (
	outcomeOK          = "ok"
	outcomeMalformed   = "malformed"
	outcomeExpired     = "expired"
	outcomeNotYetValid = "not_yet_valid"
	outcomeIssuer      = "unknown_issuer"
	outcomeAudience    = "audience"
	outcomeSignature   = "signature"
	outcomeUnknownKey  = "unknown_key"
	outcomeClaims      = "claims"
	outcomeNoPool      = "no_pool"
	outcomeError       = "error"
)

type refusal struct {
	outcome string
	err     error
}

func (r *refusal) Error() string { return fmt.Sprintf("%v: %s: %v", ErrInvalidToken, r.outcome, r.err) }
func (r *refusal) Unwrap() []error {
	return []error{ErrInvalidToken, r.err}
}

func refuse(outcome string, format string, args ...any) error {
	return &refusal{outcome: outcome, err: fmt.Errorf(format, args...)}
}

// Verify checks a bearer token: one of the service's own, or of an
// external identity provider (of organization org only, when org is not
// empty: the organization of the cluster a Kafka client names).
func (s *Service) Verify(ctx context.Context, raw, org string) (Identity, error) {
	id, kind, err := s.verify(ctx, raw, org)
	outcome := outcomeOK
	var r *refusal
	switch {
	case errors.As(err, &r):
		outcome = r.outcome
	case err != nil:
		outcome = outcomeError
	}
	s.metrics.verified.WithLabelValues(kind, outcome).Inc()
	return id, err
}

func (s *Service) verify(ctx context.Context, raw, org string) (Identity, string, error) {
	if len(raw) > maxTokenBytes {
		return Identity{}, "affluent", refuse(outcomeMalformed, "token of %d bytes", len(raw))
	}
	// The issuer says who must have signed; nothing in the unverified
	// token is trusted beyond choosing the keys to check it with.
	var unverified jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &unverified); err != nil {
		return Identity{}, "affluent", refuse(outcomeMalformed, "%v", err)
	}
	iss, _ := unverified["iss"].(string)
	if iss == s.opts.Issuer {
		id, err := s.verifyOwn(ctx, raw)
		return id, "affluent", err
	}
	id, err := s.verifyExternal(ctx, raw, iss, org)
	return id, "external", err
}

func (s *Service) parser(iss string, methods []string, audience string) *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(iss),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(s.opts.Leeway),
		jwt.WithTimeFunc(s.opts.Now),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	return jwt.NewParser(opts...)
}

// classify names why the jwt library refused a token.
func classify(err error) error {
	outcome := outcomeMalformed
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		outcome = outcomeExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		outcome = outcomeNotYetValid
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		outcome = outcomeIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		outcome = outcomeAudience
	case errors.Is(err, errUnknownKey):
		outcome = outcomeUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		outcome = outcomeSignature
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing), errors.Is(err, jwt.ErrTokenInvalidClaims):
		outcome = outcomeClaims
	}
	return &refusal{outcome: outcome, err: err}
}

func kidOf(t *jwt.Token) string {
	kid, _ := t.Header["kid"].(string)
	return kid
}

func (s *Service) verifyOwn(ctx context.Context, raw string) (Identity, error) {
	var claims ownClaims
	_, err := s.parser(s.opts.Issuer, []string{signingAlg}, s.opts.Audience).ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid := kidOf(t)
		if kid == "" {
			return nil, fmt.Errorf("%w: token has no kid", errUnknownKey)
		}
		return s.keys.publicKey(ctx, kid)
	})
	if err != nil {
		return Identity{}, classify(err)
	}
	sub := claims.Subject
	if !resource.HasID(sub, resource.PrefixServiceAccount) && !resource.HasID(sub, resource.PrefixUser) {
		return Identity{}, refuse(outcomeClaims, "subject %q is not a service account or user", sub)
	}
	if claims.OrgID == "" || claims.ClientID == "" {
		return Identity{}, refuse(outcomeClaims, "org_id and client_id required")
	}
	return Identity{Principal: resource.Principal(sub), PrincipalID: sub, OrgID: claims.OrgID, Cluster: claims.Cluster,
		ClientID: claims.ClientID, Subject: sub, Expiry: claims.ExpiresAt.Time}, nil
}

// externalMethods are the algorithms external providers may sign with:
// asymmetric only, never HMAC (whose key would be the public key) or none.
var externalMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// verifyExternal checks a token of an external identity provider whose
// issuer is iss and maps it to the first of the provider's pools whose
// filter its claims pass. Several organizations may register the same
// issuer; org, when set, picks the one.
func (s *Service) verifyExternal(ctx context.Context, raw, iss, org string) (Identity, error) {
	if iss == "" {
		return Identity{}, refuse(outcomeIssuer, "token has no issuer")
	}
	providers, err := s.store.IdentityProvidersByIssuer(ctx, iss)
	if err != nil {
		return Identity{}, err
	}
	var last error = refuse(outcomeIssuer, "issuer %q is not a registered identity provider", iss)
	for _, p := range providers {
		if org != "" && p.OrgID != org {
			continue
		}
		claims := jwt.MapClaims{}
		_, err := s.parser(iss, externalMethods, "").ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
			return s.jwks.key(ctx, p.JWKSURI, kidOf(t), t.Method.Alg())
		})
		if err != nil {
			last = classify(err)
			continue
		}
		pools, err := s.store.IdentityPoolsOf(ctx, p.OrgID, p.ID)
		if err != nil {
			return Identity{}, err
		}
		exp, _ := claims.GetExpirationTime()
		for _, pool := range pools {
			ok, err := filter.ForClaims().Match(pool.Filter, claims)
			if err != nil {
				s.log.Debug("identity pool filter did not evaluate", "pool", pool.ID, "err", err)
			}
			if !ok {
				continue
			}
			subject, _ := claims.GetSubject()
			if pool.IdentityClaim != "" {
				if v, err := filter.ForClaims().String(pool.IdentityClaim, claims); err == nil {
					subject = v
				}
			}
			return Identity{Principal: resource.Principal(pool.ID), PrincipalID: pool.ID, OrgID: p.OrgID,
				Provider: p.ID, Subject: subject, Expiry: exp.Time}, nil
		}
		last = refuse(outcomeNoPool, "no identity pool of provider %s accepts the token", p.ID)
	}
	return Identity{}, last
}

// jwksCache fetches and keeps external providers' JWKS: each is refreshed
// after ttl, or sooner when a token names a key id it lacks (at most once
// per externalMinRefetchGap, since anyone can send such tokens). A failed
// fetch keeps the keys already known.
type jwksCache struct {
	client *http.Client
	now    func() time.Time
	ttl    time.Duration

	mu   sync.Mutex // guards sets
	sets map[string]*jwksEntry
}

type jwksEntry struct {
	mu      sync.Mutex // guards the fields below; held while fetching
	keys    map[string]verificationKey
	fetched time.Time
}

func (c *jwksCache) entry(uri string) *jwksEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.sets[uri]
	if !ok {
		e = &jwksEntry{}
		c.sets[uri] = e
	}
	return e
}

// key returns the key of kid (or the only key, when the token names none)
// in the JWKS at uri, for a token signed with alg.
func (c *jwksCache) key(ctx context.Context, uri, kid, alg string) (any, error) {
	e := c.entry(uri)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	_, known := e.keys[kid]
	if e.keys == nil || now.Sub(e.fetched) > c.ttl || (!known && now.Sub(e.fetched) > externalMinRefetchGap) {
		keys, err := c.fetch(ctx, uri)
		switch {
		case err == nil:
			e.keys, e.fetched = keys, now
		case e.keys == nil:
			return nil, fmt.Errorf("fetch jwks of identity provider: %w", err)
		default:
			e.fetched = now // keep the old keys; try again later
		}
	}
	k, ok := e.keys[kid]
	if !ok && kid == "" && len(e.keys) == 1 {
		for _, only := range e.keys {
			k, ok = only, true
		}
	}
	if !ok {
		return nil, errUnknownKey
	}
	if k.alg != "" && k.alg != alg {
		return nil, fmt.Errorf("key %q is for %s, not %s", kid, k.alg, alg)
	}
	if _, isRSA := k.key.(*rsa.PublicKey); isRSA != (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) {
		return nil, fmt.Errorf("key %q does not fit %s", kid, alg)
	}
	return k.key, nil
}

func (c *jwksCache) fetch(ctx context.Context, uri string) (map[string]verificationKey, error) {
	ctx, cancel := context.WithTimeout(ctx, externalFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", uri, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, externalJWKSMaxBytes+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > externalJWKSMaxBytes {
		return nil, fmt.Errorf("GET %s: JWKS larger than %d bytes", uri, externalJWKSMaxBytes)
	}
	return parseJWKS(raw)
}
