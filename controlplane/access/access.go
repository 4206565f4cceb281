// Package access is the control plane's gate: it authenticates every RPC
// (API key over HTTP Basic, or a bearer token through a pluggable verifier),
// limits each principal's request rate, gives services the Guard through
// which they authorize every action with the authz engine, and writes the
// audit log: every mutation and every refusal, with who, what, when, from
// where and the outcome.
package access

import (
	"context"
	"sync"

	"github.com/affluent-io/affluent/controlplane/authz"
)

// Caller is the authenticated principal of a request.
type Caller struct {
	// PrincipalID is the service account, user or pool id.
	PrincipalID string
	// Principal is `User:<id>`, as role bindings name it.
	Principal string
	OrgID     string
	// Credential names what authenticated the caller (an API key id,
	// "token"), for logs; never a secret.
	Credential string
}

// request is the per-RPC state the interceptor puts in the context.
type request struct {
	id     string
	source string
	method string
	caller Caller

	mu sync.Mutex // guards the fields below
	// policy is the caller's compiled role bindings, loaded on first use.
	policy *authz.Policy
	// checked is set by every authorization decision: an RPC that returns
	// success without one is refused (see the interceptor).
	checked bool
	// action and resource are those of the last decision, for the audit log.
	action   authz.Action
	resource string
	reason   string
	denied   bool
}

type requestKey struct{}

func withRequest(ctx context.Context, r *request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func requestFrom(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	return r
}

// CallerFrom returns the authenticated caller of the RPC in ctx.
func CallerFrom(ctx context.Context) (Caller, bool) {
	r := requestFrom(ctx)
	if r == nil || r.caller.Principal == "" {
		return Caller{}, false
	}
	return r.caller, true
}

// RequestID returns the request id of the RPC in ctx ("" outside one).
func RequestID(ctx context.Context) string {
	if r := requestFrom(ctx); r != nil {
		return r.id
	}
	return ""
}

// WithCaller returns a context in which caller is authenticated, for
// in-process callers (bootstrap, tests) that bypass the interceptor.
func WithCaller(ctx context.Context, caller Caller) context.Context {
	return withRequest(ctx, &request{caller: caller, method: "internal"})
}
