package broker

// OffsetForLeaderEpoch: v0-4.
//
// Consumers use it to detect log truncation after a leader change. The only
// leader epoch is 0, so epoch 0 ends at the high watermark; any other epoch
// is unknown and answered, as Kafka does, with epoch -1 and end offset -1.
// A current_leader_epoch above 0 (v2+) is UNKNOWN_LEADER_EPOCH. Each topic
// needs DESCRIBE (TOPIC_AUTHORIZATION_FAILED).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiOffsetForLeaderEpoch = 23

func init() {
	register(api{key: apiOffsetForLeaderEpoch, minVersion: 0, maxVersion: 4, handle: (*Broker).handleOffsetForLeaderEpoch})
}

func (b *Broker) handleOffsetForLeaderEpoch(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	memo := make(map[string]topicLookup)
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			tp, code := b.authorizedPartition(ctx, r, memo, acl.OpDescribe, "offset for leader epoch", rt.Topic, rp.Partition)
			if code == 0 && req.Version >= 2 {
				code = leaderEpochError(rp.CurrentLeaderEpoch)
			}
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			if rp.LeaderEpoch != 0 {
				continue // unknown epoch: -1, -1
			}
			_, end, err := b.cfg.Log.Offsets(ctx, tp)
			if err != nil {
				sp.ErrorCode = b.storageError(ctx, r, "offset for leader epoch", err)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = 0, end
		}
	}
	return resp, nil
}
