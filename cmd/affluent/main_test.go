package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// devProcess is `affluent dev` running as a child process.
type devProcess struct {
	cmd                       *exec.Cmd
	httpAddr, kafkaAddr, grpc string
}

func startDev(t *testing.T, bin, dataDir string) *devProcess {
	t.Helper()
	d := &devProcess{httpAddr: freeAddr(t), kafkaAddr: freeAddr(t), grpc: freeAddr(t)}
	d.cmd = exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", d.httpAddr,
		"--kafka-addr", d.kafkaAddr, "--grpc-addr", d.grpc, "--log-level", "warn")
	stdout, _ := d.cmd.StdoutPipe()
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.cmd.Process.Kill(); _ = d.cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	ready := make(chan struct{})
	go func() {
		for lines.Scan() {
			if strings.Contains(lines.Text(), "Credentials:") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("affluent dev did not print its credentials file within 30s")
	}
	return d
}

// stop sends SIGINT and requires a clean exit within 5 s.
func (d *devProcess) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still running 5s after SIGINT")
	}
	t.Logf("stopped %v after SIGINT", time.Since(start).Round(time.Millisecond))
}

type devCredentials struct {
	OrganizationID   string `json:"organization_id"`
	EnvironmentID    string `json:"environment_id"`
	ClusterID        string `json:"cluster_id"`
	BootstrapServers string `json:"bootstrap_servers"`
	RESTEndpoint     string `json:"rest_endpoint"`
	GRPCEndpoint     string `json:"grpc_endpoint"`
	CloudAPIKey      string `json:"cloud_api_key"`
	CloudAPISecret   string `json:"cloud_api_secret"`
	KafkaAPIKey      string `json:"kafka_api_key"`
	KafkaAPISecret   string `json:"kafka_api_secret"`
}

func readCredentials(t *testing.T, dataDir string) devCredentials {
	t.Helper()
	path := filepath.Join(dataDir, "dev-credentials.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	var c devCredentials
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

func kafkaClient(t *testing.T, c devCredentials, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.BootstrapServers),
		kgo.SASL(plain.Auth{User: c.KafkaAPIKey, Pass: c.KafkaAPISecret}.AsMechanism()),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestDevProcess runs the real binary the way `make run` does and checks
// what users rely on: the credentials file of CONTRACT.md, health and
// metrics, Kafka with the dev key, a clean Ctrl-C, and a restart that
// keeps every record and the same credentials.
func TestDevProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "affluent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	dev := startDev(t, bin, dataDir)
	creds := readCredentials(t, dataDir)
	for name, v := range map[string]string{
		"organization_id": creds.OrganizationID, "cloud_api_key": creds.CloudAPIKey, "cloud_api_secret": creds.CloudAPISecret,
		"kafka_api_key": creds.KafkaAPIKey, "kafka_api_secret": creds.KafkaAPISecret,
	} {
		if v == "" {
			t.Errorf("dev-credentials.json: %s is empty", name)
		}
	}
	if !strings.HasPrefix(creds.EnvironmentID, "env-") || !strings.HasPrefix(creds.ClusterID, "lkc-") ||
		creds.BootstrapServers != dev.kafkaAddr || creds.RESTEndpoint != "http://"+dev.httpAddr || creds.GRPCEndpoint != dev.grpc {
		t.Errorf("dev-credentials.json %+v does not match the addresses given (%s, %s, %s)", creds, dev.kafkaAddr, dev.httpAddr, dev.grpc)
	}

	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get("http://" + dev.httpAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl := kafkaClient(t, creds)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, -1, nil, "tour"); err != nil {
		t.Fatalf("create topic with the dev Kafka key: %v", err)
	}
	const n = 100
	for i := range n {
		r := &kgo.Record{Topic: "tour", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	cl.Close()
	dev.stop(t)

	dev = startDev(t, bin, dataDir)
	again := readCredentials(t, dataDir)
	if again.KafkaAPIKey != creds.KafkaAPIKey || again.CloudAPIKey != creds.CloudAPIKey || again.ClusterID != creds.ClusterID {
		t.Fatalf("restart changed the credentials: %+v, was %+v", again, creds)
	}
	again.BootstrapServers = dev.kafkaAddr
	cons := kafkaClient(t, again, kgo.ConsumeTopics("tour"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]string{}
	for len(seen) < n && ctx.Err() == nil {
		cons.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Key)] = string(r.Value) })
	}
	for i := range n {
		if got := seen[fmt.Sprintf("k%d", i)]; got != fmt.Sprintf("v%d", i) {
			t.Fatalf("after restart, key k%d has value %q, want v%d (read %d records)", i, got, i, len(seen))
		}
	}
	dev.stop(t)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
