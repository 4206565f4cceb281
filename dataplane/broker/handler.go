package broker

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc answers one request. A nil response with a nil error means no
// response at all (acks=0 produce). An error means the connection is broken
// and closes it; Kafka errors are codes in the response.
type handlerFunc func(b *Broker, ctx context.Context, r *request) (kmsg.Response, error)

// lane orders the requests of one connection. Requests of the same lane run
// one after the other, in the order they arrived; requests of different lanes
// (and every laneFree request) run concurrently. Responses are always written
// in request order, whatever the lane.
type lane uint8

const (
	// laneFree requests run as soon as they arrive: reads with no effect
	// that a later request of the connection could observe.
	laneFree lane = iota
	// laneSync requests change how the connection reads what follows
	// (SASL): the read loop waits until their response is written.
	laneSync
	// laneProduce keeps a producer's pipelined batches in order.
	laneProduce
	// laneGroup keeps group membership and offset commits in order.
	laneGroup
	// laneAdmin keeps topic and config changes in order.
	laneAdmin
	numLanes
)

// api is one registered Kafka API: what we accept and who answers it.
type api struct {
	key        int16
	minVersion int16
	maxVersion int16
	lane       lane
	// preAuth APIs may be used before the connection has authenticated.
	preAuth bool
	// advertiseV0 makes ApiVersions advertise v0 as the lowest version,
	// though requests below minVersion are still refused. Clients send the
	// highest version both sides know, so only a client checking for v0
	// notices (see Produce).
	advertiseV0 bool
	handle      handlerFunc
}

// apis holds every API a handler file registered in its init; it is
// read-only once init is over. ApiVersions advertises exactly these ranges.
var apis = map[int16]api{}

// register adds an API; called from the init of the API's file.
func register(a api) {
	switch {
	case a.minVersion < 0 || a.maxVersion < a.minVersion:
		panic(fmt.Sprintf("broker: api %d: bad version range %d..%d", a.key, a.minVersion, a.maxVersion))
	case a.handle == nil:
		panic(fmt.Sprintf("broker: api %d: no handler", a.key))
	case a.lane >= numLanes:
		panic(fmt.Sprintf("broker: api %d: bad lane %d", a.key, a.lane))
	}
	if _, dup := apis[a.key]; dup {
		panic(fmt.Sprintf("broker: api %d registered twice", a.key))
	}
	probe := kmsg.RequestForKey(a.key)
	if probe == nil || probe.MaxVersion() < a.maxVersion {
		panic(fmt.Sprintf("broker: api %d: kmsg cannot decode up to v%d", a.key, a.maxVersion))
	}
	apis[a.key] = a
}

// advertisedAPIs returns the registered version ranges sorted by key, as
// ApiVersions answers them: from v0 for APIs with advertiseV0.
func advertisedAPIs() []kmsg.ApiVersionsResponseApiKey {
	keys := make([]kmsg.ApiVersionsResponseApiKey, 0, len(apis))
	for _, a := range apis {
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = a.key, a.minVersion, a.maxVersion
		if a.advertiseV0 {
			k.MinVersion = 0
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y kmsg.ApiVersionsResponseApiKey) int { return int(x.ApiKey) - int(y.ApiKey) })
	return keys
}

// request is one decoded request and the connection it came on.
type request struct {
	conn          *conn
	key           int16
	version       int16
	correlationID int32
	clientID      string
	body          kmsg.Request
	// principal is who the connection authenticated as, fixed when the
	// request was read. Its Cluster scopes everything the handler touches.
	principal Principal
	// auth decides what principal may do, loaded on first use by the
	// handler's goroutine (authorize.go).
	auth *requestAuth
	// closeAfterResponse is set by a handler whose response must be the
	// connection's last (failed authentication).
	closeAfterResponse bool
	// apiVersionsFallback marks an ApiVersions request of a version we do
	// not know: it is answered at v0 with UNSUPPORTED_VERSION.
	apiVersionsFallback bool

	// size is the request's frame size, what a produce costs its quota.
	size int
	// received is when the request was read off the connection.
	received time.Time
	// laneDone, for a request of an ordered lane, is closed when the next
	// request of the lane may start: when this one is answered, or earlier
	// when its handler calls releaseLane.
	laneDone    chan struct{}
	releaseOnce sync.Once
	// mutedEarly is a throttle the handler already muted the connection
	// for, before releasing its lane.
	mutedEarly time.Duration
	// throttle is the longest throttle a handler's quotas asked for
	// (byte rates, mutation rate); the broker adds request rates.
	throttle time.Duration
	// idle is time the handler spent waiting rather than working (a
	// fetch's long poll), not counted in request_percentage.
	idle time.Duration
}

// releaseLane lets the next request of r's lane start now, before r is
// answered: r has done everything the next one must come after (a produce
// has its batches in their partitions' order). Safe to call more than once.
func (r *request) releaseLane() {
	if r.laneDone != nil {
		r.releaseOnce.Do(func() { close(r.laneDone) })
	}
}

// cluster is the tenant every storage and coordinator call of r is about.
func (r *request) cluster() string { return r.principal.Cluster }
