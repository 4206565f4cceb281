package groups

// OffsetDelete (key 47), v0: deletes committed offsets of an Empty group, or
// of topics a consumer group with members does not subscribe to
// (GROUP_SUBSCRIBED_TO_TOPIC otherwise). An Empty group left without
// offsets is deleted, as Kafka does.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetDelete deletes committed offsets of a group.
func (c *Coordinator) OffsetDelete(ctx context.Context, cluster string, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	resp.Version = req.Version
	if !c.coordinates(cluster, req.Group) || !c.enter() {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	defer c.leave()
	if req.Group == "" {
		resp.ErrorCode = kerr.InvalidGroupID.Code
		return resp
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	g := cl.group(c, req.Group)
	if g == nil {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp
	}

	// Decide per topic under the lock, delete without it.
	topicCodes := make([]int16, len(req.Topics))
	g.mu.Lock()
	switch {
	case g.unavailable():
		resp.ErrorCode = kerr.GroupIDNotFound.Code
	case g.state == stateEmpty:
	case g.protocolType == consumerProtocolType:
		for i, t := range req.Topics {
			if g.isSubscribedTo(t.Topic) {
				topicCodes[i] = kerr.GroupSubscribedToTopic.Code
			}
		}
	default:
		resp.ErrorCode = kerr.NonEmptyGroup.Code
	}
	wasEmpty := g.state == stateEmpty
	g.unlock()
	if resp.ErrorCode != 0 {
		return resp
	}

	deleted := false
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		partitions := make([]int32, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			partitions = append(partitions, p.Partition)
		}
		partitionCode := topicCodes[i]
		if partitionCode == 0 && t.Topic == "" {
			partitionCode = kerr.UnknownTopicOrPartition.Code
		}
		if partitionCode == 0 && len(partitions) > 0 {
			if err := c.store.DeleteOffsets(ctx, cluster, req.Group, t.Topic, partitions); err != nil {
				c.log.Warn("delete offsets", "cluster", cluster, "group", req.Group, "topic", t.Topic, "err", err)
				partitionCode = kerr.CoordinatorNotAvailable.Code
			} else {
				deleted = true
			}
		}
		for _, p := range partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p
			rp.ErrorCode = partitionCode
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}

	if deleted && wasEmpty {
		c.deleteIfNoOffsets(ctx, g)
	}
	return resp
}

// deleteIfNoOffsets deletes an Empty group that has no offsets left.
func (c *Coordinator) deleteIfNoOffsets(ctx context.Context, g *group) {
	remaining, err := c.store.FetchOffsets(ctx, g.cluster.name, g.name, nil)
	if err != nil || len(remaining) > 0 {
		return
	}
	g.deleteEmpty(ctx)
}
