package broker

// DeleteRecords: v0-2.
//
// Advances each partition's log start offset to the given offset (-1: the
// high watermark) and answers the new low watermark. An offset beyond the
// high watermark, or below -1, is OFFSET_OUT_OF_RANGE; one below the log
// start offset changes nothing. Each topic needs DELETE
// (TOPIC_AUTHORIZATION_FAILED). A topic whose cleanup.policy is compact
// without delete refuses it with POLICY_VIOLATION, as Kafka does: deleting
// a prefix of a compacted log would drop the latest value of its keys.

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiDeleteRecords = 21

func init() {
	register(api{key: apiDeleteRecords, minVersion: 0, maxVersion: 2, lane: laneAdmin, handle: (*Broker).handleDeleteRecords})
}

func (b *Broker) handleDeleteRecords(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.DeleteRecordsRequest)
	resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
	memo := make(map[string]topicLookup)
	resp.Topics = make([]kmsg.DeleteRecordsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewDeleteRecordsResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			*sp = kmsg.NewDeleteRecordsResponseTopicPartition()
			sp.Partition, sp.LowWatermark = rp.Partition, -1
			tp, code := b.authorizedPartition(ctx, r, memo, acl.OpDelete, "delete records", rt.Topic, rp.Partition)
			switch {
			case code != 0:
				sp.ErrorCode = code
			case rp.Offset < -1:
				sp.ErrorCode = kerr.OffsetOutOfRange.Code
			case compactOnly(memo[rt.Topic].topic.Configs["cleanup.policy"]):
				sp.ErrorCode = kerr.PolicyViolation.Code
			default:
				low, err := b.cfg.Log.DeleteRecords(ctx, tp, rp.Offset)
				if err != nil {
					sp.ErrorCode = b.storageError(ctx, r, "delete records", err)
					break
				}
				sp.LowWatermark = low
			}
		}
	}
	return resp, nil
}

// compactOnly reports whether a cleanup.policy value is compact without
// delete.
func compactOnly(policy string) bool {
	compact, del := false, false
	for p := range strings.SplitSeq(policy, ",") {
		switch strings.TrimSpace(p) {
		case "compact":
			compact = true
		case "delete":
			del = true
		}
	}
	return compact && !del
}
