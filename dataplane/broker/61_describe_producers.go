package broker

// DescribeProducers: v0.
//
// The producers each partition remembers (KIP-664): id, epoch, last
// sequence, time of the last write, and the first offset of the
// transaction each has open there (-1 when none). A partition another
// broker leads is NOT_LEADER_OR_FOLLOWER; each topic needs READ
// (TOPIC_AUTHORIZATION_FAILED) and must exist (UNKNOWN_TOPIC_OR_PARTITION).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDescribeProducers = 61

func init() {
	register(api{key: apiDescribeProducers, minVersion: 0, maxVersion: 0, handle: (*Broker).handleDescribeProducers})
}

func (b *Broker) handleDescribeProducers(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DescribeProducersRequest)
	resp := req.ResponseKind().(*kmsg.DescribeProducersResponse)
	ts := b.txnStore()
	memo := make(map[string]topicLookup)
	for _, t := range req.Topics {
		rt := kmsg.NewDescribeProducersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewDescribeProducersResponseTopicPartition()
			rp.Partition = p
			tp, code := b.authorizedPartition(ctx, r, memo, acl.OpRead, "describe producers: topic", t.Topic, p)
			switch {
			case code != 0:
				rp.ErrorCode = code
			case !b.leads(tp):
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
			case ts == nil:
			default:
				producers, err := ts.Producers(ctx, tp)
				if err != nil {
					rp.ErrorCode = b.storageError(ctx, r, "describe producers", err)
					break
				}
				for _, pi := range producers {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch, ap.LastSequence = pi.ProducerID, int32(pi.ProducerEpoch), pi.LastSequence
					ap.LastTimestamp, ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = pi.LastTimestamp, pi.CoordinatorEpoch, pi.TxnStartOffset
					rp.ActiveProducers = append(rp.ActiveProducers, ap)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
