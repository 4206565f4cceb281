package controlplane_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/cptest"
	"github.com/affluent-io/affluent/controlplane/resource"
	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// stepProvisioner runs a DEDICATED cluster's brokers as counters, moving
// one broker per call as the real provisioners do, and records each
// count it went through.
type stepProvisioner struct {
	mu      sync.Mutex
	running map[string]int32
	steps   map[string][]int32
	gone    []string
}

func (p *stepProvisioner) Provision(_ context.Context, c resource.Cluster) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.Type != resource.ClusterDedicated {
		return "", fmt.Errorf("%w: not dedicated", cluster.ErrPermanent)
	}
	n := p.running[c.ID]
	switch {
	case n < c.Brokers:
		n++
	case n > c.Brokers:
		n--
	default:
		return fmt.Sprintf("%s-broker:%d", c.ID, n), nil
	}
	p.running[c.ID] = n
	p.steps[c.ID] = append(p.steps[c.ID], n)
	return "", cluster.ErrNotReady
}

func (p *stepProvisioner) Deprovision(_ context.Context, c resource.Cluster) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, c.ID)
	p.gone = append(p.gone, c.ID)
	return nil
}

func TestDedicatedClusterLifecycle(t *testing.T) {
	prov := &stepProvisioner{running: map[string]int32{}, steps: map[string][]int32{}}
	env := cptest.Start(t, "sqlite", cptest.Options{NoGateway: true, Dedicated: prov})
	c := serveGRPC(t, env)
	admin := as(env.Boot.CloudAPIKey, env.Boot.CloudAPISecret)
	envID := env.Boot.EnvironmentID

	for _, tc := range []struct {
		name string
		spec *pb.ClusterSpec
		want string
	}{
		{"serverless with brokers", &pb.ClusterSpec{Brokers: 2}, "must be unset for a SERVERLESS cluster"},
		{"dedicated without brokers", &pb.ClusterSpec{Type: "DEDICATED"}, "needs 1 to 32 brokers, not 0"},
		{"dedicated with too many", &pb.ClusterSpec{Type: "DEDICATED", Brokers: 33}, "needs 1 to 32 brokers, not 33"},
		{"dedicated with negative", &pb.ClusterSpec{Type: "DEDICATED", Brokers: -1}, "needs 1 to 32 brokers, not -1"},
	} {
		_, err := c.clu.CreateCluster(admin, &pb.CreateClusterRequest{Environment: envID,
			Cluster: &pb.Cluster{DisplayName: "bad", Spec: tc.spec}})
		if codeOf(err) != apierr.InvalidArgument || !strings.Contains(err.Error(), "cluster.spec.brokers") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want INVALID_ARGUMENT on cluster.spec.brokers saying %q", tc.name, err, tc.want)
		}
	}

	created, err := c.clu.CreateCluster(admin, &pb.CreateClusterRequest{Environment: envID,
		Cluster: &pb.Cluster{DisplayName: "ded", Spec: &pb.ClusterSpec{Type: "DEDICATED", Brokers: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.GetCluster().GetId()
	if got := created.GetCluster().GetSpec().GetBrokers(); got != 2 {
		t.Fatalf("created spec.brokers = %d, want 2", got)
	}
	waitOp := func(op string) *pb.Cluster {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := c.op.GetOperation(admin, &pb.GetOperationRequest{Operation: op})
			if err != nil {
				t.Fatal(err)
			}
			if got.GetOperation().GetDone() {
				if got.GetOperation().GetError() != nil {
					t.Fatalf("operation %s failed: %v", op, got.GetOperation().GetError())
				}
				cl, err := c.clu.GetCluster(admin, &pb.GetClusterRequest{Environment: envID, Id: id})
				if err != nil {
					t.Fatal(err)
				}
				return cl.GetCluster()
			}
			if time.Now().After(deadline) {
				t.Fatalf("operation %s not done after 10s", op)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	running := waitOp(created.GetCluster().GetStatus().GetOperationId())
	if running.GetStatus().GetPhase() != "RUNNING" || running.GetStatus().GetBrokers() != 2 || running.GetStatus().GetBootstrapServers() != id+"-broker:2" {
		t.Fatalf("after create: %v, want RUNNING with 2 brokers at %s-broker:2", running.GetStatus(), id)
	}

	update := func(spec *pb.ClusterSpec, paths ...string) (*pb.Cluster, error) {
		resp, err := c.clu.UpdateCluster(admin, &pb.UpdateClusterRequest{Environment: envID, Id: id,
			Cluster: &pb.Cluster{Spec: spec}, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		return resp.GetCluster(), err
	}
	// Out of range, or changing the type, is refused.
	if _, err := update(&pb.ClusterSpec{Brokers: 40}, "spec.brokers"); codeOf(err) != apierr.InvalidArgument {
		t.Errorf("resize to 40: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := update(&pb.ClusterSpec{Type: "SERVERLESS", Brokers: 3}, "spec"); codeOf(err) != apierr.InvalidArgument || !strings.Contains(err.Error(), "spec.type") {
		t.Errorf("type change: %v, want INVALID_ARGUMENT on spec.type", err)
	}

	// Grow to 4, one broker at a time.
	resized, err := update(&pb.ClusterSpec{Brokers: 4}, "spec.brokers")
	if err != nil {
		t.Fatal(err)
	}
	if resized.GetSpec().GetBrokers() != 4 || resized.GetStatus().GetBrokers() != 2 || resized.GetStatus().GetPhase() != "RUNNING" {
		t.Fatalf("resize answer: spec %v status %v, want spec 4, status 2 brokers and RUNNING", resized.GetSpec(), resized.GetStatus())
	}
	op := resized.GetStatus().GetOperationId()
	if op == created.GetCluster().GetStatus().GetOperationId() {
		t.Fatal("a resize has no operation of its own")
	}
	// A second resize while this one runs is refused.
	if _, err := update(&pb.ClusterSpec{Brokers: 1}, "spec.brokers"); err != nil && codeOf(err) != apierr.FailedPrecondition {
		t.Errorf("resize during a resize: %v, want FAILED_PRECONDITION (or success if the first one ended)", err)
	}
	grown := waitOp(op)
	if grown.GetStatus().GetBrokers() != 4 || grown.GetStatus().GetBootstrapServers() != id+"-broker:4" {
		t.Fatalf("after growing: %v, want 4 brokers", grown.GetStatus())
	}
	// Shrink back to 1 with an implied mask.
	shrunk, err := update(&pb.ClusterSpec{Brokers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitOp(shrunk.GetStatus().GetOperationId()).GetStatus().GetBrokers(); got != 1 {
		t.Fatalf("after shrinking: %d brokers, want 1", got)
	}
	// The whole spec at once: a new plan and the same brokers is no resize.
	replanned, err := update(&pb.ClusterSpec{Plan: "STANDARD", Brokers: 1}, "spec")
	if err != nil {
		t.Fatal(err)
	}
	if replanned.GetSpec().GetPlan() != "STANDARD" || replanned.GetSpec().GetBrokers() != 1 ||
		replanned.GetStatus().GetOperationId() != shrunk.GetStatus().GetOperationId() {
		t.Fatalf("spec update: %v, want plan STANDARD, 1 broker, no new operation", replanned)
	}
	// A new plan and a resize together: both are applied.
	both, err := update(&pb.ClusterSpec{Plan: "ENTERPRISE", Brokers: 2}, "spec")
	if err != nil {
		t.Fatal(err)
	}
	if both.GetSpec().GetPlan() != "ENTERPRISE" || both.GetSpec().GetBrokers() != 2 {
		t.Fatalf("spec update with a resize: %v, want plan ENTERPRISE and 2 brokers", both.GetSpec())
	}
	if got := waitOp(both.GetStatus().GetOperationId()).GetStatus().GetBrokers(); got != 2 {
		t.Fatalf("after the spec update: %d brokers, want 2", got)
	}
	prov.mu.Lock()
	steps := fmt.Sprint(prov.steps[id])
	prov.mu.Unlock()
	if steps != "[1 2 3 4 3 2 1 2]" {
		t.Errorf("broker counts went through %s, want [1 2 3 4 3 2 1 2]", steps)
	}

	got, err := c.clu.GetCluster(admin, &pb.GetClusterRequest{Environment: envID, Id: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.clu.DeleteCluster(admin, &pb.DeleteClusterRequest{Environment: envID, Id: id, Etag: got.GetCluster().GetEtag()}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		prov.mu.Lock()
		gone := fmt.Sprint(prov.gone)
		prov.mu.Unlock()
		if gone == "["+id+"]" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deprovisioned %s, want [%s]", gone, id)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A serverless cluster cannot be given brokers.
	if _, err := c.clu.UpdateCluster(admin, &pb.UpdateClusterRequest{Environment: envID, Id: env.Boot.ClusterID,
		Cluster: &pb.Cluster{Spec: &pb.ClusterSpec{Brokers: 3}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"spec.brokers"}}}); codeOf(err) != apierr.InvalidArgument {
		t.Errorf("brokers on a serverless cluster: %v, want INVALID_ARGUMENT", err)
	}
}
