package controlplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/testutil"
)

// devProcess is `affluent dev` in this test: app.Run with every role, on
// loopback listeners, its REST API reached over plain HTTP.
type devProcess struct {
	*app.Process
	rest rest
	// stop shuts it down and waits (at most once; cleanup calls it too).
	stop func()
}

func startDev(t *testing.T, edits ...func(*config.Config)) *devProcess {
	t.Helper()
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = t.TempDir()
	cfg.HTTP.RateLimit = -1
	for _, edit := range edits {
		edit(&cfg)
	}
	listen := func() net.Listener {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return lis
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{
			Config: cfg, Dev: true, Logger: slog.New(slog.DiscardHandler),
			HTTPListener: listen(), GRPCListener: listen(), KafkaListener: listen(),
			Ready: func(p *app.Process) { ready <- p },
		})
	}()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("app.Run: %v", err)
		}
	})
	t.Cleanup(stop)
	select {
	case p := <-ready:
		c := p.Credentials
		return &devProcess{Process: p, rest: rest{t: t, base: "http://" + p.HTTPAddr, key: c.CloudAPIKey, secret: c.CloudAPISecret}, stop: stop}
	case err := <-done:
		t.Fatalf("app.Run returned early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("affluent dev not ready after 20s")
	}
	return nil
}

// rest is a plain HTTP client of the REST API.
type rest struct {
	t           *testing.T
	base        string
	key, secret string
}

type restAnswer struct {
	status int
	raw    []byte
	body   map[string]any
}

func (r restAnswer) str(field string) string {
	var cur any = r.body
	for _, p := range strings.Split(field, ".") {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	s, _ := cur.(string)
	return s
}

// ids lists the field of every item of the list in field list.
func (r restAnswer) ids(list, field string) []string {
	items, _ := r.body[list].([]any)
	var out []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		s, _ := m[field].(string)
		out = append(out, s)
	}
	return out
}

// must sends a request and fails the test unless the status is want.
func (a rest) must(want int, method, path string, body any) restAnswer {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.SetBasicAuth(a.key, a.secret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out := restAnswer{status: resp.StatusCode}
	out.raw, _ = io.ReadAll(resp.Body)
	if len(out.raw) > 0 {
		_ = json.Unmarshal(out.raw, &out.body)
	}
	if out.status != want {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, out.status, want, out.raw)
	}
	return out
}

// waitOperation waits for a long-running operation to be done, without error.
func (a rest) waitOperation(id string) {
	a.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		op := a.must(200, "GET", "/v1/operations/"+id, nil)
		if done, _ := op.body["done"].(bool); done {
			if op.body["error"] != nil {
				a.t.Fatalf("operation %s failed: %s", id, op.raw)
			}
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("operation %s not done after 10s: %s", id, op.raw)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kafkaPrincipal is a service account with a Kafka API key of a cluster.
type kafkaPrincipal struct {
	sa, key, secret string
}

func (k kafkaPrincipal) name() string { return "User:" + k.sa }

// newKafkaPrincipal creates a service account and a Kafka API key for it.
func (a rest) newKafkaPrincipal(name, cluster string) kafkaPrincipal {
	a.t.Helper()
	sa := a.must(200, "POST", "/v1/service-accounts", map[string]any{"display_name": name}).str("id")
	k := a.must(200, "POST", "/v1/api-keys", map[string]any{"owner": sa, "resource": cluster, "display_name": name})
	return kafkaPrincipal{sa: sa, key: k.str("id"), secret: k.str("secret")}
}

// bind grants role on pattern to p and returns the binding's id.
func (a rest) bind(p kafkaPrincipal, role, pattern string) string {
	a.t.Helper()
	return a.must(200, "POST", "/v1/role-bindings", map[string]any{"principal": p.name(), "role_name": role, "crn_pattern": pattern}).str("id")
}

func kafkaCRN(d *devProcess, env, cluster string) string {
	return fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s/kafka=%s", d.Credentials.OrganizationID, env, cluster, cluster)
}

// kafkaClient is a franz-go client of the dev broker as p.
func (d *devProcess) kafkaClient(t *testing.T, p kafkaPrincipal, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := []kgo.Opt{
		kgo.SeedBrokers(d.KafkaAddr),
		kgo.SASL(plain.Auth{User: p.key, Pass: p.secret}.AsMechanism()),
		kgo.RetryTimeout(5 * time.Second), kgo.RecordRetries(1), kgo.FetchMaxWait(time.Second),
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// admin is the dev tenant's administrator (OrganizationAdmin) on the
// bootstrap cluster.
func (d *devProcess) admin(t *testing.T) *kadm.Client {
	c := d.Credentials
	return kadm.NewClient(d.kafkaClient(t, kafkaPrincipal{key: c.KafkaAPIKey, secret: c.KafkaAPISecret}))
}

// kcat runs kcat as p against the dev broker; it returns stdout, stderr
// and whether kcat succeeded.
func (d *devProcess) kcat(t *testing.T, p kafkaPrincipal, stdin string, args ...string) (string, string, bool) {
	t.Helper()
	bin := testutil.RequireTool(t, "kcat", "kcat")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := []string{"-b", d.KafkaAddr, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + p.key, "-X", "sasl.password=" + p.secret}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err == nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
