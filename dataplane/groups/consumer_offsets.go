package groups

// Offsets of KIP-848 consumer groups. Members commit with their member
// epoch in OffsetCommit v9+'s generation field. As with KIP-1251, a commit
// of an older epoch is accepted for a partition the member has held since
// at least that epoch, so a commit racing the heartbeat that raised the
// epoch is not refused; an epoch ahead of the member's is STALE_MEMBER_EPOCH.
// Anyone (an admin, a simple consumer) may commit with epoch -1 and no
// member id while the group is Empty. OffsetFetch v9 names the member too,
// and is STALE_MEMBER_EPOCH unless it is the member's current epoch. A
// classic member of a consumer group (see consumer_migration.go) commits
// with any version, its generation being its member epoch.

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// partitionCheck answers a partition of a commit: 0 to write it.
type partitionCheck func(topic string, partition int32) int16

// checkConsumerOffsetCommit validates a commit to a consumer group, under
// g.mu. The returned check, when not nil, judges each partition.
func (g *group) checkConsumerOffsetCommit(req *kmsg.OffsetCommitRequest) (int16, partitionCheck) {
	cg := g.consumer
	instanceID := derefString(req.InstanceID)
	if req.Generation < 0 && req.MemberID == "" && instanceID == "" {
		if cg.isEmpty() {
			return 0, nil
		}
		return kerr.UnknownMemberID.Code, nil
	}
	m := cg.members[req.MemberID]
	switch {
	case m == nil || m.leftStatic:
		return kerr.UnknownMemberID.Code, nil
	case instanceID != "" && instanceID != m.instanceID:
		return kerr.FencedInstanceID.Code, nil
	case m.classic != nil:
		// A classic member commits with its generation, its member epoch.
		if req.Generation != m.epoch {
			return kerr.IllegalGeneration.Code, nil
		}
		return 0, nil
	case req.Version < 9:
		// Before v9 the field is a classic generation, which means
		// nothing to a consumer group.
		return kerr.UnsupportedVersion.Code, nil
	case req.Generation > m.epoch:
		return kerr.StaleMemberEpoch.Code, nil
	case req.Generation == m.epoch:
		return 0, nil
	}
	// An older epoch: per partition, it must be no older than when the
	// member was given the partition.
	byName := make(map[string][16]byte, len(cg.topicNames))
	for id, name := range cg.topicNames {
		byName[name] = id
	}
	given := make(map[topicPartition]int32, len(m.assignedEpoch))
	for p, epoch := range m.assignedEpoch {
		if name, ok := cg.topicNames[p.topic]; ok {
			given[topicPartition{name, p.partition}] = epoch
		}
	}
	for p := range m.revoking {
		if name, ok := cg.topicNames[p.topic]; ok {
			given[topicPartition{name, p.partition}] = 0
		}
	}
	epoch := req.Generation
	return 0, func(topic string, partition int32) int16 {
		if since, ok := given[topicPartition{topic, partition}]; ok && since <= epoch {
			return 0
		}
		return kerr.StaleMemberEpoch.Code
	}
}

// topicPartition names a partition by topic name.
type topicPartition struct {
	topic     string
	partition int32
}

// checkConsumerOffsetFetch validates the member of an OffsetFetch v9+ to a
// consumer group, under g.mu.
func (g *group) checkConsumerOffsetFetch(memberID string, epoch int32) int16 {
	if memberID == "" && epoch < 0 {
		return 0 // an admin
	}
	m := g.consumer.members[memberID]
	switch {
	case m == nil || m.leftStatic:
		return kerr.UnknownMemberID.Code
	case epoch != m.epoch && m.classic != nil:
		return kerr.IllegalGeneration.Code
	case epoch != m.epoch:
		return kerr.StaleMemberEpoch.Code
	}
	return 0
}

// checkOffsetFetchMember checks the member an OffsetFetch v9+ names, for
// consumer groups; classic groups do not check it, as Kafka does not.
func (c *Coordinator) checkOffsetFetchMember(ctx context.Context, cluster, group string, memberID *string, epoch int32) int16 {
	if memberID == nil && epoch < 0 {
		return 0
	}
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return code
	}
	g := cl.group(c, group)
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.unlock()
	if g.consumer == nil || g.unavailable() {
		return 0
	}
	return g.checkConsumerOffsetFetch(derefString(memberID), epoch)
}

// consumerCommitCheck is the per-partition check of a commit to a consumer
// group that passed checkOffsetCommit; nil for other groups.
func (c *Coordinator) consumerCommitCheck(ctx context.Context, cluster string, req *kmsg.OffsetCommitRequest) partitionCheck {
	cl, code := c.loadedCluster(ctx, cluster)
	if code != 0 {
		return nil
	}
	g := cl.group(c, req.Group)
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.unlock()
	if g.consumer == nil || g.unavailable() {
		return nil
	}
	if m := g.consumer.members[req.MemberID]; m != nil && !m.leftStatic {
		// A commit is a sign of life, as in Kafka.
		g.restartConsumerSession(m)
	}
	_, check := g.checkConsumerOffsetCommit(req)
	return check
}
