package oauth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

// KeySource is where a TokenVerifier finds what tokens are checked
// against: the issuer's own published signing keys, and the registered
// external identity providers with their keys and pools. The Service reads
// its store and fetches providers' JWKS; brokers read the control plane's
// snapshot. Both verify with the same TokenVerifier, so the rules below
// have one implementation.
type KeySource interface {
	// SigningKey returns the public key of the issuer's published signing
	// key kid, or an error wrapping ErrUnknownKey.
	SigningKey(ctx context.Context, kid string) (crypto.PublicKey, error)
	IdentityProvidersByIssuer(ctx context.Context, iss string) ([]resource.IdentityProvider, error)
	IdentityPoolsOf(ctx context.Context, org, provider string) ([]resource.IdentityPool, error)
	// ProviderKeys returns provider p's JWKS; kid, the key a token names,
	// may prompt a refresh when the keys held lack it.
	ProviderKeys(ctx context.Context, p resource.IdentityProvider, kid string) (JWKS, error)
}

// VerifierOptions configure a TokenVerifier.
type VerifierOptions struct {
	// Issuer and Audience are the iss and aud of the issuer's own tokens.
	Issuer   string
	Audience string
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, is told of each verification: the issuer kind
	// (affluent, external) and the outcome (ok or why refused).
	Observe func(kind, outcome string)
}

// TokenVerifier checks bearer tokens against a KeySource.
type TokenVerifier struct {
	opts VerifierOptions
	keys KeySource
}

// NewTokenVerifier returns a verifier of the tokens of opts.Issuer and of
// the identity providers keys knows.
func NewTokenVerifier(keys KeySource, opts VerifierOptions) *TokenVerifier {
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.Leeway <= 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &TokenVerifier{opts: opts, keys: keys}
}

// IsUnknown reports whether err refused a token for naming what the
// verifier's source does not know: an issuer, a key id or a pool. A source
// that may lag (a broker's snapshot) can ask the control plane again.
func IsUnknown(err error) bool {
	var r *refusal
	if !errors.As(err, &r) {
		return false
	}
	switch r.outcome {
	case outcomeIssuer, outcomeUnknownKey, outcomeNoPool:
		return true
	}
	return false
}

// Verify checks a bearer token: one of the service's own, or of an
// external identity provider (of organization org only, when org is not
// empty: the organization of the cluster a Kafka client names).
func (s *Service) Verify(ctx context.Context, raw, org string) (Identity, error) {
	return s.verifier.Verify(ctx, raw, org)
}

// Verify checks a bearer token (see Service.Verify).
func (v *TokenVerifier) Verify(ctx context.Context, raw, org string) (Identity, error) {
	id, kind, err := v.verify(ctx, raw, org)
	if v.opts.Observe != nil {
		outcome := outcomeOK
		var r *refusal
		switch {
		case errors.As(err, &r):
			outcome = r.outcome
		case err != nil:
			outcome = outcomeError
		}
		v.opts.Observe(kind, outcome)
	}
	return id, err
}

func (v *TokenVerifier) verify(ctx context.Context, raw, org string) (Identity, string, error) {
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
	if iss == v.opts.Issuer && iss != "" {
		id, err := v.verifyOwn(ctx, raw)
		return id, "affluent", err
	}
	id, err := v.verifyExternal(ctx, raw, iss, org)
	return id, "external", err
}

func (v *TokenVerifier) parser(iss string, methods []string, audience string) *jwt.Parser {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithIssuer(iss),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(v.opts.Leeway),
		jwt.WithTimeFunc(v.opts.Now),
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
	case errors.Is(err, ErrUnknownKey):
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

func (v *TokenVerifier) verifyOwn(ctx context.Context, raw string) (Identity, error) {
	var claims ownClaims
	_, err := v.parser(v.opts.Issuer, []string{signingAlg}, v.opts.Audience).ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid := kidOf(t)
		if kid == "" {
			return nil, fmt.Errorf("%w: token has no kid", ErrUnknownKey)
		}
		return v.keys.SigningKey(ctx, kid)
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
func (v *TokenVerifier) verifyExternal(ctx context.Context, raw, iss, org string) (Identity, error) {
	if iss == "" {
		return Identity{}, refuse(outcomeIssuer, "token has no issuer")
	}
	providers, err := v.keys.IdentityProvidersByIssuer(ctx, iss)
	if err != nil {
		return Identity{}, err
	}
	var last error = refuse(outcomeIssuer, "issuer %q is not a registered identity provider", iss)
	for _, p := range providers {
		if org != "" && p.OrgID != org {
			continue
		}
		claims := jwt.MapClaims{}
		_, err := v.parser(iss, externalMethods, "").ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
			keys, err := v.keys.ProviderKeys(ctx, p, kidOf(t))
			if err != nil {
				return nil, err
			}
			return keys.key(kidOf(t), t.Method.Alg())
		})
		if err != nil {
			last = classify(err)
			continue
		}
		pools, err := v.keys.IdentityPoolsOf(ctx, p.OrgID, p.ID)
		if err != nil {
			return Identity{}, err
		}
		exp, _ := claims.GetExpirationTime()
		for _, pool := range pools {
			ok, err := filter.ForClaims().Match(pool.Filter, claims)
			if err != nil {
				v.opts.Logger.Debug("identity pool filter did not evaluate", "pool", pool.ID, "err", err)
			}
			if !ok {
				continue
			}
			subject, _ := claims.GetSubject()
			if pool.IdentityClaim != "" {
				if s, err := filter.ForClaims().String(pool.IdentityClaim, claims); err == nil {
					subject = s
				}
			}
			return Identity{Principal: resource.Principal(pool.ID), PrincipalID: pool.ID, OrgID: p.OrgID,
				Provider: p.ID, Subject: subject, Expiry: exp.Time}, nil
		}
		last = refuse(outcomeNoPool, "no identity pool of provider %s accepts the token", p.ID)
	}
	return Identity{}, last
}

// serviceKeys is the Service's KeySource: its key ring, its store and the
// providers' JWKS it fetches.
type serviceKeys struct{ s *Service }

func (k serviceKeys) SigningKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	pub, err := k.s.keys.publicKey(ctx, kid)
	if err != nil {
		return nil, err
	}
	return pub, nil
}

func (k serviceKeys) IdentityProvidersByIssuer(ctx context.Context, iss string) ([]resource.IdentityProvider, error) {
	return k.s.store.IdentityProvidersByIssuer(ctx, iss)
}

func (k serviceKeys) IdentityPoolsOf(ctx context.Context, org, provider string) ([]resource.IdentityPool, error) {
	return k.s.store.IdentityPoolsOf(ctx, org, provider)
}

func (k serviceKeys) ProviderKeys(ctx context.Context, p resource.IdentityProvider, kid string) (JWKS, error) {
	return k.s.jwks.keys(ctx, p.JWKSURI, kid)
}

// ProviderJWKS is the JWKS of identity provider p as last fetched (within
// the refresh period), fetching it when none is held: what the control
// plane hands brokers so that they verify external tokens themselves.
func (s *Service) ProviderJWKS(ctx context.Context, p resource.IdentityProvider) ([]byte, error) {
	keys, err := s.jwks.keys(ctx, p.JWKSURI, "")
	if err != nil {
		return nil, err
	}
	return keys.raw, nil
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
	keys    JWKS
	fetched time.Time
	failed  time.Time // last failed fetch while no keys were held
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

// keys returns the JWKS at uri, fetching it when none is held, when it
// is older than ttl, or when it lacks kid (at most once per
// externalMinRefetchGap: anyone can send tokens naming unknown keys, and a
// provider that failed is not asked again sooner either).
func (c *jwksCache) keys(ctx context.Context, uri, kid string) (JWKS, error) {
	e := c.entry(uri)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	_, known := e.keys.keys[kid]
	recentFailure := !e.failed.IsZero() && now.Sub(e.failed) < externalMinRefetchGap
	stale := e.keys.keys == nil || now.Sub(e.fetched) > c.ttl || (kid != "" && !known && now.Sub(e.fetched) > externalMinRefetchGap)
	if stale && !recentFailure {
		keys, err := c.fetch(ctx, uri)
		switch {
		case err == nil:
			e.keys, e.fetched, e.failed = keys, now, time.Time{}
		case e.keys.keys == nil:
			e.failed = now
			return JWKS{}, fmt.Errorf("fetch jwks of identity provider: %w", err)
		default:
			e.fetched = now // keep the old keys; try again later
		}
	}
	if e.keys.keys == nil {
		return JWKS{}, errors.New("jwks of identity provider unavailable (fetch failed recently)")
	}
	return e.keys, nil
}

// Key returns the key of kid (or the only key, when the token names none)
// for a token signed with alg; an error wrapping ErrUnknownKey when there
// is none.
func (s JWKS) Key(kid, alg string) (any, error) { return s.key(kid, alg) }

func (s JWKS) key(kid, alg string) (any, error) {
	k, ok := s.keys[kid]
	if !ok && kid == "" && len(s.keys) == 1 {
		for _, only := range s.keys {
			k, ok = only, true
		}
	}
	if !ok {
		return nil, ErrUnknownKey
	}
	if k.alg != "" && k.alg != alg {
		return nil, fmt.Errorf("key %q is for %s, not %s", kid, k.alg, alg)
	}
	if _, isRSA := k.key.(*rsa.PublicKey); isRSA != (strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")) {
		return nil, fmt.Errorf("key %q does not fit %s", kid, alg)
	}
	return k.key, nil
}

func (c *jwksCache) fetch(ctx context.Context, uri string) (JWKS, error) {
	ctx, cancel := context.WithTimeout(ctx, externalFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return JWKS{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return JWKS{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return JWKS{}, fmt.Errorf("GET %s: %s", uri, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, externalJWKSMaxBytes+1))
	if err != nil {
		return JWKS{}, err
	}
	if len(raw) > externalJWKSMaxBytes {
		return JWKS{}, fmt.Errorf("GET %s: JWKS larger than %d bytes", uri, externalJWKSMaxBytes)
	}
	return ParseJWKS(raw)
}
