package kafkaauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/kafkaauth"
	"github.com/affluent-io/affluent/controlplane/oauth"
	"github.com/affluent-io/affluent/controlplane/resource"
)

var cheap = credential.Params{Time: 1, Memory: 64, Threads: 1}

const (
	issuer = "https://affluent.test"
	kid    = "k1"
)

// directory is an in-memory kafkaauth.Directory, PoolDirectory and
// oauth.KeySource of two organizations.
type directory struct {
	clusters  map[string]resource.Cluster
	keys      map[string]resource.APIKey
	bindings  map[[2]string][]authz.Binding
	certPools []resource.CertificatePool
	cas       map[string]resource.CertificateAuthority
	idPools   map[string]resource.IdentityPool
	signing   *ecdsa.PrivateKey
}

func notFound() error { return kafkaauth.ErrNotFound }

func (d *directory) Cluster(_ context.Context, id string) (resource.Cluster, error) {
	c, ok := d.clusters[id]
	if !ok {
		return c, notFound()
	}
	return c, nil
}

func (d *directory) APIKey(_ context.Context, id string) (resource.APIKey, error) {
	k, ok := d.keys[id]
	if !ok {
		return k, notFound()
	}
	return k, nil
}

func (d *directory) BindingsOf(_ context.Context, org, principal string) ([]authz.Binding, error) {
	return d.bindings[[2]string{org, principal}], nil
}

func (d *directory) CertificatePools(context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error) {
	return d.certPools, d.cas, nil
}

func (d *directory) IdentityPool(_ context.Context, id string) (resource.IdentityPool, error) {
	p, ok := d.idPools[id]
	if !ok {
		return p, notFound()
	}
	return p, nil
}

func (d *directory) CertificatePool(_ context.Context, id string) (resource.CertificatePool, error) {
	for _, p := range d.certPools {
		if p.ID == id {
			return p, nil
		}
	}
	return resource.CertificatePool{}, notFound()
}

func (d *directory) SigningKey(_ context.Context, k string) (crypto.PublicKey, error) {
	if k != kid {
		return nil, oauth.ErrUnknownKey
	}
	return &d.signing.PublicKey, nil
}

func (d *directory) IdentityProvidersByIssuer(context.Context, string) ([]resource.IdentityProvider, error) {
	return nil, nil
}

func (d *directory) IdentityPoolsOf(context.Context, string, string) ([]resource.IdentityPool, error) {
	return nil, nil
}

func (d *directory) ProviderKeys(context.Context, resource.IdentityProvider, string) (oauth.JWKS, error) {
	return oauth.JWKS{}, oauth.ErrUnknownKey
}

// fixture is a directory with a running cluster (lkc-run) and a stopped
// one of org-1, a cluster of org-2, a Kafka key, a cloud key and a key of
// the stopped cluster, and a certificate pool.
type fixture struct {
	dir                   *directory
	rules                 *kafkaauth.Rules
	kafkaKey, kafkaSecret string
	cloudKey, stoppedKey  string
	ca                    *x509.Certificate
	caKey                 *ecdsa.PrivateKey
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	signing, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fixture{kafkaKey: credential.NewKey(), kafkaSecret: credential.NewSecret(), cloudKey: credential.NewKey(),
		stoppedKey: credential.NewKey()}
	hash := credential.Hash(f.kafkaSecret, cheap)
	f.dir = &directory{
		clusters: map[string]resource.Cluster{
			"lkc-run":     {Meta: resource.Meta{ID: "lkc-run", OrgID: "org-1"}, EnvironmentID: "env-1", Phase: resource.PhaseRunning},
			"lkc-stopped": {Meta: resource.Meta{ID: "lkc-stopped", OrgID: "org-1"}, EnvironmentID: "env-1", Phase: resource.PhaseDeleting},
			"lkc-other":   {Meta: resource.Meta{ID: "lkc-other", OrgID: "org-2"}, EnvironmentID: "env-2", Phase: resource.PhaseRunning},
		},
		keys: map[string]resource.APIKey{
			f.kafkaKey:   {Meta: resource.Meta{ID: f.kafkaKey, OrgID: "org-1"}, Owner: "sa-1", Resource: "lkc-run", SecretHash: hash},
			f.cloudKey:   {Meta: resource.Meta{ID: f.cloudKey, OrgID: "org-1"}, Owner: "sa-1", Resource: resource.CloudResource, SecretHash: hash},
			f.stoppedKey: {Meta: resource.Meta{ID: f.stoppedKey, OrgID: "org-1"}, Owner: "sa-1", Resource: "lkc-stopped", SecretHash: hash},
		},
		bindings: map[[2]string][]authz.Binding{},
		cas:      map[string]resource.CertificateAuthority{},
		idPools:  map[string]resource.IdentityPool{"pool-id": {Meta: resource.Meta{ID: "pool-id", OrgID: "org-1"}}},
		signing:  signing,
	}
	f.ca, f.caKey = newCA(t, "Acme CA")
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.Raw}))
	f.dir.cas["ca-1"] = resource.CertificateAuthority{Meta: resource.Meta{ID: "ca-1", OrgID: "org-1", Etag: "e1"}, CertificateChain: caPEM}
	f.dir.certPools = []resource.CertificatePool{{Meta: resource.Meta{ID: "pool-cert", OrgID: "org-1"}, CAID: "ca-1",
		ExternalIdentifier: "CN", Filter: `certificate.O == "Acme"`, ClusterID: "lkc-run"}}
	tokens := oauth.NewTokenVerifier(f.dir, oauth.VerifierOptions{Issuer: issuer})
	f.rules = kafkaauth.New(f.dir, credential.NewVerifier(time.Minute, 100), tokens, nil)
	return f
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn, org string) *x509.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

func TestVerifyKey(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, err := f.rules.VerifyKey(ctx, f.kafkaKey, f.kafkaSecret)
	if err != nil || id.Principal != "User:sa-1" || id.Cluster != "lkc-run" || id.Grant.APIKey != f.kafkaKey {
		t.Fatalf("good key: %+v %v", id, err)
	}
	for _, tc := range []struct {
		name, key, secret string
		unknown           bool // ErrUnknown: a lagging directory may ask again
	}{
		{"wrong secret", f.kafkaKey, credential.NewSecret(), false},
		{"unknown key", credential.NewKey(), f.kafkaSecret, true},
		{"cloud key", f.cloudKey, f.kafkaSecret, false},
		{"cluster not running", f.stoppedKey, f.kafkaSecret, false},
		{"not a key", "nope", f.kafkaSecret, false},
		{"short secret", f.kafkaKey, "short", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.rules.VerifyKey(ctx, tc.key, tc.secret)
			if !errors.Is(err, kafkaauth.ErrInvalidKey) {
				t.Fatalf("got %v, want ErrInvalidKey", err)
			}
			if errors.Is(err, kafkaauth.ErrUnknown) != tc.unknown {
				t.Errorf("%v: unknown %v, want %v", err, !tc.unknown, tc.unknown)
			}
			// Only an unknown key's refusal checked no secret: it is the
			// one that must spend a check to cost what the others do.
			if spent := kafkaauth.SpendUnknownKeyCheck(err, tc.secret); spent != tc.unknown {
				t.Errorf("%v: SpendUnknownKeyCheck checked %v, want %v", err, spent, tc.unknown)
			}
			if strings.Contains(err.Error(), f.kafkaSecret) || (tc.secret != "" && strings.Contains(err.Error(), tc.secret)) {
				t.Errorf("the refusal holds the secret: %v", err)
			}
		})
	}
}

// token signs claims with key (the fixture's signing key unless another is
// given) under kid k and algorithm ES256.
func (f *fixture) token(claims jwt.MapClaims, key *ecdsa.PrivateKey, k string) string {
	if key == nil {
		key = f.dir.signing
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = k
	raw, _ := tok.SignedString(key)
	return raw
}

func (f *fixture) claims(clientID, cluster string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "aud": oauth.DefaultAudience, "sub": "sa-1", "org_id": "org-1",
		"client_id": clientID, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if cluster != "" {
		c["cluster"] = cluster
	}
	return c
}

func TestVerifyToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	own := f.token(f.claims(f.kafkaKey, "lkc-run"), nil, kid)
	id, err := f.rules.VerifyToken(ctx, own, "")
	if err != nil || id.Cluster != "lkc-run" || id.Principal != "User:sa-1" || id.Grant.APIKey != f.kafkaKey || id.Expiry.IsZero() {
		t.Fatalf("token of a Kafka key: %+v %v", id, err)
	}
	if id, err := f.rules.VerifyToken(ctx, f.token(f.claims(f.cloudKey, ""), nil, kid), "lkc-run"); err != nil || id.Cluster != "lkc-run" {
		t.Fatalf("token of a cloud key naming its cluster: %+v %v", id, err)
	}
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	expired := f.claims(f.kafkaKey, "lkc-run")
	expired["exp"], expired["iat"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-2*time.Hour).Unix()
	wrongAud := f.claims(f.kafkaKey, "lkc-run")
	wrongAud["aud"] = "someone-else"
	noExp := f.claims(f.kafkaKey, "lkc-run")
	delete(noExp, "exp")
	future := f.claims(f.kafkaKey, "lkc-run")
	future["iat"] = time.Now().Add(time.Hour).Unix()
	notSA := f.claims(f.kafkaKey, "lkc-run")
	notSA["sub"] = "pool-x"
	otherOwner := f.claims(f.kafkaKey, "lkc-run")
	otherOwner["sub"] = "sa-2"
	noneAlg, _ := jwt.NewWithClaims(jwt.SigningMethodNone, f.claims(f.kafkaKey, "lkc-run")).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hmacTok := jwt.NewWithClaims(jwt.SigningMethodHS256, f.claims(f.kafkaKey, "lkc-run"))
	hmacTok.Header["kid"] = kid
	hmac, _ := hmacTok.SignedString([]byte("public key as secret"))
	for _, tc := range []struct {
		name, token, cluster string
		unknown              bool
	}{
		{"forged signature", f.token(f.claims(f.kafkaKey, "lkc-run"), otherKey, kid), "", false},
		{"unknown kid", f.token(f.claims(f.kafkaKey, "lkc-run"), nil, "k9"), "", true},
		{"alg none", noneAlg, "", false},
		{"HMAC with the public key", hmac, "", false},
		{"expired", f.token(expired, nil, kid), "", false},
		{"wrong audience", f.token(wrongAud, nil, kid), "", false},
		{"no expiry", f.token(noExp, nil, kid), "", false},
		{"issued in the future", f.token(future, nil, kid), "", false},
		{"subject not a service account", f.token(notSA, nil, kid), "", false},
		{"key changed hands", f.token(otherOwner, nil, kid), "", false},
		{"key deleted", f.token(f.claims(credential.NewKey(), "lkc-run"), nil, kid), "", true},
		{"other cluster named", own, "lkc-other", false},
		{"cluster of another organization", f.token(f.claims(f.cloudKey, ""), nil, kid), "lkc-other", false},
		{"no cluster named", f.token(f.claims(f.cloudKey, ""), nil, kid), "", false},
		{"unknown cluster", own, "lkc-none", true},
		{"cluster not running", f.token(f.claims(f.cloudKey, ""), nil, kid), "lkc-stopped", false},
		{"garbage", "not.a.token", "", false},
		{"huge", strings.Repeat("a", 1<<20), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.rules.VerifyToken(ctx, tc.token, tc.cluster)
			if !errors.Is(err, kafkaauth.ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
			if errors.Is(err, kafkaauth.ErrUnknown) != tc.unknown {
				t.Errorf("%v: unknown %v, want %v", err, !tc.unknown, tc.unknown)
			}
			if len(tc.token) > 20 && strings.Contains(err.Error(), tc.token) {
				t.Error("the refusal holds the token")
			}
		})
	}
}

func TestAuthenticateCertificate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	id, err := f.rules.AuthenticateCertificate(ctx, []*x509.Certificate{leaf(t, f.ca, f.caKey, "orders", "Acme")})
	if err != nil || id.Principal != "User:pool-cert" || id.Cluster != "lkc-run" || id.Identity != "orders" || id.Grant.Pool != "pool-cert" {
		t.Fatalf("certificate of the pool: %+v %v", id, err)
	}
	otherCA, otherKey := newCA(t, "Other CA")
	for name, chain := range map[string][]*x509.Certificate{
		"filter refuses":      {leaf(t, f.ca, f.caKey, "orders", "Evil")},
		"another CA":          {leaf(t, otherCA, otherKey, "orders", "Acme")},
		"CA presented as own": {leaf(t, otherCA, otherKey, "orders", "Acme"), otherCA},
		"none":                nil,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.rules.AuthenticateCertificate(ctx, chain); !errors.Is(err, kafkaauth.ErrInvalidCertificate) {
				t.Fatalf("got %v, want ErrInvalidCertificate", err)
			}
		})
	}
	t.Run("pool of a cluster not running", func(t *testing.T) {
		f.dir.certPools[0].ClusterID = "lkc-stopped"
		defer func() { f.dir.certPools[0].ClusterID = "lkc-run" }()
		if _, err := f.rules.AuthenticateCertificate(ctx, []*x509.Certificate{leaf(t, f.ca, f.caKey, "orders", "Acme")}); err == nil {
			t.Fatal("accepted for a cluster being deleted")
		}
	})
}

func TestPolicy(t *testing.T) {
	f := newFixture(t)
	kafka := resource.KafkaCRN("org-1", "env-1", "lkc-run")
	f.dir.bindings[[2]string{"org-1", "User:sa-1"}] = []authz.Binding{
		{Principal: "User:sa-1", RoleName: authz.DeveloperRead, CRNPattern: kafka.String() + "/topic=orders"}}
	p, crn, err := f.rules.Policy(context.Background(), "lkc-run", "User:sa-1")
	if err != nil || crn.String() != kafka.String() {
		t.Fatalf("policy: %v, crn %v", err, crn)
	}
	for _, tc := range []struct {
		topic, op string
		want      bool
	}{{"orders", "READ", true}, {"orders", "WRITE", false}, {"payments", "READ", false}} {
		if got := p.AllowsKafka(crn, authz.KafkaTopic, tc.topic, tc.op); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.op, tc.topic, got, tc.want)
		}
	}
	if p.AdministersKafka(crn) {
		t.Error("DeveloperRead administers the cluster")
	}
	if _, _, err := f.rules.Policy(context.Background(), "lkc-none", "User:sa-1"); err == nil {
		t.Error("policy in an unknown cluster")
	}
}

func TestRecheck(t *testing.T) {
	ctx := context.Background()
	byKey := func(principal, cluster string, key func(f *fixture) string) func(f *fixture) kafkaauth.Identity {
		return func(f *fixture) kafkaauth.Identity {
			return kafkaauth.Identity{Principal: principal, Cluster: cluster, Grant: kafkaauth.Grant{APIKey: key(f)}}
		}
	}
	byPool := func(pool string) func(f *fixture) kafkaauth.Identity {
		return func(*fixture) kafkaauth.Identity {
			return kafkaauth.Identity{Principal: "User:" + pool, Cluster: "lkc-run", Grant: kafkaauth.Grant{Pool: pool}}
		}
	}
	kafkaKey := func(f *fixture) string { return f.kafkaKey }
	for _, tc := range []struct {
		name    string
		id      func(f *fixture) kafkaauth.Identity
		change  func(f *fixture)
		revoked bool
	}{
		{"key stands", byKey("User:sa-1", "lkc-run", kafkaKey), nil, false},
		{"key deleted", byKey("User:sa-1", "lkc-run", kafkaKey), func(f *fixture) { delete(f.dir.keys, f.kafkaKey) }, true},
		{"key of another owner", byKey("User:sa-2", "lkc-run", kafkaKey), nil, true},
		{"cluster deleted", byKey("User:sa-1", "lkc-run", kafkaKey), func(f *fixture) { delete(f.dir.clusters, "lkc-run") }, true},
		{"cluster being deleted", byKey("User:sa-1", "lkc-stopped", func(f *fixture) string { return f.stoppedKey }), nil, true},
		{"token of a cloud key", byKey("User:sa-1", "lkc-run", func(f *fixture) string { return f.cloudKey }), nil, false},
		{"key of another cluster", byKey("User:sa-1", "lkc-other", kafkaKey), nil, true},
		{"identity pool stands", byPool("pool-id"), nil, false},
		{"identity pool deleted", byPool("pool-id"), func(f *fixture) { delete(f.dir.idPools, "pool-id") }, true},
		{"certificate pool stands", byPool("pool-cert"), nil, false},
		{"certificate pool rebound", byPool("pool-cert"), func(f *fixture) { f.dir.certPools[0].ClusterID = "lkc-other" }, true},
		{"certificate authority deleted", byPool("pool-cert"), func(f *fixture) { delete(f.dir.cas, "ca-1") }, true},
		{"no grant (SCRAM): the cluster alone", func(*fixture) kafkaauth.Identity {
			return kafkaauth.Identity{Principal: "User:alice", Cluster: "lkc-run"}
		}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := tc.id(f)
			if tc.change != nil {
				tc.change(f)
			}
			err := f.rules.Recheck(ctx, id)
			if errors.Is(err, kafkaauth.ErrRevoked) != tc.revoked {
				t.Fatalf("got %v, want revoked %v", err, tc.revoked)
			}
		})
	}
}

func TestGrantString(t *testing.T) {
	for _, g := range []kafkaauth.Grant{{APIKey: "ABC"}, {Pool: "pool-1"}, {}} {
		if got := kafkaauth.ParseGrant(g.String()); got != g {
			t.Errorf("%+v → %q → %+v", g, g.String(), got)
		}
	}
	if got := kafkaauth.ParseGrant("secret:xyz"); got != (kafkaauth.Grant{}) {
		t.Errorf("unknown kind parsed as %+v", got)
	}
}
