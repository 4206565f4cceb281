package groups

// ConsumerGroupDescribe (key 69), v0-v1: epochs, assignor, and each member
// with its subscription, current and target assignment. An unknown group,
// or one of the classic protocol, is GROUP_ID_NOT_FOUND, as Kafka answers.
// Authorized operations are the broker's to fill in.

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Member types of ConsumerGroupDescribe v1.
const (
	memberTypeClassic  = 0
	memberTypeConsumer = 1
)

// ConsumerGroupDescribe describes consumer groups of a cluster.
func (c *Coordinator) ConsumerGroupDescribe(ctx context.Context, cluster string, req *kmsg.ConsumerGroupDescribeRequest) *kmsg.ConsumerGroupDescribeResponse {
	resp := req.ResponseKind().(*kmsg.ConsumerGroupDescribeResponse)
	resp.Version = req.Version
	c.eachGroup(ctx, cluster, req.Groups, func(name string, g *group, code int16) {
		dg := kmsg.NewConsumerGroupDescribeResponseGroup()
		dg.Group, dg.ErrorCode = name, code
		if code == 0 && (g == nil || !g.describeConsumer(&dg, req.Version)) {
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = kmsg.StringPtr("Group " + name + " is not a consumer group.")
		}
		resp.Groups = append(resp.Groups, dg)
	})
	return resp
}

// describeConsumer fills dg; false when g is not a consumer group.
func (g *group) describeConsumer(dg *kmsg.ConsumerGroupDescribeResponseGroup, version int16) bool {
	g.mu.Lock()
	defer g.unlock()
	if g.consumer == nil || g.unavailable() {
		return false
	}
	cg := g.consumer
	dg.State = cg.stateName()
	dg.Epoch = cg.epoch
	dg.AssignmentEpoch = cg.assignmentEpoch
	dg.AssignorName = cg.assignorName
	if dg.AssignorName == "" {
		dg.AssignorName = defaultAssignorName
	}
	for _, m := range cg.sortedMembers() {
		dm := kmsg.NewConsumerGroupDescribeResponseGroupMember()
		dm.MemberID = m.id
		if m.instanceID != "" {
			dm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		if m.rackID != "" {
			dm.RackID = kmsg.StringPtr(m.rackID)
		}
		dm.MemberEpoch = m.epoch
		if m.leftStatic {
			dm.MemberEpoch = staticLeaveEpoch
		}
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		dm.SubscribedTopics = slices.Clone(m.subscribedNames)
		if dm.SubscribedTopics == nil {
			dm.SubscribedTopics = []string{}
		}
		if m.regexSource != "" {
			dm.SubscribedTopicRegex = kmsg.StringPtr(m.regexSource)
		}
		dm.Assignment = cg.describeAssignment(m.assigned)
		dm.TargetAssignment = cg.describeAssignment(cg.target[m.id])
		if version >= 1 {
			dm.MemberType = memberTypeConsumer
			if m.classic != nil {
				dm.MemberType = memberTypeClassic
			}
		}
		dg.Members = append(dg.Members, dm)
	}
	return true
}

func (cg *consumerGroup) describeAssignment(s partitionSet) kmsg.Assignment {
	a := kmsg.NewAssignment()
	for _, t := range s.byTopic() {
		at := kmsg.NewAssignmentTopicPartition()
		at.TopicID, at.Topic, at.Partitions = t.TopicID, cg.topicNames[t.TopicID], t.Partitions
		a.TopicPartitions = append(a.TopicPartitions, at)
	}
	return a
}
