package broker

// DescribeTransactions: v0.
//
// The coordinator's state of each transactional id (KIP-664): state,
// timeout, start time of the ongoing transaction (-1 when none), producer
// id and epoch, partitions. An id this broker does not coordinate is
// NOT_COORDINATOR, one never initialized TRANSACTIONAL_ID_NOT_FOUND; each
// needs DESCRIBE (TRANSACTIONAL_ID_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiDescribeTransactions = 65

func init() {
	register(api{key: apiDescribeTransactions, minVersion: 0, maxVersion: 0, handle: (*Broker).handleDescribeTransactions})
}

func (b *Broker) handleDescribeTransactions(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	ts := b.txnStore()
	for _, id := range req.TransactionalIDs {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID, st.ProducerID, st.ProducerEpoch, st.StartTimestamp = id, -1, -1, -1
		switch {
		case ts == nil || !b.allowed(ctx, r, acl.ResourceTransactionalID, id, acl.OpDescribe):
			st.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		case !b.coordinatesTxn(r.cluster(), id):
			st.ErrorCode = kerr.NotCoordinator.Code
		default:
			t, found, err := ts.Transaction(ctx, r.cluster(), id)
			switch {
			case err != nil:
				st.ErrorCode = b.txnStorageCode(ctx, r, "describe transaction", err)
			case !found:
				st.ErrorCode = kerr.TransactionalIDNotFound.Code
			default:
				describeTxn(&st, t)
			}
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}

func describeTxn(st *kmsg.DescribeTransactionsResponseTransactionState, t storage.Transaction) {
	st.State, st.TimeoutMillis, st.StartTimestamp = t.State, t.TimeoutMs, t.StartTime
	st.ProducerID, st.ProducerEpoch = t.ProducerID, t.ProducerEpoch
	for _, p := range t.Partitions {
		i := len(st.Topics) - 1
		if i < 0 || st.Topics[i].Topic != p.Topic {
			// Partitions of a topic are added together, usually: a topic
			// added twice is listed twice, which clients merge.
			tt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			tt.Topic = p.Topic
			st.Topics = append(st.Topics, tt)
			i++
		}
		st.Topics[i].Partitions = append(st.Topics[i].Partitions, p.Partition)
	}
}
