package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// Provisioner makes a cluster's desired state real. Both methods must be
// idempotent: after a crash the reconciler calls them again.
type Provisioner interface {
	// Provision readies the cluster and returns its bootstrap servers
	// (host:port,…). It returns ErrNotReady while brokers are starting.
	Provision(ctx context.Context, c resource.Cluster) (bootstrap string, err error)
	// Deprovision releases the cluster and drops its data.
	Deprovision(ctx context.Context, c resource.Cluster) error
}

// ErrNotReady tells the reconciler to try again later without counting a
// failure.
var ErrNotReady = errors.New("cluster not ready yet")

// ErrPermanent, wrapped in a Provision error, fails the cluster at once
// instead of retrying.
var ErrPermanent = errors.New("permanent failure")

// reconcileStore is what the reconciler reads and writes.
type reconcileStore interface {
	ClustersInPhase(ctx context.Context, phases ...string) ([]resource.Cluster, error)
	ClustersResizing(ctx context.Context) ([]resource.Cluster, error)
	SetClusterStatus(ctx context.Context, c resource.Cluster, prevEtag string, result *store.OperationResult) (resource.Cluster, error)
	PurgeCluster(ctx context.Context, c resource.Cluster) error
	ForgetRequestIDs(ctx context.Context, before time.Time) (int64, error)
}

// ReconcilerOptions configure the loop.
type ReconcilerOptions struct {
	// RestEndpoint is the base URL clusters report as status.rest_endpoint.
	RestEndpoint string
	// Interval between passes when nothing asks for one (default 2s).
	Interval time.Duration
	// MaxAttempts before a cluster is FAILED (default 5).
	MaxAttempts int
	// CallTimeout bounds one Provision or Deprovision call (default 30s).
	CallTimeout time.Duration
	Logger      *slog.Logger
	// Metrics registers the reconciler's metrics (nil: unexported).
	Metrics prometheus.Registerer
}

// Reconciler drives clusters from PROVISIONING to RUNNING (or FAILED),
// RUNNING DEDICATED clusters to the broker count asked for (a resize), and
// from DELETING to gone, through a Provisioner. Creating or deleting a
// cluster kicks it (Notify) so a serverless cluster is RUNNING within
// milliseconds; a periodic pass catches up after restarts and retries.
type Reconciler struct {
	store reconcileStore
	prov  Provisioner
	opts  ReconcilerOptions
	kick  chan struct{}

	mu sync.Mutex // guards failures
	// failures counts failed attempts per cluster and when to retry.
	failures map[string]retry

	// pending is how many clusters each pass found not at rest, by phase;
	// passes counts passes.
	pending *prometheus.GaugeVec
	passes  prometheus.Counter
}

type retry struct {
	attempts int
	next     time.Time
}

// NewReconciler returns a reconciler; Run starts it.
func NewReconciler(st reconcileStore, prov Provisioner, opts ReconcilerOptions) *Reconciler {
	if opts.Interval == 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = 5
	}
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Reconciler{store: st, prov: prov, opts: opts, kick: make(chan struct{}, 1), failures: map[string]retry{},
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "affluent_controlplane_reconcile_queue_depth",
			Help: "Clusters not at rest (PROVISIONING or DELETING) at the last reconcile pass, by phase.",
		}, []string{"phase"}),
		passes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "affluent_controlplane_reconcile_passes_total",
			Help: "Reconcile passes over the clusters not at rest.",
		}),
	}
	for _, phase := range []string{resource.PhaseProvisioning, resource.PhaseDeleting} {
		r.pending.WithLabelValues(phase)
	}
	if opts.Metrics != nil {
		for _, c := range []prometheus.Collector{r.pending, r.passes} {
			if err := opts.Metrics.Register(c); err != nil {
				opts.Logger.Warn("reconciler metrics not exported", "err", err)
			}
		}
	}
	return r
}

// Notify asks for a pass as soon as possible.
func (r *Reconciler) Notify() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends.
func (r *Reconciler) Run(ctx context.Context) error {
	ticker := time.NewTicker(r.opts.Interval)
	defer ticker.Stop()
	r.Resync(ctx)
	lastGC := time.Time{}
	for {
		r.Pass(ctx)
		if time.Since(lastGC) > time.Hour {
			lastGC = time.Now()
			if _, err := r.store.ForgetRequestIDs(ctx, lastGC.Add(-24*time.Hour)); err != nil && ctx.Err() == nil {
				r.opts.Logger.Warn("forget old request ids", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.kick:
		case <-ticker.C:
		}
	}
}

// Pass reconciles every cluster that is not at rest, once.
func (r *Reconciler) Pass(ctx context.Context) {
	clusters, err := r.store.ClustersInPhase(ctx, resource.PhaseProvisioning, resource.PhaseDeleting)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("reconcile: list clusters", "err", err)
		}
		return
	}
	r.passes.Inc()
	depth := map[string]int{}
	for _, c := range clusters {
		depth[c.Phase]++
	}
	for _, phase := range []string{resource.PhaseProvisioning, resource.PhaseDeleting} {
		r.pending.WithLabelValues(phase).Set(float64(depth[phase]))
	}
	for _, c := range clusters {
		if ctx.Err() != nil {
			return
		}
		if !r.due(c.ID) {
			continue
		}
		switch c.Phase {
		case resource.PhaseProvisioning:
			r.provision(ctx, c)
		case resource.PhaseDeleting:
			r.deprovision(ctx, c)
		}
	}
	resizing, err := r.store.ClustersResizing(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("reconcile: list clusters resizing", "err", err)
		}
		return
	}
	for _, c := range resizing {
		if ctx.Err() != nil {
			return
		}
		if r.due(c.ID) {
			r.resize(ctx, c)
		}
	}
}

// Resync asks the provisioner again for the bootstrap servers of RUNNING
// clusters and records any change (a dev broker restarted on another port,
// a fleet moved). Run does it when it starts.
func (r *Reconciler) Resync(ctx context.Context) {
	clusters, err := r.store.ClustersInPhase(ctx, resource.PhaseRunning)
	if err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("reconcile: list running clusters", "err", err)
		}
		return
	}
	// Brokers of their own (a dedicated cluster's) may take a while to be
	// back: those not ready yet are asked again until CallTimeout.
	deadline := time.Now().Add(r.opts.CallTimeout)
	for len(clusters) > 0 && ctx.Err() == nil {
		var later []resource.Cluster
		for _, c := range clusters {
			callCtx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
			bootstrap, err := r.prov.Provision(callCtx, c)
			cancel()
			if errors.Is(err, ErrNotReady) && time.Now().Before(deadline) {
				later = append(later, c)
				continue
			}
			if err != nil {
				r.opts.Logger.Warn("reconcile: resync", "cluster", c.ID, "err", err)
				continue
			}
			r.resynced(ctx, c, bootstrap)
		}
		if clusters = later; len(clusters) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(resyncRetry):
			}
		}
	}
}

// resyncRetry is the pause between Resync's rounds of clusters not ready.
const resyncRetry = 100 * time.Millisecond

// resynced records the bootstrap servers Provision gave a RUNNING cluster.
func (r *Reconciler) resynced(ctx context.Context, c resource.Cluster, bootstrap string) {
	if bootstrap == c.BootstrapServers && c.RestEndpoint == r.opts.RestEndpoint {
		return
	}
	prev := c.Etag
	c.BootstrapServers, c.RestEndpoint = bootstrap, r.opts.RestEndpoint
	if _, err := r.store.SetClusterStatus(ctx, c, prev, nil); err != nil && ctx.Err() == nil {
		r.opts.Logger.Warn("reconcile: update bootstrap servers", "cluster", c.ID, "err", err)
	}
}

func (r *Reconciler) provision(ctx context.Context, c resource.Cluster) {
	callCtx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	bootstrap, err := r.prov.Provision(callCtx, c)
	cancel()
	if errors.Is(err, ErrNotReady) {
		return
	}
	prev := c.Etag
	if err != nil {
		attempts := r.failed(c.ID)
		r.opts.Logger.Warn("reconcile: provision failed", "cluster", c.ID, "attempt", attempts, "err", err)
		if attempts < r.opts.MaxAttempts && !errors.Is(err, ErrPermanent) {
			return
		}
		c.Phase, c.Message = resource.PhaseFailed, fmt.Sprintf("provisioning failed after %d attempts: %v", attempts, err)
		r.write(ctx, c, prev, &store.OperationResult{Code: int32(codes.Unavailable), Message: c.Message})
		return
	}
	c.Phase, c.BootstrapServers, c.RestEndpoint, c.Message = resource.PhaseRunning, bootstrap, r.opts.RestEndpoint, ""
	c.ObservedBrokers = c.Brokers
	r.write(ctx, c, prev, &store.OperationResult{})
	r.opts.Logger.Info("cluster running", "cluster", c.ID, "bootstrap", bootstrap)
}

// resize asks the provisioner for the cluster's new broker count; the
// provisioner moves one broker at a time (ErrNotReady meanwhile). A resize
// that keeps failing is given up: the cluster keeps running with the
// brokers it has, and the operation ends with the error.
func (r *Reconciler) resize(ctx context.Context, c resource.Cluster) {
	callCtx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	bootstrap, err := r.prov.Provision(callCtx, c)
	cancel()
	if errors.Is(err, ErrNotReady) {
		return
	}
	prev := c.Etag
	if err != nil {
		attempts := r.failed(c.ID)
		r.opts.Logger.Warn("reconcile: resize failed", "cluster", c.ID, "brokers", c.Brokers, "attempt", attempts, "err", err)
		if attempts < r.opts.MaxAttempts && !errors.Is(err, ErrPermanent) {
			return
		}
		c.Message = fmt.Sprintf("resizing to %d brokers failed after %d attempts: %v", c.Brokers, attempts, err)
		c.Brokers = c.ObservedBrokers
		r.write(ctx, c, prev, &store.OperationResult{Code: int32(codes.Unavailable), Message: c.Message})
		return
	}
	c.ObservedBrokers, c.BootstrapServers, c.Message = c.Brokers, bootstrap, ""
	r.write(ctx, c, prev, &store.OperationResult{})
	r.opts.Logger.Info("cluster resized", "cluster", c.ID, "brokers", c.Brokers, "bootstrap", bootstrap)
}

func (r *Reconciler) deprovision(ctx context.Context, c resource.Cluster) {
	callCtx, cancel := context.WithTimeout(ctx, r.opts.CallTimeout)
	err := r.prov.Deprovision(callCtx, c)
	cancel()
	if err != nil {
		if !errors.Is(err, ErrNotReady) {
			attempts := r.failed(c.ID)
			r.opts.Logger.Warn("reconcile: deprovision failed", "cluster", c.ID, "attempt", attempts, "err", err)
		}
		// Deletion is retried until it succeeds: the user asked for it.
		return
	}
	if err := r.store.PurgeCluster(ctx, c); err != nil {
		if ctx.Err() == nil {
			r.opts.Logger.Error("reconcile: purge cluster", "cluster", c.ID, "err", err)
		}
		return
	}
	r.forget(c.ID)
	r.opts.Logger.Info("cluster deleted", "cluster", c.ID)
}

func (r *Reconciler) write(ctx context.Context, c resource.Cluster, prev string, result *store.OperationResult) {
	if _, err := r.store.SetClusterStatus(ctx, c, prev, result); err != nil {
		// An etag mismatch means a user changed the cluster meanwhile (for
		// example, deleted it): the next pass sees the new state.
		if !errors.Is(err, store.ErrEtagMismatch) && !errors.Is(err, store.ErrNotFound) && ctx.Err() == nil {
			r.opts.Logger.Error("reconcile: write cluster status", "cluster", c.ID, "err", err)
		}
		return
	}
	r.forget(c.ID)
}

// due reports whether the cluster's backoff, if any, has passed.
func (r *Reconciler) due(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.failures[id]
	return !ok || !time.Now().Before(f.next)
}

// failed counts a failure and schedules the retry with exponential backoff.
func (r *Reconciler) failed(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.failures[id]
	f.attempts++
	backoff := min(time.Duration(1<<min(f.attempts, 6))*100*time.Millisecond, 30*time.Second)
	f.next = time.Now().Add(backoff)
	r.failures[id] = f
	return f.attempts
}

func (r *Reconciler) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.failures, id)
}
