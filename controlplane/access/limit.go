package access

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter keeps one token bucket per principal (or, before authentication,
// per source address).
type Limiter struct {
	limit rate.Limit
	burst int
	now   func() time.Time

	mu      sync.Mutex // guards buckets
	buckets map[string]*bucket
}

type bucket struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

// NewLimiter allows each key perSecond requests per second on average,
// burst at once.
func NewLimiter(perSecond float64, burst int) *Limiter {
	return &Limiter{limit: rate.Limit(perSecond), burst: burst, now: time.Now, buckets: map[string]*bucket{}}
}

// Allow takes a token from key's bucket.
func (l *Limiter) Allow(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) > 10000 {
			l.sweepLocked(now)
		}
		b = &bucket{limiter: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.lastSeen = now
	return b.limiter.AllowN(now, 1)
}

// sweepLocked forgets buckets idle long enough to have refilled.
func (l *Limiter) sweepLocked(now time.Time) {
	idle := time.Minute
	if l.limit > 0 {
		if refill := time.Duration(float64(l.burst) / float64(l.limit) * float64(time.Second)); refill > idle {
			idle = refill
		}
	}
	for k, b := range l.buckets {
		if now.Sub(b.lastSeen) > idle {
			delete(l.buckets, k)
		}
	}
}
