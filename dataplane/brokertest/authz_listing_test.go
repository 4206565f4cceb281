package brokertest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/broker"
)

func opBits(ops ...acl.Operation) int32 {
	var bits int32
	for _, op := range ops {
		bits |= 1 << op
	}
	return bits
}

// TestListingsAndAuthorizedOperations: what a principal may not DESCRIBE
// it does not see in Metadata, ListGroups or OffsetFetch, and the
// authorized-operations fields of Metadata, DescribeGroups and
// DescribeCluster say what it may do.
func TestListingsAndAuthorizedOperations(t *testing.T) {
	h := startSecuredBroker(t, nil, func(cfg *broker.Config) { cfg.AutoCreateTopics = true })
	admin := adminAs(t, h, "a-admin")
	adminCl := clientAs(t, h, "a-admin")
	for _, topic := range []string{"seen-read", "seen-alter", "unseen"} {
		createTopic(t, admin, topic, 1, nil)
	}
	for _, g := range []string{"g-seen", "g-unseen"} {
		for _, topic := range []string{"seen-read", "unseen"} {
			commitRaw(t, adminCl, g, topic, 0, 0)
		}
	}
	const alice = "User:alice"
	createACLs(t, admin,
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "seen-read", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpRead},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "seen-alter", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpAlterConfigs},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "seen-alter", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpAlter},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "auto-", pattern: kadm.ACLPatternPrefixed, principal: alice, op: kadm.OpDescribe},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "auto-ok", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpCreate},
		aclSpec{resource: kmsg.ACLResourceTypeGroup, name: "g-seen", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpRead},
	)
	cl := clientAs(t, h, "alice")

	// Metadata: all topics lists the describable ones only, with their
	// operations; the cluster's need DESCRIBE on it.
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = nil
	md.IncludeTopicAuthorizedOperations, md.IncludeClusterAuthorizedOperations = true, true
	// Cluster operations are in Metadata v8-10 only (Kafka 2.3-2.7).
	resp := rawRequest[*kmsg.MetadataResponse](t, clientAs(t, h, "alice", kgo.MaxVersions(kversion.V2_7_0())), md)
	if resp.Version < 8 || resp.Version > 10 {
		t.Fatalf("metadata v%d, want v8-10", resp.Version)
	}
	got := map[string]int32{}
	for _, tp := range resp.Topics {
		got[*tp.Topic] = tp.AuthorizedOperations
	}
	want := map[string]int32{
		"seen-read":  opBits(acl.OpRead, acl.OpDescribe),
		"seen-alter": opBits(acl.OpAlter, acl.OpDescribe, acl.OpAlterConfigs, acl.OpDescribeConfigs),
	}
	if len(got) != len(want) || got["seen-read"] != want["seen-read"] || got["seen-alter"] != want["seen-alter"] {
		t.Fatalf("metadata topics and operations %v, want %v", got, want)
	}
	if resp.AuthorizedOperations != 0 {
		t.Fatalf("cluster operations %b without DESCRIBE on the cluster", resp.AuthorizedOperations)
	}

	// Auto-creation needs CREATE; without it the topic is refused, not unknown.
	named := func(topic string) int16 {
		req := kmsg.NewPtrMetadataRequest()
		req.AllowAutoTopicCreation = true
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(topic)
		req.Topics = append(req.Topics, rt)
		return rawRequest[*kmsg.MetadataResponse](t, cl, req).Topics[0].ErrorCode
	}
	if code := named("auto-ok"); code != 0 {
		t.Fatalf("auto-creating with CREATE: %v", kerr.ErrorForCode(code))
	}
	if code := named("auto-no"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("auto-creating without CREATE: %v, want TOPIC_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	if code := named("unseen"); code != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("naming an existing topic without DESCRIBE: %v", kerr.ErrorForCode(code))
	}

	// ListGroups shows the describable groups only.
	groups, err := kadm.NewClient(cl).ListGroups(testContext(t))
	if err != nil || !slices.Equal(groups.Groups(), []string{"g-seen"}) {
		t.Fatalf("alice lists groups %v (%v), want [g-seen]", groups.Groups(), err)
	}
	if groups, _ := admin.ListGroups(testContext(t)); len(groups) != 2 {
		t.Fatalf("the admin lists groups %v", groups.Groups())
	}

	// OffsetFetch: all topics leaves out the undescribable ones; naming
	// one is refused for that topic.
	of := kmsg.NewPtrOffsetFetchRequest()
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "g-seen"
	of.Groups = append(of.Groups, g)
	ofResp := rawRequest[*kmsg.OffsetFetchResponse](t, cl, of)
	if tps := ofResp.Groups[0].Topics; len(tps) != 1 || tps[0].Topic != "seen-read" {
		t.Fatalf("offset fetch of all topics: %+v", ofResp.Groups[0])
	}
	named2 := kmsg.NewOffsetFetchRequestGroupTopic()
	named2.Topic, named2.Partitions = "unseen", []int32{0}
	of.Groups[0].Topics = append(of.Groups[0].Topics, named2)
	ofResp = rawRequest[*kmsg.OffsetFetchResponse](t, cl, of)
	if p := ofResp.Groups[0].Topics[0].Partitions[0]; p.ErrorCode != kerr.TopicAuthorizationFailed.Code || p.Offset != -1 {
		t.Fatalf("offset fetch naming unseen: %+v", p)
	}
	of.Groups[0].Group = "g-unseen"
	if ofResp = rawRequest[*kmsg.OffsetFetchResponse](t, cl, of); ofResp.Groups[0].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("offset fetch of g-unseen: %+v", ofResp.Groups[0])
	}

	// DescribeGroups: operations of the allowed group, refusal of the other.
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups, dg.IncludeAuthorizedOperations = []string{"g-seen", "g-unseen"}, true
	dgResp := rawRequest[*kmsg.DescribeGroupsResponse](t, cl, dg)
	if r := dgResp.Groups[0]; r.ErrorCode != 0 || r.AuthorizedOperations != opBits(acl.OpRead, acl.OpDescribe) {
		t.Fatalf("describe g-seen: %+v", r)
	}
	if r := dgResp.Groups[1]; r.Group != "g-unseen" || r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("describe g-unseen: %+v", r)
	}

	// DescribeCluster: operations once DESCRIBE on the cluster is granted.
	createACLs(t, admin, aclSpec{resource: kmsg.ACLResourceTypeCluster, name: "kafka-cluster", pattern: kadm.ACLPatternLiteral, principal: alice, op: kadm.OpDescribe})
	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.IncludeClusterAuthorizedOperations = true
	if r := rawRequest[*kmsg.DescribeClusterResponse](t, cl, dc); r.ClusterAuthorizedOperations != opBits(acl.OpDescribe) {
		t.Fatalf("cluster operations %b, want DESCRIBE only", r.ClusterAuthorizedOperations)
	}
	// With DESCRIBE on the cluster every group is listed.
	if groups, _ := kadm.NewClient(cl).ListGroups(testContext(t)); len(groups) != 2 {
		t.Fatalf("alice with DESCRIBE on the cluster lists %v", groups.Groups())
	}
}

// rolePolicies are role bindings a test changes while clients run.
type rolePolicies struct {
	mu     sync.Mutex // guards grants
	grants map[string]map[string]bool
}

type rolePolicy map[string]bool

func (p rolePolicy) Super() bool { return false }
func (p rolePolicy) Allows(t acl.ResourceType, name string, op acl.Operation) bool {
	return p[t.String()+":"+name+":"+op.String()]
}

func (r *rolePolicies) KafkaPolicy(_ context.Context, _, principal string) (broker.Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rolePolicy(r.grants[principal]), nil
}

func (r *rolePolicies) set(principal string, grants ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]bool{}
	for _, g := range grants {
		m[g] = true
	}
	r.grants[principal] = m
}

// TestRevocationsReachConnectedClients: a consumer's READ and a producer's
// WRITE end within the cache TTL of the role binding's removal, and at
// once when an ACL is deleted through the broker, on connections opened
// before.
func TestRevocationsReachConnectedClients(t *testing.T) {
	policies := &rolePolicies{grants: map[string]map[string]bool{}}
	policies.set("User:alice", "TOPIC:revoked:WRITE", "TOPIC:revoked:DESCRIBE", "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE")
	h := startSecuredBroker(t, policies)
	admin := adminAs(t, h, "a-admin")
	createTopic(t, admin, "revoked", 1, nil)
	cl := clientAs(t, h, "alice")
	if err := produceOne(testContext(t), cl, "revoked"); err != nil {
		t.Fatalf("produce with the role binding: %v", err)
	}
	policies.set("User:alice")
	start := time.Now()
	for {
		err := produceOne(testContext(t), cl, "revoked")
		if err != nil {
			wantErr(t, "produce after revocation", err, kerr.TopicAuthorizationFailed)
			break
		}
		if time.Since(start) > broker.DefaultAuthzCacheTTL+time.Second {
			t.Fatalf("still producing %v after the role binding went", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}

	// An ACL deleted through the broker stops a connected client at once.
	createACLs(t, admin, aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "revoked", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpWrite})
	if err := produceOne(testContext(t), cl, "revoked"); err != nil {
		t.Fatalf("produce with an ACL: %v", err)
	}
	deleteACLsOf(t, admin, "User:alice")
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	wantErr(t, "produce after the ACL was deleted", produceOne(ctx, cl, "revoked"), kerr.TopicAuthorizationFailed)
}
