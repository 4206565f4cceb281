package tiered

import (
	"context"
	"errors"
	"time"

	"github.com/affluent-io/affluent/dataplane/storage"
)

// retryingStore retries object store calls that failed with
// storage.ErrUnavailable, a few times with growing pauses, before giving
// the error to the caller. Every call may be repeated safely: a put that
// failed leaves at most an unreferenced object (a new key is used each
// time, and GC removes the other), reads and deletes are idempotent, and
// a listing repeated from the start calls its function again for objects
// it had already seen, which the GC tolerates.
type retryingStore struct {
	objectStore
	attempts int
	pause    time.Duration // before the second attempt; doubles after
}

func withRetries(o objectStore, attempts int, pause time.Duration) objectStore {
	if attempts <= 1 {
		return o
	}
	return &retryingStore{objectStore: o, attempts: attempts, pause: pause}
}

func (r *retryingStore) retry(ctx context.Context, call func() error) error {
	pause := r.pause
	var err error
	for attempt := 1; ; attempt++ {
		err = call()
		if err == nil || attempt == r.attempts || !errors.Is(err, storage.ErrUnavailable) ||
			errors.Is(err, errObjectNotFound) || ctx.Err() != nil {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return err
		}
		pause *= 2
	}
}

func (r *retryingStore) put(ctx context.Context, parts [][]byte) (string, error) {
	var key string
	err := r.retry(ctx, func() error {
		var err error
		key, err = r.objectStore.put(ctx, parts)
		return err
	})
	return key, err
}

func (r *retryingStore) create(ctx context.Context, key string) (objectSink, error) {
	var sink objectSink
	err := r.retry(ctx, func() error {
		var err error
		sink, err = r.objectStore.create(ctx, key)
		return err
	})
	return sink, err
}

// Per-attempt time limits, so that a stuck connection becomes a retry (or
// an ErrUnavailable) instead of a hang.
const (
	readTimeout   = time.Minute
	deleteTimeout = time.Minute
	listTimeout   = 10 * time.Minute
)

// bounded runs call with a context that ends after d.
func bounded(ctx context.Context, d time.Duration, call func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return call(ctx)
}

func (r *retryingStore) readRange(ctx context.Context, key string, off int64, dst []byte) error {
	return r.retry(ctx, func() error {
		return bounded(ctx, readTimeout, func(ctx context.Context) error { return r.objectStore.readRange(ctx, key, off, dst) })
	})
}

func (r *retryingStore) list(ctx context.Context, prefix string, fn func(objectInfo) error) error {
	return r.retry(ctx, func() error {
		return bounded(ctx, listTimeout, func(ctx context.Context) error { return r.objectStore.list(ctx, prefix, fn) })
	})
}

func (r *retryingStore) delete(ctx context.Context, key string) error {
	return r.retry(ctx, func() error {
		return bounded(ctx, deleteTimeout, func(ctx context.Context) error { return r.objectStore.delete(ctx, key) })
	})
}
