package sdk_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
	"github.com/affluent-io/affluent/sdk"
)

// slowClusters is a cluster and operation service whose cluster becomes
// RUNNING (or FAILED) after a number of polls.
type slowClusters struct {
	pb.UnimplementedClusterServiceServer
	pb.UnimplementedOperationServiceServer
	readyAfter int
	final      string

	mu    sync.Mutex // guards polls
	polls int
}

func (s *slowClusters) poll() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	return s.polls
}

func (s *slowClusters) GetCluster(_ context.Context, req *pb.GetClusterRequest) (*pb.GetClusterResponse, error) {
	phase := sdk.PhaseProvisioning
	if s.poll() >= s.readyAfter {
		phase = s.final
	}
	return &pb.GetClusterResponse{Cluster: &pb.Cluster{Id: req.GetId(), Status: &pb.ClusterStatus{Phase: phase, Message: "no capacity"}}}, nil
}

func (s *slowClusters) GetOperation(_ context.Context, req *pb.GetOperationRequest) (*pb.GetOperationResponse, error) {
	op := &pb.Operation{Id: req.GetOperation()}
	if s.poll() >= s.readyAfter {
		op.Done = true
		if s.final == sdk.PhaseFailed {
			op.Error = &pb.Status{Code: int32(codes.ResourceExhausted), Message: "no capacity"}
		}
	}
	return &pb.GetOperationResponse{Operation: op}, nil
}

func startClusters(t *testing.T, srv *slowClusters) *sdk.Client {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterClusterServiceServer(s, srv)
	pb.RegisterOperationServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	c, err := sdk.New(context.Background(), lis.Addr().String(), sdk.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestWaitClusterRunningPollsWithBackoff(t *testing.T) {
	srv := &slowClusters{readyAfter: 4, final: sdk.PhaseRunning}
	c := startClusters(t, srv)
	var seen []string
	start := time.Now()
	cl, err := c.WaitClusterRunning(context.Background(), "env-1", "lkc-1",
		sdk.PollInterval(10*time.Millisecond, 40*time.Millisecond), sdk.OnProgress(func(s string) { seen = append(seen, s) }))
	if err != nil || cl.GetStatus().GetPhase() != sdk.PhaseRunning {
		t.Fatalf("%v %v", cl, err)
	}
	if strings.Join(seen, ",") != "PROVISIONING,PROVISIONING,PROVISIONING,RUNNING" {
		t.Fatalf("progress %v", seen)
	}
	// Waits of 10, 15 and 22ms between the 4 polls.
	if d := time.Since(start); d < 45*time.Millisecond {
		t.Fatalf("4 polls in %v: no backoff", d)
	}
}

func TestWaitClusterRunningReportsFailureAndDeadline(t *testing.T) {
	c := startClusters(t, &slowClusters{readyAfter: 2, final: sdk.PhaseFailed})
	_, err := c.WaitClusterRunning(context.Background(), "env-1", "lkc-1", sdk.PollInterval(time.Millisecond, time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "lkc-1 failed: no capacity") {
		t.Fatalf("failed cluster: %v", err)
	}

	c = startClusters(t, &slowClusters{readyAfter: 1 << 30})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.WaitClusterRunning(ctx, "env-1", "lkc-1")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "PROVISIONING") {
		t.Fatalf("cluster never ready: %v, want the deadline and the phase last seen", err)
	}
}

func TestWaitOperation(t *testing.T) {
	c := startClusters(t, &slowClusters{readyAfter: 3, final: sdk.PhaseRunning})
	op, err := c.WaitOperation(context.Background(), "op-1", sdk.PollInterval(time.Millisecond, 5*time.Millisecond))
	if err != nil || !op.GetDone() {
		t.Fatalf("%v %v", op, err)
	}
	c = startClusters(t, &slowClusters{readyAfter: 1, final: sdk.PhaseFailed})
	_, err = c.WaitOperation(context.Background(), "op-2")
	var e *sdk.Error
	if !errors.As(err, &e) || e.Code != codes.ResourceExhausted || !strings.Contains(e.Message, "no capacity") {
		t.Fatalf("failed operation: %#v, want its status as an *sdk.Error", err)
	}
}
