package broker

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

// saslStage is where a connection is in the SASL exchange.
type saslStage uint8

const (
	// saslStart: no handshake yet.
	saslStart saslStage = iota
	// saslAwaitAuthenticate: a v1 handshake chose a mechanism; only
	// SaslAuthenticate requests may follow until the exchange ends.
	saslAwaitAuthenticate
	// saslAwaitRawToken: a v0 handshake chose a mechanism; the next frames
	// are bare SASL tokens, without a Kafka header, and so are our answers.
	saslAwaitRawToken
	// saslDone: authenticated. A SaslHandshake of the same mechanism may
	// start a re-authentication (KIP-368) when the session has a lifetime
	// and the client authenticated with SaslAuthenticate v1+.
	saslDone
)

// Messages of SaslAuthenticate failures: all a client learns.
const (
	authFailedMessage      = "Authentication failed: Invalid username or password"
	tokenAuthFailedMessage = "Authentication failed: invalid or expired token"
)

// errAuthFailed closes a connection whose authentication failed.
var errAuthFailed = errors.New("authentication failed")

// errSessionExpired closes a connection that sent a request after its
// session expired without re-authenticating (KIP-368).
var errSessionExpired = errors.New("session expired without re-authentication")

// Reasons of failed authentications, the values of the metrics' reason
// label.
const (
	reasonMalformed        = "malformed"
	reasonInvalid          = "invalid_credentials"
	reasonUnavailable      = "unavailable"
	reasonUnsupported      = "unsupported"
	reasonPrincipalChanged = "principal_changed"
	reasonHandshake        = "tls_handshake"
)

// authError is why an authentication failed, for logs, metrics and the
// audit log; the client is told none of it.
type authError struct {
	reason   string
	identity string // who the client claimed to be, never a secret
	cluster  string
	err      error
	// clientMsg, when set, is what the client is told instead of the
	// usual nothing: why a valid credential was refused (a cluster limit).
	clientMsg string
}

// refusedAuth closes a connection whose authentication failed with a
// message for the client (authError.clientMsg).
type refusedAuth struct{ msg string }

func (e *refusedAuth) Error() string        { return errAuthFailed.Error() + ": " + e.msg }
func (e *refusedAuth) Is(target error) bool { return target == errAuthFailed }

func (e *authError) Error() string { return e.reason + ": " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// saslExchange is a multi-round mechanism's state between two rounds.
type saslExchange struct {
	scram   *sasl.ScramServer
	user    string
	cluster string
	known   bool // false: a decoy credential stands in for an unknown user
}

// authOutcome is what a successful authentication established.
type authOutcome struct {
	principal Principal
	// expiry ends the session (a token's exp); zero when the credential
	// does not expire.
	expiry time.Time
}

// initAuth prepares what authentication needs: the mechanisms to offer,
// in the order ApiVersions-era clients try them, and the decoy key.
func (b *Broker) initAuth() {
	b.mechanisms = []string{sasl.MechanismPlain}
	if b.cfg.Scram != nil {
		b.mechanisms = append(b.mechanisms, sasl.MechanismScramSHA256, sasl.MechanismScramSHA512)
	}
	if b.cfg.Tokens != nil {
		b.mechanisms = append(b.mechanisms, sasl.MechanismOAuthBearer)
	}
	b.scramDecoyKey = b.cfg.ScramDecoyKey
	if len(b.scramDecoyKey) == 0 {
		b.scramDecoyKey = make([]byte, 32)
		_, _ = rand.Read(b.scramDecoyKey)
	}
	b.metrics = newAuthMetrics(b.cfg.Metrics)
}

// saslStep feeds the client's next SASL message to the exchange of the
// connection's mechanism and returns the server's answer and whether
// authentication is complete. It runs on the read loop or in a laneSync
// handler, which own the connection's SASL state. A failure is answered
// late (FailedAuthDelay) to slow down guessing, and its cause is logged,
// counted and reported, never told to the client.
func (c *conn) saslStep(ctx context.Context, msg []byte) (answer []byte, done bool, err error) {
	out, answer, done, err := c.exchangeStep(ctx, msg)
	if err == nil && done {
		err = c.establish(out)
	}
	if err != nil {
		c.exchange = nil
		return nil, false, c.authFailed(ctx, err)
	}
	if answer == nil {
		answer = []byte{}
	}
	return answer, done, nil
}

func (c *conn) exchangeStep(ctx context.Context, msg []byte) (authOutcome, []byte, bool, error) {
	switch c.mechanism {
	case sasl.MechanismPlain:
		out, err := c.plain(ctx, msg)
		return out, nil, err == nil, err
	case sasl.MechanismOAuthBearer:
		out, err := c.oauthBearer(ctx, msg)
		return out, nil, err == nil, err
	case sasl.MechanismScramSHA256, sasl.MechanismScramSHA512:
		return c.scram(ctx, msg)
	}
	return authOutcome{}, nil, false, &authError{reason: reasonUnsupported, err: fmt.Errorf("mechanism %q not offered", c.mechanism)}
}

func (c *conn) plain(ctx context.Context, msg []byte) (authOutcome, error) {
	creds, err := sasl.ParsePlain(msg)
	if err != nil {
		return authOutcome{}, &authError{reason: reasonMalformed, err: err}
	}
	if c.b.cfg.Authenticator == nil {
		return authOutcome{principal: *c.b.cfg.Anonymous}, nil
	}
	p, err := c.b.cfg.Authenticator.AuthenticatePlain(ctx, creds.Username, creds.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return authOutcome{}, &authError{reason: reasonInvalid, identity: creds.Username, err: err}
	case err != nil:
		return authOutcome{}, &authError{reason: reasonUnavailable, identity: creds.Username, err: err}
	}
	return authOutcome{principal: p}, nil
}

// scram runs one round of SCRAM: the client-first-message gets the salt
// and iterations (of a decoy credential for unknown users, so that the
// answer does not tell who exists), the client-final-message is checked.
func (c *conn) scram(ctx context.Context, msg []byte) (authOutcome, []byte, bool, error) {
	m, _ := sasl.ScramMechanismByName(c.mechanism)
	ex := c.exchange
	if ex == nil {
		s := sasl.NewScramServer(m)
		first, err := s.ClientFirst(msg)
		if err != nil {
			return authOutcome{}, nil, false, &authError{reason: reasonMalformed, err: err}
		}
		if first.Extensions["tokenauth"] != "" {
			return authOutcome{}, nil, false, &authError{reason: reasonUnsupported, identity: first.Username,
				err: errors.New("delegation tokens (tokenauth) are not supported")}
		}
		user, cluster, err := scramIdentity(first)
		if err != nil {
			return authOutcome{}, nil, false, &authError{reason: reasonMalformed, identity: first.Username, err: err}
		}
		cred, found, err := c.b.cfg.Scram.LookupScram(ctx, cluster, user, m)
		if err != nil {
			return authOutcome{}, nil, false, &authError{reason: reasonUnavailable, identity: user, cluster: cluster, err: err}
		}
		if !found {
			cred = sasl.DecoyScramCredential(m, c.b.scramDecoyKey, cluster+"\x00"+user)
		}
		answer, err := s.ServerFirst(cred)
		if err != nil {
			return authOutcome{}, nil, false, &authError{reason: reasonUnavailable, identity: user, cluster: cluster, err: err}
		}
		c.exchange = &saslExchange{scram: s, user: user, cluster: cluster, known: found}
		return authOutcome{}, answer, false, nil
	}
	c.exchange = nil
	answer, err := ex.scram.ClientFinal(msg)
	if err != nil {
		reason := reasonInvalid
		switch {
		case errors.Is(err, sasl.ErrMalformedScram):
			reason = reasonMalformed
		case !ex.known:
			err = fmt.Errorf("no %s credential for this user", m)
		}
		return authOutcome{}, nil, false, &authError{reason: reason, identity: ex.user, cluster: ex.cluster, err: err}
	}
	return authOutcome{principal: Principal{Name: "User:" + ex.user, Cluster: ex.cluster}}, answer, true, nil
}

// scramIdentity finds the user and the cluster of a SCRAM login. SCRAM
// users belong to a cluster, and nothing else in the exchange names it:
// the client names it in the extension logicalCluster when it can, or in
// the username as user@lkc-… (what clients without SCRAM extensions, such
// as librdkafka, can send).
func scramIdentity(first sasl.ScramClientFirst) (user, cluster string, err error) {
	user, cluster = first.Username, first.Extensions[sasl.ExtensionLogicalCluster]
	if cluster == "" {
		if i := strings.LastIndexByte(user, '@'); i > 0 && isClusterID(user[i+1:]) {
			user, cluster = user[:i], user[i+1:]
		}
	}
	if cluster == "" || !isClusterID(cluster) {
		return "", "", errors.New("the SCRAM username must name its cluster: user@lkc-…")
	}
	return user, cluster, nil
}

// isClusterID reports whether s looks like a cluster id: lkc- and
// lowercase letters, digits or dashes.
func isClusterID(s string) bool {
	rest, ok := strings.CutPrefix(s, "lkc-")
	if !ok || rest == "" || len(rest) > 64 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

func (c *conn) oauthBearer(ctx context.Context, msg []byte) (authOutcome, error) {
	m, err := sasl.ParseOAuthBearer(msg)
	if err != nil {
		return authOutcome{}, &authError{reason: reasonMalformed, err: err}
	}
	cluster := m.Extensions[sasl.ExtensionLogicalCluster]
	p, expiry, err := c.b.cfg.Tokens.AuthenticateToken(ctx, m.Token, m.Extensions)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		return authOutcome{}, &authError{reason: reasonInvalid, cluster: cluster, err: err}
	case err != nil:
		return authOutcome{}, &authError{reason: reasonUnavailable, cluster: cluster, err: err}
	case expiry.IsZero():
		return authOutcome{}, &authError{reason: reasonInvalid, cluster: cluster, err: errors.New("token without expiry")}
	}
	// Kafka allows an authorization id only if it is the token's principal.
	if z := m.AuthzID; z != "" && z != p.Name && "User:"+z != p.Name {
		return authOutcome{}, &authError{reason: reasonInvalid, identity: p.Name, cluster: cluster,
			err: errors.New("authorization id differs from the token's principal")}
	}
	return authOutcome{principal: p, expiry: expiry}, nil
}

// establish makes a successful authentication the connection's: its
// principal, and its session's end. A re-authentication must keep the
// principal (KIP-368).
func (c *conn) establish(out authOutcome) error {
	p := out.principal
	if p.Cluster == "" {
		return &authError{reason: reasonUnavailable, identity: p.Name, err: errors.New("authenticator returned a principal without cluster")}
	}
	if c.reauth && (p.Name != c.principal.Name || p.Cluster != c.principal.Cluster) {
		return &authError{reason: reasonPrincipalChanged, identity: p.Name, cluster: p.Cluster,
			err: fmt.Errorf("re-authentication may not change the principal (was %s of %s)", c.principal.Name, c.principal.Cluster)}
	}
	now := time.Now()
	expiry := out.expiry
	if !expiry.IsZero() && !expiry.After(now) {
		return &authError{reason: reasonInvalid, identity: p.Name, cluster: p.Cluster, err: errors.New("credential already expired")}
	}
	if !c.reauth && !c.metered {
		if err := c.b.admitConnection(p); err != nil {
			return err
		}
		c.metered = true
	}
	if limit := c.b.cfg.MaxReauth; limit > 0 {
		if end := now.Add(limit); expiry.IsZero() || end.Before(expiry) {
			expiry = end
		}
	}
	c.b.metrics.success(c.lis.name(), c.mechanism, c.reauth)
	c.log.Debug("kafka connection authenticated", "mechanism", c.mechanism, "principal", p.Name, "identity", p.Identity,
		"cluster", p.Cluster, "reauthentication", c.reauth, "session_expiry", expiry)
	c.principal, c.authenticated, c.stage = p, true, saslDone
	c.sessionExpiry, c.reauth = expiry, false
	return nil
}

// authFailed logs, counts and reports a failed authentication, waits
// FailedAuthDelay and returns errAuthFailed.
func (c *conn) authFailed(ctx context.Context, err error) error {
	var ae *authError
	if !errors.As(err, &ae) {
		ae = &authError{reason: reasonUnavailable, err: err}
	}
	level := c.log.Info
	if ae.reason == reasonUnavailable {
		level = c.log.Warn
	}
	level("kafka authentication failed", "mechanism", c.mechanism, "identity", ae.identity, "cluster", ae.cluster,
		"reason", ae.reason, "err", ae.err, "reauthentication", c.reauth)
	c.b.metrics.failure(c.lis.name(), c.mechanism, ae.reason)
	if report := c.b.cfg.OnAuthFailure; report != nil {
		report(AuthFailure{Time: time.Now(), Listener: c.lis.name(), Remote: c.nc.RemoteAddr().String(),
			Mechanism: c.mechanism, Identity: ae.identity, Cluster: ae.cluster, Reason: ae.reason + ": " + ae.err.Error()})
	}
	wait := time.NewTimer(c.b.cfg.FailedAuthDelay)
	defer wait.Stop()
	select {
	case <-wait.C:
	case <-ctx.Done():
	}
	if ae.clientMsg != "" {
		return &refusedAuth{msg: ae.clientMsg}
	}
	return errAuthFailed
}

// canReauthenticate reports whether a SaslHandshake may start a
// re-authentication: the session has a lifetime and the client spoke
// SaslAuthenticate v1+, as KIP-368 clients do.
func (c *conn) canReauthenticate(mechanism string, handshakeVersion int16) bool {
	return c.stage == saslDone && !c.sessionExpiry.IsZero() && c.authVersion >= 1 &&
		handshakeVersion >= 1 && mechanism == c.mechanism
}

// sessionExpired reports whether a request of api key must close the
// connection because its session ended: only ApiVersions and the start of
// a re-authentication may come after the end.
func (c *conn) sessionExpired(key int16) bool {
	if c.sessionExpiry.IsZero() || c.stage != saslDone || time.Now().Before(c.sessionExpiry) {
		return false
	}
	if key == apiSASLHandshake || key == apiApiVersions {
		return false
	}
	c.b.metrics.expired(c.lis.name())
	c.log.Info("kafka session expired without re-authentication; closing", "principal", c.principal.Name,
		"cluster", c.principal.Cluster, "expired_at", c.sessionExpiry)
	return true
}

// rawToken answers a bare SASL token that follows a v0 handshake with a
// bare answer (empty on PLAIN's success); on failure Kafka just closes,
// and so do we.
func (c *conn) rawToken(ctx context.Context, token []byte) *pending {
	p := &pending{done: make(chan struct{})}
	defer close(p.done)
	answer, _, err := c.saslStep(ctx, token)
	if err != nil {
		p.err = err
		return p
	}
	p.raw = answer
	return p
}
