package main

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDevProcess runs the real binary the way `make run` does and checks
// what an operator relies on: health, metrics, and a clean Ctrl-C.
func TestDevProcess(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "affluent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	httpAddr := freeAddr(t)
	cmd := exec.Command(bin, "dev", "--data-dir", t.TempDir(), "--http-addr", httpAddr,
		"--kafka-addr", freeAddr(t), "--grpc-addr", freeAddr(t))
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := bufio.NewScanner(stdout)
	readyLine := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if strings.Contains(lines.Text(), "ready") {
				readyLine <- lines.Text()
			}
		}
	}()
	select {
	case <-readyLine:
	case <-time.After(30 * time.Second):
		t.Fatal("affluent dev did not print that it is ready within 30s")
	}

	resp, err := http.Get("http://" + httpAddr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
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

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
