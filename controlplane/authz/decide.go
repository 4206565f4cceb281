// Package authz is Affluent's one authorization engine: role-based access
// control over CRNs (crn://affluent/organization=…/environment=…/…), with
// the predefined roles of ROLES.md. It is pure Go with no storage of its
// own, so the control plane and every broker decide the same way from the
// same role bindings. The default is deny.
package authz

import "fmt"

// Binding grants role RoleName to Principal (`User:<id>`) on the resources
// CRNPattern covers.
type Binding struct {
	Principal  string
	RoleName   string
	CRNPattern string
}

// Decision is the outcome of one authorization check.
type Decision struct {
	Allowed bool
	// Reason explains the decision for logs and audit events.
	Reason string
	// Binding is the binding that allowed the action, if any.
	Binding Binding
}

// Decide says whether principal may perform action on the resource named by
// resourceCRN, given bindings (bindings of other principals are ignored).
// A binding allows when its role grants the action and its pattern covers
// the resource; describe-like actions (see ancestorActions) are also
// allowed on the resources above the pattern. Anything else is denied.
func Decide(principal string, bindings []Binding, action Action, resourceCRN string) Decision {
	return Compile(principal, bindings).Decide(action, resourceCRN)
}

// Policy is the parsed bindings of one principal, for callers (brokers)
// that decide many times for the same principal.
type Policy struct {
	principal string
	rules     []rule
}

type rule struct {
	binding Binding
	role    Role
	pattern CRN
}

// Compile parses the bindings of principal once; malformed bindings and
// unknown roles grant nothing.
func Compile(principal string, bindings []Binding) *Policy {
	p := &Policy{principal: principal}
	for _, b := range bindings {
		if b.Principal != principal {
			continue
		}
		role, ok := rolesByName[b.RoleName]
		if !ok {
			continue
		}
		pat, err := ParsePattern(b.CRNPattern)
		if err != nil {
			continue
		}
		p.rules = append(p.rules, rule{binding: b, role: role, pattern: pat})
	}
	return p
}

// Decide is Decide for the compiled principal.
func (p *Policy) Decide(action Action, resourceCRN string) Decision {
	res, err := ParseCRN(resourceCRN)
	if err != nil {
		return Decision{Reason: fmt.Sprintf("denied: %v", err)}
	}
	return p.DecideCRN(action, res)
}

// DecideCRN is Decide with a parsed resource. A pattern (from a role binding
// being created) is treated as the set it names: allowed only when a
// binding covers all of it.
func (p *Policy) DecideCRN(action Action, res CRN) Decision {
	if p.principal == "" {
		return Decision{Reason: "denied: no principal"}
	}
	for _, r := range p.rules {
		if !r.role.Grants(action) {
			continue
		}
		if r.pattern.Matches(res) {
			return Decision{Allowed: true, Binding: r.binding,
				Reason: fmt.Sprintf("allowed by role %s on %s", r.binding.RoleName, r.binding.CRNPattern)}
		}
		if ancestorActions[action] && res.isAncestorOf(r.pattern) {
			return Decision{Allowed: true, Binding: r.binding,
				Reason: fmt.Sprintf("allowed by role %s on %s (beneath the resource)", r.binding.RoleName, r.binding.CRNPattern)}
		}
	}
	return Decision{Reason: fmt.Sprintf("denied: no role binding of %s grants %s on %s", p.principal, action, res)}
}
