// Package oauth is the control plane's OAuth 2.0 authorization server and
// token verifier. It issues short-lived JWT access tokens to service
// accounts (client credentials grant, RFC 6749 §4.4, with an API key and
// secret as client id and secret), signs them with ES256 keys that rotate
// (kid; the previous key stays published in the JWKS until its tokens have
// expired), and verifies bearer tokens for brokers (SASL/OAUTHBEARER) and
// the REST API: its own, and those of external OpenID Connect providers
// registered as identity providers, mapped to identity pools by CEL
// filters over their claims.
//
// Verification checks the signature with the key named by kid, and iss,
// aud (own tokens; for external ones the pool filter decides), exp and
// nbf; it refuses alg none and every algorithm but the expected asymmetric
// ones, so a token signed with HMAC over a public key is refused.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// Defaults of Options.
const (
	DefaultAudience       = "affluent"
	DefaultTokenLifetime  = time.Hour
	DefaultKeyRotation    = 24 * time.Hour
	DefaultLeeway         = 30 * time.Second
	DefaultJWKSRefresh    = 10 * time.Minute
	maxTokenBytes         = 16 << 10
	externalFetchTimeout  = 5 * time.Second
	externalJWKSMaxBytes  = 1 << 20
	externalMinRefetchGap = 30 * time.Second
)

// Options configure a Service.
type Options struct {
	// Issuer is the iss of the tokens issued, the base URL of the REST
	// API (http://127.0.0.1:8080); discovery and JWKS live below it.
	Issuer string
	// Audience is the aud of the tokens issued and required (default
	// "affluent").
	Audience string
	// TokenLifetime is how long an issued token is valid (default 1h).
	TokenLifetime time.Duration
	// KeyRotation is how long a signing key signs (default 24h).
	KeyRotation time.Duration
	// Leeway tolerates clock skew on exp, nbf and iat (default 30s).
	Leeway time.Duration
	// HTTPClient fetches external providers' JWKS (default: 5s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Metrics registers the verification counters (nil: unexported).
	Metrics prometheus.Registerer
	// Now is the clock (tests).
	Now func() time.Time
}

// Store is what the service reads and writes: signing keys, identity
// providers and pools (store.Store).
type Store interface {
	keyStore
	IdentityProvidersByIssuer(ctx context.Context, iss string) ([]resource.IdentityProvider, error)
	IdentityPoolsOf(ctx context.Context, org, provider string) ([]resource.IdentityPool, error)
}

// ClientVerifier checks a client id and secret: an API key and its secret
// (access.Authenticator.VerifyAPIKey).
type ClientVerifier func(ctx context.Context, key, secret string) (resource.APIKey, error)

// Service issues and verifies tokens.
type Service struct {
	opts     Options
	log      *slog.Logger
	store    Store
	clients  ClientVerifier
	keys     *keyRing
	jwks     *jwksCache
	metrics  *metrics
	verifier *TokenVerifier
}

// New returns a service; Run rotates its keys.
func New(st Store, clients ClientVerifier, opts Options) (*Service, error) {
	if opts.Issuer == "" {
		return nil, errors.New("oauth: issuer required")
	}
	opts.Issuer = strings.TrimSuffix(opts.Issuer, "/")
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.KeyRotation <= 0 {
		opts.KeyRotation = DefaultKeyRotation
	}
	if opts.Leeway <= 0 {
		opts.Leeway = DefaultLeeway
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: externalFetchTimeout}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{opts: opts, log: opts.Logger, store: st, clients: clients, metrics: newMetrics(opts.Metrics)}
	s.keys = &keyRing{store: st, rotation: opts.KeyRotation, keep: opts.TokenLifetime + 2*opts.Leeway,
		now: opts.Now, log: opts.Logger}
	s.jwks = &jwksCache{client: opts.HTTPClient, now: opts.Now, ttl: DefaultJWKSRefresh, sets: map[string]*jwksEntry{}}
	s.verifier = NewTokenVerifier(serviceKeys{s}, VerifierOptions{Issuer: opts.Issuer, Audience: opts.Audience,
		Leeway: opts.Leeway, Now: opts.Now, Logger: opts.Logger,
		Observe: func(kind, outcome string) { s.metrics.verified.WithLabelValues(kind, outcome).Inc() }})
	return s, nil
}

// Run rotates the signing key when due until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	s.keys.run(ctx)
	return nil
}

// Rotate makes a new signing key now (operators, tests).
func (s *Service) Rotate(ctx context.Context) error { return s.keys.Rotate(ctx) }

// Issuer is the iss of the tokens issued.
func (s *Service) Issuer() string { return s.opts.Issuer }

// Audience is the aud of the tokens issued.
func (s *Service) Audience() string { return s.opts.Audience }

// Leeway is the clock skew tolerated on exp, nbf and iat.
func (s *Service) Leeway() time.Duration { return s.opts.Leeway }

// JWKS is the JSON Web Key Set of the keys that verify the tokens issued.
func (s *Service) JWKS(ctx context.Context) ([]byte, error) { return s.keys.jwks(ctx) }

// Token is an issued access token.
type Token struct {
	AccessToken string
	ExpiresIn   time.Duration
	// Principal, OrgID and KeyID say whom it was issued to, for the
	// audit log.
	Principal string
	OrgID     string
	KeyID     string
}

// ErrInvalidClient reports client credentials that are not a valid API
// key and secret (RFC 6749 invalid_client).
var ErrInvalidClient = errors.New("invalid client credentials")

// Claims of the tokens the service issues, beyond the registered ones.
type ownClaims struct {
	jwt.RegisteredClaims
	// OrgID is the organization of the principal.
	OrgID string `json:"org_id"`
	// ClientID is the API key the token was issued for: deleting the key
	// revokes its tokens.
	ClientID string `json:"client_id"`
	// Cluster is set when the API key is a Kafka API key: the token is
	// good for that cluster only.
	Cluster string `json:"cluster,omitempty"`
}

// IssueToken runs the client credentials grant: clientID and secret are an
// API key and its secret; the token names the key's owner (sub), its
// organization and, for a Kafka API key, its cluster.
func (s *Service) IssueToken(ctx context.Context, clientID, secret string) (Token, error) {
	key, err := s.clients(ctx, clientID, secret)
	if err != nil {
		s.metrics.issued.WithLabelValues("invalid_client").Inc()
		return Token{}, fmt.Errorf("%w: %v", ErrInvalidClient, err)
	}
	k, err := s.keys.current(ctx)
	if err != nil {
		s.metrics.issued.WithLabelValues("error").Inc()
		return Token{}, err
	}
	now := s.opts.Now().Truncate(time.Second)
	claims := ownClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.opts.Issuer,
			Subject:   key.Owner,
			Audience:  jwt.ClaimStrings{s.opts.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenLifetime)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        newTokenID(),
		},
		OrgID:    key.OrgID,
		ClientID: key.ID,
	}
	if key.Resource != resource.CloudResource {
		claims.Cluster = key.Resource
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = k.kid
	signed, err := tok.SignedString(k.private)
	if err != nil {
		s.metrics.issued.WithLabelValues("error").Inc()
		return Token{}, fmt.Errorf("sign token: %w", err)
	}
	s.metrics.issued.WithLabelValues("ok").Inc()
	return Token{AccessToken: signed, ExpiresIn: s.opts.TokenLifetime, Principal: resource.Principal(key.Owner),
		OrgID: key.OrgID, KeyID: key.ID}, nil
}

func newTokenID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// metrics count issued tokens and verifications.
type metrics struct {
	issued   *prometheus.CounterVec // outcome
	verified *prometheus.CounterVec // issuer (affluent, external), outcome
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_oauth_tokens_issued_total",
			Help: "Token requests of the client credentials grant, by outcome (ok, invalid_client, error).",
		}, []string{"outcome"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "affluent_oauth_token_verifications_total",
			Help: "Bearer token verifications, by issuer kind (affluent, external) and outcome (ok or why refused).",
		}, []string{"issuer", "outcome"}),
	}
	if reg != nil {
		m.issued, m.verified = registered(reg, m.issued), registered(reg, m.verified)
	}
	return m
}

// registered registers c, or returns the collector of the same name
// already registered (several services sharing a registry in tests).
func registered(reg prometheus.Registerer, c *prometheus.CounterVec) *prometheus.CounterVec {
	err := reg.Register(c)
	var already prometheus.AlreadyRegisteredError
	switch {
	case err == nil:
		return c
	case errors.As(err, &already):
		if existing, ok := already.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	panic(err) // a clash between our own metric names: a bug
}
