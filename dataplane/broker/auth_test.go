package broker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/affluent-io/affluent/dataplane/credstore"
	"github.com/affluent-io/affluent/dataplane/sasl"
)

func scramStore(t *testing.T) *credstore.Store {
	t.Helper()
	s, err := credstore.Open(context.Background(), "sqlite://"+filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// clusterOf asks the broker which cluster the client's connection is in.
func clusterOf(t *testing.T, cl *kgo.Client) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		return "", err
	}
	return *resp.ClusterID, nil
}

func TestSCRAM(t *testing.T) {
	reg := prometheus.NewRegistry()
	tb := startTestBroker(t, func(c *Config) {
		c.Scram = scramStore(t)
		c.Metrics = reg
		c.FailedAuthDelay = time.Millisecond
	})
	ctx := context.Background()
	admin := kadm.NewClient(kgoClient(t, tb.addr, kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism())))
	altered, err := admin.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "carol", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "carol-pw"},
		{User: "carol", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "carol-pw"},
	})
	if err != nil || altered["carol"].Err != nil {
		t.Fatalf("alter: %v %+v", err, altered)
	}

	for _, tc := range []struct {
		name, user, pass string
		sha512           bool
		wantErr          bool
	}{
		{name: "sha-256", user: "carol@lkc-a", pass: "carol-pw"},
		{name: "sha-512", user: "carol@lkc-a", pass: "carol-pw", sha512: true},
		{name: "wrong password", user: "carol@lkc-a", pass: "nope", sha512: true, wantErr: true},
		{name: "unknown user", user: "dave@lkc-a", pass: "carol-pw", wantErr: true},
		{name: "other cluster", user: "carol@lkc-b", pass: "carol-pw", wantErr: true},
		{name: "no cluster", user: "carol", pass: "carol-pw", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := scram.Auth{User: tc.user, Pass: tc.pass}
			mech := a.AsSha256Mechanism()
			if tc.sha512 {
				mech = a.AsSha512Mechanism()
			}
			cluster, err := clusterOf(t, kgoClient(t, tb.addr, kgo.SASL(mech)))
			if tc.wantErr {
				if err == nil || !errors.Is(err, kerr.SaslAuthenticationFailed) {
					t.Fatalf("got cluster %q err %v, want SASL_AUTHENTICATION_FAILED", cluster, err)
				}
				return
			}
			if err != nil || cluster != "lkc-a" {
				t.Fatalf("cluster %q err %v, want lkc-a", cluster, err)
			}
		})
	}

	// Lower-level: a principal of lkc-a, and the credential is per cluster.
	described, err := admin.DescribeUserSCRAMs(ctx)
	if err != nil || len(described) != 1 || len(described["carol"].CredInfos) != 2 {
		t.Fatalf("describe all: %v %+v", err, described)
	}
	bob := kadm.NewClient(kgoClient(t, tb.addr, kgo.SASL(plain.Auth{User: "bob", Pass: "bob-secret"}.AsMechanism())))
	if d, err := bob.DescribeUserSCRAMs(ctx); err != nil || len(d) != 0 {
		t.Fatalf("lkc-b sees lkc-a's users: %v %+v", err, d)
	}

	if got := promtest.ToFloat64(tb.metrics.successes.WithLabelValues(ListenerSASLPlaintext, sasl.MechanismScramSHA512)); got < 1 {
		t.Errorf("scram-sha-512 successes counted %v", got)
	}
	if got := promtest.ToFloat64(tb.metrics.failures.WithLabelValues(ListenerSASLPlaintext, sasl.MechanismScramSHA512, reasonInvalid)); got != 1 {
		t.Errorf("scram-sha-512 invalid_credentials failures counted %v, want 1", got)
	}
	if n, err := promtest.GatherAndCount(reg, "affluent_kafka_authentication_failures_total"); err != nil || n == 0 {
		t.Errorf("failures not exported: %d %v", n, err)
	}
}

func TestSCRAMAdminRules(t *testing.T) {
	tb := startTestBroker(t, func(c *Config) { c.Scram = scramStore(t) })
	rc := dialRaw(t, tb.addr)
	rc.authenticate("alice", "alice-secret")
	salted := make([]byte, 32)
	up := func(name string, mech int8, iters int32, sp []byte) kmsg.AlterUserSCRAMCredentialsRequestUpsertion {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations, u.Salt, u.SaltedPassword = name, mech, iters, []byte("salt"), sp
		return u
	}
	del := func(name string, mech int8) kmsg.AlterUserSCRAMCredentialsRequestDeletion {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = name, mech
		return d
	}
	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	req.Upsertions = []kmsg.AlterUserSCRAMCredentialsRequestUpsertion{
		up("ok", 1, 4096, salted),
		up("few", 1, 4095, salted),
		up("many", 2, 16385, make([]byte, 64)),
		up("len", 2, 4096, salted),
		up("mech", 3, 4096, salted),
		up("twice", 1, 4096, salted), up("twice", 1, 4096, salted),
		up("", 1, 4096, salted),
		up("sa-admin", 1, 4096, salted),
		up("both", 2, 4096, make([]byte, 64)),
	}
	req.Deletions = []kmsg.AlterUserSCRAMCredentialsRequestDeletion{del("gone", 1), del("both", 2)}
	resp := rc.roundTrip(req).(*kmsg.AlterUserSCRAMCredentialsResponse)
	want := map[string]int16{
		"ok": 0, "few": kerr.UnacceptableCredential.Code, "many": kerr.UnacceptableCredential.Code,
		"len": kerr.UnacceptableCredential.Code, "mech": kerr.UnsupportedSaslMechanism.Code,
		"twice": kerr.DuplicateResource.Code, "": kerr.UnacceptableCredential.Code,
		"sa-admin": kerr.UnacceptableCredential.Code, "gone": kerr.ResourceNotFound.Code,
		"both": kerr.DuplicateResource.Code,
	}
	if len(resp.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(resp.Results), len(want), resp.Results)
	}
	for _, r := range resp.Results {
		if code, ok := want[r.User]; !ok || r.ErrorCode != code {
			t.Errorf("user %q: error %d (%v), want %d", r.User, r.ErrorCode, r.ErrorMessage, code)
		}
	}

	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"ok", "few", "ok"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		dreq.Users = append(dreq.Users, u)
	}
	dresp := rc.roundTrip(dreq).(*kmsg.DescribeUserSCRAMCredentialsResponse)
	got := map[string]int16{}
	for _, r := range dresp.Results {
		got[r.User] = r.ErrorCode
	}
	if len(dresp.Results) != 2 || got["ok"] != kerr.DuplicateResource.Code || got["few"] != kerr.ResourceNotFound.Code {
		t.Fatalf("describe results %+v", dresp.Results)
	}
}

// fakeTokens accepts tokens it was told about.
type fakeTokens struct {
	mu     sync.Mutex // guards tokens
	tokens map[string]fakeToken
}

type fakeToken struct {
	p      Principal
	expiry time.Time
}

func (f *fakeTokens) add(token string, p Principal, expiry time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens == nil {
		f.tokens = map[string]fakeToken{}
	}
	f.tokens[token] = fakeToken{p, expiry}
}

func (f *fakeTokens) AuthenticateToken(_ context.Context, token string, ext map[string]string) (Principal, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok, ok := f.tokens[token]
	if !ok || ext[sasl.ExtensionLogicalCluster] != tok.p.Cluster {
		return Principal{}, time.Time{}, ErrInvalidCredentials
	}
	return tok.p, tok.expiry, nil
}

// oauthAuthenticate runs OAUTHBEARER over SaslHandshake v1 and
// SaslAuthenticate v2 and returns the authenticate response.
func oauthAuthenticate(rc *rawClient, token, cluster string) *kmsg.SASLAuthenticateResponse {
	rc.t.Helper()
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.MechanismOAuthBearer
	if resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != 0 {
		rc.t.Fatalf("handshake: error %d", resp.ErrorCode)
	}
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version = 2
	auth.SASLAuthBytes = sasl.AppendOAuthBearer(nil, token, [2]string{sasl.ExtensionLogicalCluster, cluster})
	return rc.roundTrip(auth).(*kmsg.SASLAuthenticateResponse)
}

func TestOAuthBearerAndReauthentication(t *testing.T) {
	tokens := &fakeTokens{}
	tb := startTestBroker(t, func(c *Config) { c.Tokens = tokens; c.FailedAuthDelay = time.Millisecond })
	sa := Principal{Name: "User:sa-1", Cluster: "lkc-a"}
	tokens.add("tok-1", sa, time.Now().Add(time.Hour))
	tokens.add("tok-2", sa, time.Now().Add(2*time.Hour))
	tokens.add("tok-other", Principal{Name: "User:sa-2", Cluster: "lkc-a"}, time.Now().Add(time.Hour))
	tokens.add("tok-short", sa, time.Now().Add(300*time.Millisecond))

	t.Run("franz-go", func(t *testing.T) {
		cl := kgoClient(t, tb.addr, kgo.SASL(oauth.Auth{Token: "tok-1", Extensions: map[string]string{"logicalCluster": "lkc-a"}}.AsMechanism()))
		if cluster, err := clusterOf(t, cl); err != nil || cluster != "lkc-a" {
			t.Fatalf("cluster %q err %v", cluster, err)
		}
		bad := kgoClient(t, tb.addr, kgo.SASL(oauth.Auth{Token: "tok-1", Extensions: map[string]string{"logicalCluster": "lkc-b"}}.AsMechanism()))
		if _, err := clusterOf(t, bad); !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("token for another cluster: %v, want SASL_AUTHENTICATION_FAILED", err)
		}
	})

	t.Run("session lifetime is the token's", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		resp := oauthAuthenticate(rc, "tok-1", "lkc-a")
		if resp.ErrorCode != 0 {
			t.Fatalf("authenticate: %d", resp.ErrorCode)
		}
		if lt := time.Duration(resp.SessionLifetimeMillis) * time.Millisecond; lt < 59*time.Minute || lt > time.Hour {
			t.Fatalf("session lifetime %v, want about 1h", lt)
		}
		// Re-authentication with a fresh token of the same principal.
		resp = oauthAuthenticate(rc, "tok-2", "lkc-a")
		if lt := time.Duration(resp.SessionLifetimeMillis) * time.Millisecond; resp.ErrorCode != 0 || lt < 119*time.Minute {
			t.Fatalf("re-authentication: error %d lifetime %v", resp.ErrorCode, lt)
		}
		if m := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse); *m.ClusterID != "lkc-a" {
			t.Fatalf("after re-authentication: cluster %s", *m.ClusterID)
		}
	})

	t.Run("re-authentication may not change the principal", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		oauthAuthenticate(rc, "tok-1", "lkc-a")
		if resp := oauthAuthenticate(rc, "tok-other", "lkc-a"); resp.ErrorCode != kerr.SaslAuthenticationFailed.Code {
			t.Fatalf("principal change: error %d, want SASL_AUTHENTICATION_FAILED", resp.ErrorCode)
		}
		rc.expectClosed()
	})

	t.Run("expired session closes at the next request", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		if resp := oauthAuthenticate(rc, "tok-short", "lkc-a"); resp.ErrorCode != 0 || resp.SessionLifetimeMillis > 300 {
			t.Fatalf("authenticate: error %d lifetime %d", resp.ErrorCode, resp.SessionLifetimeMillis)
		}
		rc.roundTrip(allTopicsMetadata()) // within the session
		time.Sleep(400 * time.Millisecond)
		rc.send(allTopicsMetadata())
		rc.expectClosed()
		if got := promtest.ToFloat64(tb.metrics.expiries.WithLabelValues(ListenerSASLPlaintext)); got != 1 {
			t.Errorf("expired sessions counted %v, want 1", got)
		}
	})

	t.Run("plain sessions without MaxReauth cannot re-authenticate", func(t *testing.T) {
		rc := dialRaw(t, tb.addr)
		rc.authenticate("alice", "alice-secret")
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, sasl.MechanismPlain
		if resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("second handshake: %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
		}
		rc.expectClosed()
	})
}

func TestMaxReauthBoundsPlainSessions(t *testing.T) {
	tb := startTestBroker(t, func(c *Config) { c.MaxReauth = time.Minute })
	rc := dialRaw(t, tb.addr)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, sasl.MechanismPlain
	rc.roundTrip(hs)
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = 1, sasl.AppendPlain(nil, "alice", "alice-secret")
	resp := rc.roundTrip(auth).(*kmsg.SASLAuthenticateResponse)
	if lt := time.Duration(resp.SessionLifetimeMillis) * time.Millisecond; resp.ErrorCode != 0 || lt < 59*time.Second || lt > time.Minute {
		t.Fatalf("error %d lifetime %v, want about 1m", resp.ErrorCode, lt)
	}
	// Franz-go re-authenticates on its own when the lifetime nears.
	rc.authenticate("alice", "alice-secret")
	if m := rc.roundTrip(allTopicsMetadata()).(*kmsg.MetadataResponse); *m.ClusterID != "lkc-a" {
		t.Fatalf("cluster %s after re-authentication", *m.ClusterID)
	}
}

// testPKI is a CA and certificates it issues, for the mTLS tests.
type testPKI struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &testPKI{ca: ca, caKey: key}
}

func (p *testPKI) issue(t *testing.T, subject pkix.Name, usage x509.ExtKeyUsage, ips ...net.IP) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subject, IPAddresses: ips,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func (p *testPKI) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	return pool
}

// startTLSListener serves l on a new loopback port of tb's broker.
func startTLSListener(t *testing.T, tb *testBroker, l Listener) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- tb.ServeListener(ctx, lis, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	return lis.Addr().String()
}

func TestTLSListeners(t *testing.T) {
	pki := newTestPKI(t)
	server := pki.issue(t, pkix.Name{CommonName: "broker"}, x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	rules, err := ParsePrincipalMappingRules("RULE:^CN=([^,]+),OU=apps.*$/$1/L,DEFAULT")
	if err != nil {
		t.Fatal(err)
	}
	certs := &StaticCertificateAuthenticator{Roots: pki.pool(), Rules: rules, Cluster: "lkc-a"}
	tb := startTestBroker(t, func(c *Config) { c.Certificates = certs; c.FailedAuthDelay = time.Millisecond })

	saslSSL := startTLSListener(t, tb, Listener{TLS: &tls.Config{Certificates: []tls.Certificate{server}}})
	mtls := startTLSListener(t, tb, Listener{ClientCertificates: true,
		TLS: &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAnyClientCert}})

	t.Run("SASL_SSL", func(t *testing.T) {
		cl := kgoClient(t, saslSSL, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool()}),
			kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
		if cluster, err := clusterOf(t, cl); err != nil || cluster != "lkc-a" {
			t.Fatalf("cluster %q err %v", cluster, err)
		}
		// The advertised address is the TLS listener's own.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		if err != nil || len(resp.Brokers) != 1 || net.JoinHostPort(resp.Brokers[0].Host, itoa(resp.Brokers[0].Port)) != saslSSL {
			t.Fatalf("metadata brokers %+v err %v, want %s", resp, err, saslSSL)
		}
	})

	t.Run("mTLS maps the subject to a principal", func(t *testing.T) {
		client := pki.issue(t, pkix.Name{CommonName: "Orders", OrganizationalUnit: []string{"apps"}}, x509.ExtKeyUsageClientAuth)
		cl := kgoClient(t, mtls, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool(), Certificates: []tls.Certificate{client}}))
		if cluster, err := clusterOf(t, cl); err != nil || cluster != "lkc-a" {
			t.Fatalf("cluster %q err %v", cluster, err)
		}
		p, err := certs.AuthenticateCertificate(context.Background(), []*x509.Certificate{client.Leaf})
		if err != nil || p.Name != "User:orders" {
			t.Fatalf("principal %+v err %v, want User:orders", p, err)
		}
	})

	for _, tc := range []struct {
		name string
		cert func() []tls.Certificate
	}{
		{"mTLS without a certificate", func() []tls.Certificate { return nil }},
		{"mTLS with an untrusted certificate", func() []tls.Certificate {
			return []tls.Certificate{newTestPKI(t).issue(t, pkix.Name{CommonName: "mallory"}, x509.ExtKeyUsageClientAuth)}
		}},
		{"mTLS with a server certificate", func() []tls.Certificate { return []tls.Certificate{server} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := kgoClient(t, mtls, kgo.DialTLSConfig(&tls.Config{RootCAs: pki.pool(), Certificates: tc.cert()}))
			if cluster, err := clusterOf(t, cl); err == nil {
				t.Fatalf("got in, cluster %q", cluster)
			}
		})
	}
	if got := promtest.ToFloat64(tb.metrics.failures.WithLabelValues(ListenerMTLS, MechanismMTLS, reasonInvalid)); got < 2 {
		t.Errorf("mTLS invalid_credentials failures counted %v, want >= 2", got)
	}

	t.Run("SASL on the mTLS listener is refused", func(t *testing.T) {
		client := pki.issue(t, pkix.Name{CommonName: "orders"}, x509.ExtKeyUsageClientAuth)
		conn, err := tls.Dial("tcp", mtls, &tls.Config{RootCAs: pki.pool(), Certificates: []tls.Certificate{client}})
		if err != nil {
			t.Fatal(err)
		}
		rc := &rawClient{t: t, conn: conn, fmt: kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw-test"))}
		t.Cleanup(func() { _ = conn.Close() })
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 1, sasl.MechanismPlain
		if resp := rc.roundTrip(hs).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("handshake on mTLS: %d, want ILLEGAL_SASL_STATE", resp.ErrorCode)
		}
		rc.expectClosed()
	})
}

func itoa(i int32) string { return big.NewInt(int64(i)).String() }

func TestAuthFailureReports(t *testing.T) {
	var mu sync.Mutex
	var got []AuthFailure
	tb := startTestBroker(t, func(c *Config) {
		c.FailedAuthDelay = time.Millisecond
		c.OnAuthFailure = func(f AuthFailure) { mu.Lock(); got = append(got, f); mu.Unlock() }
	})
	_, err := clusterOf(t, kgoClient(t, tb.addr, kgo.SASL(plain.Auth{User: "alice", Pass: "hunter2"}.AsMechanism())))
	if !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Identity != "alice" || got[0].Mechanism != "PLAIN" || got[0].Remote == "" ||
		!strings.HasPrefix(got[0].Reason, reasonInvalid) || strings.Contains(got[0].Reason, "hunter2") {
		t.Fatalf("reported %+v", got)
	}
}

func TestMechanismsOffered(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(*Config)
		want      []string
	}{
		{"plain only", nil, []string{"PLAIN"}},
		{"all", func(c *Config) { c.Scram = scramStore(t); c.Tokens = &fakeTokens{} },
			[]string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := startTestBroker(t, tc.configure)
			if !slices.Equal(tb.mechanisms, tc.want) {
				t.Fatalf("mechanisms %v, want %v", tb.mechanisms, tc.want)
			}
		})
	}
}

func TestPrincipalMappingRules(t *testing.T) {
	for _, tc := range []struct {
		rules, dn, want, wantErr string
	}{
		{"", "CN=a,OU=b", "CN=a,OU=b", ""},
		{"DEFAULT", "CN=a,OU=b", "CN=a,OU=b", ""},
		{"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=kafka1,OU=ServiceUsers,O=Acme", "kafka1", ""},
		{"RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT", "CN=adminUser,OU=Admin,O=Acme", "CN=adminUser,OU=Admin,O=Acme", ""},
		{"RULE:^CN=(.*?),OU=(.*?),O=(.*?)$/$1@$2/L", "CN=Duke,OU=JavaSoft,O=Sun", "duke@javasoft", ""},
		{"RULE:^CN=(.*?),OU=(.*?)$/$1/U", "CN=duke,OU=x", "DUKE", ""},
		{`RULE:^CN=(.*?)\/x$/$1/`, "CN=a/x", "a", ""},
		{"RULE:^CN=(.*)$/$1/", "OU=x", "", "no principal mapping rule"},
		{"RULE:^CN=(.*)$", "", "", "not terminated"},
		{"RULE:^CN=(.*)$/$1/X", "", "", "unexpected"},
		{"BOGUS", "", "", "want RULE"},
		{"RULE:([/$1/", "", "", "pattern"},
	} {
		rules, err := ParsePrincipalMappingRules(tc.rules)
		if err == nil {
			var name string
			name, err = rules.Map(tc.dn)
			if err == nil && name != tc.want {
				t.Errorf("%q on %q = %q, want %q", tc.rules, tc.dn, name, tc.want)
			}
		}
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%q on %q: err %v, want %q", tc.rules, tc.dn, err, tc.wantErr)
		}
	}
}

// franz-go re-authenticates before its session ends (KIP-368) and keeps
// working across token expiries, on the same connection.
func TestFranzGoReauthenticates(t *testing.T) {
	tokens := &fakeTokens{}
	tb := startTestBroker(t, func(c *Config) { c.Tokens = tokens })
	var mu sync.Mutex
	issued := 0
	mech := oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		mu.Lock()
		defer mu.Unlock()
		issued++
		tok := "short-" + itoa(int32(issued))
		tokens.add(tok, Principal{Name: "User:sa-1", Cluster: "lkc-a"}, time.Now().Add(1500*time.Millisecond))
		return oauth.Auth{Token: tok, Extensions: map[string]string{"logicalCluster": "lkc-a"}}, nil
	})
	cl := kgoClient(t, tb.addr, kgo.SASL(mech))
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if cluster, err := clusterOf(t, cl); err != nil || cluster != "lkc-a" {
			t.Fatalf("cluster %q err %v", cluster, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := promtest.ToFloat64(tb.metrics.reauths.WithLabelValues(ListenerSASLPlaintext, sasl.MechanismOAuthBearer)); n < 1 {
		t.Fatalf("%v re-authentications over 4s of 1.5s tokens, want some", n)
	}
	if n := promtest.ToFloat64(tb.metrics.expiries.WithLabelValues(ListenerSASLPlaintext)); n != 0 {
		t.Fatalf("%v sessions expired: the client should have re-authenticated in time", n)
	}
}
