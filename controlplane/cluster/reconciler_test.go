package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// scriptedProvisioner answers Provision from a script of errors, then succeeds.
type scriptedProvisioner struct {
	mu          sync.Mutex
	errs        []error
	provisions  int
	deprovision []string
}

func (p *scriptedProvisioner) Provision(context.Context, resource.Cluster) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.provisions++
	if len(p.errs) > 0 {
		err := p.errs[0]
		p.errs = p.errs[1:]
		return "", err
	}
	return "broker:9092", nil
}

func (p *scriptedProvisioner) Deprovision(_ context.Context, c resource.Cluster) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deprovision = append(p.deprovision, c.ID)
	return nil
}

func setup(t *testing.T) (*store.Store, resource.Cluster) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Organizations().Create(ctx, resource.Organization{Meta: resource.Meta{ID: "o", OrgID: "o"}, DisplayName: "o"}, store.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Environments().Create(ctx, resource.Environment{Meta: resource.Meta{ID: "env-1", OrgID: "o"}, DisplayName: "e"}, store.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	c, err := st.Clusters().Create(ctx, resource.Cluster{Meta: resource.Meta{ID: "lkc-1", OrgID: "o"}, EnvironmentID: "env-1",
		DisplayName: "c", Type: resource.ClusterServerless, Phase: resource.PhaseProvisioning, OperationID: "op-1"}, store.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	return st, c
}

func passes(t *testing.T, r *Reconciler, n int) {
	t.Helper()
	for range n {
		r.Pass(context.Background())
		// Let backoffs lapse.
		r.mu.Lock()
		for id, f := range r.failures {
			f.next = time.Time{}
			r.failures[id] = f
		}
		r.mu.Unlock()
	}
}

func TestReconcilerRetriesThenRuns(t *testing.T) {
	st, _ := setup(t)
	prov := &scriptedProvisioner{errs: []error{errors.New("flaky"), ErrNotReady, errors.New("flaky")}}
	r := NewReconciler(st, prov, ReconcilerOptions{RestEndpoint: "http://rest", MaxAttempts: 3})
	passes(t, r, 4)
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-1")
	op, _ := st.Operations().Get(context.Background(), "o", "op-1")
	if c.Phase != resource.PhaseRunning || c.BootstrapServers != "broker:9092" || c.RestEndpoint != "http://rest" || !op.Done || op.ErrorCode != 0 {
		t.Fatalf("after retries: cluster %+v, op %+v", c, op)
	}
}

func TestReconcilerGivesUp(t *testing.T) {
	st, _ := setup(t)
	prov := &scriptedProvisioner{errs: []error{errors.New("a"), errors.New("b"), errors.New("c")}}
	r := NewReconciler(st, prov, ReconcilerOptions{MaxAttempts: 2})
	passes(t, r, 3)
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-1")
	op, _ := st.Operations().Get(context.Background(), "o", "op-1")
	if c.Phase != resource.PhaseFailed || c.Message == "" || !op.Done || op.ErrorCode == 0 || prov.provisions != 2 {
		t.Fatalf("after failures: cluster %+v, op %+v, %d attempts", c, op, prov.provisions)
	}
}

func TestReconcilerDeletes(t *testing.T) {
	st, c := setup(t)
	prov := &scriptedProvisioner{}
	r := NewReconciler(st, prov, ReconcilerOptions{})
	passes(t, r, 1)
	c, _ = st.Clusters().Get(context.Background(), "o", c.ID)
	c.OperationID = "op-2"
	if _, err := st.BeginClusterDeletion(context.Background(), c, c.Etag); err != nil {
		t.Fatal(err)
	}
	passes(t, r, 1)
	if _, err := st.Clusters().Get(context.Background(), "o", c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cluster survived deletion: %v", err)
	}
	if op, _ := st.Operations().Get(context.Background(), "o", "op-2"); !op.Done || op.ErrorCode != 0 {
		t.Fatalf("delete operation: %+v", op)
	}
	if len(prov.deprovision) != 1 {
		t.Fatalf("deprovisioned %v", prov.deprovision)
	}
}

func TestRunReactsToNotify(t *testing.T) {
	st, _ := setup(t)
	r := NewReconciler(st, &scriptedProvisioner{}, ReconcilerOptions{Interval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	// The first pass runs at start; a second cluster needs Notify.
	if _, err := st.Clusters().Create(context.Background(), resource.Cluster{Meta: resource.Meta{ID: "lkc-2", OrgID: "o"}, EnvironmentID: "env-1",
		DisplayName: "c2", Type: resource.ClusterServerless, Phase: resource.PhaseProvisioning, OperationID: "op-3"}, store.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.Notify()
	for {
		c, _ := st.Clusters().Get(context.Background(), "o", "lkc-2")
		if c.Phase == resource.PhaseRunning {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatal("Notify did not trigger a pass")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPlanLimits(t *testing.T) {
	got, over := effectiveLimits(PlanBasic, resource.Limits{MaxPartitions: 10})
	if got.MaxPartitions != 10 || got.IngressByteRate != plans[PlanBasic].IngressByteRate || len(over) != 0 {
		t.Fatalf("limits = %+v, over %v", got, over)
	}
	if _, over := effectiveLimits(PlanBasic, resource.Limits{MaxPartitions: 1 << 30, EgressByteRate: -1}); len(over) != 2 {
		t.Fatalf("over = %v, want max_partitions and egress_byte_rate", over)
	}
}

func TestResyncUpdatesBootstrap(t *testing.T) {
	st, _ := setup(t)
	r := NewReconciler(st, &scriptedProvisioner{}, ReconcilerOptions{RestEndpoint: "http://a"})
	passes(t, r, 1)
	moved := NewReconciler(st, NewSharedProvisioner("new-host:9092", nil), ReconcilerOptions{RestEndpoint: "http://b"})
	moved.Resync(context.Background())
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-1")
	if c.BootstrapServers != "new-host:9092" || c.RestEndpoint != "http://b" || c.Phase != resource.PhaseRunning {
		t.Fatalf("after resync: %+v", c)
	}
}

// dedicatedCluster is a RUNNING DEDICATED cluster of 2 brokers being
// resized to 3 under operation op-resize.
func dedicatedCluster(t *testing.T, st *store.Store) resource.Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := st.Clusters().Create(ctx, resource.Cluster{Meta: resource.Meta{ID: "lkc-d", OrgID: "o"}, EnvironmentID: "env-1",
		DisplayName: "d", Type: resource.ClusterDedicated, Brokers: 2, Phase: resource.PhaseRunning, ObservedBrokers: 2,
		BootstrapServers: "b0:9092,b1:9092", OperationID: "op-create"}, store.RequestKey{})
	if err != nil {
		t.Fatal(err)
	}
	c.Brokers, c.OperationID = 3, "op-resize"
	if c, err = st.BeginClusterResize(ctx, c, c.Etag); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReconcilerResizes(t *testing.T) {
	st, _ := setup(t)
	prov := &scriptedProvisioner{}
	r := NewReconciler(st, prov, ReconcilerOptions{MaxAttempts: 3})
	passes(t, r, 1) // lkc-1 runs
	dedicatedCluster(t, st)
	prov.errs = []error{ErrNotReady, errors.New("flaky")}
	passes(t, r, 2)
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-d")
	if op, _ := st.Operations().Get(context.Background(), "o", "op-resize"); op.Done || c.ObservedBrokers != 2 || c.Phase != resource.PhaseRunning {
		t.Fatalf("resize under way: cluster %+v, op %+v", c, op)
	}
	passes(t, r, 1)
	c, _ = st.Clusters().Get(context.Background(), "o", "lkc-d")
	op, _ := st.Operations().Get(context.Background(), "o", "op-resize")
	if !op.Done || op.ErrorCode != 0 || op.Verb != resource.VerbUpdate || c.ObservedBrokers != 3 || c.Brokers != 3 || c.BootstrapServers != "broker:9092" {
		t.Fatalf("after the resize: cluster %+v, op %+v", c, op)
	}
	// Nothing left to resize.
	before := prov.provisions
	passes(t, r, 1)
	if prov.provisions != before {
		t.Errorf("%d provision calls after the resize ended, want none", prov.provisions-before)
	}
}

func TestReconcilerGivesUpAResize(t *testing.T) {
	st, _ := setup(t)
	prov := &scriptedProvisioner{}
	r := NewReconciler(st, prov, ReconcilerOptions{MaxAttempts: 2})
	passes(t, r, 1) // lkc-1 runs
	dedicatedCluster(t, st)
	prov.errs = []error{errors.New("no room"), errors.New("no room")}
	passes(t, r, 2)
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-d")
	op, _ := st.Operations().Get(context.Background(), "o", "op-resize")
	// The cluster keeps running with the brokers it has.
	if !op.Done || op.ErrorCode == 0 || c.Phase != resource.PhaseRunning || c.Brokers != 2 || c.ObservedBrokers != 2 ||
		!strings.Contains(c.Message, "resizing to 3 brokers failed") || c.BootstrapServers != "b0:9092,b1:9092" {
		t.Fatalf("after the resize failed: cluster %+v, op %+v", c, op)
	}
}

func TestResyncWaitsForBrokersToComeBack(t *testing.T) {
	st, _ := setup(t)
	prov := &scriptedProvisioner{}
	r := NewReconciler(st, prov, ReconcilerOptions{})
	passes(t, r, 1)
	c, _ := st.Clusters().Get(context.Background(), "o", "lkc-1")
	prev := c.Etag
	c.BootstrapServers = "old:9092"
	if _, err := st.SetClusterStatus(context.Background(), c, prev, nil); err != nil {
		t.Fatal(err)
	}
	prov.errs = []error{ErrNotReady, ErrNotReady}
	r.Resync(context.Background())
	c, _ = st.Clusters().Get(context.Background(), "o", "lkc-1")
	if c.BootstrapServers != "broker:9092" || prov.provisions != 4 {
		t.Fatalf("after resync: bootstrap %s after %d calls; want broker:9092 after 1 + 3", c.BootstrapServers, prov.provisions)
	}
}
