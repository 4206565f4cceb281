package broker

// OffsetForLeaderEpoch: v0-4.
//
// Consumers use it to detect log truncation after a leader change. Leader
// epochs are membership generations (routing.go; 0 for a broker alone) and
// a log is never truncated, so every epoch up to the current one ends at
// the high watermark; a later epoch is unknown and answered, as Kafka
// does, with epoch -1 and end offset -1. current_leader_epoch (v2+) is
// checked as Fetch checks it. Each topic
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
				code = b.leaderEpochError(rp.CurrentLeaderEpoch)
			}
			if code != 0 {
				sp.ErrorCode = code
				continue
			}
			if rp.LeaderEpoch < 0 || rp.LeaderEpoch > b.view().Epoch() {
				continue // unknown epoch: -1, -1
			}
			_, end, err := b.cfg.Log.Offsets(ctx, tp)
			if err != nil {
				sp.ErrorCode = b.storageError(ctx, r, "offset for leader epoch", err)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = rp.LeaderEpoch, end
		}
	}
	return resp, nil
}
