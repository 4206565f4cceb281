package broker

// SaslAuthenticate: v0-2.
//
// Carries the SASL exchange after a v1 handshake. PLAIN and OAUTHBEARER take
// one round, SCRAM two (client-first → server-first, client-final →
// server-final). A failure is SASL_AUTHENTICATION_FAILED with a message that
// says nothing about why, after which the connection is closed. On success,
// v1+ gives session_lifetime_ms when the session ends — at the token's
// expiry, the certificate's, or MaxReauth — and the client must
// re-authenticate before then (KIP-368). Outside an exchange it is
// ILLEGAL_SASL_STATE, and closes. Valid credentials of a cluster at its
// connection limits (limits.go) fail too, and the message says which limit.

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

const apiSASLAuthenticate = 36

func init() {
	register(api{key: apiSASLAuthenticate, minVersion: 0, maxVersion: 2, lane: laneSync, preAuth: true, handle: (*Broker).handleSASLAuthenticate})
}

func (b *Broker) handleSASLAuthenticate(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	c := r.conn
	if c.stage != saslAwaitAuthenticate {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate outside of a SASL exchange")
		r.closeAfterResponse = true
		return resp, nil
	}
	answer, done, err := c.saslStep(ctx, req.SASLAuthBytes)
	if err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(authFailedMessage)
		var refused *refusedAuth
		switch {
		case errors.As(err, &refused):
			resp.ErrorMessage = kmsg.StringPtr("Authentication refused: " + refused.msg)
		case c.mechanism == sasl.MechanismOAuthBearer:
			resp.ErrorMessage = kmsg.StringPtr(tokenAuthFailedMessage)
		}
		r.closeAfterResponse = true
		return resp, nil
	}
	resp.SASLAuthBytes = answer
	if done {
		c.authVersion = req.Version
		if req.Version >= 1 && !c.sessionExpiry.IsZero() {
			resp.SessionLifetimeMillis = max(1, time.Until(c.sessionExpiry).Milliseconds())
		}
	}
	return resp, nil
}
