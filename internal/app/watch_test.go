package app_test

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/internal/app"
	"github.com/affluent-io/affluent/internal/config"
	"github.com/affluent-io/affluent/internal/cpwatch"
)

// brokerProcessEnv, in the environment of this test binary re-executed,
// makes it an `affluent server --roles broker` process instead of running
// tests; its value is the JSON of brokerProcessSpec.
const brokerProcessEnv = "AFFLUENT_TEST_BROKER_PROCESS"

// brokerReady starts the line the broker process prints once it serves.
const brokerReady = "AFFLUENT_BROKER_READY "

type brokerProcessSpec struct {
	DataDir, KafkaAddr, ControlPlaneAddr string
	// MTLSAddr, when set, is a listener requiring client certificates;
	// TLSAddr a SASL_SSL listener.
	MTLSAddr, TLSAddr string
	MaxReauth         time.Duration
	// MetadataURL and ObjectStoreURL, when set, are storage shared with
	// other brokers.
	MetadataURL, ObjectStoreURL string
	// BrokerID, when set, is the node id asked for (else one is claimed).
	BrokerID *int32 `json:",omitempty"`
}

func init() {
	raw := os.Getenv(brokerProcessEnv)
	if raw == "" {
		return
	}
	os.Exit(serveBrokerProcess(raw))
}

// serveBrokerProcess runs app.Run with the broker role alone until
// SIGTERM, as `affluent server --roles broker` does.
func serveBrokerProcess(raw string) int {
	var spec brokerProcessSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "broker process spec:", err)
		return 2
	}
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Roles = config.RoleBroker
	cfg.Storage.DataDir = spec.DataDir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Kafka.Addr = spec.KafkaAddr
	cfg.Kafka.MaxReauth = spec.MaxReauth
	cfg.Kafka.MTLSAddr = spec.MTLSAddr
	cfg.Kafka.TLSAddr = spec.TLSAddr
	if spec.BrokerID != nil {
		cfg.Kafka.BrokerID = *spec.BrokerID
	}
	cfg.Storage.MetadataURL, cfg.Storage.ObjectStoreURL = spec.MetadataURL, spec.ObjectStoreURL
	cfg.ControlPlane.Addr = spec.ControlPlaneAddr
	if err := cfg.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "broker process config:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	err := app.Run(ctx, app.Options{Config: cfg, Logger: log, Ready: func(p *app.Process) {
		fmt.Println(brokerReady + p.KafkaAddr)
	}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "broker process:", err)
		return 1
	}
	return 0
}

// brokerProcess is a broker running in a child process.
type brokerProcess struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan error
}

// startBrokerProcess starts a broker-only process on spec and waits until
// it serves.
func startBrokerProcess(t *testing.T, spec brokerProcessSpec, secret string) *brokerProcess {
	t.Helper()
	raw, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerProcessEnv+"="+string(raw), app.BrokerSecretEnv+"="+secret)
	b := &brokerProcess{cmd: cmd, logs: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = b.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), brokerReady) {
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		b.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		b.stop(t)
		if t.Failed() {
			t.Logf("broker process logs:\n%s", b.logs.String())
		}
	})
	select {
	case <-ready:
	case err := <-b.done:
		b.done <- err
		t.Fatalf("broker process exited before serving: %v\n%s", err, b.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("broker process not serving after 60s\n%s", b.logs.String())
	}
	return b
}

// stop ends the process with SIGTERM and waits for it (once).
func (b *brokerProcess) stop(t *testing.T) {
	if b.cmd.ProcessState != nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("broker process exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		t.Error("broker process did not stop on SIGTERM within 20s")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// plainClient is a franz-go client of the broker at addr with an API key.
func plainClient(t *testing.T, addr, key, secret string, opts ...kgo.Opt) *kgo.Client {
	return kgoClient(t, append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: key, Pass: secret}.AsMechanism()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}, opts...)...)
}

// produceOnce produces one record within a few seconds.
func produceOnce(cl *kgo.Client, topic, value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
}

// untilRefused produces with cl every 100ms until a produce fails, and
// returns how long after start that happened and the error.
func untilRefused(t *testing.T, cl *kgo.Client, topic string, start time.Time, limit time.Duration) (time.Duration, error) {
	t.Helper()
	for i := 0; ; i++ {
		if err := produceOnce(cl, topic, fmt.Sprintf("probe-%d", i)); err != nil {
			return time.Since(start), err
		}
		if time.Since(start) > limit {
			t.Fatalf("still producing %v after the revocation", limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrokerProcessWatchesControlPlane runs the control plane and gateway
// in this process and a broker in another: the broker learns keys and
// role bindings from the control plane's watch, applies revocations to
// connected clients within seconds, and keeps serving from its snapshot —
// also across its own restart — while the control plane is down.
func TestBrokerProcessWatchesControlPlane(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	kafkaAddr := freeAddr(t)
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Roles = config.RoleControlPlane + "," + config.RoleGateway
	cfg.Storage.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.GRPC.Addr = "127.0.0.1:0", "127.0.0.1:0"
	// The control plane reaches the brokers (and tells clients to) here.
	cfg.Kafka.Addr = kafkaAddr
	cpLogs := &lockedBuffer{}
	cpCtx, stopCP := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	cpDone := make(chan error, 1)
	go func() {
		cpDone <- app.Run(cpCtx, app.Options{Config: cfg, Dev: true,
			Logger: slog.New(slog.NewTextHandler(cpLogs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Ready:  func(p *app.Process) { ready <- p }})
	}()
	var cpStopped sync.Once
	stopControlPlane := func() {
		cpStopped.Do(func() {
			stopCP()
			if err := <-cpDone; err != nil {
				t.Errorf("control plane Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		stopControlPlane()
		if t.Failed() {
			t.Logf("control plane logs:\n%s", cpLogs.String())
		}
	})
	var p *app.Process
	select {
	case p = <-ready:
	case err := <-cpDone:
		t.Fatalf("control plane exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("control plane not ready after 60s")
	}
	e := &devEnv{p: p, creds: p.Credentials, dir: cfg.Storage.DataDir, base: "http://" + p.HTTPAddr, logs: cpLogs}
	c := e.creds
	if c.BootstrapServers != kafkaAddr {
		t.Fatalf("bootstrap servers %q, want the brokers' %q", c.BootstrapServers, kafkaAddr)
	}
	secret, err := os.ReadFile(filepath.Join(cfg.Storage.DataDir, app.BrokerSecretFile))
	if err != nil {
		t.Fatalf("the control plane made no broker secret: %v", err)
	}
	if fi, _ := os.Stat(filepath.Join(cfg.Storage.DataDir, app.BrokerSecretFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("broker secret file mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(cpLogs.String(), strings.TrimSpace(string(secret))) {
		t.Error("the broker secret was logged")
	}

	// No --kafka-max-reauth: revocations reach open connections because
	// the broker checks its sessions against each new snapshot, not
	// because clients re-authenticate.
	spec := brokerProcessSpec{DataDir: t.TempDir(), KafkaAddr: kafkaAddr, ControlPlaneAddr: p.GRPCAddr}
	broker := startBrokerProcess(t, spec, strings.TrimSpace(string(secret)))

	// A wrong broker secret does not get the watch.
	t.Run("wrong broker secret", func(t *testing.T) {
		bad := brokerProcessSpec{DataDir: t.TempDir(), KafkaAddr: freeAddr(t), ControlPlaneAddr: p.GRPCAddr}
		b := startBrokerProcess(t, bad, "not-the-secret")
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(b.logs.String(), "Unauthenticated") {
			if time.Now().After(deadline) {
				t.Fatalf("a broker with a wrong secret was not refused:\n%s", b.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cl := plainClient(t, bad.KafkaAddr, c.KafkaAPIKey, c.KafkaAPISecret)
		if err := refused(t, cl); err == nil {
			t.Fatal("a broker without the control plane's config accepted a key")
		}
	})

	// Topics are made through the REST API: the control plane's Kafka
	// admin connection authenticates to the broker process with the
	// internal credential, whose hash came in the snapshot.
	topicsPath := "/v1/environments/" + c.EnvironmentID + "/clusters/" + c.ClusterID + "/topics"
	for _, topic := range []string{"orders", "audit"} {
		e.mustREST(t, "POST", topicsPath, map[string]any{"name": topic, "partitions_count": 1})
	}
	crn := resource.KafkaCRN(c.OrganizationID, c.EnvironmentID, c.ClusterID).String()
	// newPrincipal makes a service account with role bindings and a Kafka
	// API key, right before use: "create then connect" must work.
	newPrincipal := func(name string, roles ...string) (key, keySecret string, bindings []string) {
		sa := e.mustREST(t, "POST", "/v1/service-accounts", map[string]any{"display_name": name})
		principal := "User:" + sa["id"].(string)
		for _, role := range roles {
			rb := e.mustREST(t, "POST", "/v1/role-bindings", map[string]any{"principal": principal, "role_name": role, "crn_pattern": crn + "/topic=*"})
			bindings = append(bindings, rb["id"].(string))
		}
		k := e.mustREST(t, "POST", "/v1/api-keys", map[string]any{"display_name": name, "owner": sa["id"], "resource": c.ClusterID})
		return k["id"].(string), k["secret"].(string), bindings
	}

	steady, steadySecret, _ := newPrincipal("steady", "DeveloperWrite", "DeveloperRead")
	roundTrip(t, plainClient(t, kafkaAddr, steady, steadySecret), "orders", "first")

	t.Run("role binding deleted", func(t *testing.T) {
		key, keySecret, bindings := newPrincipal("writer", "DeveloperWrite")
		cl := plainClient(t, kafkaAddr, key, keySecret)
		if err := produceOnce(cl, "audit", "allowed"); err != nil {
			t.Fatalf("produce with the role binding: %v", err)
		}
		start := time.Now()
		e.mustREST(t, "DELETE", "/v1/role-bindings/"+bindings[0], nil)
		took, err := untilRefused(t, cl, "audit", start, 5*time.Second)
		if !strings.Contains(err.Error(), "TOPIC_AUTHORIZATION_FAILED") {
			t.Errorf("after the role binding was deleted: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		t.Logf("role binding delete → connected client denied: %v", took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("denial took %v, want under 5s", took)
		}
	})

	// revocationClient has short retries and metadata refreshes, so that
	// it reports the refusal soon after the broker closes its connection
	// (franz-go otherwise waits for MetadataMinAge, 5s, before
	// reconnecting after a failed authentication).
	revocationOpts := []kgo.Opt{kgo.RetryTimeout(time.Second), kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(2 * time.Second),
		kgo.MetadataMinAge(250 * time.Millisecond)}
	// wantRevoked checks that cl, which produced before, is refused within
	// 5s of start, when something its credential rests on was deleted.
	wantRevoked := func(t *testing.T, cl *kgo.Client, what string, start time.Time) {
		t.Helper()
		took, err := untilRefused(t, cl, "audit", start, 5*time.Second)
		// The broker refuses the next request of a revoked session
		// (authorization errors) and closes it; a reconnection fails
		// authentication.
		if !strings.Contains(err.Error(), "TOPIC_AUTHORIZATION_FAILED") && !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
			t.Errorf("after %s: %v, want TOPIC_AUTHORIZATION_FAILED or SASL_AUTHENTICATION_FAILED", what, err)
		}
		t.Logf("%s → connected client refused: %v (%v)", what, took.Round(time.Millisecond), err)
		if took > 5*time.Second {
			t.Errorf("refusal took %v, want under 5s", took)
		}
		if !strings.Contains(broker.logs.String(), "kafka session revoked") {
			t.Errorf("the broker did not close the session itself:\n%s", broker.logs.String())
		}
	}

	var revoked, revokedSecret string
	t.Run("API key deleted", func(t *testing.T) {
		revoked, revokedSecret, _ = newPrincipal("revoked", "DeveloperWrite")
		cl := plainClient(t, kafkaAddr, revoked, revokedSecret, revocationOpts...)
		if err := produceOnce(cl, "audit", "allowed"); err != nil {
			t.Fatalf("produce with the key: %v", err)
		}
		start := time.Now()
		e.mustREST(t, "DELETE", "/v1/api-keys/"+revoked, nil)
		wantRevoked(t, cl, "API key delete", start)
		if err := refused(t, plainClient(t, kafkaAddr, revoked, revokedSecret)); err == nil {
			t.Error("a new connection with the deleted key got in")
		}
	})

	t.Run("service account deleted", func(t *testing.T) {
		key, keySecret, _ := newPrincipal("leaving", "DeveloperWrite")
		cl := plainClient(t, kafkaAddr, key, keySecret, revocationOpts...)
		if err := produceOnce(cl, "audit", "allowed"); err != nil {
			t.Fatalf("produce with the key: %v", err)
		}
		k := e.mustREST(t, "GET", "/v1/api-keys/"+key, nil)
		start := time.Now()
		e.mustREST(t, "DELETE", "/v1/service-accounts/"+k["owner"].(string), nil)
		wantRevoked(t, cl, "service account delete", start)
	})

	t.Run("OAuth token of a deleted key", func(t *testing.T) {
		key, keySecret, _ := newPrincipal("token-holder", "DeveloperWrite")
		token := e.fetchToken(t, key, keySecret)
		cl := kgoClient(t, append([]kgo.Opt{kgo.SeedBrokers(kafkaAddr),
			kgo.SASL(oauth.Auth{Token: token, Extensions: map[string]string{"logicalCluster": c.ClusterID}}.AsMechanism())},
			revocationOpts...)...)
		if err := produceOnce(cl, "audit", "allowed"); err != nil {
			t.Fatalf("produce with the token: %v", err)
		}
		start := time.Now()
		e.mustREST(t, "DELETE", "/v1/api-keys/"+key, nil)
		wantRevoked(t, cl, "API key delete (token session)", start)
	})

	// The control plane stops: the broker serves from its snapshot.
	stopControlPlane()
	t.Run("control plane down", func(t *testing.T) {
		roundTrip(t, plainClient(t, kafkaAddr, steady, steadySecret), "orders", "while the control plane is down")
		if err := refused(t, plainClient(t, kafkaAddr, revoked, revokedSecret)); err == nil {
			t.Error("the deleted key got in while the control plane is down")
		}
	})

	// A broker restarted while the control plane is down serves from the
	// snapshot it persisted.
	t.Run("broker restarted while control plane down", func(t *testing.T) {
		broker.stop(t)
		restarted := startBrokerProcess(t, spec, strings.TrimSpace(string(secret)))
		roundTrip(t, plainClient(t, kafkaAddr, steady, steadySecret), "orders", "after the broker restarted")
		if err := refused(t, plainClient(t, kafkaAddr, revoked, revokedSecret)); err == nil {
			t.Error("the deleted key got in after the restart")
		}
		if !strings.Contains(restarted.logs.String(), "serving persisted broker config") {
			t.Errorf("the restarted broker did not say it serves its persisted snapshot:\n%s", restarted.logs.String())
		}
	})
}

// controlPlaneRun is a control plane (with its gateway) running app.Run in
// this process.
type controlPlaneRun struct {
	p    *app.Process
	cfg  config.Config
	logs *lockedBuffer
}

// runControlPlane runs cfg's roles until the test ends.
func runControlPlane(t *testing.T, cfg config.Config, dev bool) *controlPlaneRun {
	t.Helper()
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan *app.Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Options{Config: cfg, Dev: dev,
			Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Ready:  func(p *app.Process) { ready <- p }})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("control plane Run: %v", err)
		}
		if t.Failed() {
			t.Logf("control plane %s logs:\n%s", cfg.Storage.DataDir, logs.String())
		}
	})
	select {
	case p := <-ready:
		return &controlPlaneRun{p: p, cfg: cfg, logs: logs}
	case err := <-done:
		done <- err
		t.Fatalf("control plane exited: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("control plane not ready after 60s")
	}
	return nil
}

// handledCalls is how many calls of the brokers' service method the
// control plane at base has answered (its gRPC server metrics).
func handledCalls(t *testing.T, base, method string) int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	total := 0
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "grpc_server_handled_total{") && strings.Contains(line, `grpc_method="`+method+`"`) &&
			strings.Contains(line, `grpc_code="OK"`) {
			var n float64
			if _, err := fmt.Sscan(line[strings.LastIndex(line, " ")+1:], &n); err == nil {
				total += int(n)
			}
		}
	}
	return total
}

// TestControlPlaneReplicas runs two control planes over one database (as
// the production chart's two replicas) and a broker process watching the
// first:
//   - the second reaches the broker with the internal admin credential
//     (each made its own random one, refused by brokers watching the other);
//   - credentials made through the second, which the first's snapshot lacks
//     until it resyncs — an OAuth token of a new key, a client certificate
//     of a new pool — are accepted by the broker asking the first;
//   - a cluster deleted through the API loses its topics, groups, ACLs and
//     client quotas on the broker in the other process.
func TestControlPlaneReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	kafkaAddr := freeAddr(t)
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Roles = config.RoleControlPlane + "," + config.RoleGateway
	cfg.Storage.DataDir = t.TempDir()
	cfg.HTTP.Addr, cfg.GRPC.Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Kafka.Addr = kafkaAddr
	first := runControlPlane(t, cfg, true)
	c := first.p.Credentials
	e1 := &devEnv{p: first.p, creds: c, dir: cfg.Storage.DataDir, base: "http://" + first.p.HTTPAddr, logs: first.logs}
	secretFile := filepath.Join(cfg.Storage.DataDir, app.BrokerSecretFile)
	raw, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	brokerSecret := strings.TrimSpace(string(raw))

	second := cfg
	second.Storage.DataDir = t.TempDir()
	second.Storage.ControlPlaneURL = "sqlite://" + filepath.Join(cfg.Storage.DataDir, "controlplane.db")
	second.ControlPlane.BrokerSecretFile = secretFile
	replica := runControlPlane(t, second, false)
	e2 := &devEnv{p: replica.p, creds: c, dir: second.Storage.DataDir, base: "http://" + replica.p.HTTPAddr, logs: replica.logs}

	spec := brokerProcessSpec{DataDir: t.TempDir(), KafkaAddr: kafkaAddr, MTLSAddr: freeAddr(t), ControlPlaneAddr: first.p.GRPCAddr}
	startBrokerProcess(t, spec, brokerSecret)
	ctx := context.Background()

	topicsPath := "/v1/environments/" + c.EnvironmentID + "/clusters/" + c.ClusterID + "/topics"
	t.Run("admin calls through either replica", func(t *testing.T) {
		e1.mustREST(t, "POST", topicsPath, map[string]any{"name": "via-first", "partitions_count": 1})
		e2.mustREST(t, "POST", topicsPath, map[string]any{"name": "via-second", "partitions_count": 1})
		listed := e2.mustREST(t, "GET", topicsPath, nil)
		if got := fmt.Sprint(listed); !strings.Contains(got, "via-first") || !strings.Contains(got, "via-second") {
			t.Errorf("topics listed through the second replica: %v", got)
		}
	})

	// fellBack runs try with a credential made through the second replica
	// and checks that the broker asked the first about it (method); when
	// the first resynced before the broker was asked, it tries again with
	// a new credential.
	fellBack := func(t *testing.T, method string, try func(t *testing.T, attempt int)) {
		t.Helper()
		for attempt := range 3 {
			before := handledCalls(t, e1.base, method)
			try(t, attempt)
			if t.Failed() || handledCalls(t, e1.base, method) > before {
				return
			}
			t.Logf("attempt %d: the first replica resynced before the broker asked it; again", attempt)
		}
		t.Fatalf("the broker never asked the control plane (%s) about a credential newer than its snapshot", method)
	}

	devKey := e1.mustREST(t, "GET", "/v1/api-keys/"+c.KafkaAPIKey, nil)
	t.Run("OAuth token newer than the snapshot", func(t *testing.T) {
		fellBack(t, "VerifyKafkaToken", func(t *testing.T, attempt int) {
			k := e2.mustREST(t, "POST", "/v1/api-keys", map[string]any{"display_name": fmt.Sprintf("late-%d", attempt),
				"owner": devKey["owner"], "resource": c.ClusterID})
			token := e1.fetchToken(t, k["id"].(string), k["secret"].(string))
			cl := kgoClient(t, kgo.SeedBrokers(kafkaAddr),
				kgo.SASL(oauth.Auth{Token: token, Extensions: map[string]string{"logicalCluster": c.ClusterID}}.AsMechanism()))
			if err := produceOnce(cl, "via-second", "token"); err != nil {
				t.Errorf("produce with a token of a key made through the other replica: %v", err)
			}
		})
	})

	t.Run("client certificate newer than the snapshot", func(t *testing.T) {
		clientCA := newPKI(t, "Late clients")
		roots := x509.NewCertPool()
		caPEM, err := os.ReadFile(filepath.Join(spec.DataDir, "tls", "ca.pem"))
		if err != nil || !roots.AppendCertsFromPEM(caPEM) {
			t.Fatalf("the broker's TLS CA: %v", err)
		}
		fellBack(t, "AuthenticateKafkaCertificate", func(t *testing.T, attempt int) {
			cn := fmt.Sprintf("late-%d", attempt)
			ca := e2.mustREST(t, "POST", "/v1/certificate-authorities", map[string]any{"display_name": cn, "certificate_chain": clientCA.pem})
			e2.mustREST(t, "POST", "/v1/certificate-authorities/"+ca["id"].(string)+"/certificate-pools", map[string]any{
				"display_name": cn, "external_identifier": "CN", "filter": `certificate.CN == "` + cn + `"`, "cluster": c.ClusterID})
			cert, _, _ := clientCA.client(t, cn)
			cl := kgoClient(t, kgo.SeedBrokers(spec.MTLSAddr),
				kgo.DialTLSConfig(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}))
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if err := cl.Ping(pctx); err != nil {
				t.Errorf("a certificate of a pool made through the other replica: %v", err)
			}
		})
	})

	t.Run("cluster deleted", func(t *testing.T) {
		tc := newTenantCluster(t, e1, "doomed", nil)
		adm := admin(t, kafkaAddr, tc)
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, "doomed-topic"); err != nil {
			t.Fatalf("create topic: %v", err)
		}
		var offsets kadm.Offsets
		offsets.Add(kadm.Offset{Topic: "doomed-topic", Partition: 0, At: 0})
		if _, err := adm.CommitOffsets(ctx, "doomed-group", offsets); err != nil {
			t.Fatalf("commit offsets: %v", err)
		}
		if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:someone").Topics("doomed-topic").Operations(kadm.OpRead)); err != nil || res[0].Err != nil {
			t.Fatalf("create ACL: %v %+v", err, res)
		}
		client := "doomed-client"
		if _, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
			Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &client}},
			Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1024}}}}); err != nil {
			t.Fatalf("alter client quotas: %v", err)
		}
		// What the cluster holds, as the control plane's internal
		// credential sees it; it outlives the cluster.
		internal := internalAdmin(t, kafkaAddr, brokerSecret, tc.id)
		held := clusterContents(t, internal)
		if held.topics == 0 || held.groups == 0 || held.acls == 0 || held.quotas == 0 {
			t.Fatalf("before the delete, the cluster holds %+v; want some of each", held)
		}

		e1.mustREST(t, "DELETE", tc.path, nil)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _ := e1.rest(t, "GET", tc.path, nil)
			if status == http.StatusNotFound {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster %s still there 30s after its delete (%d)", tc.id, status)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// A fresh connection: nothing cached from before the delete.
		after := internalAdmin(t, kafkaAddr, brokerSecret, tc.id)
		if left := clusterContents(t, after); left != (contents{}) {
			t.Errorf("after the delete, the broker process still holds %+v of cluster %s", left, tc.id)
		}
		if err := refused(t, plainClient(t, kafkaAddr, tc.key, tc.secret)); err == nil {
			t.Error("the deleted cluster's key still gets in")
		}
	})
}

// internalAdmin is a Kafka admin client of cluster acting as the control
// plane: the internal credential derives from the broker secret
// (internal/app.internalCredentialOf), as every replica derives it.
func internalAdmin(t *testing.T, addr, brokerSecret, cluster string) *kadm.Client {
	mac := hmac.New(sha256.New, []byte(brokerSecret))
	mac.Write([]byte("affluent internal admin credential v1"))
	secret := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return kadm.NewClient(kgoClient(t, kgo.SeedBrokers(addr),
		kgo.SASL(plain.Auth{User: cpwatch.InternalUserPrefix + cluster, Pass: secret}.AsMechanism())))
}

// contents counts what a cluster holds on the brokers.
type contents struct{ topics, groups, acls, quotas int }

func clusterContents(t *testing.T, adm *kadm.Client) contents {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out contents
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	out.topics = len(topics.Names())
	groups, err := adm.ListGroups(ctx)
	if err != nil {
		t.Fatalf("list groups: %v", err)
	}
	out.groups = len(groups.Groups())
	acls, err := adm.DescribeACLs(ctx, kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).
		Allow().AllowHosts().Deny().DenyHosts())
	if err != nil {
		t.Fatalf("describe ACLs: %v", err)
	}
	for _, r := range acls {
		out.acls += len(r.Described)
	}
	quotas, err := adm.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: 2}})
	if err != nil {
		t.Fatalf("describe client quotas: %v", err)
	}
	out.quotas = len(quotas)
	return out
}
