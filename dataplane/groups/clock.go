package groups

import "time"

// clock is the time source of the coordinator; tests replace it to drive
// session, rebalance and retention timers without sleeping.
type clock interface {
	now() time.Time
	afterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{ nowFunc func() time.Time }

func (s systemClock) now() time.Time { return s.nowFunc() }

func (systemClock) afterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// groupTimer is a restartable timer of one group. Every start or cancel
// bumps seq, and a firing whose seq is no longer current does nothing, so a
// callback that raced with a reset or a stop never acts on stale state.
// All fields are guarded by the owning group's mu.
type groupTimer struct {
	stop func() bool
	seq  uint64
}

// start arms the timer; onFire runs with g.mu held.
func (t *groupTimer) start(g *group, d time.Duration, onFire func()) {
	t.cancel()
	seq := t.seq
	t.stop = g.c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.unlock()
		if t.seq != seq {
			return
		}
		t.stop = nil
		onFire()
	})
}

func (t *groupTimer) cancel() {
	t.seq++
	if t.stop != nil {
		t.stop()
		t.stop = nil
	}
}
