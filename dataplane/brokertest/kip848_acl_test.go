package brokertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestConsumerProtocolACLs checks what KIP-848 group requests need, as
// Kafka: READ on the group and DESCRIBE on the topics subscribed to by name
// to heartbeat, DESCRIBE on the group to describe it.
func TestConsumerProtocolACLs(t *testing.T) {
	h := startSecuredBroker(t, nil)
	admin := adminAs(t, h, "a-admin")
	producer := clientAs(t, h, "a-admin")
	const alice = "User:alice"
	topicACL := func(name string, op kadm.ACLOperation) aclSpec {
		return aclSpec{resource: kmsg.ACLResourceTypeTopic, name: name, pattern: kadm.ACLPatternLiteral, principal: alice, op: op}
	}
	groupACL := func(name string, op kadm.ACLOperation) aclSpec {
		return aclSpec{resource: kmsg.ACLResourceTypeGroup, name: name, pattern: kadm.ACLPatternLiteral, principal: alice, op: op}
	}
	heartbeat := func(t *testing.T, topic, group string) error {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Group, req.MemberID, req.RebalanceTimeoutMillis = group, "alice-member-0000000000", 10000
		req.SubscribedTopicNames = []string{topic}
		req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		resp := rawRequest[*kmsg.ConsumerGroupHeartbeatResponse](t, clientAs(t, h, "alice"), req)
		return codeErr(resp.ErrorCode)
	}
	describe := func(t *testing.T, _, group string) error {
		req := kmsg.NewPtrConsumerGroupDescribeRequest()
		req.Groups = []string{group}
		resp := rawRequest[*kmsg.ConsumerGroupDescribeResponse](t, clientAs(t, h, "alice"), req)
		return codeErr(resp.Groups[0].ErrorCode)
	}
	consume := func(t *testing.T, topic, group string) error {
		cl := clientAs(t, h, "alice", kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group), kgo.ServerSideBalancer(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		ctx, cancel := context.WithTimeout(testContext(t), 15*time.Second)
		defer cancel()
		for {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				return err
			}
			if len(fs.Records()) > 0 {
				return cl.CommitUncommittedOffsets(ctx)
			}
		}
	}
	const T, G = "{topic}", "{group}"
	tests := []struct {
		name   string
		action func(t *testing.T, topic, group string) error
		acls   []aclSpec
		want   error
	}{
		{"heartbeat without ACLs", heartbeat, nil, kerr.GroupAuthorizationFailed},
		{"heartbeat with DESCRIBE on the group", heartbeat, []aclSpec{groupACL(G, kadm.OpDescribe), topicACL(T, kadm.OpDescribe)}, kerr.GroupAuthorizationFailed},
		{"heartbeat without the topic", heartbeat, []aclSpec{groupACL(G, kadm.OpRead)}, kerr.TopicAuthorizationFailed},
		{"heartbeat", heartbeat, []aclSpec{groupACL(G, kadm.OpRead), topicACL(T, kadm.OpDescribe)}, nil},
		{"describe without ACLs", describe, nil, kerr.GroupAuthorizationFailed},
		{"describe", describe, []aclSpec{groupACL(G, kadm.OpDescribe)}, kerr.GroupIDNotFound}, // allowed; no such group
		{"consume", consume, []aclSpec{groupACL(G, kadm.OpRead), topicACL(T, kadm.OpRead)}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic, group := fmt.Sprintf("k-%02d-topic", i), fmt.Sprintf("k-%02d-group", i)
			createTopic(t, admin, topic, 1, nil)
			if err := produceOne(testContext(t), producer, topic); err != nil {
				t.Fatalf("admin produce: %v", err)
			}
			specs := make([]aclSpec, len(tt.acls))
			for j, a := range tt.acls {
				switch a.name {
				case T:
					a.name = topic
				case G:
					a.name = group
				}
				specs[j] = a
			}
			createACLs(t, admin, specs...)
			defer deleteACLsOf(t, admin, alice)
			wantErr(t, tt.name, tt.action(t, topic, group), tt.want)
		})
	}
}
