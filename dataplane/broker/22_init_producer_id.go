package broker

// InitProducerId: v0-4.
//
// Idempotent producers (no transactional id) get a new producer id from
// storage at epoch 0, every time: a producer bumping its epoch (v3+, KIP-360)
// gets a fresh id, which Kafka allows for non-transactional producers.
// A transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
// which clients treat as fatal rather than retrying, until transactions
// exist; without WRITE on the transactional id the answer is the same.
// Idempotent producers need IDEMPOTENT_WRITE on the cluster or WRITE on some
// topic (Kafka 3's rule), else CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const apiInitProducerID = 22

func init() {
	register(api{key: apiInitProducerID, minVersion: 0, maxVersion: 4, handle: (*Broker).handleInitProducerID})
}

func (b *Broker) handleInitProducerID(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.InitProducerIDRequest)
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil && *req.TransactionalID != "" {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp, nil
	}
	if !b.idempotentWriteAllowed(ctx, r) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return resp, nil
	}
	id, err := b.cfg.Log.AllocateProducerID(ctx)
	if err != nil {
		resp.ErrorCode = b.storageError(ctx, r, "allocate producer id", err)
		return resp, nil
	}
	resp.ProducerID, resp.ProducerEpoch = id, 0
	return resp, nil
}
