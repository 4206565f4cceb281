package dedicated

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// The local provisioner's unit tests run a stand-in for the affluent
// binary: a shell script that runs until SIGTERM. Its probe reports the
// brokers whose processes are alive. (Real brokers are in controlplane's
// TestDedicatedClusterLocalProcesses.)

const fakeBroker = `#!/bin/sh
trap 'exit 0' TERM
while :; do sleep 0.05; done
`

// helperEnv makes the test binary a control plane that provisions two
// brokers in the directory it names, then waits to be killed.
const helperEnv = "AFFLUENT_DEDICATED_TEST_CRASHING_CONTROLPLANE"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		l := newTestLocal(dir)
		if _, err := l.Provision(context.Background(), testCluster(2)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("provisioned")
		select {}
	}
	os.Exit(m.Run())
}

func testCluster(brokers int32) resource.Cluster {
	return resource.Cluster{Meta: resource.Meta{ID: "lkc-test1"}, Type: resource.ClusterDedicated, Brokers: brokers}
}

// newTestLocal is a Local provisioner in dir running the fake broker.
func newTestLocal(dir string) *Local {
	bin := filepath.Join(dir, "fake-affluent")
	if err := os.WriteFile(bin, []byte(fakeBroker), 0o755); err != nil {
		panic(err)
	}
	var l *Local
	probe := func(_ context.Context, clusterID, _ string) ([]int32, error) {
		var live []int32
		for id, pid := range l.PIDs(clusterID) {
			if p, err := os.FindProcess(pid); err == nil && alive(p) {
				live = append(live, id)
			}
		}
		return live, nil
	}
	var err error
	l, err = NewLocal(LocalOptions{Binary: bin, Dir: filepath.Join(dir, "clusters"), ControlPlaneAddr: "127.0.0.1:8090",
		BrokerSecret: "s3cret-value", Probe: probe, StopGrace: 2 * time.Second, StepBudget: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	return l
}

func gone(pid int) bool {
	p, err := os.FindProcess(pid)
	return err != nil || !alive(p)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after 10s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLocalGrowsShrinksRestartsAndDeletes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := newTestLocal(dir)
	t.Cleanup(l.Close)

	if _, err := l.Provision(ctx, testCluster(0)); !errors.Is(err, cluster.ErrPermanent) {
		t.Fatalf("0 brokers: %v, want ErrPermanent", err)
	}
	if _, err := l.Provision(ctx, resource.Cluster{Meta: resource.Meta{ID: "lkc-../../etc"}, Brokers: 1}); !errors.Is(err, cluster.ErrPermanent) {
		t.Fatalf("bad id: %v, want ErrPermanent", err)
	}
	bootstrap, err := l.Provision(ctx, testCluster(3))
	if err != nil {
		t.Fatal(err)
	}
	pids := l.PIDs("lkc-test1")
	if n := len(strings.Split(bootstrap, ",")); n != 3 || len(pids) != 3 {
		t.Fatalf("bootstrap %s, pids %v; want 3 brokers", bootstrap, pids)
	}
	// Each broker is told its cluster, id and stores on its command line;
	// the secret only in its environment.
	for id, pid := range pids {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			t.Fatal(err)
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		for _, want := range []string{"server --roles broker", "--dedicated-cluster lkc-test1", fmt.Sprintf("--broker-id %d", id),
			"--metadata-db sqlite://" + filepath.Join(dir, "clusters", "lkc-test1", "dataplane.db"), "--metadata-db-shared",
			"--object-store file://" + filepath.Join(dir, "clusters", "lkc-test1", "objects"), "--controlplane-addr 127.0.0.1:8090"} {
			if !strings.Contains(cmdline, want) {
				t.Errorf("broker %d command line %q lacks %q", id, cmdline, want)
			}
		}
		if strings.Contains(cmdline, "s3cret") {
			t.Errorf("broker %d has the secret on its command line", id)
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if !slices.Contains(strings.Split(string(env), "\x00"), "AFFLUENT_BROKER_SECRET=s3cret-value") {
			t.Errorf("broker %d lacks the secret in its environment", id)
		}
	}
	// Provision again changes nothing.
	if again, err := l.Provision(ctx, testCluster(3)); err != nil || again != bootstrap || !maps.Equal(l.PIDs("lkc-test1"), pids) {
		t.Fatalf("provision again: %s, %v, pids %v; want %s and %v", again, err, l.PIDs("lkc-test1"), bootstrap, pids)
	}

	// A broker that dies is started again, on its port.
	if err := syscall.Kill(pids[1], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart of broker 1", func() bool {
		now := l.PIDs("lkc-test1")[1]
		return now != pids[1] && now != 0 && !gone(now)
	})
	if again, err := l.Provision(ctx, testCluster(3)); err != nil || again != bootstrap {
		t.Fatalf("after a restart: %s, %v; want %s", again, err, bootstrap)
	}

	// Shrinking stops the highest ids first, and only them.
	pids = l.PIDs("lkc-test1")
	shrunk, err := l.Provision(ctx, testCluster(1))
	if err != nil {
		t.Fatal(err)
	}
	if shrunk != strings.Split(bootstrap, ",")[0] {
		t.Errorf("shrunk bootstrap %s, want broker 0's %s", shrunk, strings.Split(bootstrap, ",")[0])
	}
	if !gone(pids[1]) || !gone(pids[2]) || gone(pids[0]) {
		t.Errorf("after shrinking to 1: brokers 1 and 2 gone %v %v, broker 0 gone %v", gone(pids[1]), gone(pids[2]), gone(pids[0]))
	}
	// Growing again gives broker 1 its old port back.
	regrown, err := l.Provision(ctx, testCluster(2))
	if err != nil {
		t.Fatal(err)
	}
	if regrown != strings.Join(strings.Split(bootstrap, ",")[:2], ",") {
		t.Errorf("grown back to 2: %s, want %s", regrown, strings.Join(strings.Split(bootstrap, ",")[:2], ","))
	}

	// Deleting stops every broker and removes the cluster's directory.
	pids = l.PIDs("lkc-test1")
	if err := l.Deprovision(ctx, testCluster(2)); err != nil {
		t.Fatal(err)
	}
	for id, pid := range pids {
		if !gone(pid) {
			t.Errorf("broker %d (pid %d) still runs after Deprovision", id, pid)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "clusters", "lkc-test1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory still there: %v", err)
	}
	// Deprovision is idempotent.
	if err := l.Deprovision(ctx, testCluster(2)); err != nil {
		t.Errorf("second Deprovision: %v", err)
	}
}

// TestLocalAdoptsBrokersOfACrashedControlPlane: a control plane killed
// with SIGKILL leaves its brokers running; the next adopts them (same
// pids, same bootstrap), resizes and deletes them.
func TestLocalAdoptsBrokersOfACrashedControlPlane(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	crashing := exec.Command(self, "-test.run=^$")
	crashing.Env = append(os.Environ(), helperEnv+"="+dir)
	out, err := crashing.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	crashing.Stderr = os.Stderr
	if err := crashing.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("provisioned"))
	if _, err := out.Read(buf); err != nil || string(buf) != "provisioned" {
		_ = crashing.Process.Kill()
		t.Fatalf("crashing control plane: %q, %v", buf, err)
	}
	_ = crashing.Process.Kill()
	_ = crashing.Wait()

	l := newTestLocal(dir)
	t.Cleanup(l.Close)
	st, err := os.ReadFile(filepath.Join(dir, "clusters", "lkc-test1", brokersFile))
	if err != nil {
		t.Fatal(err)
	}
	bootstrap, err := l.Provision(ctx, testCluster(2))
	if err != nil {
		t.Fatal(err)
	}
	pids := l.PIDs("lkc-test1")
	for id, pid := range pids {
		if !strings.Contains(string(st), fmt.Sprintf(`"pid": %d`, pid)) {
			t.Errorf("broker %d runs as pid %d, not the adopted one of %s", id, pid, st)
		}
	}
	if len(pids) != 2 || strings.Count(bootstrap, ",") != 1 {
		t.Fatalf("adopted %v with bootstrap %s, want 2 brokers", pids, bootstrap)
	}
	// An adopted broker that dies is started again too.
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "restart of adopted broker 0", func() bool {
		now := l.PIDs("lkc-test1")[0]
		return now != pids[0] && now != 0 && !gone(now)
	})
	if _, err := l.Provision(ctx, testCluster(1)); err != nil {
		t.Fatal(err)
	}
	if !gone(pids[1]) {
		t.Errorf("adopted broker 1 (pid %d) still runs after shrinking to 1", pids[1])
	}
	last := l.PIDs("lkc-test1")[0]
	if err := l.Deprovision(ctx, testCluster(1)); err != nil {
		t.Fatal(err)
	}
	if !gone(last) {
		t.Errorf("broker 0 (pid %d) still runs after Deprovision", last)
	}
}

// TestLocalReportsABrokerThatCannotRun: a broker exiting as soon as it
// starts is an error the reconciler counts, not a broker still starting.
func TestLocalReportsABrokerThatCannotRun(t *testing.T) {
	dir := t.TempDir()
	l := newTestLocal(dir)
	t.Cleanup(l.Close)
	if err := os.WriteFile(l.opts.Binary, []byte("#!/bin/sh\necho 'bad flag' >&2\nexit 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// It never answers Kafka requests.
	l.opts.Probe = func(context.Context, string, string) ([]int32, error) { return nil, errors.New("connection refused") }
	_, err := l.Provision(context.Background(), testCluster(1))
	if err == nil || errors.Is(err, cluster.ErrNotReady) || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "broker.log") {
		t.Fatalf("provision with a broker that cannot run: %v, want an error naming its log", err)
	}
	if pids := l.PIDs("lkc-test1"); len(pids) != 0 {
		t.Errorf("the failing broker is still supervised: %v", pids)
	}
	logFile := filepath.Join(dir, "clusters", "lkc-test1", "broker-0", "broker.log")
	if raw, _ := os.ReadFile(logFile); !strings.Contains(string(raw), "bad flag") {
		t.Errorf("broker log %s: %q, want the broker's stderr", logFile, raw)
	}
}
