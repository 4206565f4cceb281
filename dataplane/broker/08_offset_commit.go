package broker

// OffsetCommit: v0-9.
//
// Needs READ on the group (GROUP_AUTHORIZATION_FAILED for every partition)
// and on each topic (TOPIC_AUTHORIZATION_FAILED). Partitions of topics that
// do not exist in the principal's cluster are UNKNOWN_TOPIC_OR_PARTITION, as
// Kafka answers; the rest go to the group coordinator, which checks the
// member and generation and stores the offsets. v10 (topics by id) is not
// offered yet.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

const apiOffsetCommit = 8

func init() {
	register(api{key: apiOffsetCommit, minVersion: 0, maxVersion: 9, lane: laneGroup, handle: (*Broker).handleOffsetCommit})
}

func (b *Broker) handleOffsetCommit(ctx context.Context, r *request) (kmsg.Response, error) {
	req := r.body.(*kmsg.OffsetCommitRequest)
	if !b.allowed(ctx, r, acl.ResourceGroup, req.Group, acl.OpRead) {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, t := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = t.Topic
			for _, p := range t.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p.Partition, kerr.GroupAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
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
		return b.cfg.Groups.OffsetCommit(ctx, r.cluster(), req), nil
	}

	// Commit what exists, then answer every partition in request order.
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
	committed := make(map[topicPartition]int16)
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	if len(known.Topics) > 0 {
		resp = b.cfg.Groups.OffsetCommit(ctx, r.cluster(), &known)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				committed[topicPartition{t.Topic, p.Partition}] = p.ErrorCode
			}
		}
	}
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		st := &resp.Topics[i]
		*st = kmsg.NewOffsetCommitResponseTopic()
		st.Topic = t.Topic
		for j, p := range t.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition, sp.ErrorCode = p.Partition, codes[i][j]
			if sp.ErrorCode == 0 {
				sp.ErrorCode = committed[topicPartition{t.Topic, p.Partition}]
			}
			st.Partitions = append(st.Partitions, sp)
		}
	}
	return resp, nil
}
