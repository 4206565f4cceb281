package broker

// ListTransactions: v0-1.
//
// The transactional ids this broker coordinates (clients ask every broker)
// that the principal may DESCRIBE (others are left out), filtered by state
// (an unknown state is listed back in unknown_state_filters), producer id,
// and from v1 by running longer than duration_filter_millis (ongoing
// transactions only, as Kafka filters).

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiListTransactions = 66

func init() {
	register(api{key: apiListTransactions, minVersion: 0, maxVersion: 1, handle: (*Broker).handleListTransactions})
}

var txnStates = []string{storage.TxnEmpty, storage.TxnOngoing, storage.TxnPrepareCommit, storage.TxnPrepareAbort,
	storage.TxnCompleteCommit, storage.TxnCompleteAbort}

func (b *Broker) handleListTransactions(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	var states []string
	for _, s := range req.StateFilters {
		if slices.Contains(txnStates, s) {
			states = append(states, s)
		} else {
			resp.UnknownStateFilters = append(resp.UnknownStateFilters, s)
		}
	}
	if len(req.StateFilters) > 0 && len(states) == 0 {
		return resp, nil // only unknown states: nothing matches
	}
	ts := b.txnStore()
	if ts == nil {
		return resp, nil
	}
	txns, err := ts.ListTransactions(ctx, r.cluster())
	if err != nil {
		resp.ErrorCode = b.txnStorageCode(ctx, r, "list transactions", err)
		return resp, nil
	}
	now := nowMs()
	for _, t := range txns {
		switch {
		case len(states) > 0 && !slices.Contains(states, t.State):
		case len(req.ProducerIDFilters) > 0 && !slices.Contains(req.ProducerIDFilters, t.ProducerID):
		case req.Version >= 1 && req.DurationFilterMillis >= 0 &&
			(t.State != storage.TxnOngoing || now-t.StartTime <= req.DurationFilterMillis):
		case !b.coordinatesTxn(r.cluster(), t.TransactionalID):
		case !b.allowed(ctx, r, acl.ResourceTransactionalID, t.TransactionalID, acl.OpDescribe):
		default:
			st := kmsg.NewListTransactionsResponseTransactionState()
			st.TransactionalID, st.ProducerID, st.TransactionState = t.TransactionalID, t.ProducerID, t.State
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
	}
	return resp, nil
}
