package broker

import (
	"math"
	"testing"
	"time"
)

// TestQuotaWindowRate: the rate is the live samples' total over the
// elapsed window, which counts at least samples-1 whole samples; samples
// older than the whole window are forgotten.
func TestQuotaWindowRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newQuotaWindow(11, time.Second)
	w.record(t0, 100)
	// One record: measured over 10 whole samples, not over nothing.
	if got := w.rate(t0); got != 10 {
		t.Fatalf("rate right after one record of 100 = %v, want 10 (100 over 10s)", got)
	}
	if got := w.rate(t0.Add(500 * time.Millisecond)); math.Abs(got-100/10.5) > 1e-9 {
		t.Fatalf("rate 0.5s later = %v, want %v", got, 100/10.5)
	}
	for i := 1; i <= 20; i++ {
		w.record(t0.Add(time.Duration(i)*time.Second), 100)
	}
	// 20s later only the last 11 samples are live: 1100 over 10s..11s.
	now := t0.Add(20 * time.Second)
	if got := w.rate(now); math.Abs(got-110) > 1e-9 {
		t.Fatalf("steady rate = %v, want 110 (11 samples of 100 over 10s)", got)
	}
	if got := w.rate(now.Add(time.Hour)); got != 0 {
		t.Fatalf("rate an hour after the last record = %v, want 0", got)
	}
}

func TestQuotaWindowThrottle(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newQuotaWindow(11, time.Second)
	if d := w.throttle(t0, 100); d != 0 {
		t.Fatalf("empty window throttles %v", d)
	}
	w.record(t0, 900)
	if d := w.throttle(t0, 100); d != 0 {
		t.Fatalf("a first burst within a window at the bound throttles %v", d)
	}
	// A young window does not grow until it is samples-1 old: the wait is
	// counted from the first record, not from the window's minimum.
	w.record(t0.Add(time.Second), 600) // 1500 over 10s: 150/s
	if d := w.throttle(t0.Add(time.Second), 100); d != 11*time.Second {
		t.Fatalf("throttle = %v, want 11s (the cap; 1500/100 - 1s = 14s)", d)
	}
	w = newQuotaWindow(11, time.Second)
	w.record(t0, 100)
	now := t0.Add(10 * time.Second)
	w.record(now, 1900) // 2000 over 10s: 200/s, twice the bound
	if d := w.throttle(now, 100); d != 10*time.Second {
		t.Fatalf("throttle = %v, want 10s (2000/100 - 10s)", d)
	}
	if d := w.throttle(t0, 0); d != 0 {
		t.Fatalf("unbounded throttle = %v, want 0", d)
	}
	w.record(t0, 1e9)
	if d := w.throttle(t0, 100); d != 11*time.Second {
		t.Fatalf("throttle = %v, want the whole window (11s) at most", d)
	}
	// A bound so small that total/bound overflows a Duration still
	// throttles, for the whole window.
	if d := w.throttle(t0, 1e-9); d != 11*time.Second {
		t.Fatalf("throttle with a tiny bound = %v, want 11s", d)
	}
	// What one fetch may take: a fresh window allows one second's worth,
	// a window in use what keeps it at the bound a second on.
	w = newQuotaWindow(11, time.Second)
	if got := w.allowance(t0, 100); got != 100 {
		t.Fatalf("fresh allowance = %v, want 100 (one sample's worth)", got)
	}
	w.record(t0, 100)
	if got := w.allowance(t0, 100); got != 0 {
		t.Fatalf("allowance right after taking it = %v, want 0", got)
	}
	if got := w.allowance(t0.Add(time.Second), 100); got != 100 {
		t.Fatalf("allowance a second on = %v, want 100", got)
	}
	if got := w.allowance(t0.Add(10500*time.Millisecond), 1e12); got != 11e12 {
		t.Fatalf("allowance of a huge bound = %v, want a whole window (11e12)", got)
	}
}

// TestQuotaWindowGreedyClient simulates a client that sends as fast as it
// may, waiting each throttle it is given: over 10s it gets the quota, give
// or take what a first window lets through and one request.
func TestQuotaWindowGreedyClient(t *testing.T) {
	const quota = 1 << 20 // bytes/s
	for _, size := range []float64{16 << 10, 256 << 10, 1 << 20} {
		for _, span := range []time.Duration{10 * time.Second, 30 * time.Second} {
			w := newQuotaWindow(DefaultQuotaWindowSamples, DefaultQuotaWindowSize)
			t0 := time.Unix(1000, 0)
			now := t0
			perSecond := make([]float64, 3*span/time.Second)
			for now.Before(t0.Add(3 * span)) {
				perSecond[now.Sub(t0)/time.Second] += size
				w.record(now, size)
				now = now.Add(max(w.throttle(now, quota), 2*time.Millisecond)) // 2ms: a round trip
			}
			// From the start, and over the two spans after it.
			for from := time.Duration(0); from < 3*span; from += span {
				var sent float64
				for _, n := range perSecond[from/time.Second : (from+span)/time.Second] {
					sent += n
				}
				rate := sent / span.Seconds() / quota
				if rate < 0.85 || rate > 1.15 {
					t.Errorf("requests of %v bytes, %v from %v: achieved %.3f of the quota, want 0.85..1.15", size, span, from, rate)
				}
			}
		}
	}
}
