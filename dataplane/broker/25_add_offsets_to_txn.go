package broker

// AddOffsetsToTxn: v0-3.
//
// Adds a consumer group to the producer's transaction at its coordinator
// (txn.go), starting the transaction when none is ongoing; the producer
// then commits the group's offsets with TxnOffsetCommit, visible when the
// transaction commits. It needs WRITE on the transactional id
// (TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and READ on the group
// (GROUP_AUTHORIZATION_FAILED); producer errors are AddPartitionsToTxn's.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiAddOffsetsToTxn = 25

func init() {
	register(api{key: apiAddOffsetsToTxn, minVersion: 0, maxVersion: 3, lane: laneProduce, handle: (*Broker).handleAddOffsetsToTxn})
}

func (b *Broker) handleAddOffsetsToTxn(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.AddOffsetsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	switch code := b.txnRequestCode(ctx, r, req.TransactionalID); {
	case code != 0:
		resp.ErrorCode = code
	case req.Group == "":
		resp.ErrorCode = kerr.InvalidGroupID.Code
	case !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead):
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
	default:
		resp.ErrorCode = b.updateTxn(ctx, r, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Version >= 2,
			func(t *storage.Transaction) int16 { return beginTxnMember(t, nil, []string{req.Group}) })
	}
	return resp, nil
}
