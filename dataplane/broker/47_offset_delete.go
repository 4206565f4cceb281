package broker

// OffsetDelete: v0.
//
// Needs DELETE on the group (GROUP_AUTHORIZATION_FAILED) and READ on each
// topic (TOPIC_AUTHORIZATION_FAILED). Partitions of topics that do not
// exist in the principal's cluster are UNKNOWN_TOPIC_OR_PARTITION, as Kafka
// answers; the group coordinator deletes the others' committed offsets
// (GROUP_SUBSCRIBED_TO_TOPIC when the group still consumes them).

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiOffsetDelete = 47

func init() {
	register(api{key: apiOffsetDelete, minVersion: 0, maxVersion: 0, lane: laneGroup, handle: (*Broker).handleOffsetDelete})
}

func (b *Broker) handleOffsetDelete(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.OffsetDeleteRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpDelete) {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return resp, nil
	}
	names := make([]string, len(req.Topics))
	parts := make([][]int32, len(req.Topics))
	for i, t := range req.Topics {
		names[i] = t.Topic
		for _, p := range t.Partitions {
			parts[i] = append(parts[i], p.Partition)
		}
	}
	codes, all := b.partitionCodes(ctx, r, names, parts)
	if all {
		return b.cfg.Groups.OffsetDelete(ctx, r.cluster(), req), nil
	}

	known := *req
	known.Topics = nil
	for i, t := range req.Topics {
		kt := t
		kt.Partitions = nil
		for j, p := range t.Partitions {
			if codes[i][j] == 0 {
				kt.Partitions = append(kt.Partitions, p)
			}
		}
		if len(kt.Partitions) > 0 {
			known.Topics = append(known.Topics, kt)
		}
	}
	deleted := make(map[topicPartition]int16)
	resp := b.cfg.Groups.OffsetDelete(ctx, r.cluster(), &known) // also checks the group
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			deleted[topicPartition{t.Topic, p.Partition}] = p.ErrorCode
		}
	}
	resp.Topics = make([]kmsg.OffsetDeleteResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = t.Topic
		for j, p := range t.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, codes[i][j]
			if sp.ErrorCode == 0 {
				sp.ErrorCode = deleted[topicPartition{t.Topic, p.Partition}]
			}
			st.Partitions = append(st.Partitions, sp)
		}
	}
	return resp, nil
}
