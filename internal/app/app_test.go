package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/affluent-io/affluent/internal/config"
)

// startDev runs `affluent dev` in-process on fresh temporary stores and
// returns it once ready, with what stops it and where Run's result comes.
func startDev(t *testing.T) (*Process, context.CancelFunc, <-chan error) {
	t.Helper()
	var cfg config.Config
	cfg.SetDefaults()
	cfg.Storage.DataDir = t.TempDir()
	cfg.GRPC.Addr, cfg.Kafka.Addr = "127.0.0.1:0", "127.0.0.1:0"
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *Process, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Config: cfg, HTTPListener: lis, Dev: true,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:  func(p *Process) { ready <- p },
		})
	}()
	select {
	case p := <-ready:
		return p, cancel, done
	case err := <-done:
		cancel()
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("not ready after 20s")
	}
	return nil, nil, nil
}

func TestHealthMetricsAndShutdown(t *testing.T) {
	p, cancel, done := startDev(t)
	base := "http://" + p.HTTPAddr
	if c := p.Credentials; c == nil || c.KafkaAPISecret == "" || c.CloudAPISecret == "" || c.BootstrapServers != p.KafkaAddr {
		t.Fatalf("dev credentials %+v, want keys and bootstrap %s", c, p.KafkaAddr)
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz: %d, want 200", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s, want 200", code, body)
	}
	code, body := get("/metrics")
	for _, series := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "affluent_build_info"} {
		if !strings.Contains(body, series) {
			t.Errorf("/metrics (%d) lacks %s", code, series)
		}
	}

	p.health.SetReady("broker", io.ErrUnexpectedEOF)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "broker") {
		t.Errorf("/readyz with a component down: %d %s, want 503 naming it", code, body)
	}

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(ShutdownTimeout + time.Second):
		t.Fatal("shutdown took too long")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}
