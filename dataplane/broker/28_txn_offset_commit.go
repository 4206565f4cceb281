package broker

// TxnOffsetCommit: v0-3.
//
// Offsets a transactional producer commits for a consumer group within its
// transaction, sent to the group's coordinator. The producer's transaction
// must be ongoing with the group added (AddOffsetsToTxn), else
// INVALID_TXN_STATE; another producer id is INVALID_PRODUCER_ID_MAPPING and
// an older epoch PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v3). The
// group coordinator checks the member (groups/txn_offset_commit.go) and the
// offsets are staged in the metadata DB — if the transaction is still
// ongoing then, checked in the same DB transaction — until EndTxn makes
// them the group's (commit) or drops them (abort). It needs WRITE on the
// transactional id (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), READ on the
// group (GROUP_AUTHORIZATION_FAILED) and READ on each topic
// (TOPIC_AUTHORIZATION_FAILED), whose partitions must exist.

import (
	"context"
	"errors"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/groups"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiTxnOffsetCommit = 28

func init() {
	register(api{key: apiTxnOffsetCommit, minVersion: 0, maxVersion: 3, lane: laneGroup, handle: (*Broker).handleTxnOffsetCommit})
}

// txnOffsetCommitter is a GroupCoordinator that takes transactional
// offset commits (*groups.Coordinator).
type txnOffsetCommitter interface {
	TxnOffsetCommit(ctx context.Context, cluster string, req *kmsg.TxnOffsetCommitRequest,
		stage func(ctx context.Context, offsets []groups.CommittedOffset) int16) *kmsg.TxnOffsetCommitResponse
}

var _ txnOffsetCommitter = (*groups.Coordinator)(nil)

func (b *Broker) handleTxnOffsetCommit(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.TxnOffsetCommitRequest)
	gc, ok := b.cfg.Groups.(txnOffsetCommitter)
	ts := b.txnStore()
	var code int16
	switch {
	case ts == nil || !ok || !b.allowed(ctx, r, acl.ResourceTransactionalID, req.TransactionalID, acl.OpWrite):
		code = kerr.TransactionalIDAuthorizationFailed.Code
	case !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead):
		code = kerr.GroupAuthorizationFailed.Code
	default:
		code = b.checkTxnOffsetCommit(ctx, r, ts, req)
	}
	topics := make([]string, len(req.Topics))
	partitions := make([][]int32, len(req.Topics))
	for i, t := range req.Topics {
		topics[i] = t.Topic
		for _, p := range t.Partitions {
			partitions[i] = append(partitions[i], p.Partition)
		}
	}
	var codes [][]int16
	all := true
	if code == 0 {
		codes, all = b.partitionCodes(ctx, r, topics, partitions)
	}
	if code != 0 || !all {
		resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for i, t := range req.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for j, p := range t.Partitions {
				rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, code
				if code == 0 {
					rp.ErrorCode = codes[i][j]
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	stage := func(ctx context.Context, offsets []groups.CommittedOffset) int16 {
		staged := make([]storage.TxnOffset, len(offsets))
		for i, o := range offsets {
			staged[i] = storage.TxnOffset{Group: req.Group, Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
				LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: o.CommitTime}
		}
		err := ts.StageTxnOffsets(ctx, r.cluster(), req.TransactionalID, req.ProducerID, req.ProducerEpoch, staged)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, storage.ErrInvalidProducerEpoch) && req.Version >= 3:
			return kerr.ProducerFenced.Code
		case errors.Is(err, storage.ErrInvalidProducerEpoch), errors.Is(err, storage.ErrInvalidTxnState):
			return errorCode(err)
		}
		return b.txnStorageCode(ctx, r, "stage transactional offsets", err)
	}
	return gc.TxnOffsetCommit(ctx, r.cluster(), req, stage), nil
}

// checkTxnOffsetCommit checks the producer's transaction: its id and epoch,
// ongoing, with the group added.
func (b *Broker) checkTxnOffsetCommit(ctx context.Context, r *request, ts storage.Transactions, req *kmsg.TxnOffsetCommitRequest) int16 {
	t, found, err := ts.Transaction(ctx, r.cluster(), req.TransactionalID)
	switch {
	case err != nil:
		return b.txnStorageCode(ctx, r, "load transaction", err)
	case !found:
		return kerr.InvalidProducerIDMapping.Code
	}
	if code := checkTxnProducer(t, req.ProducerID, req.ProducerEpoch, req.Version >= 3); code != 0 {
		return code
	}
	if t.State != storage.TxnOngoing || !slices.Contains(t.Groups, req.Group) {
		return kerr.InvalidTxnState.Code
	}
	return 0
}
