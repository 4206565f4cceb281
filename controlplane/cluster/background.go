package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// Background runs a slow provisioner (brokers of their own that take
// seconds to start or stop) off the reconciler's loop, so that its passes,
// and the serverless clusters that are RUNNING within milliseconds, never
// wait for it. Each cluster has at most one call under way; Provision and
// Deprovision return ErrNotReady while it runs, and its outcome once it
// ended for the same desired state (then the next call starts afresh).
type Background struct {
	prov    Provisioner
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu sync.Mutex // guards work and notify
	// work is each cluster's call under way or ended and not yet
	// collected.
	work map[string]*backgroundCall
	// notify is told when a call ends (the reconciler's Notify).
	notify func()
}

type backgroundCall struct {
	// goal names what the call is for: provision:<brokers> or deprovision.
	goal      string
	done      bool
	bootstrap string
	err       error
}

var _ Provisioner = (*Background)(nil)

// NewBackground runs prov's calls in the background, each bounded by
// timeout (default 5 minutes).
func NewBackground(prov Provisioner, timeout time.Duration) *Background {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Background{prov: prov, timeout: timeout, ctx: ctx, cancel: cancel, work: map[string]*backgroundCall{}}
}

// OnDone sets what is called when a call ends.
func (b *Background) OnDone(notify func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.notify = notify
}

// Provision implements Provisioner.
func (b *Background) Provision(_ context.Context, c resource.Cluster) (string, error) {
	return b.run(c.ID, "provision:"+strconv.Itoa(int(c.Brokers)), func(ctx context.Context) (string, error) {
		return b.prov.Provision(ctx, c)
	})
}

// Deprovision implements Provisioner.
func (b *Background) Deprovision(_ context.Context, c resource.Cluster) error {
	_, err := b.run(c.ID, "deprovision", func(ctx context.Context) (string, error) {
		return "", b.prov.Deprovision(ctx, c)
	})
	return err
}

func (b *Background) run(id, goal string, call func(context.Context) (string, error)) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.work[id]; w != nil {
		if !w.done {
			return "", ErrNotReady
		}
		delete(b.work, id)
		if w.goal == goal {
			return w.bootstrap, w.err
		}
		// The outcome of another goal (the cluster was resized or deleted
		// meanwhile): start the one asked for now.
	}
	if b.ctx.Err() != nil {
		return "", errors.New("provisioner closed")
	}
	w := &backgroundCall{goal: goal}
	b.work[id] = w
	b.wg.Go(func() {
		ctx, cancel := context.WithTimeout(b.ctx, b.timeout)
		bootstrap, err := call(ctx)
		cancel()
		b.mu.Lock()
		w.done, w.bootstrap, w.err = true, bootstrap, err
		notify := b.notify
		b.mu.Unlock()
		if notify != nil {
			notify()
		}
	})
	return "", ErrNotReady
}

// Close cancels the calls under way and waits for them to return.
func (b *Background) Close() {
	b.cancel()
	b.wg.Wait()
}
