package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxPreAuthFrameBytes bounds frames before authentication, so an
// unauthenticated peer cannot make us allocate much
// (sasl.server.max.receive.size of Kafka).
const maxPreAuthFrameBytes = 512 << 10

// conn is one client connection. Three kinds of goroutine share it:
//
//   - the read loop (serve) reads frames, decodes requests and starts a
//     handler goroutine for each; it alone touches the SASL state and the
//     principal, except while it waits for a laneSync handler, which may
//     change them;
//   - handler goroutines run requests, ordered by lane (see lane);
//   - the write loop writes responses in request order, from a FIFO of
//     pending slots the read loop fills.
type conn struct {
	b   *Broker
	nc  net.Conn
	log *slog.Logger
	// local is the address the client reached, advertised when the
	// broker has no configured address.
	local endpoint

	// lis is the listener that accepted the connection (nil: plain SASL).
	lis *listener

	// SASL state and identity: see the type comment for who owns them.
	stage         saslStage
	mechanism     string
	authenticated bool
	principal     Principal
	authDeadline  time.Time // when an unauthenticated connection is closed
	exchange      *saslExchange
	authVersion   int16     // SaslAuthenticate version of the last authentication
	reauth        bool      // a re-authentication (KIP-368) is in progress
	sessionExpiry time.Time // zero: the session does not expire

	cancel   context.CancelFunc // stops handlers and closes nc
	handlers sync.WaitGroup     // running handler goroutines
	inflight atomic.Int32       // requests read whose response is not yet written

	// metered: the connection is counted in its cluster's connections
	// (usage.Meter), from authentication to close. Owned like the SASL
	// state.
	metered bool
	// mutedUntil (unix nanoseconds) is when a throttled connection may be
	// read again (KIP-219): set when a throttle is known, obeyed by the
	// read loop and by handlers of requests already read.
	mutedUntil atomic.Int64
	// revoked is set when the session's credential no longer stands
	// (sessions.go): requests read from then on are refused and close the
	// connection.
	revoked atomic.Bool
}

// pending is a request's place in the response order.
type pending struct {
	req     *request
	done    chan struct{} // closed when the result below is set
	written chan struct{} // closed by the write loop; only for requests the read loop waits on

	resp       kmsg.Response
	raw        []byte // a SASL v0 token answer, written with a size but no Kafka header
	err        error  // the connection is broken: close it instead of answering
	closeAfter bool   // close the connection once resp is written
	// throttle mutes the connection for this long (KIP-219); delayed is
	// set when the response's version predates client-side throttling,
	// and resp is then held back for the throttle too, as Kafka does.
	throttle time.Duration
	delayed  bool
}

func newConn(b *Broker, nc net.Conn) *conn {
	c := &conn{
		b:            b,
		nc:           nc,
		log:          b.log.With("remote", nc.RemoteAddr().String()),
		authDeadline: time.Now().Add(b.cfg.AuthTimeout),
	}
	if ep, err := parseEndpoint(nc.LocalAddr().String()); err == nil {
		c.local = ep
	}
	if b.cfg.Authenticator == nil {
		c.authenticated, c.principal = true, *b.cfg.Anonymous
	}
	return c
}

// errLastResponse ends the read loop after a response that closes the
// connection (failed authentication).
var errLastResponse = errors.New("connection closed after its last response")

// serve runs the connection until the client leaves, breaks the protocol,
// or ctx is done.
func (c *conn) serve(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	defer c.cancel()
	if c.lis != nil && c.lis.TLS != nil {
		if err := c.startTLS(ctx); err != nil {
			c.log.Debug("kafka connection closed", "reason", err)
			_ = c.nc.Close()
			return
		}
	}
	// Closing the socket is what unblocks a read or write in progress.
	stopClosing := context.AfterFunc(ctx, func() { _ = c.nc.Close() })
	defer stopClosing()
	defer func() { _ = c.nc.Close() }()
	defer c.untrackSession()
	c.trackSession() // authenticated by its certificate (mTLS)

	if c.authenticated && !c.metered { // anonymous access
		c.b.meter.Connected(c.principal.Cluster, c.principal.Name)
		c.metered = true
	}
	defer func() {
		if c.metered {
			c.b.meter.Disconnected(c.principal.Cluster, c.principal.Name)
		}
	}()

	queue := make(chan *pending, c.b.cfg.MaxInFlight)
	var writer sync.WaitGroup
	writer.Go(func() { c.writeLoop(ctx, queue) })

	err := c.readLoopSafely(ctx, queue)
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, errLastResponse), ctx.Err() != nil:
		c.log.Debug("kafka connection closed", "reason", err)
	default:
		c.log.Info("kafka connection closed", "reason", err)
	}
	c.cancel()
	close(queue)
	c.handlers.Wait()
	writer.Wait()
}

// readLoopSafely is the last line of defence: nothing a client sends should
// panic, but if it does, only this connection pays.
func (c *conn) readLoopSafely(ctx context.Context, queue chan<- *pending) (err error) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic reading kafka request", "panic", v, "stack", string(debug.Stack()))
			c.b.notePanic(v)
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return c.readLoop(ctx, queue)
}

func (c *conn) readLoop(ctx context.Context, queue chan<- *pending) error {
	var tails [numLanes]chan struct{} // laneDone of the last request started per lane
	for {
		if err := c.waitUnmuted(ctx); err != nil {
			return err
		}
		frame, err := c.readFrame()
		if err != nil {
			return err
		}
		// A throttle may have come while we waited for this frame: it is
		// not handled before the throttle ends.
		if err := c.waitUnmuted(ctx); err != nil {
			return err
		}
		if c.stage == saslAwaitRawToken {
			p := c.rawToken(ctx, frame)
			if err := c.enqueueAndWait(ctx, queue, p); err != nil {
				return err
			}
			c.trackSession()
			continue
		}

		req, err := decodeRequest(frame)
		if err != nil {
			return err
		}
		a := apis[req.key] // decodeRequest accepts registered keys only
		if c.sessionExpired(req.key) {
			return errSessionExpired
		}
		if err := c.admit(a); err != nil {
			return err
		}
		req.conn, req.principal, req.size, req.received = c, c.principal, len(frame), time.Now()
		if c.revoked.Load() {
			c.refuseRevoked(req)
		}

		p := &pending{req: req, done: make(chan struct{})}
		if a.lane == laneSync || !c.authenticated {
			p.written = make(chan struct{})
			c.start(ctx, a, p, nil)
			if err := c.enqueueAndWait(ctx, queue, p); err != nil {
				return err
			}
			// After a SASL exchange: the session to check on credential
			// changes (sessions.go).
			c.trackSession()
			continue
		}
		var prev chan struct{}
		if a.lane != laneFree {
			req.laneDone = make(chan struct{})
			prev, tails[a.lane] = tails[a.lane], req.laneDone
		}
		c.start(ctx, a, p, prev)
		if err := c.enqueue(ctx, queue, p); err != nil {
			return err
		}
	}
}

// enqueue gives p its place in the response order. It blocks while
// MaxInFlight responses are pending, which stops reading the connection.
func (c *conn) enqueue(ctx context.Context, queue chan<- *pending, p *pending) error {
	c.inflight.Add(1)
	select {
	case queue <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// enqueueAndWait queues p and waits until the write loop has written it.
func (c *conn) enqueueAndWait(ctx context.Context, queue chan<- *pending, p *pending) error {
	if p.written == nil {
		p.written = make(chan struct{})
	}
	if err := c.enqueue(ctx, queue, p); err != nil {
		return err
	}
	select {
	case <-p.written:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.closeAfter {
		return errLastResponse
	}
	return nil
}

// start runs the handler of p in its own goroutine, after prev (the previous
// request of its lane) is done.
func (c *conn) start(ctx context.Context, a api, p *pending, prev <-chan struct{}) {
	c.handlers.Add(1)
	go func() {
		defer c.handlers.Done()
		defer close(p.done)
		defer p.req.releaseLane()
		if prev != nil {
			select {
			case <-prev:
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
		}
		// Requests read before a throttle came wait it out too, as they
		// would have in the socket: a pipelining client is throttled per
		// request, not per batch of requests in flight.
		if !a.preAuth {
			if err := c.waitUnmuted(ctx); err != nil {
				p.err = err
				return
			}
		}
		defer func() {
			if v := recover(); v != nil {
				c.log.Error("panic handling kafka request", "api", kmsg.NameForKey(a.key), "version", p.req.version,
					"panic", v, "stack", string(debug.Stack()))
				c.b.notePanic(v)
				p.err = fmt.Errorf("panic handling %s: %v", kmsg.NameForKey(a.key), v)
			}
		}()
		began := time.Now()
		p.resp, p.err = a.handle(c.b, ctx, p.req)
		p.closeAfter = p.req.closeAfterResponse
		if p.resp != nil {
			// The response version is the request's (v0 for an
			// ApiVersions fallback, whose body was set to v0).
			p.resp.SetVersion(p.req.body.GetVersion())
		}
		if p.err == nil && !a.preAuth {
			c.b.afterRequest(ctx, p, time.Since(began))
		}
		if p.err == nil {
			c.b.requests.observe(a.key, p.resp, p.req.received)
		}
	}()
}

// admit enforces what may be sent in the connection's SASL state: before
// authentication only ApiVersions and the SASL exchange, and after a
// handshake only the authentication it announced.
func (c *conn) admit(a api) error {
	if c.stage == saslAwaitAuthenticate && a.key != apiSASLAuthenticate {
		return fmt.Errorf("%s during SASL authentication", kmsg.NameForKey(a.key))
	}
	if !c.authenticated && !a.preAuth {
		return fmt.Errorf("%s before authentication", kmsg.NameForKey(a.key))
	}
	return nil
}

// readFrame reads one size-prefixed frame. The size is checked against the
// limit of the connection's state before anything is allocated.
func (c *conn) readFrame() ([]byte, error) {
	var size [4]byte
	for {
		_ = c.nc.SetReadDeadline(c.readDeadline())
		n, err := io.ReadFull(c.nc, size[:])
		if err == nil {
			break
		}
		// A connection awaiting a long poll or a rebalance is not idle.
		if n == 0 && isTimeout(err) && c.authenticated && c.inflight.Load() > 0 {
			continue
		}
		if isTimeout(err) {
			return nil, fmt.Errorf("read: %w (authenticated %v)", err, c.authenticated)
		}
		return nil, err
	}
	limit := uint32(c.b.cfg.MaxFrameBytes)
	if !c.authenticated || c.stage == saslAwaitRawToken {
		limit = maxPreAuthFrameBytes
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > limit {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d", n, limit)
	}
	frame := make([]byte, n)
	_ = c.nc.SetReadDeadline(c.readDeadline())
	if _, err := io.ReadFull(c.nc, frame); err != nil {
		return nil, fmt.Errorf("read frame of %d bytes: %w", n, err)
	}
	return frame, nil
}

// mute stops reading the connection for d from now (KIP-219), or longer
// if it already is.
func (c *conn) mute(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := c.mutedUntil.Load()
		if cur >= until || c.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// waitUnmuted waits until the connection is no longer muted.
func (c *conn) waitUnmuted(ctx context.Context) error {
	if d := time.Until(time.Unix(0, c.mutedUntil.Load())); d > 0 {
		return sleepCtx(ctx, d)
	}
	return nil
}

// sleepCtx sleeps for d, or until ctx is done (its error).
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *conn) readDeadline() time.Time {
	if !c.authenticated {
		return c.authDeadline
	}
	return time.Now().Add(c.b.cfg.IdleTimeout)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeLoop writes responses in the order requests were read.
func (c *conn) writeLoop(ctx context.Context, queue <-chan *pending) {
	defer func() {
		if v := recover(); v != nil {
			c.log.Error("panic writing kafka response", "panic", v, "stack", string(debug.Stack()))
			c.b.notePanic(v)
			c.cancel()
		}
	}()
	var buf []byte
	for p := range queue {
		select {
		case <-p.done:
		case <-ctx.Done():
			return
		}
		err := p.err
		if err == nil && p.delayed {
			err = sleepCtx(ctx, p.throttle)
		}
		if err == nil {
			buf, err = c.write(buf[:0], p)
		}
		c.inflight.Add(-1)
		if p.written != nil {
			close(p.written)
		}
		if err != nil {
			if ctx.Err() == nil {
				c.log.Info("closing kafka connection", "reason", err)
			}
			c.cancel()
			return
		}
		if p.closeAfter {
			c.cancel()
			return
		}
	}
}

// write sends p's answer, if it has one, reusing buf.
func (c *conn) write(buf []byte, p *pending) ([]byte, error) {
	switch {
	case p.raw != nil:
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(p.raw)))
		buf = append(buf, p.raw...)
	case p.resp != nil:
		buf = appendResponse(buf, p.req.correlationID, p.resp)
	default:
		return buf, nil // acks=0 produce: nothing to say
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.b.cfg.IdleTimeout))
	if _, err := c.nc.Write(buf); err != nil {
		return buf, fmt.Errorf("write response: %w", err)
	}
	return buf, nil
}

// appendResponse appends a whole response frame: size, header (v0, or v1
// with its empty tagged fields for flexible versions, except ApiVersions
// whose response header is always v0) and body.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = kbin.AppendInt32(dst, correlationID)
	if resp.IsFlexible() && resp.Key() != apiApiVersions {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// errUnsupported and errMalformed classify why a frame could not be decoded;
// either closes the connection, as Kafka does.
var (
	errUnsupported = errors.New("unsupported request")
	errMalformed   = errors.New("malformed request")
)

// decodeRequest parses a request frame: the header (v1, or v2 with tagged
// fields for flexible versions) and the body. Only registered APIs and
// versions are accepted, except that an ApiVersions request of a version
// above ours is returned flagged for the v0 fallback Kafka answers with.
func decodeRequest(frame []byte) (*request, error) {
	rd := kbin.Reader{Src: frame}
	key, version, correlationID := rd.Int16(), rd.Int16(), rd.Int32()
	clientID := rd.NullableString()
	if !rd.Ok() {
		return nil, fmt.Errorf("%w: short header (%d bytes)", errMalformed, len(frame))
	}
	a, ok := apis[key]
	if !ok {
		return nil, fmt.Errorf("%w: api key %d", errUnsupported, key)
	}
	req := &request{key: key, version: version, correlationID: correlationID}
	if clientID != nil {
		req.clientID = *clientID
	}
	body := kmsg.RequestForKey(key)
	if version < a.minVersion || version > a.maxVersion {
		if key == apiApiVersions && version > a.maxVersion {
			body.SetVersion(0)
			req.body, req.apiVersionsFallback = body, true
			return req, nil
		}
		return nil, fmt.Errorf("%w: %s v%d (we support v%d..v%d)", errUnsupported, kmsg.NameForKey(key), version, a.minVersion, a.maxVersion)
	}
	body.SetVersion(version)
	if body.IsFlexible() {
		kmsg.SkipTags(&rd)
		if !rd.Ok() {
			return nil, fmt.Errorf("%w: %s v%d header tagged fields", errMalformed, kmsg.NameForKey(key), version)
		}
	}
	if err := body.ReadFrom(rd.Src); err != nil {
		return nil, fmt.Errorf("%w: %s v%d: %v", errMalformed, kmsg.NameForKey(key), version, err)
	}
	req.body = body
	return req, nil
}

func (b *Broker) notePanic(v any) {
	if b.onPanic != nil {
		b.onPanic(v)
	}
}

// advertised is the address clients are told to use for this broker.
func (c *conn) advertised() endpoint {
	if c.lis == nil {
		if c.b.advertised != nil {
			return *c.b.advertised
		}
	} else if c.lis.advertised != nil {
		return *c.lis.advertised
	}
	return c.local
}
