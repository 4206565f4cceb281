package broker

import (
	"context"
	"errors"
	"time"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

// saslStage is where a connection is in the SASL exchange.
type saslStage uint8

const (
	// saslStart: no handshake yet.
	saslStart saslStage = iota
	// saslAwaitAuthenticate: a v1 handshake chose a mechanism; only a
	// SaslAuthenticate request may follow.
	saslAwaitAuthenticate
	// saslAwaitRawToken: a v0 handshake chose a mechanism; the next frame
	// is a bare SASL token, without a Kafka header, and so is our answer.
	saslAwaitRawToken
	// saslDone: authenticated over SASL. Re-authentication (KIP-368) is
	// not offered, so nothing SASL may follow.
	saslDone
)

// supportedMechanisms are the SASL mechanisms the handshake accepts.
var supportedMechanisms = []string{sasl.MechanismPlain}

// authFailedMessage is all a client learns about a failed authentication.
const authFailedMessage = "Authentication failed: Invalid username or password"

// errAuthFailed closes a connection whose authentication failed.
var errAuthFailed = errors.New("authentication failed")

// authenticate checks a SASL message of the chosen mechanism and, on
// success, makes the connection authenticated. It runs on the read loop or
// in a laneSync handler, which own the connection's SASL state. A failure is
// answered late (FailedAuthDelay) to slow down guessing; its cause is logged
// here and never told to the client.
func (c *conn) authenticate(ctx context.Context, msg []byte) error {
	p, err := c.checkCredentials(ctx, msg)
	if err != nil {
		wait := time.NewTimer(c.b.cfg.FailedAuthDelay)
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-ctx.Done():
		}
		return errAuthFailed
	}
	c.principal, c.authenticated, c.stage = p, true, saslDone
	c.log.Debug("kafka connection authenticated", "mechanism", c.mechanism, "principal", p.Name, "cluster", p.Cluster)
	return nil
}

func (c *conn) checkCredentials(ctx context.Context, msg []byte) (Principal, error) {
	// Only PLAIN is offered for now; the handshake refused the others.
	creds, err := sasl.ParsePlain(msg)
	if err != nil {
		c.log.Info("kafka authentication failed", "mechanism", c.mechanism, "reason", err)
		return Principal{}, err
	}
	if c.b.cfg.Authenticator == nil {
		return *c.b.cfg.Anonymous, nil
	}
	p, err := c.b.cfg.Authenticator.AuthenticatePlain(ctx, creds.Username, creds.Password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		c.log.Info("kafka authentication failed", "mechanism", c.mechanism, "username", creds.Username, "reason", "invalid credentials")
		return Principal{}, err
	case err != nil:
		c.log.Warn("kafka authentication could not be checked", "mechanism", c.mechanism, "username", creds.Username, "err", err)
		return Principal{}, err
	case p.Cluster == "":
		c.log.Error("authenticator returned a principal without cluster; refusing", "username", creds.Username, "principal", p.Name)
		return Principal{}, errAuthFailed
	}
	return p, nil
}

// rawToken answers the bare SASL token that follows a v0 handshake: an empty
// token on success; on failure Kafka just closes, and so do we.
func (c *conn) rawToken(ctx context.Context, token []byte) *pending {
	p := &pending{done: make(chan struct{})}
	defer close(p.done)
	if err := c.authenticate(ctx, token); err != nil {
		p.err = err
		return p
	}
	p.raw = []byte{}
	return p
}
