package cluster

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

// gatedProvisioner's calls wait for release (or their context).
type gatedProvisioner struct {
	release chan struct{}
	calls   atomic.Int32
}

func (g *gatedProvisioner) Provision(ctx context.Context, c resource.Cluster) (string, error) {
	g.calls.Add(1)
	select {
	case <-g.release:
		return c.ID + ":9092", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (g *gatedProvisioner) Deprovision(ctx context.Context, c resource.Cluster) error {
	_, err := g.Provision(ctx, c)
	return err
}

func TestBackgroundNeverBlocks(t *testing.T) {
	g := &gatedProvisioner{release: make(chan struct{})}
	b := NewBackground(g, time.Minute)
	done := make(chan struct{}, 4)
	b.OnDone(func() { done <- struct{}{} })
	ctx := context.Background()
	c := resource.Cluster{Meta: resource.Meta{ID: "lkc-d"}, Type: resource.ClusterDedicated, Brokers: 2}
	for range 3 {
		if _, err := b.Provision(ctx, c); !errors.Is(err, ErrNotReady) {
			t.Fatalf("while the call runs: %v, want ErrNotReady", err)
		}
	}
	if err := b.Deprovision(ctx, c); !errors.Is(err, ErrNotReady) {
		t.Fatalf("deprovision while provisioning: %v, want ErrNotReady", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(10 * time.Millisecond)
	if n := g.calls.Load(); n != 1 {
		t.Fatalf("%d calls under way, want 1", n)
	}
	g.release <- struct{}{}
	<-done
	if bootstrap, err := b.Provision(ctx, c); err != nil || bootstrap != "lkc-d:9092" {
		t.Fatalf("after the call: %q, %v", bootstrap, err)
	}
	// Another goal starts another call; the outcome of one goal is not
	// given for another.
	c.Brokers = 3
	if _, err := b.Provision(ctx, c); !errors.Is(err, ErrNotReady) {
		t.Fatalf("resize: %v, want ErrNotReady", err)
	}
	g.release <- struct{}{}
	<-done
	if err := b.Deprovision(ctx, c); !errors.Is(err, ErrNotReady) {
		t.Fatalf("deprovision after a provision ended: %v, want a call of its own", err)
	}
	// Close ends the call under way.
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the call under way")
	}
	if _, err := b.Provision(ctx, c); err == nil || errors.Is(err, ErrNotReady) {
		t.Fatalf("after Close: %v, want an error", err)
	}
}

// TestSlowDedicatedDoesNotDelayServerless: a serverless cluster runs
// while a dedicated one's brokers are still starting.
func TestSlowDedicatedDoesNotDelayServerless(t *testing.T) {
	st, _ := setup(t) // lkc-1, serverless, PROVISIONING
	ctx := context.Background()
	if _, err := st.Clusters().Create(ctx, resource.Cluster{Meta: resource.Meta{ID: "lkc-0", OrgID: "o"}, EnvironmentID: "env-1",
		DisplayName: "d", Type: resource.ClusterDedicated, Brokers: 1, Phase: resource.PhaseProvisioning, OperationID: "op-d"}, store.RequestKey{}); err != nil {
		t.Fatal(err)
	}
	g := &gatedProvisioner{release: make(chan struct{})}
	bg := NewBackground(g, time.Minute)
	t.Cleanup(bg.Close)
	r := NewReconciler(st, Router{Serverless: &scriptedProvisioner{}, Dedicated: bg}, ReconcilerOptions{})
	start := time.Now()
	r.Pass(ctx)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a pass took %v with a dedicated cluster starting", took)
	}
	if c, _ := st.Clusters().Get(ctx, "o", "lkc-1"); c.Phase != resource.PhaseRunning {
		t.Fatalf("serverless cluster %s while the dedicated one starts, want RUNNING", c.Phase)
	}
	if c, _ := st.Clusters().Get(ctx, "o", "lkc-0"); c.Phase != resource.PhaseProvisioning {
		t.Fatalf("dedicated cluster %s before its brokers run, want PROVISIONING", c.Phase)
	}
	g.release <- struct{}{}
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.Pass(ctx)
		if c, _ := st.Clusters().Get(ctx, "o", "lkc-0"); c.Phase == resource.PhaseRunning && c.BootstrapServers == "lkc-0:9092" && c.ObservedBrokers == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dedicated cluster not RUNNING after its brokers started")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
