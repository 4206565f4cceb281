// Package dedicated provisions DEDICATED clusters: brokers of their own,
// as `affluent server --roles broker` processes on this machine (Local) or
// as Kubernetes objects (Kubernetes). Each cluster's brokers share a
// metadata DB and an object store of the cluster's own, and serve that
// cluster only (--dedicated-cluster).
package dedicated

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// LocalOptions configure a Local provisioner.
type LocalOptions struct {
	// Binary is the affluent executable the brokers run.
	Binary string
	// Dir holds a directory per cluster: its metadata DB (dataplane.db),
	// its objects, the state of its brokers (brokers.json) and a data
	// directory per broker. Deleting the cluster removes its directory.
	Dir string
	// ControlPlaneAddr is the gRPC address the brokers watch for their
	// configuration, and BrokerSecret what they present there. The
	// secret goes to them in their environment, never on a command line.
	ControlPlaneAddr string
	BrokerSecret     string
	// Host is the address brokers listen on and advertise (default
	// 127.0.0.1).
	Host string
	// Probe asks the broker at addr, with Kafka Metadata, for the node ids
	// of the cluster's live brokers. A broker is ready once it answers
	// listing itself and the brokers started before it.
	Probe func(ctx context.Context, clusterID, addr string) ([]int32, error)
	// StopGrace is how long a broker has to stop after SIGTERM before it
	// is killed (default 10s).
	StopGrace time.Duration
	// StepBudget bounds how long one Provision call waits for brokers to
	// become ready before it returns ErrNotReady and lets the reconciler
	// call again (default 15s).
	StepBudget time.Duration
	Logger     *slog.Logger
}

// Local runs each DEDICATED cluster's brokers as processes of the affluent
// binary on this machine, supervised: a broker that exits on its own is
// started again. Brokers outlive a control plane that crashes; the next
// one adopts them (their pids are kept in brokers.json), and starts those
// gone. Close stops them all.
type Local struct {
	opts LocalOptions
	log  *slog.Logger

	mu       sync.Mutex // guards clusters and closed
	clusters map[string]*localCluster
	closed   bool
}

var _ cluster.Provisioner = (*Local)(nil)

// NewLocal returns a Local provisioner.
func NewLocal(opts LocalOptions) (*Local, error) {
	var errs []error
	if opts.Binary == "" {
		errs = append(errs, errors.New("local dedicated provisioner: no affluent binary"))
	}
	if opts.Dir == "" {
		errs = append(errs, errors.New("local dedicated provisioner: no directory"))
	}
	if opts.ControlPlaneAddr == "" {
		errs = append(errs, errors.New("local dedicated provisioner: no control plane address"))
	}
	if opts.Probe == nil {
		errs = append(errs, errors.New("local dedicated provisioner: no probe"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	opts.Host = cmp.Or(opts.Host, "127.0.0.1")
	opts.StopGrace = cmp.Or(opts.StopGrace, 10*time.Second)
	opts.StepBudget = cmp.Or(opts.StepBudget, 15*time.Second)
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Local{opts: opts, log: opts.Logger, clusters: map[string]*localCluster{}}, nil
}

// localCluster is one cluster's brokers.
type localCluster struct {
	id  string
	dir string

	// step serializes Provision and Deprovision calls of the cluster.
	step sync.Mutex

	mu sync.Mutex // guards brokers and ports
	// brokers are the supervised brokers, by node id.
	brokers map[int32]*localBroker
	// ports remembers each node id's Kafka port, so that a broker started
	// again keeps its address.
	ports map[int32]int
}

// localBroker is one supervised broker process.
type localBroker struct {
	id       int32
	port     int
	stop     chan struct{} // closed (once) to stop it
	stopOnce sync.Once
	done     chan struct{} // closed once it is stopped for good

	mu  sync.Mutex // guards pid and exits
	pid int
	// exits counts the times its process exited unasked.
	exits int
}

func (b *localBroker) exited() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exits
}

func (b *localBroker) currentPID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pid
}

// brokersFile is the state of a cluster's brokers, in its directory.
const brokersFile = "brokers.json"

type brokerRecord struct {
	ID   int32 `json:"id"`
	Port int   `json:"port"`
	PID  int   `json:"pid,omitempty"`
}

type brokersState struct {
	Brokers []brokerRecord `json:"brokers"`
}

// clusterDir is where cluster id keeps its data. Ids are checked, so that
// nothing but a cluster id names a directory.
func (l *Local) clusterDir(id string) (string, error) {
	if !strings.HasPrefix(id, resource.PrefixCluster) || strings.ContainsAny(id, `/\.`) {
		return "", fmt.Errorf("%w: bad cluster id %q", cluster.ErrPermanent, id)
	}
	return filepath.Join(l.opts.Dir, id), nil
}

// cluster returns the cluster's brokers, adopting the processes a previous
// control plane left running.
func (l *Local) cluster(id string) (*localCluster, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("local dedicated provisioner closed")
	}
	if lc, ok := l.clusters[id]; ok {
		return lc, nil
	}
	dir, err := l.clusterDir(id)
	if err != nil {
		return nil, err
	}
	lc := &localCluster{id: id, dir: dir, brokers: map[int32]*localBroker{}, ports: map[int32]int{}}
	raw, err := os.ReadFile(filepath.Join(dir, brokersFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read brokers of %s: %w", id, err)
	}
	if err == nil {
		var st brokersState
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("read brokers of %s: %w", id, err)
		}
		for _, r := range st.Brokers {
			lc.ports[r.ID] = r.Port
			if r.PID > 0 && isBrokerOf(r.PID, id, r.ID) {
				proc, err := os.FindProcess(r.PID)
				if err != nil {
					continue
				}
				b := &localBroker{id: r.ID, port: r.Port, pid: r.PID, stop: make(chan struct{}), done: make(chan struct{})}
				lc.brokers[r.ID] = b
				l.log.Info("adopted dedicated broker", "cluster", id, "broker", r.ID, "pid", r.PID, "port", r.Port)
				go l.supervise(lc, b, proc, false)
			}
		}
	}
	l.clusters[id] = lc
	return lc, nil
}

// isBrokerOf reports whether process pid is broker node of cluster, as its
// command line says (a pid reused by another process is not adopted).
func isBrokerOf(pid int, clusterID string, node int32) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
	has := func(flag, value string) bool {
		i := slices.Index(args, flag)
		return i >= 0 && i+1 < len(args) && args[i+1] == value
	}
	return has("--dedicated-cluster", clusterID) && has("--broker-id", strconv.Itoa(int(node)))
}

// Provision implements cluster.Provisioner: it moves the cluster one
// broker at a time towards c.Brokers — stopping the highest node id first
// when it shrinks, starting the lowest missing one when it grows, each
// step waiting until the brokers' Metadata agrees — and returns the
// bootstrap servers once every broker is ready. It returns
// cluster.ErrNotReady when its time budget ends first.
func (l *Local) Provision(ctx context.Context, c resource.Cluster) (string, error) {
	if c.Brokers < 1 {
		return "", fmt.Errorf("%w: cluster %s asks for %d brokers", cluster.ErrPermanent, c.ID, c.Brokers)
	}
	lc, err := l.cluster(c.ID)
	if err != nil {
		return "", err
	}
	lc.step.Lock()
	defer lc.step.Unlock()
	budget, cancel := context.WithTimeout(ctx, l.opts.StepBudget)
	defer cancel()
	for {
		ids := lc.ids()
		switch {
		case len(ids) > 0 && ids[len(ids)-1] >= c.Brokers:
			if err := l.shrink(budget, lc, ids[len(ids)-1]); err != nil {
				return "", notReady(budget, err)
			}
			continue
		case int32(len(ids)) < c.Brokers:
			next := missing(ids)
			if err := l.grow(budget, lc, next); err != nil {
				return "", notReady(budget, err)
			}
			continue
		}
		addrs := lc.addrs(l.opts.Host)
		if err := l.waitLive(budget, lc.id, addrs[0], func(live []int32) bool { return slices.Equal(live, ids) }); err != nil {
			return "", notReady(budget, err)
		}
		return strings.Join(addrs, ","), nil
	}
}

// notReady is cluster.ErrNotReady for a step cut short by the budget,
// err otherwise.
func notReady(budget context.Context, err error) error {
	if budget.Err() != nil && !errors.Is(err, errCannotRun) {
		return fmt.Errorf("%w: %v", cluster.ErrNotReady, err)
	}
	return err
}

// missing is the smallest node id not in ids (sorted).
func missing(ids []int32) int32 {
	for i, id := range ids {
		if id != int32(i) {
			return int32(i)
		}
	}
	return int32(len(ids))
}

// ids are the node ids of the supervised brokers, sorted.
func (lc *localCluster) ids() []int32 {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return slices.Sorted(maps.Keys(lc.brokers))
}

// addrs are the brokers' Kafka addresses, by node id.
func (lc *localCluster) addrs(host string) []string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	var out []string
	for _, id := range slices.Sorted(maps.Keys(lc.brokers)) {
		out = append(out, net.JoinHostPort(host, strconv.Itoa(lc.brokers[id].port)))
	}
	return out
}

// grow starts broker node and waits until it serves, knowing the brokers
// below it.
func (l *Local) grow(ctx context.Context, lc *localCluster, node int32) error {
	port, err := l.port(lc, node)
	if err != nil {
		return err
	}
	b := &localBroker{id: node, port: port, stop: make(chan struct{}), done: make(chan struct{})}
	proc, err := l.spawn(lc, b)
	if err != nil {
		return err
	}
	lc.mu.Lock()
	lc.brokers[node] = b
	lc.mu.Unlock()
	l.save(lc)
	go l.supervise(lc, b, proc, true)
	addr := net.JoinHostPort(l.opts.Host, strconv.Itoa(port))
	err = l.waitLive(ctx, lc.id, addr, func(live []int32) bool {
		for id := range node + 1 {
			if !slices.Contains(live, id) {
				return false
			}
		}
		return true
	})
	if n := b.exited(); err != nil && n >= maxStartExits {
		// Not a broker still starting: one that cannot run. It is stopped,
		// the next call starts it afresh, and the reconciler counts each
		// such failure.
		l.stopBroker(b)
		lc.mu.Lock()
		delete(lc.brokers, node)
		lc.mu.Unlock()
		l.save(lc)
		return fmt.Errorf("%w: broker %d of %s exited %d times while starting; its log: %s", errCannotRun, node, lc.id, n,
			filepath.Join(lc.dir, fmt.Sprintf("broker-%d", node), "broker.log"))
	}
	return err
}

// errCannotRun marks a broker that exits as it starts.
var errCannotRun = errors.New("broker cannot run")

// maxStartExits is how many times a new broker may exit before it is
// reported as failing rather than starting.
const maxStartExits = 3

// shrink stops broker node and waits until the brokers left no longer
// route to it.
func (l *Local) shrink(ctx context.Context, lc *localCluster, node int32) error {
	lc.mu.Lock()
	b := lc.brokers[node]
	lc.mu.Unlock()
	l.stopBroker(b)
	lc.mu.Lock()
	delete(lc.brokers, node)
	lc.mu.Unlock()
	l.save(lc)
	addrs := lc.addrs(l.opts.Host)
	if len(addrs) == 0 {
		return nil
	}
	return l.waitLive(ctx, lc.id, addrs[0], func(live []int32) bool { return !slices.Contains(live, node) })
}

// waitLive asks the broker at addr for the live brokers until ok says
// they are right or ctx ends.
func (l *Local) waitLive(ctx context.Context, clusterID, addr string, ok func([]int32) bool) error {
	var last error
	for {
		probeCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		live, err := l.opts.Probe(probeCtx, clusterID, addr)
		cancel()
		if err == nil {
			slices.Sort(live)
			if ok(live) {
				return nil
			}
			err = fmt.Errorf("broker %s lists brokers %v", addr, live)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("brokers of %s not ready: %w", clusterID, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// port is the Kafka port of node: the one it had, when it is still free,
// else a free one.
func (l *Local) port(lc *localCluster, node int32) (int, error) {
	lc.mu.Lock()
	old := lc.ports[node]
	lc.mu.Unlock()
	if old > 0 {
		if lis, err := net.Listen("tcp", net.JoinHostPort(l.opts.Host, strconv.Itoa(old))); err == nil {
			lis.Close()
			return old, nil
		}
	}
	lis, err := net.Listen("tcp", net.JoinHostPort(l.opts.Host, "0"))
	if err != nil {
		return 0, fmt.Errorf("pick a port for broker %d of %s: %w", node, lc.id, err)
	}
	defer lis.Close()
	port := lis.Addr().(*net.TCPAddr).Port
	lc.mu.Lock()
	lc.ports[node] = port
	lc.mu.Unlock()
	return port, nil
}

// spawn starts the process of broker b.
func (l *Local) spawn(lc *localCluster, b *localBroker) (*os.Process, error) {
	brokerDir := filepath.Join(lc.dir, fmt.Sprintf("broker-%d", b.id))
	if err := os.MkdirAll(brokerDir, 0o700); err != nil {
		return nil, fmt.Errorf("broker %d of %s: %w", b.id, lc.id, err)
	}
	logFile, err := os.OpenFile(filepath.Join(brokerDir, "broker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("broker %d of %s: %w", b.id, lc.id, err)
	}
	defer logFile.Close()
	cmd := exec.Command(l.opts.Binary, "server", "--roles", "broker",
		"--dedicated-cluster", lc.id,
		"--broker-id", strconv.Itoa(int(b.id)),
		"--kafka-addr", net.JoinHostPort(l.opts.Host, strconv.Itoa(b.port)),
		"--http-addr", net.JoinHostPort(l.opts.Host, "0"),
		"--controlplane-addr", l.opts.ControlPlaneAddr,
		"--data-dir", brokerDir,
		"--metadata-db", "sqlite://"+filepath.ToSlash(filepath.Join(lc.dir, "dataplane.db")),
		"--metadata-db-shared",
		"--object-store", "file://"+filepath.ToSlash(filepath.Join(lc.dir, "objects")),
		"--log-format", "json",
	)
	// Not the control plane's configuration: only what is given here.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AFFLUENT_") })
	cmd.Env = append(env, "AFFLUENT_BROKER_SECRET="+l.opts.BrokerSecret)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a terminal's Ctrl-C reaches the control
	// plane, which stops its brokers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start broker %d of %s: %w", b.id, lc.id, err)
	}
	b.mu.Lock()
	b.pid = cmd.Process.Pid
	b.mu.Unlock()
	l.log.Info("started dedicated broker", "cluster", lc.id, "broker", b.id, "pid", cmd.Process.Pid, "port", b.port)
	return cmd.Process, nil
}

// supervise waits for broker b's process (a child, or one adopted) and
// starts it again when it exits before being asked to stop.
func (l *Local) supervise(lc *localCluster, b *localBroker, proc *os.Process, child bool) {
	defer close(b.done)
	backoff := 500 * time.Millisecond
	for {
		exited := make(chan struct{})
		go func() {
			defer close(exited)
			waitExit(proc, child)
		}()
		select {
		case <-b.stop:
			l.terminate(proc, exited)
			return
		case <-exited:
		}
		b.mu.Lock()
		b.exits++
		b.mu.Unlock()
		l.log.Warn("dedicated broker exited; starting it again", "cluster", lc.id, "broker", b.id, "pid", proc.Pid, "in", backoff)
		for {
			select {
			case <-b.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			p, err := l.spawn(lc, b)
			if err == nil {
				proc, child = p, true
				l.save(lc)
				break
			}
			l.log.Error("restart dedicated broker", "cluster", lc.id, "broker", b.id, "err", err)
		}
	}
}

// waitExit returns once proc has exited: a child is waited for; another
// process (adopted) is polled.
func waitExit(proc *os.Process, child bool) {
	if child {
		_, _ = proc.Wait()
		return
	}
	for alive(proc) {
		time.Sleep(200 * time.Millisecond)
	}
}

// alive reports whether proc runs: it takes signals and is not a zombie
// waiting for a parent that is not this process to reap it.
func alive(proc *os.Process) bool {
	if proc.Signal(syscall.Signal(0)) != nil {
		return false
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", proc.Pid))
	if err != nil {
		return false
	}
	// pid (comm) state …: the state follows the last ')'.
	if i := bytes.LastIndexByte(raw, ')'); i >= 0 && i+2 < len(raw) {
		return raw[i+2] != 'Z'
	}
	return true
}

// terminate sends SIGTERM, and SIGKILL after the grace period.
func (l *Local) terminate(proc *os.Process, exited <-chan struct{}) {
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(l.opts.StopGrace):
	}
	l.log.Warn("dedicated broker did not stop in time; killing it", "pid", proc.Pid)
	_ = proc.Kill()
	<-exited
}

// stopBroker stops b and waits for its process to be gone.
func (l *Local) stopBroker(b *localBroker) {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.done
}

// save writes the brokers' ports and pids to brokers.json (best effort:
// without it a new control plane starts brokers afresh instead of
// adopting them).
func (l *Local) save(lc *localCluster) {
	lc.mu.Lock()
	var st brokersState
	for id, port := range lc.ports {
		r := brokerRecord{ID: id, Port: port}
		if b, ok := lc.brokers[id]; ok {
			r.PID = b.currentPID()
		}
		st.Brokers = append(st.Brokers, r)
	}
	lc.mu.Unlock()
	slices.SortFunc(st.Brokers, func(a, b brokerRecord) int { return cmp.Compare(a.ID, b.ID) })
	raw, _ := json.MarshalIndent(st, "", "  ")
	if err := os.MkdirAll(lc.dir, 0o700); err != nil {
		l.log.Warn("save dedicated brokers", "cluster", lc.id, "err", err)
		return
	}
	tmp := filepath.Join(lc.dir, brokersFile+".tmp")
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		l.log.Warn("save dedicated brokers", "cluster", lc.id, "err", err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(lc.dir, brokersFile)); err != nil {
		l.log.Warn("save dedicated brokers", "cluster", lc.id, "err", err)
	}
}

// Deprovision implements cluster.Provisioner: it stops the cluster's
// brokers, highest node id first, and removes its directory (metadata DB,
// objects, broker data).
func (l *Local) Deprovision(_ context.Context, c resource.Cluster) error {
	lc, err := l.cluster(c.ID)
	if err != nil {
		return err
	}
	lc.step.Lock()
	defer lc.step.Unlock()
	ids := lc.ids()
	for i := len(ids) - 1; i >= 0; i-- {
		lc.mu.Lock()
		b := lc.brokers[ids[i]]
		delete(lc.brokers, ids[i])
		lc.mu.Unlock()
		l.stopBroker(b)
	}
	if err := os.RemoveAll(lc.dir); err != nil {
		return fmt.Errorf("remove data of %s: %w", c.ID, err)
	}
	l.mu.Lock()
	delete(l.clusters, c.ID)
	l.mu.Unlock()
	l.log.Info("stopped dedicated brokers and removed their data", "cluster", c.ID, "brokers", len(ids))
	return nil
}

// PIDs returns the process ids of the cluster's brokers, by node id (for
// tests and operators).
func (l *Local) PIDs(clusterID string) map[int32]int {
	l.mu.Lock()
	lc := l.clusters[clusterID]
	l.mu.Unlock()
	out := map[int32]int{}
	if lc == nil {
		return out
	}
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for id, b := range lc.brokers {
		out[id] = b.currentPID()
	}
	return out
}

// ClusterDir is the directory of the cluster's data.
func (l *Local) ClusterDir(clusterID string) string {
	return filepath.Join(l.opts.Dir, clusterID)
}

// Close stops every broker this provisioner runs (the control plane is
// shutting down; the next one starts them again).
func (l *Local) Close() {
	l.mu.Lock()
	l.closed = true
	clusters := slices.Collect(maps.Values(l.clusters))
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, lc := range clusters {
		lc.mu.Lock()
		for _, b := range lc.brokers {
			wg.Go(func() { l.stopBroker(b) })
		}
		lc.mu.Unlock()
	}
	wg.Wait()
}
