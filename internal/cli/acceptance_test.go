package cli

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIAgainstAffluentDev builds the binary, starts `affluent dev` on free
// loopback ports and runs testdata/cli-test.sh against it: login, an
// environment, a cluster, a topic, a service account with a Kafka API key
// and a role binding, 1,000 keyed records produced and consumed by a group
// with lag 0, misuse, and deleting everything.
func TestCLIAgainstAffluentDev(t *testing.T) {
	if testing.Short() {
		t.Skip("starts affluent dev")
	}
	for _, tool := range []string{"bash", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make test-deps installs it): %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "affluent")
	build := exec.Command("go", "build", "-o", bin, "github.com/affluent-io/affluent/cmd/affluent")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dataDir := filepath.Join(dir, "data")
	startDev(t, bin, dataDir)

	script, err := filepath.Abs("testdata/cli-test.sh")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = work
	cmd.Env = append(os.Environ(),
		"AFFLUENT="+bin,
		"CREDS="+filepath.Join(dataDir, "dev-credentials.json"),
		"AFFLUENT_CONFIG="+filepath.Join(dir, "home", ".config", "affluent", "config.yaml"),
		"HOME="+filepath.Join(dir, "home"),
		"WORK="+work,
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cli-test.sh failed after %v: %v\n%s", time.Since(start).Round(time.Millisecond), err, out)
	}
	steps := strings.Count(string(out), "\n--- ") - 1 // less the closing line
	t.Logf("cli-test.sh: %d steps passed in %v", steps, time.Since(start).Round(time.Millisecond))
	if !strings.Contains(string(out), "--- all steps passed") {
		t.Fatalf("cli-test.sh ended early:\n%s", out)
	}
}

// startDev runs `affluent dev` until the test ends and waits until it has
// written its credentials. Its addresses are free ports picked here; if
// another process takes one before affluent dev binds it, affluent dev
// exits at once, and it is started again on new ones.
func startDev(t *testing.T, bin, dataDir string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		if startDevOnce(t, bin, dataDir) {
			return
		}
		if attempt == 3 {
			t.Fatal("affluent dev exited before it was ready, three times")
		}
	}
}

// startDevOnce starts affluent dev and reports whether it became ready;
// false when it exited first (a port taken meanwhile).
func startDevOnce(t *testing.T, bin, dataDir string) bool {
	t.Helper()
	addr := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	cmd := exec.Command(bin, "dev", "--data-dir", dataDir, "--http-addr", addr(),
		"--kafka-addr", addr(), "--grpc-addr", addr(), "--log-level", "error")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if strings.Contains(lines.Text(), "Credentials:") {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		_ = cmd.Wait()
		return false
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatal("affluent dev did not print its credentials file within 60s")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return true
}
