package sdk

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/affluent-io/affluent/proto/gen/go/affluent/v1"
)

// GetOperation reads the latest state of a long-running operation (op-…).
func (c *Client) GetOperation(ctx context.Context, id string) (*Operation, error) {
	resp, err := c.operations.GetOperation(ctx, &pb.GetOperationRequest{Operation: id})
	return resp.GetOperation(), err
}

// WaitOption tunes a waiter.
type WaitOption func(*waitSettings)

type waitSettings struct {
	first, max time.Duration
	progress   func(state string)
}

// PollInterval sets the first wait between polls (default 50ms) and the
// longest (default 2s); waits grow by half each poll in between.
func PollInterval(first, longest time.Duration) WaitOption {
	return func(s *waitSettings) {
		if first > 0 {
			s.first = first
		}
		if longest >= s.first {
			s.max = longest
		}
	}
}

// OnProgress calls fn after each poll with the state seen (a cluster's
// phase, or "RUNNING"/"DONE" for an operation), for progress displays.
func OnProgress(fn func(state string)) WaitOption {
	return func(s *waitSettings) { s.progress = fn }
}

// poll calls check until it reports done or an error, waiting with backoff
// between calls, and gives up when ctx ends.
func poll(ctx context.Context, opts []WaitOption, check func() (done bool, state string, err error)) error {
	s := waitSettings{first: 50 * time.Millisecond, max: 2 * time.Second}
	for _, o := range opts {
		o(&s)
	}
	wait := s.first
	for {
		done, state, err := check()
		if s.progress != nil && state != "" {
			s.progress(state)
		}
		if err != nil || done {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("still %s: %w", state, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*3/2, s.max)
	}
}

// WaitOperation polls operation id until it is done. It returns the
// operation, and its error (an *Error with the operation's code) if it
// failed; or ctx's error if ctx ends first.
func (c *Client) WaitOperation(ctx context.Context, id string, opts ...WaitOption) (*Operation, error) {
	var op *Operation
	err := poll(ctx, opts, func() (bool, string, error) {
		var err error
		if op, err = c.GetOperation(ctx, id); err != nil {
			return false, "", err
		}
		if !op.GetDone() {
			return false, "RUNNING", nil
		}
		if op.GetError() != nil && op.GetError().GetCode() != 0 {
			return true, "FAILED", operationError(op)
		}
		return true, "DONE", nil
	})
	return op, err
}

// WaitClusterRunning polls a cluster until its phase is RUNNING and returns
// it. A cluster that FAILED, or is being deleted, is an error.
func (c *Client) WaitClusterRunning(ctx context.Context, env, id string, opts ...WaitOption) (*Cluster, error) {
	var cl *Cluster
	err := poll(ctx, opts, func() (bool, string, error) {
		var err error
		if cl, err = c.GetCluster(ctx, env, id); err != nil {
			return false, "", err
		}
		phase := cl.GetStatus().GetPhase()
		switch phase {
		case PhaseRunning:
			return true, phase, nil
		case PhaseFailed:
			return true, phase, clusterError(cl, "failed", codes.Unavailable)
		case PhaseDeleting:
			return true, phase, clusterError(cl, "is being deleted", codes.FailedPrecondition)
		}
		return false, phase, nil
	})
	return cl, err
}

// WaitClusterDeleted polls a cluster until it no longer exists.
func (c *Client) WaitClusterDeleted(ctx context.Context, env, id string, opts ...WaitOption) error {
	return poll(ctx, opts, func() (bool, string, error) {
		cl, err := c.GetCluster(ctx, env, id)
		if errors.Is(err, ErrNotFound) {
			return true, "DELETED", nil
		}
		if err != nil {
			return false, "", err
		}
		phase := cl.GetStatus().GetPhase()
		if phase == PhaseFailed {
			return true, phase, clusterError(cl, "failed", codes.Unavailable)
		}
		return false, phase, nil
	})
}

func clusterError(cl *Cluster, what string, code codes.Code) error {
	msg := fmt.Sprintf("cluster %s %s", cl.GetId(), what)
	if m := cl.GetStatus().GetMessage(); m != "" {
		msg += ": " + m
	}
	return &Error{Code: code, Message: msg, st: status.New(code, msg)}
}
