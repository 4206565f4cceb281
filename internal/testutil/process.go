package testutil

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// brokerProcessEnv, set in the environment of a re-executed test binary,
// makes MaybeServeBrokerProcess serve a broker instead of running tests. Its
// value is the JSON of a processSpec.
const brokerProcessEnv = "AFFLUENT_TEST_BROKER_PROCESS"

// processReadyPrefix starts the line a broker process prints on standard
// output once it accepts connections; the address follows.
const processReadyPrefix = "affluent test broker listening on "

// processSpec is what a broker process serves.
type processSpec struct {
	DataDir    string
	Addr       string
	Tenants    []Tenant
	Storage    StorageOptions
	Membership *MembershipOptions `json:",omitempty"`
	Anonymous  bool               `json:",omitempty"`
}

// MaybeServeBrokerProcess turns this test binary into a broker when
// StartBrokerProcess re-executed it, and returns otherwise. A package that
// starts broker processes calls it first thing in TestMain:
//
//	func TestMain(m *testing.M) {
//		testutil.MaybeServeBrokerProcess()
//		os.Exit(m.Run())
//	}
//
// (or in an init of a test file, when TestMain is taken).
//
// The broker is StartBroker's, on the data directory and address it was
// given; it logs to standard error and prints its address on standard
// output. It stops cleanly (flushing storage) when its standard input closes
// or on SIGTERM/SIGINT, and exits; tests kill it with SIGKILL to crash it.
func MaybeServeBrokerProcess() {
	raw, ok := os.LookupEnv(brokerProcessEnv)
	if !ok {
		return
	}
	os.Exit(serveBrokerProcess(raw))
}

func serveBrokerProcess(raw string) int {
	var spec processSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fmt.Fprintf(os.Stderr, "broker process: bad $%s: %v\n", brokerProcessEnv, err)
		return 2
	}
	tb := &processTB{}
	h := StartBroker(tb, BrokerOptions{DataDir: spec.DataDir, Addr: spec.Addr, Tenants: spec.Tenants, Storage: spec.Storage,
		Membership: spec.Membership, Anonymous: spec.Anonymous})
	fmt.Printf("%s%s\n", processReadyPrefix, h.Addr)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-stop:
	case <-stdinClosed:
	}
	tb.runCleanups()
	if tb.Failed() {
		return 1
	}
	return 0
}

// processTB is the testing.TB StartBroker gets inside a broker process,
// where there is no test: failures go to standard error and cleanups run
// when the process stops. The embedded TB is nil; StartBroker uses only the
// methods defined here.
type processTB struct {
	testing.TB

	mu       sync.Mutex // guards failed and cleanups
	failed   bool
	cleanups []func()
}

func (p *processTB) Helper()      {}
func (p *processTB) Name() string { return "broker-process" }

func (p *processTB) Output() io.Writer { return os.Stderr }

func (p *processTB) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func (p *processTB) Errorf(format string, args ...any) {
	p.Logf(format, args...)
	p.mu.Lock()
	p.failed = true
	p.mu.Unlock()
}

func (p *processTB) Fatalf(format string, args ...any) {
	p.Logf(format, args...)
	p.runCleanups()
	os.Exit(1)
}

func (p *processTB) Failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.failed
}

func (p *processTB) Cleanup(f func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cleanups = append(p.cleanups, f)
}

func (p *processTB) TempDir() string {
	dir, err := os.MkdirTemp("", "affluent-broker-process-")
	if err != nil {
		p.Fatalf("temp dir: %v", err)
	}
	return dir
}

func (p *processTB) Context() context.Context { return context.Background() }

func (p *processTB) runCleanups() {
	p.mu.Lock()
	fs := p.cleanups
	p.cleanups = nil
	p.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// BrokerProcessOptions configure StartBrokerProcess: what BrokerOptions
// can say across a process boundary.
type BrokerProcessOptions struct {
	// DataDir holds the storage; empty means a new t.TempDir().
	DataDir string
	// Addr is the listen address; empty means a free loopback port, which
	// restarts keep.
	Addr string
	// Tenants replaces DefaultTenants.
	Tenants []Tenant
	// Storage chooses and tunes the storage, as BrokerOptions.Storage.
	Storage StorageOptions
	// Membership and Anonymous are BrokerOptions'.
	Membership *MembershipOptions
	Anonymous  bool
	// CPUGroup, when set, is the CPU budget of the process: it is moved
	// into the group as it starts (each start) and runs with GOMAXPROCS
	// at the group's quota, rounded up.
	CPUGroup *CPUGroup
}

// BrokerProcess is a broker serving in a child process (this test binary,
// re-executed), so that a test can crash it with SIGKILL and restart it on
// the same storage and address, as a machine failure would.
type BrokerProcess struct {
	// Addr is the host:port clients bootstrap from; it survives restarts.
	Addr string
	// Username, Password and Cluster are Tenants[0], the usual one.
	Username, Password, Cluster string
	Tenants                     []Tenant
	DataDir                     string
	// Storage is what every start of the process is given: the options,
	// with BrokerBackend's bucket resolved here (the process cannot start
	// an S3 server that outlives it).
	Storage StorageOptions
	// LogPath is the file the process's standard error goes to, across
	// restarts. Its tail is printed when the test fails.
	LogPath string

	membership *MembershipOptions
	anonymous  bool
	cpuGroup   *CPUGroup

	t testing.TB

	mu     sync.Mutex // guards cmd, stdin, exited and waitErr
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed when cmd has been waited for
	// waitErr is cmd's exit status, set before exited is closed.
	waitErr error
}

// StartBrokerProcess starts a broker in a child process and waits until it
// serves. The package's TestMain must call MaybeServeBrokerProcess. The
// process is stopped cleanly when the test ends, and the test fails if it
// then exits with an error (a data race the race detector saw, a storage
// error on close).
func StartBrokerProcess(t testing.TB, opts BrokerProcessOptions) *BrokerProcess {
	t.Helper()
	p := &BrokerProcess{t: t, Addr: opts.Addr, DataDir: opts.DataDir, Tenants: opts.Tenants,
		membership: opts.Membership, anonymous: opts.Anonymous, cpuGroup: opts.CPUGroup}
	if p.DataDir == "" {
		p.DataDir = t.TempDir()
	}
	p.Storage = opts.Storage.resolve(t, p.DataDir)
	if len(p.Tenants) == 0 {
		p.Tenants = DefaultTenants
	}
	p.Username, p.Password, p.Cluster = p.Tenants[0].Username, p.Tenants[0].Password, p.Tenants[0].Cluster
	p.LogPath = filepath.Join(t.TempDir(), "broker-process.log")
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("broker process log %s (tail):\n%s", p.LogPath, p.logTail(16<<10))
		}
	})
	p.start()
	return p
}

// LaunchBrokerProcess is StartBrokerProcess for a program that is not a
// test (the benchmarks): its main calls MaybeServeBrokerProcess first
// thing, errors are returned rather than failing a test, opts.Storage is
// taken as it is (BrokerBackend plays no part), and the caller stops the
// process with Close.
func LaunchBrokerProcess(opts BrokerProcessOptions) (*BrokerProcess, error) {
	p := &BrokerProcess{Addr: opts.Addr, DataDir: opts.DataDir, Tenants: opts.Tenants, Storage: opts.Storage,
		membership: opts.Membership, anonymous: opts.Anonymous, cpuGroup: opts.CPUGroup}
	if p.DataDir == "" {
		dir, err := os.MkdirTemp("", "affluent-broker-")
		if err != nil {
			return nil, err
		}
		p.DataDir = dir
	} else if err := os.MkdirAll(p.DataDir, 0o755); err != nil {
		return nil, err
	}
	if len(p.Tenants) == 0 {
		p.Tenants = DefaultTenants
	}
	p.Username, p.Password, p.Cluster = p.Tenants[0].Username, p.Tenants[0].Password, p.Tenants[0].Cluster
	p.LogPath = filepath.Join(p.DataDir, "broker-process.log")
	if err := p.launch(); err != nil {
		return nil, err
	}
	return p, nil
}

// Close stops a process of LaunchBrokerProcess cleanly (as Stop does) and
// reports how it exited.
func (p *BrokerProcess) Close() error { return p.stop() }

// Pid is the process id of the running broker process.
func (p *BrokerProcess) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

func (p *BrokerProcess) start() {
	p.t.Helper()
	if err := p.launch(); err != nil {
		p.t.Fatalf("%v", err)
	}
}

// launch starts the process and waits until it serves.
func (p *BrokerProcess) launch() error {
	spec, err := json.Marshal(processSpec{DataDir: p.DataDir, Addr: p.Addr, Tenants: p.Tenants, Storage: p.Storage,
		Membership: p.membership, Anonymous: p.anonymous})
	if err != nil {
		return fmt.Errorf("broker process spec: %w", err)
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("broker process log: %w", err)
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "=== %s: starting broker process on %s (data %s)\n", time.Now().Format(time.RFC3339Nano), p.Addr, p.DataDir)

	// -test.run=^$ runs no test should TestMain not serve the broker.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), brokerProcessEnv+"="+string(spec))
	if p.cpuGroup != nil && p.cpuGroup.GOMAXPROCS() > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(p.cpuGroup.GOMAXPROCS()))
	}
	cmd.Stderr = logFile
	// Pdeathsig and the standard input pipe both end the broker if the test
	// binary dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("broker process stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("broker process stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start broker process %s: %w", os.Args[0], err)
	}
	if p.cpuGroup != nil {
		// Before it serves: its start-up work is a small part of its
		// budget, and everything after runs within it.
		if err := p.cpuGroup.Add(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return err
		}
	}
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), processReadyPrefix); ok {
				ready <- addr
			}
		}
		err := cmd.Wait() // after stdout is drained, as exec requires
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(exited)
	}()
	p.mu.Lock()
	p.cmd, p.stdin, p.exited = cmd, stdin, exited
	p.mu.Unlock()

	select {
	case addr := <-ready:
		if p.Addr != "" && addr != p.Addr {
			return fmt.Errorf("broker process listens on %s, want %s", addr, p.Addr)
		}
		p.Addr = addr
		return nil
	case <-exited:
		return fmt.Errorf("broker process exited before serving (%v); did the package's TestMain call testutil.MaybeServeBrokerProcess?\nlog:\n%s",
			p.exitErr(), p.logTail(16<<10))
	case <-time.After(60 * time.Second):
		p.Kill()
		return fmt.Errorf("broker process not serving after 60s\nlog:\n%s", p.logTail(16<<10))
	}
}

func (p *BrokerProcess) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Kill crashes the broker with SIGKILL and waits for it to be gone: nothing
// buffered is flushed, no connection is closed politely.
func (p *BrokerProcess) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	p.appendLog("=== %s: broker process killed (SIGKILL)\n", time.Now().Format(time.RFC3339Nano))
}

// Restart starts the broker again on the same data directory and address,
// killing it first if it still runs, and waits until it serves. It is for
// processes of StartBrokerProcess, which have a test to fail.
func (p *BrokerProcess) Restart() {
	p.t.Helper()
	select {
	case <-p.exitedChan():
	default:
		p.Kill()
	}
	p.start()
}

func (p *BrokerProcess) exitedChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Stop stops the broker cleanly (closing its standard input), waiting up to
// 30s before killing it, and fails the test if it exited with an error. It
// does nothing when the broker is not running.
func (p *BrokerProcess) Stop() {
	if err := p.stop(); err != nil {
		p.t.Errorf("%v", err)
	}
}

func (p *BrokerProcess) stop() error {
	p.mu.Lock()
	stdin, exited := p.stdin, p.exited
	p.mu.Unlock()
	if exited == nil {
		return nil
	}
	select {
	case <-exited:
		return nil // killed, or already stopped
	default:
	}
	_ = stdin.Close()
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		p.Kill()
		return errors.New("broker process did not stop within 30s of its stdin closing; killed it")
	}
	if err := p.exitErr(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 66 {
			return fmt.Errorf("broker process: the race detector found a data race (exit status 66); see %s", p.LogPath)
		}
		return fmt.Errorf("broker process exited with %w; see %s", err, p.LogPath)
	}
	return nil
}

func (p *BrokerProcess) appendLog(format string, args ...any) {
	f, err := os.OpenFile(p.LogPath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format, args...)
}

func (p *BrokerProcess) logTail(n int64) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// handle is a BrokerHandle naming only this broker's address and tenants,
// enough for its client helpers.
func (p *BrokerProcess) handle() *BrokerHandle {
	return &BrokerHandle{Addr: p.Addr, Tenants: p.Tenants, Username: p.Username, Password: p.Password, Cluster: p.Cluster, DataDir: p.DataDir}
}

// ClientOpts are the franz-go options to reach the broker as tenant
// (Tenants[0] when none is given).
func (p *BrokerProcess) ClientOpts(tenant ...Tenant) []kgo.Opt {
	return p.handle().ClientOpts(tenant...)
}

// Client returns a franz-go client of Tenants[0] with extra options, closed
// when the test ends.
func (p *BrokerProcess) Client(t testing.TB, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	return p.handle().Client(t, extra...)
}

// Admin returns a kadm client of Tenants[0], closed when the test ends.
func (p *BrokerProcess) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return p.handle().Admin(t)
}
