package app_test

// Acceptance tests of the Kafka listeners' authentication, against a real
// `affluent dev` (app.Run, every role, real sockets) with real clients:
// kcat (Debian's librdkafka 2.0.2) and franz-go. One process serves every
// subtest, as a user's would.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	_ "modernc.org/sqlite"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/testutil"
)

// devEnv is a running `affluent dev` with every Kafka listener.
type devEnv struct {
	p     *app.Process
	creds *app.DevCredentials
	dir   string
	base  string
	logs  *lockedBuffer
}

type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startDev(t *testing.T) *devEnv {
	t.Helper()
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = t.TempDir()
	for _, a := range []*string{&cfg.HTTP.Addr, &cfg.GRPC.Addr, &cfg.Kafka.Addr, &cfg.Kafka.TLSAddr, &cfg.Kafka.MTLSAddr} {
		*a = "127.0.0.1:0"
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Config: cfg, Dev: true,
			Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			Ready:  func(p *app.Process) { ready <- p }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if t.Failed() {
			// What the broker said about refused clients helps most.
			for _, line := range strings.Split(logs.String(), "\n") {
				if strings.Contains(line, "authentication failed") || strings.Contains(line, "level\":\"ERROR") {
					t.Log(line)
				}
			}
		}
	})
	select {
	case p := <-ready:
		return &devEnv{p: p, creds: p.Credentials, dir: cfg.Storage.DataDir, base: "http://" + p.HTTPAddr, logs: logs}
	case err := <-done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("affluent dev not ready after 30s")
	}
	return nil
}

// rest calls the REST API with the cloud API key; body is JSON.
func (e *devEnv) rest(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, e.base+path, rd)
	req.SetBasicAuth(e.creds.CloudAPIKey, e.creds.CloudAPISecret)
	req.Header.Set("Content-Type", "application/json")
	return doJSON(t, req)
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (e *devEnv) mustREST(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	status, out := e.rest(t, method, path, body)
	if status != 200 {
		t.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	return out
}

func kgoClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.RequestRetries(1), kgo.RetryTimeout(5 * time.Second),
		kgo.FetchMaxWait(500 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// admin is a Kafka admin of the dev cluster with its Kafka API key.
func (e *devEnv) admin(t *testing.T) *kadm.Client {
	return kadm.NewClient(kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr),
		kgo.SASL(plain.Auth{User: e.creds.KafkaAPIKey, Pass: e.creds.KafkaAPISecret}.AsMechanism())))
}

// roundTrip produces a record to topic and reads it back with cl, and
// returns the cluster the connection is in.
func roundTrip(t *testing.T, cl *kgo.Client, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl.AddConsumeTopics(topic)
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("%q not consumed back: %v", value, err)
		}
		for _, r := range fs.Records() {
			if string(r.Value) == value {
				return
			}
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs[0].Err)
		}
	}
}

// refused checks that a client cannot get in.
func refused(t *testing.T, cl *kgo.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := cl.Ping(ctx)
	if err == nil {
		t.Fatal("authenticated; want refused")
	}
	return err
}

// kcat runs kcat with args and stdin and returns its output.
func kcat(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	return kcatEnv(t, nil, stdin, args...)
}

// kcatEnv runs kcat with env added to its environment.
func kcatEnv(t *testing.T, env []string, stdin string, args ...string) (string, error) {
	t.Helper()
	bin := testutil.RequireTool(t, "kcat", "kcat")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kcatRoundTrip produces a line with kcat and consumes it back.
func kcatRoundTrip(t *testing.T, topic, value string, conn ...string) {
	t.Helper()
	if out, err := kcat(t, value+"\n", append(conn, "-P", "-t", topic)...); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}
	out, err := kcat(t, "", append(conn, "-C", "-t", topic, "-o", "beginning", "-e", "-q")...)
	if err != nil || !strings.Contains(out, value) {
		t.Fatalf("kcat consume: %v; %q lacks %q", err, out, value)
	}
}

// pki makes client certificates.
type pki struct {
	ca    *x509.Certificate
	caKey *ecdsa.PrivateKey
	pem   string
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	return &pki{ca: ca, caKey: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// client issues a client certificate and writes it and its key as PEM
// files for kcat.
func (p *pki) client(t *testing.T, cn string) (tls.Certificate, string, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"Acme"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, cn+".pem"), filepath.Join(dir, cn+"-key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600)
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, certFile, keyFile
}

func devRoots(t *testing.T, e *devEnv) *x509.CertPool {
	t.Helper()
	raw, err := os.ReadFile(e.creds.CACertFile)
	if err != nil {
		t.Fatalf("ca_cert_file: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		t.Fatal("ca_cert_file holds no certificate")
	}
	return pool
}

// signingKey reads the control plane's current token signing key from its
// database, to forge tokens that differ from real ones in one claim.
func signingKey(t *testing.T, e *devEnv) (string, *ecdsa.PrivateKey) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(e.dir, "controlplane.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var kid, keyPEM string
	if err := db.QueryRow("SELECT kid, private_key FROM signing_keys WHERE retire_time = 0 ORDER BY create_time DESC LIMIT 1").Scan(&kid, &keyPEM); err != nil {
		t.Fatalf("signing key: %v", err)
	}
	block, _ := pem.Decode([]byte(keyPEM))
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return kid, k.(*ecdsa.PrivateKey)
}

// fetchToken runs the client credentials grant against the dev token endpoint.
func (e *devEnv) fetchToken(t *testing.T, key, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: key, ClientSecret: secret, TokenURL: e.creds.OAuthTokenEndpoint}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return tok.AccessToken
}

func TestKafkaSecurityAcceptance(t *testing.T) {
	e := startDev(t)
	c := e.creds
	if c.OAuthTokenEndpoint != e.base+"/oauth2/token" || c.CACertFile == "" || !filepath.IsAbs(c.CACertFile) {
		t.Fatalf("dev-credentials.json: oauth_token_endpoint %q ca_cert_file %q", c.OAuthTokenEndpoint, c.CACertFile)
	}
	ctx := context.Background()
	adm := e.admin(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "secure"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	// SCRAM users are created with the Admin API (KIP-554: the client
	// salts), and given rights with ACLs.
	altered, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-pw"},
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "alice-pw"},
	})
	if err != nil || altered["alice"].Err != nil {
		t.Fatalf("create SCRAM user: %v %+v", err, altered)
	}

	// An mTLS client CA and a certificate pool binding CN=orders to the cluster.
	clientCA := newPKI(t, "Acme clients")
	ca := e.mustREST(t, "POST", "/v1/certificate-authorities", map[string]any{"display_name": "acme", "certificate_chain": clientCA.pem})
	pool := e.mustREST(t, "POST", "/v1/certificate-authorities/"+ca["id"].(string)+"/certificate-pools", map[string]any{
		"display_name": "orders", "external_identifier": "CN", "filter": `certificate.CN == "orders" && certificate.O == "Acme"`, "cluster": c.ClusterID})
	poolPrincipal := "User:" + pool["id"].(string)

	grants := kadm.NewACLs().Allow("User:alice", poolPrincipal).Topics("*").Groups("*").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternLiteral)
	if res, err := adm.CreateACLs(ctx, grants); err != nil || res[0].Err != nil {
		t.Fatalf("create ACLs: %v %+v", err, res)
	}

	plainConn := []string{"-b", e.p.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN",
		"-X", "sasl.username=" + c.KafkaAPIKey, "-X", "sasl.password=" + c.KafkaAPISecret}

	t.Run("kcat", func(t *testing.T) {
		t.Run("SASL_PLAINTEXT PLAIN", func(t *testing.T) { kcatRoundTrip(t, "secure", "kcat-plain", plainConn...) })
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
			t.Run("SASL_PLAINTEXT "+mech, func(t *testing.T) {
				kcatRoundTrip(t, "secure", "kcat-"+mech, "-b", e.p.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism="+mech,
					"-X", "sasl.username=alice@"+c.ClusterID, "-X", "sasl.password=alice-pw")
				out, err := kcat(t, "", "-b", e.p.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism="+mech,
					"-X", "sasl.username=alice@"+c.ClusterID, "-X", "sasl.password=wrong", "-L", "-m", "2")
				if err == nil || !strings.Contains(out, "Authentication failed") {
					t.Fatalf("wrong SCRAM password: %v\n%s", err, out)
				}
			})
		}
		t.Run("SASL_SSL PLAIN", func(t *testing.T) {
			kcatRoundTrip(t, "secure", "kcat-ssl", "-b", e.p.KafkaTLSAddr, "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location="+c.CACertFile,
				"-X", "sasl.mechanism=PLAIN", "-X", "sasl.username="+c.KafkaAPIKey, "-X", "sasl.password="+c.KafkaAPISecret)
		})
		t.Run("mTLS", func(t *testing.T) {
			_, certFile, keyFile := clientCA.client(t, "orders")
			kcatRoundTrip(t, "secure", "kcat-mtls", "-b", e.p.KafkaMTLSAddr, "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+c.CACertFile,
				"-X", "ssl.certificate.location="+certFile, "-X", "ssl.key.location="+keyFile)
			_, otherCert, otherKey := newPKI(t, "mallory CA").client(t, "orders")
			out, err := kcat(t, "", "-b", e.p.KafkaMTLSAddr, "-X", "security.protocol=SSL", "-X", "ssl.ca.location="+c.CACertFile,
				"-X", "ssl.certificate.location="+otherCert, "-X", "ssl.key.location="+otherKey, "-L", "-m", "2")
			if err == nil {
				t.Fatalf("certificate of an unregistered CA got in:\n%s", out)
			}
		})
		t.Run("OAUTHBEARER oidc", func(t *testing.T) {
			// Debian's librdkafka 2.0.2 is built without libcurl, which
			// OIDC token fetching needs; scripts/test-deps.sh builds
			// librdkafka 2.12.0 with it, and Debian's kcat runs on it.
			out, err := kcatEnv(t, []string{"LD_LIBRARY_PATH=" + testutil.Librdkafka(t)}, "", "-b", e.p.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=OAUTHBEARER",
				"-X", "sasl.oauthbearer.method=oidc", "-X", "sasl.oauthbearer.client.id="+c.CloudAPIKey,
				"-X", "sasl.oauthbearer.client.secret="+c.CloudAPISecret, "-X", "sasl.oauthbearer.token.endpoint.url="+c.OAuthTokenEndpoint,
				"-X", "sasl.oauthbearer.extensions=logicalCluster="+c.ClusterID, "-L", "-t", "secure")
			if err != nil || !strings.Contains(out, `topic "secure"`) {
				t.Fatalf("kcat OIDC: %v\n%s", err, out)
			}
		})
		t.Run("OAUTHBEARER unsecured JWT refused", func(t *testing.T) {
			// librdkafka's built-in unsecured tokens are alg none.
			out, err := kcat(t, "", "-b", e.p.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=OAUTHBEARER",
				"-X", "enable.sasl.oauthbearer.unsecure.jwt=true",
				"-X", "sasl.oauthbearer.config=principal=sa-admin extension_logicalCluster="+c.ClusterID, "-L", "-m", "2")
			if err == nil || !strings.Contains(out, "Authentication failed") {
				t.Fatalf("alg none token: %v\n%s", err, out)
			}
		})
	})

	t.Run("librdkafka OAUTHBEARER (confluent-kafka-python)", func(t *testing.T) {
		py := "/usr/bin/python3"
		if err := exec.Command(py, "-c", "import confluent_kafka").Run(); err != nil {
			t.Fatalf("python3-confluent-kafka not importable by %s: install the Debian package python3-confluent-kafka (make test does): %v", py, err)
		}
		// The token of a Kafka API key names its cluster: no extension
		// needed (confluent-kafka 1.7 cannot send one).
		script := `
import json, sys, time, urllib.request, base64
from confluent_kafka import Producer
endpoint, key, secret, bootstrap = sys.argv[1:5]
def token(_):
    req = urllib.request.Request(endpoint, data=b"grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + base64.b64encode((key + ":" + secret).encode()).decode()})
    body = json.load(urllib.request.urlopen(req))
    return body["access_token"], time.time() + body["expires_in"]
errors = []
p = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
              "sasl.mechanisms": "OAUTHBEARER", "oauth_cb": token, "error_cb": lambda e: errors.append(str(e))})
p.produce("secure", b"python-oauth", callback=lambda err, msg: errors.append(str(err)) if err else None)
left = p.flush(20)
if left or errors:
    print("failed:", left, errors); sys.exit(1)
print("delivered")
`
		out, err := exec.Command(py, "-c", script, c.OAuthTokenEndpoint, c.KafkaAPIKey, c.KafkaAPISecret, e.p.KafkaAddr).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "delivered") {
			t.Fatalf("python OAUTHBEARER: %v\n%s", err, out)
		}
	})

	t.Run("franz-go", func(t *testing.T) {
		t.Run("PLAIN", func(t *testing.T) {
			roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.SASL(plain.Auth{User: c.KafkaAPIKey, Pass: c.KafkaAPISecret}.AsMechanism())), "secure", "fg-plain")
		})
		t.Run("SCRAM-SHA-256", func(t *testing.T) {
			roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.ConsumerGroup("g256"),
				kgo.SASL(scram.Auth{User: "alice@" + c.ClusterID, Pass: "alice-pw"}.AsSha256Mechanism())), "secure", "fg-256")
		})
		t.Run("SCRAM-SHA-512", func(t *testing.T) {
			roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr),
				kgo.SASL(scram.Auth{User: "alice@" + c.ClusterID, Pass: "alice-pw"}.AsSha512Mechanism())), "secure", "fg-512")
			refused(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.SASL(scram.Auth{User: "alice@" + c.ClusterID, Pass: "nope"}.AsSha512Mechanism())))
		})
		for _, style := range []struct {
			name  string
			style oauth2.AuthStyle
		}{{"OAUTHBEARER, client secret in HTTP Basic", oauth2.AuthStyleInHeader}, {"OAUTHBEARER, client secret in the form", oauth2.AuthStyleInParams}} {
			t.Run(style.name, func(t *testing.T) {
				src := (&clientcredentials.Config{ClientID: c.CloudAPIKey, ClientSecret: c.CloudAPISecret,
					TokenURL: c.OAuthTokenEndpoint, AuthStyle: style.style}).TokenSource(ctx)
				mech := oauth.Oauth(func(context.Context) (oauth.Auth, error) {
					tok, err := src.Token()
					if err != nil {
						return oauth.Auth{}, err
					}
					return oauth.Auth{Token: tok.AccessToken, Extensions: map[string]string{"logicalCluster": c.ClusterID}}, nil
				})
				roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.SASL(mech)), "secure", "fg-oauth-"+fmt.Sprint(style.style))
			})
		}
		t.Run("SASL_SSL", func(t *testing.T) {
			roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaTLSAddr), kgo.DialTLSConfig(&tls.Config{RootCAs: devRoots(t, e)}),
				kgo.SASL(scram.Auth{User: "alice@" + c.ClusterID, Pass: "alice-pw"}.AsSha512Mechanism())), "secure", "fg-ssl")
		})
		t.Run("mTLS", func(t *testing.T) {
			cert, _, _ := clientCA.client(t, "orders")
			roundTrip(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaMTLSAddr),
				kgo.DialTLSConfig(&tls.Config{RootCAs: devRoots(t, e), Certificates: []tls.Certificate{cert}})), "secure", "fg-mtls")
			// The filter decides: another CN of the same CA is refused.
			other, _, _ := clientCA.client(t, "billing")
			refused(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaMTLSAddr),
				kgo.DialTLSConfig(&tls.Config{RootCAs: devRoots(t, e), Certificates: []tls.Certificate{other}})))
		})
	})

	t.Run("SCRAM credentials over REST", func(t *testing.T) {
		base := "/v1/environments/" + c.EnvironmentID + "/clusters/" + c.ClusterID + "/scram-credentials"
		login := func(pass string) *kgo.Client {
			return kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.SASL(scram.Auth{User: "bob@" + c.ClusterID, Pass: pass}.AsSha256Mechanism()))
		}
		created := e.mustREST(t, "POST", base, map[string]any{"user": "bob", "password": "bob-pw-1", "iterations": 8192})
		if created["principal"] != "User:bob" || created["iterations"] != float64(8192) || created["password"] != "" ||
			fmt.Sprint(created["mechanisms"]) != "[SCRAM-SHA-256 SCRAM-SHA-512]" {
			t.Fatalf("created %v", created)
		}
		if status, out := e.rest(t, "POST", base, map[string]any{"user": "bob", "password": "again"}); status != 409 {
			t.Fatalf("creating bob twice: %d %v, want 409", status, out)
		}
		if status, out := e.rest(t, "POST", base, map[string]any{"user": "sa-evil", "password": "x"}); status != 400 {
			t.Fatalf("reserved name: %d %v, want 400", status, out)
		}
		if status, out := e.rest(t, "POST", base, map[string]any{"user": "carol", "password": "x", "iterations": 100}); status != 400 {
			t.Fatalf("100 iterations: %d %v, want 400", status, out)
		}
		list := e.mustREST(t, "GET", base, nil)["scram_credentials"].([]any)
		if len(list) != 2 || list[0].(map[string]any)["user"] != "alice" || list[1].(map[string]any)["user"] != "bob" {
			t.Fatalf("list %v: want alice (Admin API) and bob (REST)", list)
		}
		if err := login("bob-pw-1").Ping(ctx); err != nil {
			t.Fatalf("bob with his password: %v", err)
		}
		e.mustREST(t, "PATCH", base+"/bob", map[string]any{"password": "bob-pw-2", "mechanisms": []string{"SCRAM-SHA-256"}})
		if got := e.mustREST(t, "GET", base+"/bob", nil); fmt.Sprint(got["mechanisms"]) != "[SCRAM-SHA-256]" || got["iterations"] != float64(8192) {
			t.Fatalf("after update: %v", got)
		}
		refused(t, login("bob-pw-1"))
		if err := login("bob-pw-2").Ping(ctx); err != nil {
			t.Fatalf("bob with his new password: %v", err)
		}
		e.mustREST(t, "DELETE", base+"/bob", nil)
		if status, _ := e.rest(t, "GET", base+"/bob", nil); status != 404 {
			t.Fatalf("deleted bob: %d, want 404", status)
		}
		refused(t, login("bob-pw-2"))
	})

	t.Run("hostile tokens", func(t *testing.T) { hostileTokens(t, e) })
	t.Run("external identity provider", func(t *testing.T) { externalProvider(t, e) })

	t.Run("failures are counted, audited, and no secret is logged", func(t *testing.T) {
		// A known Kafka API key with a wrong secret: audited in its organization.
		refused(t, kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr), kgo.SASL(plain.Auth{User: c.KafkaAPIKey, Pass: "not-the-secret"}.AsMechanism())))
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics := string(raw)
		for _, want := range []string{
			`affluent_kafka_authentication_failures_total{listener="SASL_PLAINTEXT",mechanism="PLAIN",reason="invalid_credentials"}`,
			`affluent_kafka_authentication_failures_total{listener="SASL_PLAINTEXT",mechanism="OAUTHBEARER",reason="invalid_credentials"}`,
			`affluent_kafka_authentication_failures_total{listener="MTLS",mechanism="MTLS"`,
			`affluent_kafka_authentications_total{listener="SASL_SSL",mechanism="SCRAM-SHA-512"}`,
			`affluent_oauth_token_verifications_total{issuer="affluent",outcome="expired"}`,
			`affluent_oauth_tokens_issued_total{outcome="ok"}`,
		} {
			if !strings.Contains(metrics, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, out := e.rest(t, "GET", "/v1/audit-events?action=kafka.authenticate", nil)
			raw, _ := json.Marshal(out)
			if strings.Contains(string(raw), c.KafkaAPIKey) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no kafka.authenticate audit event naming the key: %s", raw)
			}
			time.Sleep(100 * time.Millisecond)
		}
		logs := e.logs.String()
		for what, s := range map[string]string{"cloud secret": c.CloudAPISecret, "kafka secret": c.KafkaAPISecret, "scram password": "alice-pw",
			"REST scram password": "bob-pw-2",
			"a token":             e.fetchToken(t, c.CloudAPIKey, c.CloudAPISecret)[:60]} {
			if strings.Contains(logs, s) {
				t.Errorf("%s appears in the logs", what)
			}
		}
	})
}

// hostileTokens presents forged and misused tokens over OAUTHBEARER; each
// must fail authentication.
func hostileTokens(t *testing.T, e *devEnv) {
	c := e.creds
	kid, key := signingKey(t, e)
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		cl := jwt.MapClaims{"iss": e.base, "sub": "sa-x", "aud": "affluent", "exp": now.Add(time.Hour).Unix(),
			"nbf": now.Unix(), "iat": now.Unix(), "org_id": c.OrganizationID, "client_id": c.CloudAPIKey}
		// sub is the real admin service account: read it from a real token.
		real := e.fetchToken(t, c.CloudAPIKey, c.CloudAPISecret)
		var payload map[string]any
		raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(real, ".")[1])
		_ = json.Unmarshal(raw, &payload)
		cl["sub"] = payload["sub"]
		if mod != nil {
			mod(cl)
		}
		return cl
	}
	sign := func(method jwt.SigningMethod, k any, kid string, cl jwt.MapClaims) string {
		tok := jwt.NewWithClaims(method, cl)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	present := func(token, cluster string) error {
		cl := kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr),
			kgo.SASL(oauth.Auth{Token: token, Extensions: map[string]string{"logicalCluster": cluster}}.AsMechanism()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return cl.Ping(ctx)
	}
	// The forging is right: the same claims, well signed, get in.
	if err := present(sign(jwt.SigningMethodES256, key, kid, claims(nil)), c.ClusterID); err != nil {
		t.Fatalf("a well-formed forged token was refused, the test is wrong: %v", err)
	}

	// A second cluster, and a Kafka API key of it, for "token of another cluster".
	other := e.mustREST(t, "POST", "/v1/environments/"+c.EnvironmentID+"/clusters", map[string]any{
		"display_name": "other", "spec": map[string]any{"cloud": "LOCAL", "region": "local", "type": "SERVERLESS"}})
	otherID := other["id"].(string)
	sas := e.mustREST(t, "GET", "/v1/service-accounts", nil)["service_accounts"].([]any)
	owner := sas[0].(map[string]any)["id"].(string)
	var otherKey map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, out := e.rest(t, "POST", "/v1/api-keys", map[string]any{"owner": owner, "resource": otherID})
		if status == 200 {
			otherKey = out
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kafka API key of %s: %d %v", otherID, status, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	otherToken := e.fetchToken(t, otherKey["id"].(string), otherKey["secret"].(string))

	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := e.fetchToken(t, c.CloudAPIKey, c.CloudAPISecret)
	parts := strings.Split(good, ".")
	var payload map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(raw, &payload)
	payload["org_id"] = "another-org"
	tampered, _ := json.Marshal(payload)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)

	for _, tc := range []struct{ name, token, cluster string }{
		{"expired", sign(jwt.SigningMethodES256, key, kid, claims(func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Hour).Unix() })), c.ClusterID},
		{"not yet valid", sign(jwt.SigningMethodES256, key, kid, claims(func(m jwt.MapClaims) { m["nbf"] = now.Add(time.Hour).Unix() })), c.ClusterID},
		{"wrong issuer", sign(jwt.SigningMethodES256, key, kid, claims(func(m jwt.MapClaims) { m["iss"] = "https://evil.example" })), c.ClusterID},
		{"wrong audience", sign(jwt.SigningMethodES256, key, kid, claims(func(m jwt.MapClaims) { m["aud"] = "someone-else" })), c.ClusterID},
		{"unknown kid", sign(jwt.SigningMethodES256, stranger, "not-a-key-of-ours", claims(nil)), c.ClusterID},
		{"alg none", none, c.ClusterID},
		{"HS256 signed with the public key", sign(jwt.SigningMethodHS256, pubDER, kid, claims(nil)), c.ClusterID},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString(tampered) + "." + parts[2], c.ClusterID},
		{"token of another cluster", otherToken, c.ClusterID},
		{"no cluster named", good, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := present(tc.token, tc.cluster)
			if !errors.Is(err, kerr.SaslAuthenticationFailed) {
				t.Fatalf("got %v, want SASL_AUTHENTICATION_FAILED", err)
			}
		})
	}
	// The other cluster's token works for its own cluster, and the REST
	// API refuses the forged ones too.
	waitRunning(t, e, otherID)
	if err := present(otherToken, otherID); err != nil {
		t.Fatalf("token of %s for its own cluster: %v", otherID, err)
	}
	for _, tok := range []string{sign(jwt.SigningMethodES256, key, kid, claims(func(m jwt.MapClaims) { m["exp"] = now.Add(-time.Hour).Unix() })), none} {
		req, _ := http.NewRequest("GET", e.base+"/v1/environments", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if status, _ := doJSON(t, req); status != 401 {
			t.Errorf("REST with a hostile token: %d, want 401", status)
		}
	}
	req, _ := http.NewRequest("GET", e.base+"/v1/environments", nil)
	req.Header.Set("Authorization", "Bearer "+good)
	if status, out := doJSON(t, req); status != 200 {
		t.Errorf("REST with a good token: %d %v", status, out)
	}
}

func waitRunning(t *testing.T, e *devEnv, cluster string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		out := e.mustREST(t, "GET", "/v1/environments/"+e.creds.EnvironmentID+"/clusters/"+cluster, nil)
		if st, _ := out["status"].(map[string]any); st != nil && st["phase"] == "RUNNING" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s not running: %v", cluster, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// externalProvider registers an OIDC issuer (a JWKS on loopback) and an
// identity pool, and authenticates with its tokens.
func externalProvider(t *testing.T, e *devEnv) {
	c := e.creds
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(rsaKey.N.Bytes()), "e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(rsaKey.E)).Bytes())}}})
	}))
	t.Cleanup(srv.Close)
	idp := e.mustREST(t, "POST", "/v1/identity-providers", map[string]any{"display_name": "corp", "issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	pool := e.mustREST(t, "POST", "/v1/identity-providers/"+idp["id"].(string)+"/identity-pools", map[string]any{
		"display_name": "kafka-apps", "identity_claim": "claims.sub", "filter": `claims.aud == "kafka" && "streaming" in claims.groups`})
	poolPrincipal := "User:" + pool["id"].(string)
	if status, out := e.rest(t, "POST", "/v1/identity-providers/"+idp["id"].(string)+"/identity-pools", map[string]any{
		"display_name": "broken", "identity_claim": "claims.sub", "filter": `claims.aud ==`}); status != 400 {
		t.Errorf("a filter that is not CEL: %d %v, want 400", status, out)
	}
	if res, err := e.admin(t).CreateACLs(context.Background(), kadm.NewACLs().Allow(poolPrincipal).Topics("*").Operations(kadm.OpAll)); err != nil || res[0].Err != nil {
		t.Fatalf("ACL for the pool: %v %+v", err, res)
	}
	token := func(groups ...string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"iss": srv.URL, "sub": "svc-orders", "aud": "kafka",
			"groups": groups, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix()})
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	withToken := func(tok string) *kgo.Client {
		return kgoClient(t, kgo.SeedBrokers(e.p.KafkaAddr),
			kgo.SASL(oauth.Auth{Token: tok, Extensions: map[string]string{"logicalCluster": c.ClusterID}}.AsMechanism()))
	}
	roundTrip(t, withToken(token("streaming")), "secure", "external-idp")
	if err := refused(t, withToken(token("finance"))); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("token no pool accepts: %v", err)
	}
	// The API authenticates the pool's tokens too: without role bindings it
	// is forbidden, not unauthenticated.
	req, _ := http.NewRequest("GET", e.base+"/v1/environments", nil)
	req.Header.Set("Authorization", "Bearer "+token("streaming"))
	if status, out := doJSON(t, req); status != 403 && status != 200 {
		t.Errorf("REST with the pool's token: %d %v, want authenticated (403 without bindings)", status, out)
	}
}
