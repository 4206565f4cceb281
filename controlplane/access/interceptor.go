package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"path"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// Metadata keys the control plane reads and writes.
const (
	MDAuthorization = "authorization"
	MDRequestID     = "x-request-id"
	MDForwardedFor  = "x-forwarded-for"
)

// AuditSink stores audit events.
type AuditSink interface {
	AppendAuditEvent(ctx context.Context, e resource.AuditEvent) error
}

// InterceptorOptions configure the gate every RPC passes.
type InterceptorOptions struct {
	Authenticator *Authenticator
	Audit         AuditSink
	// Limiter, when set, limits each principal's rate (RATE_LIMITED).
	Limiter *Limiter
	Logger  *slog.Logger
	// TrustForwarded reports whether the RPC's peer is a proxy whose
	// x-forwarded-for is believed: the in-process REST gateway.
	TrustForwarded func(ctx context.Context) bool
}

// Interceptor authenticates, rate-limits, audits and maps errors of every
// unary RPC.
type Interceptor struct {
	opts InterceptorOptions
}

// NewInterceptor returns the gate.
func NewInterceptor(opts InterceptorOptions) *Interceptor {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Interceptor{opts: opts}
}

// Unary is the grpc.UnaryServerInterceptor.
func (i *Interceptor) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	md, _ := metadata.FromIncomingContext(ctx)
	r := &request{
		id:     requestIDFrom(md),
		source: i.sourceAddress(ctx, md),
		method: info.FullMethod,
	}
	_ = grpc.SetHeader(ctx, metadata.Pairs(MDRequestID, r.id))
	ctx = withRequest(ctx, r)

	resp, err := i.serve(ctx, r, md, req, handler)

	var apiErr *apierr.Error
	if err != nil {
		apiErr = apierr.From(err)
		switch {
		case apiErr.Code == apierr.Internal:
			i.opts.Logger.Error("rpc failed", "method", r.method, "request_id", r.id, "principal", r.caller.Principal, "err", err)
		case apiErr.Cause != nil:
			i.opts.Logger.Warn("rpc failed", "method", r.method, "request_id", r.id, "code", apiErr.Code, "err", err)
		}
	}
	i.audit(ctx, r, apiErr)
	i.opts.Logger.Debug("rpc", "method", r.method, "request_id", r.id, "principal", r.caller.Principal,
		"source", r.source, "code", outcome(apiErr), "duration", time.Since(start))
	if apiErr != nil {
		return nil, apiErr.GRPCStatus().Err()
	}
	return resp, nil
}

func (i *Interceptor) serve(ctx context.Context, r *request, md metadata.MD, req any, handler grpc.UnaryHandler) (any, error) {
	caller, err := i.opts.Authenticator.Authenticate(ctx, first(md, MDAuthorization))
	if err != nil {
		// Failed attempts count against the source address.
		if i.opts.Limiter != nil && !i.opts.Limiter.Allow("addr:"+hostOf(r.source)) {
			return nil, apierr.New(apierr.RateLimited, "too many requests; retry later")
		}
		return nil, err
	}
	r.caller = caller
	if i.opts.Limiter != nil && !i.opts.Limiter.Allow(caller.Principal) {
		return nil, apierr.New(apierr.RateLimited, "too many requests from %s; retry later", caller.Principal)
	}
	resp, err := handler(ctx, req)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	checked := r.checked
	r.mu.Unlock()
	if !checked {
		// Fail closed: an RPC must authorize what it does.
		return nil, apierr.Wrap(errNotAuthorized, apierr.Internal, "internal error")
	}
	return resp, nil
}

var errNotAuthorized = errors.New("rpc returned without an authorization decision")

// audit records mutations (whatever their outcome) and refusals of
// authentication or authorization (whatever the method). Rate-limited reads
// are not recorded: a flood must not turn into as many writes.
func (i *Interceptor) audit(ctx context.Context, r *request, apiErr *apierr.Error) {
	code := outcome(apiErr)
	refused := code == string(apierr.PermissionDenied) || code == string(apierr.Unauthenticated)
	if !isMutation(r.method) && !refused {
		return
	}
	r.mu.Lock()
	action, res, reason := string(r.action), r.resource, r.reason
	r.mu.Unlock()
	if action == "" {
		action = path.Base(r.method)
	}
	principal := r.caller.Principal
	if principal == "" {
		principal = "anonymous"
	}
	msg := reason
	if apiErr != nil {
		msg = apiErr.Message
	}
	e := resource.AuditEvent{
		ID:            resource.NewID(resource.PrefixAuditEvent),
		OrgID:         r.caller.OrgID,
		Time:          time.Now().UTC().Truncate(time.Microsecond),
		Principal:     principal,
		Action:        action,
		Resource:      res,
		Outcome:       code,
		RequestID:     r.id,
		SourceAddress: r.source,
		Method:        r.method,
		Message:       msg,
	}
	if i.opts.Audit == nil {
		return
	}
	if err := i.opts.Audit.AppendAuditEvent(context.WithoutCancel(ctx), e); err != nil {
		i.opts.Logger.Error("audit log write failed", "request_id", r.id, "method", r.method, "err", err)
	}
}

func outcome(e *apierr.Error) string {
	if e == nil {
		return "OK"
	}
	return string(e.Code)
}

func isMutation(method string) bool {
	name := path.Base(method)
	return strings.HasPrefix(name, "Create") || strings.HasPrefix(name, "Update") || strings.HasPrefix(name, "Delete")
}

func (i *Interceptor) sourceAddress(ctx context.Context, md metadata.MD) string {
	if i.opts.TrustForwarded != nil && i.opts.TrustForwarded(ctx) {
		if fwd := md.Get(MDForwardedFor); len(fwd) > 0 {
			// The gateway appends its own peer last: that one is not spoofable.
			parts := strings.Split(fwd[len(fwd)-1], ",")
			if last := strings.TrimSpace(parts[len(parts)-1]); last != "" {
				return last
			}
		}
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// requestIDFrom keeps a well-formed incoming request id, else makes one.
func requestIDFrom(md metadata.MD) string {
	if id := first(md, MDRequestID); ValidRequestID(id) {
		return id
	}
	return NewRequestID()
}

// ValidRequestID accepts 1 to 128 of [A-Za-z0-9._:-].
func ValidRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// NewRequestID returns a random request id.
func NewRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
