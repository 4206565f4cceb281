package broker

// InitProducerId: v0-4.
//
// Idempotent producers (no transactional id) get a new producer id from
// storage at epoch 0, every time: a producer bumping its epoch (v3+, KIP-360)
// gets a fresh id, which Kafka allows for non-transactional producers.
// A transactional id goes to the transaction coordinator (txn.go), on the
// broker placement names for it (NOT_COORDINATOR elsewhere): the first
// request gets a new producer id at epoch 0, each later one the same id at
// the next epoch, after an ongoing transaction of the previous incarnation
// is aborted (or an unfinished end completed). A producer that names its
// id and epoch (v3+, KIP-360) is fenced (PRODUCER_FENCED from v4,
// INVALID_PRODUCER_EPOCH before) unless they are the current ones, or the
// ones the last such request replaced with nothing done since: a retry of
// a request whose answer was lost, answered with the current id and epoch
// again. An id without an epoch, or the reverse, is INVALID_REQUEST (both
// -1 name none). The transaction timeout must be positive and at most 15
// minutes (INVALID_TRANSACTION_TIMEOUT). It needs WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); without a store of transactions
// the answer is the same, which clients treat as fatal.
// Idempotent producers need IDEMPOTENT_WRITE on the cluster or WRITE on some
// topic (Kafka 3's rule), else CLUSTER_AUTHORIZATION_FAILED.

import (
	"context"

	"github.com/affluent-io/affluent/dataplane/acl"

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
	none := req.ProducerID == -1 && req.ProducerEpoch == -1
	if req.Version >= 3 && !none && (req.ProducerID < 0 || req.ProducerEpoch < 0) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	if req.TransactionalID != nil && *req.TransactionalID != "" {
		resp.ErrorCode = b.initTransactional(ctx, r, req, resp)
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

// initTransactional answers an InitProducerId with a transactional id.
func (b *Broker) initTransactional(ctx context.Context, r *request, req *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) int16 {
	id := *req.TransactionalID
	switch {
	case b.txnStore() == nil || !b.allowed(ctx, r, acl.ResourceTransactionalID, id, acl.OpWrite):
		return kerr.TransactionalIDAuthorizationFailed.Code
	case !b.coordinatesTxn(r.cluster(), id):
		return kerr.NotCoordinator.Code
	case req.TransactionTimeoutMillis <= 0 || req.TransactionTimeoutMillis > maxTxnTimeoutMs:
		return kerr.InvalidTransactionTimeout.Code
	}
	producerID, epoch := int64(-1), int16(-1)
	if req.Version >= 3 {
		producerID, epoch = req.ProducerID, req.ProducerEpoch
	}
	t, code, err := b.initTxnProducer(ctx, r.cluster(), id, req.TransactionTimeoutMillis, producerID, epoch, req.Version >= 4)
	if err != nil {
		return b.txnStorageCode(ctx, r, "init transactional producer", err)
	}
	if code == 0 {
		resp.ProducerID, resp.ProducerEpoch = t.ProducerID, t.ProducerEpoch
	}
	return code
}
