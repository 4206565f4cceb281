package groups

// OffsetCommit (key 8), v0-v10. Members commit with their generation;
// a simple consumer or an admin (generation -1, no member id) may commit
// only to an Empty or nonexistent group, which the commit then creates.
// v10 names topics by id (resolved through Options.TopicIDs). Whether a
// topic exists and whether the principal may read it is the broker's check,
// made before calling here.

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit commits offsets for a group.
func (c *Coordinator) OffsetCommit(ctx context.Context, cluster string, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Version = req.Version

	// The response mirrors the request; codes are filled in below.
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := &resp.Topics[i]
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j].Partition = p.Partition
		}
	}
	setAll := func(code int16) {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}

	if !c.coordinates(cluster, req.Group) || !c.enter() {
		setAll(kerr.NotCoordinator.Code)
		return resp
	}
	defer c.leave()
	g, code := c.checkOffsetCommit(ctx, cluster, req)
	if code != 0 {
		setAll(code)
		return resp
	}
	check := c.consumerCommitCheck(ctx, cluster, req)

	// Partitions that pass their own checks are written in one call.
	now := c.clock.now().UnixMilli()
	var offsets []CommittedOffset
	var written []*kmsg.OffsetCommitResponseTopicPartition
	for i, t := range req.Topics {
		topic, code := c.topicName(cluster, t.Topic, t.TopicID, req.Version >= 10)
		for j, p := range t.Partitions {
			rp := &resp.Topics[i].Partitions[j]
			metadata := derefString(p.Metadata)
			switch {
			case code != 0:
				rp.ErrorCode = code
			case p.Partition < 0:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case len(metadata) > c.opts.OffsetMetadataMaxBytes:
				rp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			case check != nil && check(topic, p.Partition) != 0:
				rp.ErrorCode = check(topic, p.Partition)
			default:
				offsets = append(offsets, CommittedOffset{
					Topic:       topic,
					Partition:   p.Partition,
					Offset:      p.Offset,
					LeaderEpoch: p.LeaderEpoch,
					Metadata:    metadata,
					CommitTime:  now,
				})
				written = append(written, rp)
			}
		}
	}
	if len(offsets) == 0 {
		return resp
	}
	if err := g.commitOffsets(ctx, offsets); err != nil {
		c.log.Warn("commit offsets", "cluster", cluster, "group", req.Group, "err", err)
		code := kerr.CoordinatorNotAvailable.Code
		if errors.Is(err, ErrGroupFenced) {
			// Another coordinator wrote the group: the committer's
			// generation may be stale there, so nothing was written.
			code = kerr.NotCoordinator.Code
		}
		for _, rp := range written {
			rp.ErrorCode = code
		}
	}
	return resp
}

// checkOffsetCommit decides whether the committer may commit to the group
// (Kafka's handleCommitOffsets and validateOffsetCommit), and returns the
// group when it may.
func (c *Coordinator) checkOffsetCommit(ctx context.Context, cluster string, req *kmsg.OffsetCommitRequest) (*group, int16) {
	if req.Group == "" {
		return nil, kerr.InvalidGroupID.Code
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return nil, code
	}
	g := cl.group(c, req.Group)
	if g == nil {
		if req.Generation >= 0 {
			// A member of a generation of a group that no longer exists.
			return nil, kerr.IllegalGeneration.Code
		}
		// A group used only to store offsets: the commit creates it.
		if g, code = cl.groupOrCreate(c, req.Group); code != 0 {
			return nil, code
		}
	}
	return g, g.checkOffsetCommit(req)
}

func (g *group) checkOffsetCommit(req *kmsg.OffsetCommitRequest) int16 {
	g.mu.Lock()
	defer g.unlock()
	if g.unavailable() {
		return kerr.CoordinatorNotAvailable.Code
	}
	g.activate()
	if g.consumer != nil {
		code, _ := g.checkConsumerOffsetCommit(req)
		return code
	}
	if req.Generation < 0 && g.state == stateEmpty {
		if g.lastSaveSeq == 0 {
			// Never saved yet (just created): record it so that it is
			// listed, and kept, after a restart.
			g.queueSave(nil)
		}
		return 0
	}
	instanceID := derefString(req.InstanceID)
	if req.Generation >= 0 || req.MemberID != "" || instanceID != "" {
		if code := g.validateCurrentMember(req.MemberID, instanceID); code != 0 {
			return code
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if g.state != stateEmpty {
		// Only members may commit to a group that has members.
		return kerr.UnknownMemberID.Code
	}
	switch g.state {
	case stateStable, statePreparingRebalance:
		// Commits stay allowed while preparing a rebalance, so that
		// consumers can commit before giving up their partitions.
		if m := g.members[req.MemberID]; m != nil {
			g.restartSession(m)
		}
		return 0
	case stateCompletingRebalance:
		// The member knows the new generation but has no assignment yet.
		return kerr.RebalanceInProgress.Code
	}
	return kerr.UnknownMemberID.Code
}

// topicName resolves a request's topic: by name, or by id from v10.
func (c *Coordinator) topicName(cluster, name string, id [16]byte, byID bool) (string, int16) {
	if !byID {
		if name == "" {
			return "", kerr.UnknownTopicOrPartition.Code
		}
		return name, 0
	}
	if c.opts.TopicIDs != nil {
		if name, ok := c.opts.TopicIDs.TopicName(cluster, id); ok && name != "" {
			return name, 0
		}
	}
	return "", kerr.UnknownTopicID.Code
}
