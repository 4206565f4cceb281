package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
	"github.com/affluent-io/affluent/sdk"
)

// flakyEnvironments is an EnvironmentService that fails the first calls of
// each method with a given error and records what it received.
type flakyEnvironments struct {
	pb.UnimplementedEnvironmentServiceServer
	failures int
	fail     func() error
	// script, when set, is the error of each call in turn (nil: success).
	script []error

	mu         sync.Mutex // guards the fields below
	calls      map[string]int
	requestIDs []string
	auth       []string
	times      []time.Time
}

func (f *flakyEnvironments) record(ctx context.Context, method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method]++
	f.times = append(f.times, time.Now())
	md, _ := metadata.FromIncomingContext(ctx)
	f.auth = append(f.auth, md.Get("authorization")...)
	if n := f.calls[method]; n <= len(f.script) {
		return f.script[n-1]
	}
	if f.calls[method] <= f.failures {
		return f.fail()
	}
	return nil
}

func (f *flakyEnvironments) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

func (f *flakyEnvironments) CreateEnvironment(ctx context.Context, req *pb.CreateEnvironmentRequest) (*pb.CreateEnvironmentResponse, error) {
	f.mu.Lock()
	f.requestIDs = append(f.requestIDs, req.GetRequestId())
	f.mu.Unlock()
	if err := f.record(ctx, "create"); err != nil {
		return nil, err
	}
	return &pb.CreateEnvironmentResponse{Environment: &pb.Environment{Id: "env-1", DisplayName: req.GetEnvironment().GetDisplayName()}}, nil
}

func (f *flakyEnvironments) GetEnvironment(ctx context.Context, req *pb.GetEnvironmentRequest) (*pb.GetEnvironmentResponse, error) {
	if err := f.record(ctx, "get"); err != nil {
		return nil, err
	}
	return &pb.GetEnvironmentResponse{Environment: &pb.Environment{Id: req.GetId()}}, nil
}

func (f *flakyEnvironments) DeleteEnvironment(ctx context.Context, _ *pb.DeleteEnvironmentRequest) (*pb.DeleteEnvironmentResponse, error) {
	if err := f.record(ctx, "delete"); err != nil {
		return nil, err
	}
	return &pb.DeleteEnvironmentResponse{}, nil
}

// startFake serves srv on a loopback listener and returns a client of it.
func startFake(t *testing.T, srv *flakyEnvironments, opts ...sdk.Option) *sdk.Client {
	t.Helper()
	srv.calls = map[string]int{}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pb.RegisterEnvironmentServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	fast := sdk.RetryPolicy{MaxAttempts: 4, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Multiplier: 2}
	opts = append([]sdk.Option{sdk.WithInsecure(), sdk.WithRetryPolicy(fast)}, opts...)
	c, err := sdk.New(context.Background(), lis.Addr().String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRetriesUnavailableWithTheSameRequestID(t *testing.T) {
	srv := &flakyEnvironments{failures: 3, fail: func() error { return status.Error(codes.Unavailable, "try again") }}
	c := startFake(t, srv, sdk.WithAPIKey("KEY", "SECRET"))
	ctx := context.Background()

	env, err := c.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "prod"})
	if err != nil {
		t.Fatalf("create after 3 UNAVAILABLE: %v, want success on the 4th attempt", err)
	}
	if env.GetDisplayName() != "prod" || srv.count("create") != 4 {
		t.Fatalf("got %v after %d attempts, want prod after 4", env, srv.count("create"))
	}
	first := srv.requestIDs[0]
	if first == "" {
		t.Fatal("create sent no request_id")
	}
	for i, id := range srv.requestIDs {
		if id != first {
			t.Fatalf("attempt %d sent request_id %q, attempt 1 sent %q: retries must reuse it", i+1, id, first)
		}
	}
	if _, err := c.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "other"}); err != nil {
		t.Fatal(err)
	}
	if srv.requestIDs[len(srv.requestIDs)-1] == first {
		t.Fatal("a second create reused the first one's request_id")
	}
	if _, err := c.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "mine"}, sdk.RequestID("my-id-1")); err != nil {
		t.Fatal(err)
	}
	if got := srv.requestIDs[len(srv.requestIDs)-1]; got != "my-id-1" {
		t.Fatalf("request_id %q, want the one given, my-id-1", got)
	}
	for _, a := range srv.auth {
		if a != "Basic S0VZOlNFQ1JFVA==" {
			t.Fatalf("authorization %q, want Basic base64(KEY:SECRET)", a)
		}
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	srv := &flakyEnvironments{failures: 100, fail: func() error { return status.Error(codes.Unavailable, "down") }}
	c := startFake(t, srv)
	_, err := c.GetEnvironment(context.Background(), "env-1")
	if !errors.Is(err, sdk.ErrUnavailable) || srv.count("get") != 4 {
		t.Fatalf("err %v after %d attempts, want ErrUnavailable after 4", err, srv.count("get"))
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("status.Code(err) = %v, want Unavailable (the status is kept)", status.Code(err))
	}
}

func TestDoesNotRetryOtherCodes(t *testing.T) {
	srv := &flakyEnvironments{failures: 1, fail: func() error { return status.Error(codes.NotFound, "no such environment") }}
	c := startFake(t, srv)
	err := c.DeleteEnvironment(context.Background(), "env-1")
	if !errors.Is(err, sdk.ErrNotFound) || srv.count("delete") != 1 {
		t.Fatalf("err %v after %d attempts, want ErrNotFound after 1", err, srv.count("delete"))
	}
}

func TestDeadlineExceededRetriesReadsOnly(t *testing.T) {
	srv := &flakyEnvironments{failures: 1, fail: func() error { return status.Error(codes.DeadlineExceeded, "slow") }}
	c := startFake(t, srv)
	ctx := context.Background()
	if _, err := c.GetEnvironment(ctx, "env-1"); err != nil || srv.count("get") != 2 {
		t.Fatalf("get: %v after %d attempts, want success after 2", err, srv.count("get"))
	}
	_, err := c.CreateEnvironment(ctx, &sdk.Environment{DisplayName: "x"})
	if status.Code(err) != codes.DeadlineExceeded || srv.count("create") != 1 {
		t.Fatalf("create: %v after %d attempts, want DEADLINE_EXCEEDED after 1 (a create is not retried on timeout)", err, srv.count("create"))
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v does not match context.DeadlineExceeded", err)
	}
}

func TestRateLimitHonorsRetryDelay(t *testing.T) {
	delay := 150 * time.Millisecond
	srv := &flakyEnvironments{failures: 1, fail: func() error {
		st, _ := status.New(codes.ResourceExhausted, "too many requests").WithDetails(
			&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: "affluent.io"},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(delay)})
		return st.Err()
	}}
	c := startFake(t, srv)
	if _, err := c.GetEnvironment(context.Background(), "env-1"); err != nil {
		t.Fatal(err)
	}
	if gap := srv.times[1].Sub(srv.times[0]); gap < delay {
		t.Fatalf("retried after %v, want at least the server's retry delay %v", gap, delay)
	}
	// Without retries the error says what the server asked.
	srv.calls = map[string]int{}
	c2 := startFake(t, srv, sdk.WithRetryPolicy(sdk.RetryPolicy{MaxAttempts: 1}))
	_, err := c2.GetEnvironment(context.Background(), "env-1")
	var e *sdk.Error
	if !errors.As(err, &e) || !errors.Is(err, sdk.ErrRateLimited) || e.Reason != "RATE_LIMITED" || e.RetryDelay != delay {
		t.Fatalf("err %#v, want RATE_LIMITED with retry delay %v", err, delay)
	}
}

func TestStopsRetryingWhenContextEnds(t *testing.T) {
	srv := &flakyEnvironments{failures: 100, fail: func() error { return status.Error(codes.Unavailable, "down") }}
	c := startFake(t, srv, sdk.WithRetryPolicy(sdk.RetryPolicy{MaxAttempts: 100, InitialBackoff: time.Second, MaxBackoff: time.Second}))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetEnvironment(ctx, "env-1")
	if !errors.Is(err, sdk.ErrUnavailable) || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("err %v after %v, want the last UNAVAILABLE before the 300ms deadline", err, time.Since(start))
	}
}

func TestTokenSourceSendsBearer(t *testing.T) {
	srv := &flakyEnvironments{}
	c := startFake(t, srv, sdk.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "tok-123"})))
	if _, err := c.GetEnvironment(context.Background(), "env-1"); err != nil {
		t.Fatal(err)
	}
	if len(srv.auth) != 1 || srv.auth[0] != "Bearer tok-123" {
		t.Fatalf("authorization %q, want Bearer tok-123", srv.auth)
	}
}

func TestClientCredentialsFetchesAndReusesToken(t *testing.T) {
	var mu sync.Mutex
	fetched := 0
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "KEY" || secret != "SECRET" || r.FormValue("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		mu.Lock()
		fetched++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"cc-token","token_type":"Bearer","expires_in":3600}`)
	}))
	defer tokens.Close()

	srv := &flakyEnvironments{}
	c := startFake(t, srv, sdk.WithClientCredentials(tokens.URL, "KEY", "SECRET"))
	for range 3 {
		if _, err := c.GetEnvironment(context.Background(), "env-1"); err != nil {
			t.Fatal(err)
		}
	}
	if fetched != 1 || srv.auth[2] != "Bearer cc-token" {
		t.Fatalf("fetched %d tokens, sent %q; want 1 token reused", fetched, srv.auth)
	}

	bad := startFake(t, &flakyEnvironments{}, sdk.WithClientCredentials(tokens.URL, "KEY", "WRONG"))
	if _, err := bad.GetEnvironment(context.Background(), "env-1"); !errors.Is(err, sdk.ErrUnauthenticated) {
		t.Fatalf("refused client credentials: %v, want ErrUnauthenticated", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]sdk.Option{
		"two credentials": {sdk.WithAPIKey("k", "s"), sdk.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{}))},
		"empty secret":    {sdk.WithAPIKey("k", "")},
		"no attempts":     {sdk.WithRetryPolicy(sdk.RetryPolicy{})},
		"page size":       {sdk.WithPageSize(5000)},
	} {
		if _, err := sdk.New(ctx, "127.0.0.1:1", opts...); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
	if _, err := sdk.New(ctx, ""); err == nil {
		t.Error("empty endpoint accepted")
	}
}

// A retried create answered NOT_FOUND (the server forgot the create it
// undid but not its request id) reports the earlier, truer error.
func TestRetriedCreateReportsTheFirstErrorOverNotFound(t *testing.T) {
	srv := &flakyEnvironments{script: []error{
		status.Error(codes.Unavailable, "brokers down"),
		status.Error(codes.NotFound, "environment \"env-1\" not found"),
	}}
	c := startFake(t, srv)
	_, err := c.CreateEnvironment(context.Background(), &sdk.Environment{DisplayName: "x"})
	if !errors.Is(err, sdk.ErrUnavailable) || srv.count("create") != 2 {
		t.Fatalf("err %v after %d attempts, want the UNAVAILABLE of attempt 1 after 2", err, srv.count("create"))
	}
}
