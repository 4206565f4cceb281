package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles of the system under test, served on loopback
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// System is one system under test, running in a child process.
type System struct {
	Name    string
	DataDir string
	// Addr is the Kafka bootstrap address; PprofAddr serves net/http/pprof.
	Addr, PprofAddr string
	// User and Pass are SASL/PLAIN credentials when the system requires them.
	User, Pass string
	// REST, CloudKey, CloudSecret and Env reach the control plane, for
	// systems that have one.
	REST, CloudKey, CloudSecret, Env string

	cmd *exec.Cmd
}

// startSystem re-executes this binary with -serve name and waits for the
// line announcing its addresses.
func startSystem(ctx context.Context, name, dataDir string) (*System, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-serve", name, "-data-dir", dataDir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &System{Name: name, DataDir: dataDir, cmd: cmd}
	lines := bufio.NewScanner(stdout)
	ready := make(chan error, 1)
	go func() {
		for lines.Scan() {
			// SERVING kafka=ADDR pprof=ADDR [user=U pass=P]
			if f := strings.Fields(lines.Text()); len(f) > 0 && f[0] == "SERVING" {
				for _, kv := range f[1:] {
					k, v, _ := strings.Cut(kv, "=")
					switch k {
					case "kafka":
						s.Addr = v
					case "pprof":
						s.PprofAddr = v
					case "user":
						s.User = v
					case "pass":
						s.Pass = v
					case "rest":
						s.REST = v
					case "cloud_key":
						s.CloudKey = v
					case "cloud_secret":
						s.CloudSecret = v
					case "env":
						s.Env = v
					}
				}
				ready <- nil
				return
			}
		}
		ready <- errors.New("child exited before serving")
	}()
	select {
	case err := <-ready:
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("start %s: not serving after 60s", name)
	}
	return s, nil
}

// Stop ends the child gracefully (SIGINT), then by force.
func (s *System) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// RSSBytes is the resident memory of the child process.
func (s *System) RSSBytes() (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// HeapInuseAfterGC forces a garbage collection in the child and returns
// the bytes its heap then holds (live objects and fragmentation).
func (s *System) HeapInuseAfterGC(ctx context.Context) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.PprofAddr+"/debug/pprof/heap?gc=1&debug=1", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), "# HeapInuse = "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no HeapInuse in the heap profile of %s", s.Name)
}

// Client returns a franz-go client of the system with opts added.
func (s *System) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	base := []kgo.Opt{kgo.SeedBrokers(s.Addr)}
	if s.User != "" {
		base = append(base, kgo.SASL(plain.Auth{User: s.User, Pass: s.Pass}.AsMechanism()))
	}
	return kgo.NewClient(append(base, opts...)...)
}

// serveSystem runs in the child: it starts the named system, prints its
// addresses and serves until interrupted.
func serveSystem(ctx context.Context, name, dataDir string) error {
	pprofLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = http.Serve(pprofLis, nil) }()

	var line string
	switch name {
	case "kfake":
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(0))
		if err != nil {
			return err
		}
		defer c.Close()
		line = "kafka=" + c.ListenAddrs()[0]
	case "affluent":
		stop, l, err := serveAffluent(ctx, dataDir)
		if err != nil {
			return err
		}
		defer stop()
		line = l
	default:
		return fmt.Errorf("unknown system %q", name)
	}
	fmt.Printf("SERVING %s pprof=%s\n", line, pprofLis.Addr())
	<-ctx.Done()
	return nil
}
