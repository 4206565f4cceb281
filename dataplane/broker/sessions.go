package broker

// Revocation of open sessions. A connection authenticates once; without
// this, a credential deleted afterwards (an API key, its service account,
// the cluster, a certificate or identity pool) would keep working on the
// connections it opened until they re-authenticate (KIP-368), which
// clients only do when the broker bounds sessions (MaxReauth). So the
// broker keeps its authenticated sessions, and whoever learns of
// credential changes (the control plane's watch) calls CheckSessions with
// a check of a principal against what it now knows: every session the
// check refuses is closed at once. The client's next request fails, and
// its reconnection fails authentication.
//
// The check must be cheap — lookups of ids in memory, never a password
// hash — since it runs over every session at each change. A session that
// authenticates while a change is being applied is not missed: it is
// registered first and then checked with the newest check, which sees the
// change if the pass over the registry did not see the session.

import (
	"sync"
	"time"
)

// sessionRegistry is the broker's authenticated connections.
type sessionRegistry struct {
	mu sync.Mutex // guards the fields below
	// open holds each authenticated connection's principal as its last
	// authentication established it.
	open map[*conn]Principal
	// check is the last check CheckSessions was given (nil: none yet).
	check func(Principal) error
}

// CheckSessions runs check over the principal of every authenticated
// connection and closes those it refuses, and keeps check for the sessions
// authenticated later. It returns how many it closed. Connections of the
// broker's Anonymous principal are not sessions.
func (b *Broker) CheckSessions(check func(Principal) error) int {
	b.sessions.mu.Lock()
	b.sessions.check = check
	open := make(map[*conn]Principal, len(b.sessions.open))
	for c, p := range b.sessions.open {
		open[c] = p
	}
	b.sessions.mu.Unlock()
	closed := 0
	for c, p := range open {
		if err := check(p); err != nil {
			c.revoke(p, err)
			closed++
		}
	}
	return closed
}

// trackSession registers the connection's session after an
// authentication (or a re-authentication, which may rest on another
// credential), and checks it once with the newest check. Called by the
// read loop, which owns the principal.
func (c *conn) trackSession() {
	if !c.authenticated || c.b.cfg.Authenticator == nil {
		return
	}
	r := &c.b.sessions
	r.mu.Lock()
	if prev, ok := r.open[c]; ok && prev == c.principal {
		r.mu.Unlock()
		return
	}
	if r.open == nil {
		r.open = map[*conn]Principal{}
	}
	p := c.principal
	r.open[c] = p
	check := r.check
	r.mu.Unlock()
	if check != nil {
		if err := check(p); err != nil {
			c.revoke(p, err)
		}
	}
}

// untrackSession forgets the connection (it is closing).
func (c *conn) untrackSession() {
	r := &c.b.sessions
	r.mu.Lock()
	delete(r.open, c)
	r.mu.Unlock()
}

// revokedGrace is how long a revoked session may stay open awaiting its
// next request, which is then refused cleanly.
//
// Refusing a request (authorization errors, then closing) tells a client
// for certain that it was not served; closing a connection under a request
// in flight, or an idle one the client then writes to, leaves the outcome
// unknown, and an idempotent producer (franz-go's) then waits for an
// answer it will never get instead of failing. Active clients send within
// the grace; the connections of idle ones, and requests already running
// (a long-poll fetch), are cut when it ends: well within the 5s a
// revocation has to take effect.
const revokedGrace = 2 * time.Second

// revoke ends the session of a credential that no longer stands: its next
// request is refused, and the connection closed after that answer or after
// revokedGrace. It may be called from any goroutine.
func (c *conn) revoke(p Principal, reason error) {
	if c.revoked.Swap(true) {
		return
	}
	c.log.Info("kafka session revoked; closing the connection", "principal", p.Name, "cluster", p.Cluster,
		"reason", reason)
	time.AfterFunc(revokedGrace, c.cancel)
}

// refuseRevoked makes req's answer a refusal and the connection's last:
// every authorization check fails, and the connection closes once the
// response is written.
func (c *conn) refuseRevoked(req *request) {
	req.auth = &requestAuth{} // allows nothing
	req.closeAfterResponse = true
}
