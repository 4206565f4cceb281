package sdk

import (
	"context"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// RetryPolicy says how calls are retried: on UNAVAILABLE, on
// RESOURCE_EXHAUSTED (after the server's retry delay when it gives one) and,
// for reads (Get…, List…), on DEADLINE_EXCEEDED of one attempt while the
// caller's context still has time.
type RetryPolicy struct {
	// MaxAttempts counts the first attempt; 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry; each further wait
	// is Multiplier times longer, up to MaxBackoff. Each wait is jittered:
	// a random duration between half and all of it.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Multiplier     float64
}

// DefaultRetryPolicy is the policy of clients made without WithRetryPolicy.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, Multiplier: 2}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = DefaultRetryPolicy.InitialBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = max(DefaultRetryPolicy.MaxBackoff, p.InitialBackoff)
	}
	if p.Multiplier < 1 {
		p.Multiplier = DefaultRetryPolicy.Multiplier
	}
	return p
}

// backoff is the jittered wait before retry number n (1 for the first).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := float64(p.InitialBackoff)
	for i := 1; i < n; i++ {
		d *= p.Multiplier
		if d >= float64(p.MaxBackoff) {
			d = float64(p.MaxBackoff)
			break
		}
	}
	half := d / 2
	return time.Duration(half + rand.Float64()*half)
}

// isRead says whether a method only reads, so that retrying it after a
// timeout cannot do anything twice.
func isRead(method string) bool {
	name := method[strings.LastIndexByte(method, '/')+1:]
	return strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List")
}

func isCreate(method string) bool {
	return strings.HasPrefix(method[strings.LastIndexByte(method, '/')+1:], "Create")
}

// retryInterceptor retries calls by policy and turns every status the
// server returns into an *Error. The request message is sent unchanged on
// every attempt, so a create keeps its request id.
func retryInterceptor(p RetryPolicy, attemptTimeout time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		var previous error
		for attempt := 1; ; attempt++ {
			err := invokeOnce(ctx, attemptTimeout, method, req, reply, cc, invoker, opts)
			if err == nil {
				return nil
			}
			err = asError(err)
			e, ok := err.(*Error)
			if ok && previous != nil && e.Code == codes.NotFound && isCreate(method) {
				// The control plane remembers a create's request id even when
				// it undid the create (its brokers were unavailable), and then
				// answers the retry NOT_FOUND; the first error says more.
				return previous
			}
			previous = err
			if !ok || attempt >= p.MaxAttempts || ctx.Err() != nil {
				return err
			}
			var wait time.Duration
			switch {
			case e.Code == codes.Unavailable:
				wait = p.backoff(attempt)
			case e.Code == codes.ResourceExhausted:
				wait = p.backoff(attempt)
				if e.RetryDelay > 0 {
					// The server knows when a token is back; a little jitter
					// keeps clients that were refused together apart.
					wait = e.RetryDelay + time.Duration(rand.Int64N(int64(e.RetryDelay)/10+1))
				}
			case e.Code == codes.DeadlineExceeded && isRead(method):
				wait = p.backoff(attempt)
			default:
				return err
			}
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
				return err // waiting would only end in the caller's deadline
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
	}
}

func invokeOnce(ctx context.Context, timeout time.Duration, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
