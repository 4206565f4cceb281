package broker

import (
	"sync"
	"time"
)

// Defaults of the quota windows, Kafka's quota.window.num and
// quota.window.size.seconds: rates are measured over 11 samples of 1s.
const (
	DefaultQuotaWindowSamples = 11
	DefaultQuotaWindowSize    = time.Second
)

// quotaWindow measures the rate of something (bytes, requests, handler
// time) over a sliding window of samples, as Kafka's Rate over a
// SampledStat does (KIP-13): each sample covers `size` from its first
// record; the rate is the sum of the live samples over the window's
// elapsed time, which counts at least samples-1 whole samples so that the
// first records of a quiet client are measured over a full window rather
// than a few milliseconds.
//
// The throttle that brings the rate back to a bound is the time the window
// must grow by for its total to be within the bound: total/bound - elapsed
// (Kafka's (rate-bound)/bound × window once the window is older than its
// minimum), capped at the whole window. A new window lets a burst of
// (samples-1) × size × bound through before throttling, as Kafka's does.
type quotaWindow struct {
	samples int
	size    time.Duration

	mu      sync.Mutex // guards the fields below
	buckets []quotaSample
	current int       // index of the newest sample in buckets
	last    time.Time // time of the last record, for expiring idle windows
}

type quotaSample struct {
	start time.Time // zero: never used
	value float64
}

func newQuotaWindow(samples int, size time.Duration) *quotaWindow {
	return &quotaWindow{samples: samples, size: size, buckets: make([]quotaSample, samples)}
}

// record adds v at now.
func (w *quotaWindow) record(now time.Time, v float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.purge(now)
	cur := &w.buckets[w.current]
	if cur.start.IsZero() {
		cur.start = now
	} else if now.Sub(cur.start) >= w.size {
		w.current = (w.current + 1) % w.samples
		cur = &w.buckets[w.current]
		*cur = quotaSample{start: now}
	}
	cur.value += v
	w.last = now
}

// purge forgets samples older than the whole window. Called with mu held.
func (w *quotaWindow) purge(now time.Time) {
	whole := time.Duration(w.samples) * w.size
	for i := range w.buckets {
		if s := &w.buckets[i]; !s.start.IsZero() && now.Sub(s.start) >= whole {
			*s = quotaSample{}
		}
	}
}

// measure returns the total of the live samples, the time since the
// oldest began, and the window the rate is measured over: that time, but
// at least samples-1 whole samples. Called with mu held.
func (w *quotaWindow) measure(now time.Time) (total float64, elapsed, window time.Duration) {
	w.purge(now)
	var oldest time.Time
	for _, s := range w.buckets {
		if s.start.IsZero() {
			continue
		}
		total += s.value
		if oldest.IsZero() || s.start.Before(oldest) {
			oldest = s.start
		}
	}
	if !oldest.IsZero() {
		elapsed = max(now.Sub(oldest), 0)
	}
	window = elapsed
	full := int(elapsed / w.size)
	if minFull := w.samples - 1; full < minFull {
		window += time.Duration(minFull-full) * w.size
	}
	return total, elapsed, window
}

// rate returns the measured rate per second at now.
func (w *quotaWindow) rate(now time.Time) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	total, _, window := w.measure(now)
	return total / window.Seconds()
}

// throttle returns how long the client must wait for the rate to be within
// bound (per second); zero when it is already. bound <= 0 means unbounded.
func (w *quotaWindow) throttle(now time.Time, bound float64) time.Duration {
	if bound <= 0 {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	total, elapsed, window := w.measure(now)
	if total/window.Seconds() <= bound {
		return 0
	}
	// The wait until the window holds total at bound. Kafka subtracts the
	// window, which is wrong while the window is young: it does not grow
	// with time until it is older than its minimum, so a client that
	// waited would find itself over again. Subtracting the real elapsed
	// time gives the same answer once the window is old enough.
	// In float seconds: total/bound may be far beyond what a Duration
	// holds (a tiny bound), and the wait is capped at the window anyway.
	longest := time.Duration(w.samples) * w.size
	wait := total/bound - elapsed.Seconds()
	switch {
	case wait <= 0:
		return 0
	case wait >= longest.Seconds():
		return longest
	}
	return time.Duration(wait * float64(time.Second))
}

// allowance is what may be recorded at now while keeping within bound
// over the time measured so far plus one sample, never more than a whole
// window holds: what one fetch may return. A fresh window allows one
// sample's worth, not a whole window's, so a consumer's first seconds
// under a quota are not one window-sized burst followed by a window-long
// throttle.
func (w *quotaWindow) allowance(now time.Time, bound float64) float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	total, elapsed, _ := w.measure(now)
	allowed := bound*(elapsed+w.size).Seconds() - total
	return min(max(allowed, 0), bound*(time.Duration(w.samples)*w.size).Seconds())
}

// idleSince reports whether nothing was recorded since t.
func (w *quotaWindow) idleSince(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last.Before(t)
}
