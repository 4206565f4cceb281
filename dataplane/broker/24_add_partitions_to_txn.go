package broker

// AddPartitionsToTxn: v0-3 (the producers' versions; v4+, for brokers
// verifying transactions, is not offered).
//
// Adds partitions to the producer's transaction at its coordinator
// (txn.go), starting the transaction when none is ongoing; only then may
// the producer write transactional batches to them. The transactional id
// needs WRITE (TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition)
// and each topic WRITE (TOPIC_AUTHORIZATION_FAILED) and must exist
// (UNKNOWN_TOPIC_OR_PARTITION); when some partition fails so, the others
// are OPERATION_NOT_ATTEMPTED and nothing is added, as in Kafka. Another
// producer id is INVALID_PRODUCER_ID_MAPPING, another epoch
// PRODUCER_FENCED (INVALID_PRODUCER_EPOCH before v2, KIP-588), a
// transaction being ended CONCURRENT_TRANSACTIONS.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

const apiAddPartitionsToTxn = 24

func init() {
	register(api{key: apiAddPartitionsToTxn, minVersion: 0, maxVersion: 3, lane: laneProduce, handle: (*Broker).handleAddPartitionsToTxn})
}

func (b *Broker) handleAddPartitionsToTxn(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.AddPartitionsToTxnRequest)
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	codes := make([][]int16, len(req.Topics))
	var partitions []storage.TxnPartition
	code := b.txnRequestCode(ctx, r, req.TransactionalID)
	failed := code != 0
	memo := make(map[string]topicLookup)
	for i, t := range req.Topics {
		codes[i] = make([]int16, len(t.Partitions))
		for j, p := range t.Partitions {
			if code != 0 {
				codes[i][j] = code
				continue
			}
			_, c := b.authorizedPartition(ctx, r, memo, acl.OpWrite, "add partitions to txn: topic", t.Topic, p)
			codes[i][j] = c
			failed = failed || c != 0
			partitions = append(partitions, storage.TxnPartition{Topic: t.Topic, Partition: p})
		}
	}
	if !failed {
		code = b.updateTxn(ctx, r, req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Version >= 2,
			func(t *storage.Transaction) int16 { return beginTxnMember(t, partitions, nil) })
	}
	for i, t := range req.Topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTopic()
		rt.Topic = t.Topic
		for j, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
			rp.Partition = p
			switch {
			case code != 0:
				rp.ErrorCode = code
			case failed && codes[i][j] == 0:
				rp.ErrorCode = kerr.OperationNotAttempted.Code
			default:
				rp.ErrorCode = codes[i][j]
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
