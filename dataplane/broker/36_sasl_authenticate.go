package broker

// SaslAuthenticate: v0-2.
//
// Carries the SASL exchange after a v1 handshake. PLAIN takes one round: the
// client's message, then success (empty bytes) or SASL_AUTHENTICATION_FAILED
// with a message that says nothing about why, after which the connection is
// closed. No session lifetime is given (v1+): re-authentication (KIP-368) is
// not offered yet. Outside the exchange it is ILLEGAL_SASL_STATE, and closes.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiSASLAuthenticate = 36

func init() {
	register(api{key: apiSASLAuthenticate, minVersion: 0, maxVersion: 2, lane: laneSync, preAuth: true, handle: (*Broker).handleSASLAuthenticate})
}

func (b *Broker) handleSASLAuthenticate(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if r.conn.stage != saslAwaitAuthenticate {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate outside of a SASL exchange")
		r.closeAfterResponse = true
		return resp, nil
	}
	if err := r.conn.authenticate(ctx, req.SASLAuthBytes); err != nil {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(authFailedMessage)
		r.closeAfterResponse = true
		return resp, nil
	}
	resp.SASLAuthBytes = []byte{}
	return resp, nil
}
