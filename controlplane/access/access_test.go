package access

import (
	"context"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
	"github.com/affluent-io/affluent/controlplane/credential"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/controlplane/store"
)

var cheap = credential.Params{Time: 1, Memory: 1024, Threads: 1}

type keys map[string]resource.APIKey

func (k keys) LookupAPIKey(_ context.Context, id string) (resource.APIKey, error) {
	if v, ok := k[id]; ok {
		return v, nil
	}
	return resource.APIKey{}, store.ErrNotFound
}

type bindings []authz.Binding

func (b bindings) BindingsOf(context.Context, string, string) ([]authz.Binding, error) { return b, nil }

type auditLog struct {
	mu     sync.Mutex
	events []resource.AuditEvent
}

func (a *auditLog) AppendAuditEvent(_ context.Context, e resource.AuditEvent) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

type fixture struct {
	icpt   *Interceptor
	guard  *Guard
	audit  *auditLog
	cloud  string // Authorization header of the cloud key
	kafka  string // Authorization header of the cluster key
	orgCRN authz.CRN
}

func basic(key, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"+secret))
}

func newFixture(t *testing.T, limiter *Limiter) *fixture {
	t.Helper()
	cloudSecret, kafkaSecret := credential.NewSecret(), credential.NewSecret()
	ks := keys{
		"CLOUDKEY00000001": {Meta: resource.Meta{ID: "CLOUDKEY00000001", OrgID: "org1"}, Owner: "sa-1", Resource: "cloud", SecretHash: credential.Hash(cloudSecret, cheap)},
		"KAFKAKEY00000001": {Meta: resource.Meta{ID: "KAFKAKEY00000001", OrgID: "org1"}, Owner: "sa-1", Resource: "lkc-1", SecretHash: credential.Hash(kafkaSecret, cheap)},
	}
	audit := &auditLog{}
	env := resource.EnvironmentCRN("org1", "env-1").String()
	f := &fixture{
		audit:  audit,
		guard:  NewGuard(bindings{{Principal: "User:sa-1", RoleName: authz.EnvironmentAdmin, CRNPattern: env}}),
		cloud:  basic("CLOUDKEY00000001", cloudSecret),
		kafka:  basic("KAFKAKEY00000001", kafkaSecret),
		orgCRN: resource.OrganizationCRN("org1"),
	}
	f.icpt = NewInterceptor(InterceptorOptions{
		Authenticator: NewAuthenticator(ks, credential.NewVerifier(time.Minute, 100), nil),
		Audit:         audit,
		Limiter:       limiter,
		TrustForwarded: func(ctx context.Context) bool {
			p, _ := peer.FromContext(ctx)
			return p != nil && p.Addr.Network() == "trusted"
		},
	})
	return f
}

type addr struct{ network, s string }

func (a addr) Network() string { return a.network }
func (a addr) String() string  { return a.s }

func (f *fixture) call(method, authorization string, md metadata.MD, p net.Addr, handler grpc.UnaryHandler) error {
	if md == nil {
		md = metadata.MD{}
	}
	if authorization != "" {
		md.Set(MDAuthorization, authorization)
	}
	ctx := metadata.NewIncomingContext(context.Background(), md)
	if p == nil {
		p = addr{"tcp", "192.0.2.7:4242"}
	}
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: p})
	_, err := f.icpt.Unary(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, handler)
	return err
}

func codeOf(err error) apierr.Code {
	if err == nil {
		return "OK"
	}
	c, _ := apierr.CodeOf(status.Convert(err))
	return c
}

func TestAnRPCThatNeverAuthorizesFails(t *testing.T) {
	f := newFixture(t, nil)
	err := f.call("/affluent.v1.EnvironmentService/GetEnvironment", f.cloud, nil, nil, func(ctx context.Context, _ any) (any, error) {
		return "secret data", nil
	})
	if codeOf(err) != apierr.Internal {
		t.Fatalf("unauthorized success: %v, want INTERNAL", err)
	}
}

func TestDenialsAndMutationsAreAudited(t *testing.T) {
	f := newFixture(t, nil)
	md := metadata.Pairs(MDRequestID, "req-42")
	err := f.call("/affluent.v1.EnvironmentService/CreateEnvironment", f.cloud, md, nil, func(ctx context.Context, _ any) (any, error) {
		return nil, f.guard.Authorize(ctx, authz.EnvironmentCreate, f.orgCRN)
	})
	if codeOf(err) != apierr.PermissionDenied {
		t.Fatalf("EnvironmentAdmin creating an environment: %v", err)
	}
	err = f.call("/affluent.v1.EnvironmentService/UpdateEnvironment", f.cloud, nil, nil, func(ctx context.Context, _ any) (any, error) {
		return "ok", f.guard.Authorize(ctx, authz.EnvironmentUpdate, resource.EnvironmentCRN("org1", "env-1"))
	})
	if err != nil {
		t.Fatal(err)
	}
	// Reads that pass are not audited; reads refused are.
	_ = f.call("/affluent.v1.EnvironmentService/GetEnvironment", f.cloud, nil, nil, func(ctx context.Context, _ any) (any, error) {
		return "ok", f.guard.Authorize(ctx, authz.EnvironmentDescribe, resource.EnvironmentCRN("org1", "env-1"))
	})
	_ = f.call("/affluent.v1.EnvironmentService/GetEnvironment", "", nil, nil, nil)

	if len(f.audit.events) != 3 {
		t.Fatalf("%d audit events, want 3: %+v", len(f.audit.events), f.audit.events)
	}
	denied, updated, anon := f.audit.events[0], f.audit.events[1], f.audit.events[2]
	if denied.Outcome != "PERMISSION_DENIED" || denied.Principal != "User:sa-1" || denied.Action != "environment.create" ||
		denied.Resource != f.orgCRN.String() || denied.RequestID != "req-42" || denied.SourceAddress != "192.0.2.7:4242" || denied.OrgID != "org1" {
		t.Errorf("denial event: %+v", denied)
	}
	if updated.Outcome != "OK" || updated.Action != "environment.update" || updated.RequestID == "" {
		t.Errorf("mutation event: %+v", updated)
	}
	if anon.Outcome != "UNAUTHENTICATED" || anon.Principal != "anonymous" || anon.Action != "GetEnvironment" {
		t.Errorf("unauthenticated event: %+v", anon)
	}
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t, nil)
	ok := func(ctx context.Context, _ any) (any, error) {
		return "ok", f.guard.Authorize(ctx, authz.EnvironmentDescribe, resource.EnvironmentCRN("org1", "env-1"))
	}
	tests := []struct {
		name, header string
		want         apierr.Code
		words        string
	}{
		{"cloud key", f.cloud, "OK", ""},
		{"none", "", apierr.Unauthenticated, "authentication required"},
		{"kafka key", f.kafka, apierr.Unauthenticated, "Kafka API key"},
		{"wrong secret", basic("CLOUDKEY00000001", strings.Repeat("x", 64)), apierr.Unauthenticated, "invalid API key or secret"},
		{"unknown key", basic("NOSUCHKEY0000000", strings.Repeat("x", 64)), apierr.Unauthenticated, "invalid API key or secret"},
		{"not base64", "Basic !!!", apierr.Unauthenticated, "malformed"},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("abc")), apierr.Unauthenticated, "malformed"},
		{"bearer", "Bearer abc.def.ghi", apierr.Unauthenticated, "bearer tokens are not accepted"},
		{"digest", "Digest x", apierr.Unauthenticated, "unsupported"},
	}
	for _, tt := range tests {
		err := f.call("/affluent.v1.EnvironmentService/GetEnvironment", tt.header, nil, nil, ok)
		if codeOf(err) != tt.want || tt.words != "" && !strings.Contains(status.Convert(err).Message(), tt.words) {
			t.Errorf("%s: %v, want %s mentioning %q", tt.name, err, tt.want, tt.words)
		}
	}
}

func TestRateLimitPerPrincipal(t *testing.T) {
	f := newFixture(t, NewLimiter(0.0001, 2))
	h := func(ctx context.Context, _ any) (any, error) {
		return "ok", f.guard.Authorize(ctx, authz.EnvironmentDescribe, resource.EnvironmentCRN("org1", "env-1"))
	}
	var codes []apierr.Code
	for range 3 {
		codes = append(codes, codeOf(f.call("/affluent.v1.EnvironmentService/GetEnvironment", f.cloud, nil, nil, h)))
	}
	if codes[0] != "OK" || codes[1] != "OK" || codes[2] != apierr.RateLimited {
		t.Fatalf("codes = %v, want OK OK RATE_LIMITED", codes)
	}
}

func TestForwardedForOnlyFromTrustedPeers(t *testing.T) {
	f := newFixture(t, nil)
	deny := func(ctx context.Context, _ any) (any, error) {
		return nil, f.guard.Authorize(ctx, authz.AuditLogRead, f.orgCRN)
	}
	md := func() metadata.MD { return metadata.Pairs(MDForwardedFor, "203.0.113.9, 198.51.100.1") }
	_ = f.call("/x.S/Get", f.cloud, md(), addr{"tcp", "192.0.2.7:1"}, deny)
	_ = f.call("/x.S/Get", f.cloud, md(), addr{"trusted", "gateway"}, deny)
	if got := f.audit.events[0].SourceAddress; got != "192.0.2.7:1" {
		t.Errorf("untrusted peer's forwarded header believed: %s", got)
	}
	if got := f.audit.events[1].SourceAddress; got != "198.51.100.1" {
		t.Errorf("trusted gateway's peer = %s, want the last forwarded address", got)
	}
}

func TestRequestIDs(t *testing.T) {
	for _, id := range []string{"abc", "req-1.2_3:4", strings.Repeat("a", 128)} {
		if !ValidRequestID(id) {
			t.Errorf("ValidRequestID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "has space", "new\nline", strings.Repeat("a", 129), "é"} {
		if ValidRequestID(id) {
			t.Errorf("ValidRequestID(%q) = true", id)
		}
	}
	if a, b := NewRequestID(), NewRequestID(); a == b || !ValidRequestID(a) {
		t.Errorf("NewRequestID gave %q and %q", a, b)
	}
}
