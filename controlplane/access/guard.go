package access

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/apierr"
	"github.com/affluent-io/affluent/controlplane/authz"
)

// BindingSource reads the role bindings of a principal.
type BindingSource interface {
	BindingsOf(ctx context.Context, org, principal string) ([]authz.Binding, error)
}

// Guard is how services authorize: every RPC asks it at least once.
type Guard struct {
	bindings BindingSource
}

// NewGuard returns a guard deciding with the bindings of source.
func NewGuard(source BindingSource) *Guard { return &Guard{bindings: source} }

// Caller returns the authenticated caller, or UNAUTHENTICATED.
func (g *Guard) Caller(ctx context.Context) (Caller, error) {
	c, ok := CallerFrom(ctx)
	if !ok {
		return Caller{}, apierr.New(apierr.Unauthenticated, "authentication required")
	}
	return c, nil
}

// Authorize returns nil when the caller may perform action on resource,
// else PERMISSION_DENIED (recorded in the audit log by the interceptor).
func (g *Guard) Authorize(ctx context.Context, action authz.Action, resource authz.CRN) error {
	d, err := g.decide(ctx, action, resource, true)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return apierr.New(apierr.PermissionDenied, "%s is not allowed %s on %s", callerName(ctx), action, resource)
	}
	return nil
}

// Allowed reports whether the caller may perform action on resource, for
// filtering lists; it records the check but not a denial.
func (g *Guard) Allowed(ctx context.Context, action authz.Action, resource authz.CRN) bool {
	d, err := g.decide(ctx, action, resource, false)
	return err == nil && d.Allowed
}

// decide asks the engine; the request remembers the decision for the audit
// log: the first denial (when recordDenial), else the latest permission.
func (g *Guard) decide(ctx context.Context, action authz.Action, resource authz.CRN, recordDenial bool) (authz.Decision, error) {
	r := requestFrom(ctx)
	if r == nil || r.caller.Principal == "" {
		return authz.Decision{}, apierr.New(apierr.Unauthenticated, "authentication required")
	}
	r.mu.Lock()
	policy := r.policy
	r.mu.Unlock()
	if policy == nil {
		bindings, err := g.bindings.BindingsOf(ctx, r.caller.OrgID, r.caller.Principal)
		if err != nil {
			return authz.Decision{}, fmt.Errorf("load role bindings of %s: %w", r.caller.Principal, err)
		}
		policy = authz.Compile(r.caller.Principal, bindings)
	}
	d := policy.DecideCRN(action, resource)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.policy = policy
	r.checked = true
	if !r.denied && (d.Allowed || recordDenial) {
		r.action, r.resource, r.reason, r.denied = action, resource.String(), d.Reason, !d.Allowed
	}
	return d, nil
}

func callerName(ctx context.Context) string {
	if c, ok := CallerFrom(ctx); ok {
		return c.Principal
	}
	return "anonymous"
}
