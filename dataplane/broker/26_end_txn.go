package broker

// EndTxn: v0-3.
//
// Commits or aborts the producer's ongoing transaction at its coordinator
// (txn.go): markers are written to every partition of the transaction and
// its group offsets become visible or are dropped before the answer. A
// retried end of a transaction already ended the same way succeeds; the
// other way, or with no transaction, is INVALID_TXN_STATE. It needs WRITE
// on the transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED); a fenced
// producer gets PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiEndTxn = 26

func init() {
	register(api{key: apiEndTxn, minVersion: 0, maxVersion: 3, lane: laneProduce, handle: (*Broker).handleEndTxn})
}

func (b *Broker) handleEndTxn(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.EndTxnRequest)
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	if resp.ErrorCode = b.txnRequestCode(ctx, r, req.TransactionalID); resp.ErrorCode != 0 {
		return resp, nil
	}
	resp.ErrorCode = b.endTxnRequest(ctx, r, req)
	return resp, nil
}

func (b *Broker) endTxnRequest(ctx context.Context, r *request, req *kmsg.EndTxnRequest) int16 {
	ts := b.txnStore()
	defer b.txns.lock(r.cluster(), req.TransactionalID)()
	t, found, err := ts.Transaction(ctx, r.cluster(), req.TransactionalID)
	if err != nil {
		return b.txnStorageCode(ctx, r, "load transaction", err)
	}
	if !found {
		return kerr.InvalidProducerIDMapping.Code
	}
	if code := checkTxnProducer(t, req.ProducerID, req.ProducerEpoch, req.Version >= 2); code != 0 {
		return code
	}
	switch t.State {
	case storage.TxnOngoing:
	case storage.TxnPrepareCommit, storage.TxnPrepareAbort:
		if (t.State == storage.TxnPrepareCommit) != req.Commit {
			return kerr.InvalidTxnState.Code
		}
		// Left half ended by a failed broker, or by our own failure:
		// finish it.
	case storage.TxnCompleteCommit, storage.TxnCompleteAbort:
		if (t.State == storage.TxnCompleteCommit) == req.Commit {
			return 0 // a retry of the end that succeeded
		}
		return kerr.InvalidTxnState.Code
	default:
		return kerr.InvalidTxnState.Code
	}
	if err := b.endTxn(ctx, r.cluster(), &t, req.Commit); err != nil {
		return b.txnStorageCode(ctx, r, "end transaction", err)
	}
	return 0
}
