package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// memStore is an in-memory Store.
type memStore struct {
	mu        sync.Mutex // guards the fields below
	keys      []store.SigningKey
	providers []resource.IdentityProvider
	pools     []resource.IdentityPool
}

func (m *memStore) SigningKeys(context.Context) ([]store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]store.SigningKey, len(m.keys))
	for i, k := range m.keys { // newest first
		out[len(m.keys)-1-i] = k
	}
	return out, nil
}

func (m *memStore) RotateSigningKey(_ context.Context, k store.SigningKey, forgetBefore time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	kept := m.keys[:0]
	for _, old := range m.keys {
		if old.RetireTime.IsZero() {
			old.RetireTime = k.CreateTime
		}
		if old.RetireTime.Before(forgetBefore) {
			continue
		}
		kept = append(kept, old)
	}
	m.keys = append(kept, k)
	return nil
}

func (m *memStore) IdentityProvidersByIssuer(_ context.Context, iss string) ([]resource.IdentityProvider, error) {
	var out []resource.IdentityProvider
	for _, p := range m.providers {
		if p.Issuer == iss {
			out = append(out, p)
		}
	}
	return out, nil
}

func (m *memStore) IdentityPoolsOf(_ context.Context, org, provider string) ([]resource.IdentityPool, error) {
	var out []resource.IdentityPool
	for _, p := range m.pools {
		if p.OrgID == org && p.ProviderID == provider {
			out = append(out, p)
		}
	}
	return out, nil
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testKeys = map[string]resource.APIKey{
	"CLOUDKEY00000000": {Meta: resource.Meta{ID: "CLOUDKEY00000000", OrgID: "org-1"}, Owner: "sa-admin", Resource: resource.CloudResource},
	"KAFKAKEY00000000": {Meta: resource.Meta{ID: "KAFKAKEY00000000", OrgID: "org-1"}, Owner: "sa-app", Resource: "lkc-one"},
}

func clients(_ context.Context, key, secret string) (resource.APIKey, error) {
	k, ok := testKeys[key]
	if !ok || secret != "secret-of-"+key {
		return resource.APIKey{}, errors.New("invalid API key or secret")
	}
	return k, nil
}

func newTestService(t *testing.T) (*Service, *memStore, *clock) {
	t.Helper()
	st := &memStore{}
	clk := &clock{t: time.Now()}
	s, err := New(st, clients, Options{Issuer: "http://issuer.test/", Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	return s, st, clk
}

func issue(t *testing.T, s *Service, key string) string {
	t.Helper()
	tok, err := s.IssueToken(context.Background(), key, "secret-of-"+key)
	if err != nil {
		t.Fatal(err)
	}
	return tok.AccessToken
}

func TestIssueAndVerify(t *testing.T) {
	s, _, _ := newTestService(t)
	ctx := context.Background()
	tok, err := s.IssueToken(ctx, "KAFKAKEY00000000", "secret-of-KAFKAKEY00000000")
	if err != nil || tok.ExpiresIn != time.Hour {
		t.Fatalf("issue: %v %+v", err, tok)
	}
	id, err := s.Verify(ctx, tok.AccessToken, "")
	if err != nil {
		t.Fatal(err)
	}
	if id.Principal != "User:sa-app" || id.OrgID != "org-1" || id.Cluster != "lkc-one" || id.ClientID != "KAFKAKEY00000000" {
		t.Fatalf("identity %+v", id)
	}
	cloud, _ := s.Verify(ctx, issue(t, s, "CLOUDKEY00000000"), "")
	if cloud.Cluster != "" || cloud.Principal != "User:sa-admin" {
		t.Fatalf("cloud key identity %+v", cloud)
	}
	if _, err := s.IssueToken(ctx, "CLOUDKEY00000000", "wrong"); !errors.Is(err, ErrInvalidClient) {
		t.Fatalf("wrong secret: %v, want ErrInvalidClient", err)
	}
	// What librdkafka's OIDC support reads of the token: sub and exp.
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	if err := json.Unmarshal(raw, &payload); err != nil || payload["sub"] != "sa-app" || payload["exp"] == nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
}

func TestRotationKeepsPreviousKeyPublished(t *testing.T) {
	s, st, clk := newTestService(t)
	ctx := context.Background()
	old := issue(t, s, "CLOUDKEY00000000")
	if err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	fresh := issue(t, s, "CLOUDKEY00000000")
	kid := func(tok string) string {
		p, _, _ := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		return p.Header["kid"].(string)
	}
	if kid(old) == kid(fresh) {
		t.Fatal("rotation did not change the signing key")
	}
	var set jwkSet
	raw, err := s.JWKS(ctx)
	if err != nil || json.Unmarshal(raw, &set) != nil || len(set.Keys) != 2 || set.Keys[0].Kid != kid(fresh) {
		t.Fatalf("jwks %s %v: want the new key first, then the old one", raw, err)
	}
	if _, err := s.Verify(ctx, old, ""); err != nil {
		t.Fatalf("token of the previous key: %v", err)
	}
	// Once the old key's tokens have all expired it is dropped.
	clk.add(2 * time.Hour)
	if err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(st.keys); n != 2 {
		t.Fatalf("%d keys stored, want the current and the previous", n)
	}
	// Rotation happens by itself after KeyRotation.
	clk.add(25 * time.Hour)
	third := issue(t, s, "CLOUDKEY00000000")
	if kid(third) == kid(fresh) {
		t.Fatal("no rotation after 25h")
	}
}

// forge signs claims with method and key, with header kid.
func forge(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHostileTokensRefused(t *testing.T) {
	s, _, clk := newTestService(t)
	ctx := context.Background()
	good := issue(t, s, "KAFKAKEY00000000")
	k, err := s.keys.current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "http://issuer.test", "sub": "sa-app", "aud": "affluent", "org_id": "org-1",
			"client_id": "KAFKAKEY00000000", "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) jwt.MapClaims { c := base(); c[k] = v; return c }
	pubDER, _ := x509.MarshalPKIXPublicKey(&k.private.PublicKey)
	other, _ := ecdsa.GenerateKey(k.private.Curve, rand.Reader)

	if _, err := s.Verify(ctx, forge(t, jwt.SigningMethodES256, k.private, k.kid, base()), ""); err != nil {
		t.Fatalf("the forging itself is wrong, a well-formed token was refused: %v", err)
	}
	parts := strings.Split(good, ".")
	tamperedPayload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"http://issuer.test","sub":"sa-admin","aud":"affluent","org_id":"org-1","client_id":"KAFKAKEY00000000","exp":` +
		big.NewInt(now.Add(time.Hour).Unix()).String() + `}`))

	for _, tc := range []struct {
		name, token, outcome string
	}{
		{"expired", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("exp", now.Add(-time.Hour).Unix())), outcomeExpired},
		{"not yet valid", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("nbf", now.Add(time.Hour).Unix())), outcomeNotYetValid},
		{"issued in the future", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("iat", now.Add(time.Hour).Unix())), outcomeNotYetValid},
		{"no expiry", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("exp", nil)), outcomeClaims},
		{"wrong issuer", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("iss", "https://evil.test")), outcomeIssuer},
		{"wrong audience", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("aud", "kafka")), outcomeAudience},
		{"unknown kid", forge(t, jwt.SigningMethodES256, other, "nope", base()), outcomeUnknownKey},
		{"no kid", forge(t, jwt.SigningMethodES256, k.private, "", base()), outcomeUnknownKey},
		{"known kid, other key", forge(t, jwt.SigningMethodES256, other, k.kid, base()), outcomeSignature},
		{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, k.kid, base()), outcomeSignature},
		{"HS256 with the public key", forge(t, jwt.SigningMethodHS256, pubDER, k.kid, base()), outcomeSignature},
		{"tampered payload", parts[0] + "." + tamperedPayload + "." + parts[2], outcomeSignature},
		{"not a JWT", "abc.def", outcomeMalformed},
		{"subject not a principal", forge(t, jwt.SigningMethodES256, k.private, k.kid, with("sub", "root")), outcomeClaims},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Verify(ctx, tc.token, "")
			var r *refusal
			if !errors.Is(err, ErrInvalidToken) || !errors.As(err, &r) || r.outcome != tc.outcome {
				t.Fatalf("err %v, want ErrInvalidToken (%s)", err, tc.outcome)
			}
			if strings.Contains(err.Error(), tc.token) {
				t.Fatal("the error holds the token")
			}
		})
	}
}

func TestExternalProvider(t *testing.T) {
	s, st, clk := newTestService(t)
	ctx := context.Background()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	var fetches int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fetches++
		mu.Unlock()
		_ = json.NewEncoder(w).Encode(jwkSet{Keys: []jwk{{Kty: "RSA", Kid: "idp-key", Alg: "RS256", Use: "sig",
			N: b64url.EncodeToString(rsaKey.N.Bytes()), E: b64url.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())}}})
	}))
	defer srv.Close()
	st.providers = []resource.IdentityProvider{
		{Meta: resource.Meta{ID: "idp-a", OrgID: "org-1"}, Issuer: "https://login.test", JWKSURI: srv.URL},
		{Meta: resource.Meta{ID: "idp-b", OrgID: "org-2"}, Issuer: "https://login.test", JWKSURI: srv.URL},
	}
	st.pools = []resource.IdentityPool{
		{Meta: resource.Meta{ID: "pool-readers", OrgID: "org-1"}, ProviderID: "idp-a", IdentityClaim: "claims.email",
			Filter: `claims.aud == "kafka" && "readers" in claims.groups`},
		{Meta: resource.Meta{ID: "pool-other", OrgID: "org-2"}, ProviderID: "idp-b", Filter: `true`},
	}
	now := clk.now()
	claims := func(groups ...string) jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://login.test", "sub": "u1", "email": "u1@x.test", "aud": "kafka",
			"groups": groups, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	tok := forge(t, jwt.SigningMethodRS256, rsaKey, "idp-key", claims("readers"))
	id, err := s.Verify(ctx, tok, "org-1")
	if err != nil || id.Principal != "User:pool-readers" || id.OrgID != "org-1" || id.Subject != "u1@x.test" || id.Provider != "idp-a" {
		t.Fatalf("identity %+v err %v", id, err)
	}
	if id, err := s.Verify(ctx, tok, "org-2"); err != nil || id.Principal != "User:pool-other" {
		t.Fatalf("in org-2: %+v %v", id, err)
	}
	if _, err := s.Verify(ctx, forge(t, jwt.SigningMethodRS256, rsaKey, "idp-key", claims("writers")), "org-1"); err == nil || !strings.Contains(err.Error(), outcomeNoPool) {
		t.Fatalf("no matching pool: %v", err)
	}
	if _, err := s.Verify(ctx, tok, "org-3"); err == nil || !strings.Contains(err.Error(), outcomeIssuer) {
		t.Fatalf("organization without that provider: %v", err)
	}
	// HS256 keyed with the provider's public key is refused.
	pub, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if _, err := s.Verify(ctx, forge(t, jwt.SigningMethodHS256, pub, "idp-key", claims("readers")), "org-1"); err == nil {
		t.Fatal("HS256 with the provider's public key accepted")
	}
	// Unknown key ids refetch the JWKS, but not more than once per gap.
	for range 3 {
		_, _ = s.Verify(ctx, forge(t, jwt.SigningMethodRS256, rsaKey, "rotated", claims("readers")), "org-1")
	}
	mu.Lock()
	defer mu.Unlock()
	if fetches != 1 {
		t.Fatalf("%d JWKS fetches, want 1 (cached, refetch throttled)", fetches)
	}
}
