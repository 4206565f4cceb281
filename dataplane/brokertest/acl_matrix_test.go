package brokertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// kafkaAction is what a developer tries, on topic and group; the error is
// Kafka's answer (nil: it worked).
type kafkaAction func(t *testing.T, h *testutil.BrokerHandle, user, topic, group string) error

var matrixActions = map[string]kafkaAction{
	// produce is a plain producer's ProduceSync.
	"produce": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		cl := clientAs(t, h, user, kgo.DisableIdempotentWrite(), kgo.RecordRetries(1))
		return produceOne(testContext(t), cl, topic)
	},
	// produce-idempotent is franz-go's default producer: InitProducerId
	// first, then Produce.
	"produce-idempotent": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		cl := clientAs(t, h, user, kgo.RecordRetries(1))
		return produceOne(testContext(t), cl, topic)
	},
	// fetch reads partition 0 from the start.
	"fetch": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxWaitMillis, req.MaxBytes = 12, 10, 1<<20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, topicID(t, h, topic) // by id from v13
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest[*kmsg.FetchResponse](t, clientAs(t, h, user), req)
		return codeErr(resp.Topics[0].Partitions[0].ErrorCode)
	},
	// consume-group is a franz-go group consumer reading the record the
	// admin produced, then committing.
	"consume-group": func(t *testing.T, h *testutil.BrokerHandle, user, topic, group string) error {
		cl := clientAs(t, h, user, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
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
	},
	// join-group is the first JoinGroup of a member.
	"join-group": func(t *testing.T, h *testutil.BrokerHandle, user, _, group string) error {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group, req.ProtocolType, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis = group, "consumer", 10000, 10000
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
		req.Protocols = append(req.Protocols, p)
		resp := rawRequest[*kmsg.JoinGroupResponse](t, clientAs(t, h, user), req)
		if resp.ErrorCode == kerr.MemberIDRequired.Code {
			return nil // admitted: the member must rejoin with its id
		}
		return codeErr(resp.ErrorCode)
	},
	// commit is a simple (generation -1) offset commit, sent as is (kadm
	// would first look the topic up).
	"commit": func(t *testing.T, h *testutil.BrokerHandle, user, topic, group string) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest[*kmsg.OffsetCommitResponse](t, clientAs(t, h, user), req)
		return codeErr(resp.Topics[0].Partitions[0].ErrorCode)
	},
	"create-topic": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		resp, err := adminAs(t, h, user).CreateTopic(testContext(t), 1, -1, nil, topic+"-new")
		if err != nil {
			return err
		}
		return resp.Err
	},
	"delete-topic": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		resp, err := adminAs(t, h, user).DeleteTopic(testContext(t), topic)
		if err != nil {
			return err
		}
		return resp.Err
	},
	"alter-configs": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		v := "60000"
		resps, err := adminAs(t, h, user).AlterTopicConfigs(testContext(t), []kadm.AlterConfig{{Name: "retention.ms", Value: &v}}, topic)
		if err != nil {
			return err
		}
		return resps[0].Err
	},
	"create-partitions": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		resps, err := adminAs(t, h, user).CreatePartitions(testContext(t), 1, topic)
		if err != nil {
			return err
		}
		return resps[topic].Err
	},
	"describe-configs": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		resps, err := adminAs(t, h, user).DescribeTopicConfigs(testContext(t), topic)
		if err != nil {
			return err
		}
		return resps[0].Err
	},
	// metadata names the topic.
	"metadata": func(t *testing.T, h *testutil.BrokerHandle, user, topic, _ string) error {
		req := kmsg.NewPtrMetadataRequest()
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest[*kmsg.MetadataResponse](t, clientAs(t, h, user), req)
		return codeErr(resp.Topics[0].ErrorCode)
	},
}

// TestACLMatrix grants alice ACLs and checks what each lets her do, as
// Kafka's authorizer would: exact, prefixed and wildcard names, implied
// operations, ALL, DENY over ALLOW, hosts, and nothing without an ACL.
func TestACLMatrix(t *testing.T) {
	h := startSecuredBroker(t, nil)
	admin := adminAs(t, h, "a-admin")
	producer := clientAs(t, h, "a-admin")
	const alice = "User:alice"
	topicACL := func(name string, pattern kadm.ACLPattern, op kadm.ACLOperation) aclSpec {
		return aclSpec{resource: kmsg.ACLResourceTypeTopic, name: name, pattern: pattern, principal: alice, op: op}
	}
	groupACL := func(name string, op kadm.ACLOperation) aclSpec {
		return aclSpec{resource: kmsg.ACLResourceTypeGroup, name: name, pattern: kadm.ACLPatternLiteral, principal: alice, op: op}
	}
	clusterACL := func(op kadm.ACLOperation) aclSpec {
		return aclSpec{resource: kmsg.ACLResourceTypeCluster, name: "kafka-cluster", pattern: kadm.ACLPatternLiteral, principal: alice, op: op}
	}
	deny := func(a aclSpec) aclSpec { a.deny = true; return a }
	onHost := func(a aclSpec, host string) aclSpec { a.host = host; return a }
	const T, G = "{topic}", "{group}" // replaced by each case's names

	tests := []struct {
		action string
		acls   []aclSpec
		want   error
	}{
		// Produce.
		{"produce", nil, kerr.TopicAuthorizationFailed},
		{"produce", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite)}, nil},
		{"produce", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, kerr.TopicAuthorizationFailed},
		{"produce", []aclSpec{topicACL("m-", kadm.ACLPatternPrefixed, kadm.OpWrite)}, nil},
		{"produce", []aclSpec{topicACL("*", kadm.ACLPatternLiteral, kadm.OpAll)}, nil},
		{"produce", []aclSpec{topicACL("*", kadm.ACLPatternLiteral, kadm.OpAll), deny(topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite))}, kerr.TopicAuthorizationFailed},
		{"produce", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite), deny(topicACL("m-", kadm.ACLPatternPrefixed, kadm.OpAll))}, kerr.TopicAuthorizationFailed},
		{"produce", []aclSpec{onHost(topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite), "127.0.0.1")}, nil},
		{"produce", []aclSpec{onHost(topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite), "10.9.9.9")}, kerr.TopicAuthorizationFailed},
		{"produce-idempotent", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite)}, nil}, // WRITE on a topic is enough
		{"produce-idempotent", nil, kerr.TopicAuthorizationFailed},
		{"produce-idempotent", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, kerr.ClusterAuthorizationFailed},
		{"produce-idempotent", []aclSpec{clusterACL(kadm.OpIdempotentWrite)}, kerr.TopicAuthorizationFailed},
		// Consume.
		{"fetch", nil, kerr.TopicAuthorizationFailed},
		{"fetch", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, nil},
		{"fetch", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpWrite)}, kerr.TopicAuthorizationFailed},
		{"fetch", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead), deny(topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead))}, kerr.TopicAuthorizationFailed},
		{"consume-group", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead), groupACL(G, kadm.OpRead)}, nil},
		{"consume-group", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, kerr.GroupAuthorizationFailed},
		{"join-group", nil, kerr.GroupAuthorizationFailed},
		{"join-group", []aclSpec{groupACL(G, kadm.OpRead)}, nil},
		{"join-group", []aclSpec{groupACL(G, kadm.OpDescribe)}, kerr.GroupAuthorizationFailed},
		{"join-group", []aclSpec{groupACL(G, kadm.OpAll), deny(groupACL(G, kadm.OpRead))}, kerr.GroupAuthorizationFailed},
		{"commit", []aclSpec{groupACL(G, kadm.OpRead)}, kerr.TopicAuthorizationFailed},
		{"commit", []aclSpec{groupACL(G, kadm.OpRead), topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, nil},
		{"commit", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpRead)}, kerr.GroupAuthorizationFailed},
		// Topic administration.
		{"create-topic", nil, kerr.TopicAuthorizationFailed},
		{"create-topic", []aclSpec{clusterACL(kadm.OpCreate)}, nil},
		{"create-topic", []aclSpec{topicACL(T+"-new", kadm.ACLPatternLiteral, kadm.OpCreate)}, nil},
		{"create-topic", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpCreate)}, kerr.TopicAuthorizationFailed},
		{"delete-topic", nil, kerr.TopicAuthorizationFailed},
		{"delete-topic", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpDelete)}, nil},
		{"delete-topic", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlter)}, kerr.TopicAuthorizationFailed},
		{"alter-configs", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlter)}, kerr.TopicAuthorizationFailed},
		{"alter-configs", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlterConfigs)}, nil},
		{"create-partitions", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlterConfigs)}, kerr.TopicAuthorizationFailed},
		{"create-partitions", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlter)}, nil},
		{"describe-configs", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpDescribe)}, kerr.TopicAuthorizationFailed},
		{"describe-configs", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpAlterConfigs)}, nil}, // implied
		{"metadata", nil, kerr.TopicAuthorizationFailed},
		{"metadata", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpDelete)}, nil}, // implied DESCRIBE
		{"metadata", []aclSpec{topicACL(T, kadm.ACLPatternLiteral, kadm.OpCreate)}, kerr.TopicAuthorizationFailed},
	}
	for i, tt := range tests {
		var names []string
		for _, a := range tt.acls {
			n := strings.NewReplacer(T, "T", G, "G").Replace(a.name)
			names = append(names, fmt.Sprintf("%s:%s:%s:%s", map[bool]string{true: "deny", false: "allow"}[a.deny], a.resource, n, a.op))
		}
		t.Run(fmt.Sprintf("%02d-%s-%s", i, tt.action, strings.Join(names, "+")), func(t *testing.T) {
			topic, group := fmt.Sprintf("m-%02d-topic", i), fmt.Sprintf("m-%02d-group", i)
			createTopic(t, admin, topic, 1, nil)
			if err := produceOne(testContext(t), producer, topic); err != nil {
				t.Fatalf("admin produce: %v", err)
			}
			specs := make([]aclSpec, len(tt.acls))
			for j, a := range tt.acls {
				a.name = strings.NewReplacer(T, topic, G, group).Replace(a.name)
				specs[j] = a
			}
			createACLs(t, admin, specs...)
			defer deleteACLsOf(t, admin, alice)
			err := matrixActions[tt.action](t, h, "alice", topic, group)
			wantErr(t, tt.action, err, tt.want)
		})
	}
}
