package broker

import (
	"context"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// afterRequest meters a handled request and applies the request-rate
// quotas. The request's throttle is the longest of its handler's (byte
// rates) and the request rates'; the response carries it as
// throttle_time_ms and the connection is muted for it from now (conn.go):
// KIP-219 mutes once the response is sent, which follows at once unless an
// earlier response holds it back. Responses of versions whose clients do
// not throttle themselves are held back for it too.
func (b *Broker) afterRequest(ctx context.Context, p *pending, took time.Duration) {
	r := p.req
	cluster := r.cluster()
	b.meter.Add(cluster, r.principal.Name, 0, 0, 1)
	limits := b.limits(cluster)
	throttle := max(r.throttle, b.quotas.requestThrottle(ctx, r, limits, max(took-r.idle, 0)))
	if throttle <= 0 {
		return
	}
	p.throttle = throttle
	if tr, ok := p.resp.(kmsg.ThrottleResponse); ok {
		current, clientSide := tr.Throttle()
		if st, ok := p.resp.(kmsg.SetThrottleResponse); ok {
			st.SetThrottle(max(current, throttleMillis(throttle)))
		}
		p.delayed = !clientSide
	}
	if throttle > r.mutedEarly {
		r.conn.mute(throttle)
	}
	b.limitMetrics.throttledResponse(cluster, throttle)
}

// throttleMillis is d in whole milliseconds, rounded up so that a client
// waiting for it is not back early.
func throttleMillis(d time.Duration) int32 {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return int32(min(int64(ms), math.MaxInt32))
}
