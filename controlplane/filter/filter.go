// Package filter compiles and evaluates the CEL expressions of identity
// pools (over a token's claims) and certificate pools (over a client
// certificate's fields), as Confluent Cloud's identity pools do:
//
//	claims.aud == "kafka" && claims.groups.exists(g, g == "orders")
//	certificate.CN == "orders" && certificate.O == "Acme"
//
// Programs are compiled once per expression and cached; evaluation is
// bounded in cost, so a filter cannot make authentication slow.
package filter

import (
	"errors"
	"fmt"
	"sync"

	"cel.dev/cel-go/cel"
)

// Variables the expressions see.
const (
	// Claims is a token's claims, as decoded from JSON.
	Claims = "claims"
	// Certificate is a client certificate's fields (see CertificateFields).
	Certificate = "certificate"
)

// costLimit bounds one evaluation; ordinary filters cost under 100.
const costLimit = 10_000

// maxCached bounds the compiled programs kept.
const maxCached = 4096

// Env compiles expressions over one variable.
type Env struct {
	variable string
	env      *cel.Env

	mu    sync.Mutex // guards cache
	cache map[string]cel.Program
}

var (
	claimsEnv = sync.OnceValues(func() (*Env, error) { return newEnv(Claims) })
	certEnv   = sync.OnceValues(func() (*Env, error) { return newEnv(Certificate) })
)

// ForClaims is the environment of identity pool filters and identity
// claims: one variable, claims, a map.
func ForClaims() *Env { return must(claimsEnv()) }

// ForCertificate is the environment of certificate pool filters: one
// variable, certificate, a map.
func ForCertificate() *Env { return must(certEnv()) }

func must(e *Env, err error) *Env {
	if err != nil {
		panic(err) // the environments are fixed; failing to build one is a bug
	}
	return e
}

func newEnv(variable string) (*Env, error) {
	env, err := cel.NewEnv(cel.Variable(variable, cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	return &Env{variable: variable, env: env, cache: map[string]cel.Program{}}, nil
}

// ErrInvalid reports an expression that does not compile or is not of
// the type asked for.
var ErrInvalid = errors.New("invalid expression")

// CheckBool reports whether expr compiles to a bool.
func (e *Env) CheckBool(expr string) error {
	_, err := e.program(expr, cel.BoolType)
	return err
}

// CheckString reports whether expr compiles (to a string, or to a value
// whose type is only known at run time).
func (e *Env) CheckString(expr string) error {
	_, err := e.program(expr, cel.StringType)
	return err
}

// Match evaluates a bool expression on value. An evaluation error (a
// missing claim, a type mismatch) is no match, with the error.
func (e *Env) Match(expr string, value map[string]any) (bool, error) {
	prg, err := e.program(expr, cel.BoolType)
	if err != nil {
		return false, err
	}
	out, _, err := prg.Eval(map[string]any{e.variable: value})
	if err != nil {
		return false, fmt.Errorf("evaluate %q: %w", expr, err)
	}
	b, ok := out.Value().(bool)
	return ok && b, nil
}

// String evaluates expr on value and formats the result, for logs.
func (e *Env) String(expr string, value map[string]any) (string, error) {
	prg, err := e.program(expr, cel.StringType)
	if err != nil {
		return "", err
	}
	out, _, err := prg.Eval(map[string]any{e.variable: value})
	if err != nil {
		return "", fmt.Errorf("evaluate %q: %w", expr, err)
	}
	if s, ok := out.Value().(string); ok {
		return s, nil
	}
	return fmt.Sprint(out.Value()), nil
}

// program compiles expr, checking that its type is want or dynamic.
func (e *Env) program(expr string, want *cel.Type) (cel.Program, error) {
	key := want.String() + "\x00" + expr
	e.mu.Lock()
	prg, ok := e.cache[key]
	e.mu.Unlock()
	if ok {
		return prg, nil
	}
	ast, iss := e.env.Compile(expr)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, iss.Err())
	}
	if out := ast.OutputType(); !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("%w: the expression is a %s, want a %s", ErrInvalid, out, want)
	}
	prg, err := e.env.Program(ast, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) >= maxCached {
		clear(e.cache)
	}
	e.cache[key] = prg
	return prg, nil
}
