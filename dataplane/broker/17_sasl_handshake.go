package broker

// SaslHandshake: v0-1.
//
// Chooses the SASL mechanism of a connection among those the broker offers
// (PLAIN; SCRAM-SHA-256 and SCRAM-SHA-512 with a ScramStore; OAUTHBEARER
// with a TokenAuthenticator). After a v1 handshake the client authenticates
// with SaslAuthenticate requests; after a v0 handshake it sends bare SASL
// tokens (no Kafka header) and gets bare answers (conn.go, sasl.go).
//
// On an authenticated connection, a v1 handshake of the same mechanism
// starts a re-authentication (KIP-368) when the session has a lifetime and
// the client authenticated with SaslAuthenticate v1+. Any other handshake
// after the first is ILLEGAL_SASL_STATE, and an unknown mechanism
// UNSUPPORTED_SASL_MECHANISM; both close the connection, as Kafka does.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiSASLHandshake = 17

func init() {
	register(api{key: apiSASLHandshake, minVersion: 0, maxVersion: 1, lane: laneSync, preAuth: true, handle: (*Broker).handleSASLHandshake})
}

func (b *Broker) handleSASLHandshake(_ context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.SupportedMechanisms = b.mechanisms
	c := r.conn
	switch {
	case c.canReauthenticate(req.Mechanism, req.Version):
		c.reauth, c.stage = true, saslAwaitAuthenticate
	case c.stage != saslStart:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		r.closeAfterResponse = true
	case !slices.Contains(b.mechanisms, req.Mechanism):
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		r.closeAfterResponse = true
	case req.Version == 0:
		c.mechanism, c.stage = req.Mechanism, saslAwaitRawToken
	default:
		c.mechanism, c.stage = req.Mechanism, saslAwaitAuthenticate
	}
	return resp, nil
}
