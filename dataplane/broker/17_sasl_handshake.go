package broker

// SaslHandshake: v0-1.
//
// Chooses the SASL mechanism of a connection; only PLAIN for now. After a v1
// handshake the client authenticates with SaslAuthenticate requests; after a
// v0 handshake it sends the bare SASL token (no Kafka header) and gets a bare
// answer (conn.go, sasl.go). A handshake when one already happened is
// ILLEGAL_SASL_STATE (re-authentication, KIP-368, is not offered), and an
// unknown mechanism UNSUPPORTED_SASL_MECHANISM; both close the connection,
// as Kafka does.

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
	resp.SupportedMechanisms = supportedMechanisms
	c := r.conn
	switch {
	case c.stage != saslStart:
		resp.ErrorCode = kerr.IllegalSaslState.Code
		r.closeAfterResponse = true
	case !slices.Contains(supportedMechanisms, req.Mechanism):
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		r.closeAfterResponse = true
	case req.Version == 0:
		c.mechanism, c.stage = req.Mechanism, saslAwaitRawToken
	default:
		c.mechanism, c.stage = req.Mechanism, saslAwaitAuthenticate
	}
	return resp, nil
}
