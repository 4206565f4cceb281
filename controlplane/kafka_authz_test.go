package controlplane_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// isAuthorizationError reports whether err is one of Kafka's refusals.
func isAuthorizationError(err error) bool {
	for _, e := range []error{kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// roleAction is a Kafka client's attempt as p on data (a topic holding a
// record), del (a topic to delete) and group.
type roleAction func(t *testing.T, d *devProcess, p kafkaPrincipal, data, del, group string) error

var roleActions = []struct {
	name string
	run  roleAction
}{
	{"produce", func(t *testing.T, d *devProcess, p kafkaPrincipal, data, _, _ string) error {
		return d.kafkaClient(t, p).ProduceSync(testCtx(t), &kgo.Record{Topic: data, Value: []byte("v")}).FirstErr()
	}},
	{"consume-group", func(t *testing.T, d *devProcess, p kafkaPrincipal, data, _, group string) error {
		cl := d.kafkaClient(t, p, kgo.ConsumeTopics(data), kgo.ConsumerGroup(group),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		ctx, cancel := context.WithTimeout(testCtx(t), 15*time.Second)
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
	}},
	{"create-topic", func(t *testing.T, d *devProcess, p kafkaPrincipal, data, _, _ string) error {
		resp, err := kadm.NewClient(d.kafkaClient(t, p)).CreateTopic(testCtx(t), 1, -1, nil, data+"-new")
		if err != nil {
			return err
		}
		return resp.Err
	}},
	{"alter-configs", func(t *testing.T, d *devProcess, p kafkaPrincipal, data, _, _ string) error {
		v := "60000"
		resps, err := kadm.NewClient(d.kafkaClient(t, p)).AlterTopicConfigs(testCtx(t), []kadm.AlterConfig{{Name: "retention.ms", Value: &v}}, data)
		if err != nil {
			return err
		}
		return resps[0].Err
	}},
	{"delete-topic", func(t *testing.T, d *devProcess, p kafkaPrincipal, _, del, _ string) error {
		resp, err := kadm.NewClient(d.kafkaClient(t, p)).DeleteTopic(testCtx(t), del)
		if err != nil {
			return err
		}
		return resp.Err
	}},
}

// TestRoleBindingMatrix binds each role to a service account and checks,
// on the real broker with the control plane's role bindings, which of
// produce, consume in a group, create, alter and delete topics it allows.
func TestRoleBindingMatrix(t *testing.T) {
	d := startDev(t)
	a, c := d.rest, d.Credentials
	kafka := kafkaCRN(d, c.EnvironmentID, c.ClusterID)
	cloudCluster := fmt.Sprintf("crn://affluent/organization=%s/environment=%s/cloud-cluster=%s", c.OrganizationID, c.EnvironmentID, c.ClusterID)
	admin := d.admin(t)
	producer := d.kafkaClient(t, kafkaPrincipal{key: c.KafkaAPIKey, secret: c.KafkaAPISecret})

	type binding struct{ role, pattern string }
	onTopics := func(role string) binding { return binding{role, kafka + "/topic=rb-*"} }
	onGroups := func(role string) binding { return binding{role, kafka + "/group=rb-*"} }
	all := []string{"produce", "consume-group", "create-topic", "alter-configs", "delete-topic"}
	tests := []struct {
		name     string
		bindings []binding
		allowed  []string
	}{
		{"no binding", nil, nil},
		{"DeveloperRead", []binding{onTopics("DeveloperRead"), onGroups("DeveloperRead")}, []string{"consume-group"}},
		{"DeveloperRead without group", []binding{onTopics("DeveloperRead")}, nil},
		{"DeveloperWrite", []binding{onTopics("DeveloperWrite")}, []string{"produce"}},
		{"DeveloperManage", []binding{onTopics("DeveloperManage"), onGroups("DeveloperManage")}, []string{"create-topic", "alter-configs", "delete-topic"}},
		{"ResourceOwner", []binding{onTopics("ResourceOwner"), onGroups("ResourceOwner")}, all},
		{"CloudClusterAdmin", []binding{{"CloudClusterAdmin", cloudCluster}}, all},
		{"DeveloperWrite elsewhere", []binding{{"DeveloperWrite", kafka + "/topic=zz-*"}}, nil},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := a.newKafkaPrincipal(fmt.Sprintf("matrix-%d", i), c.ClusterID)
			for _, b := range tt.bindings {
				a.bind(p, b.role, b.pattern)
			}
			for _, action := range roleActions {
				data, del, group := fmt.Sprintf("rb-%d-%s", i, action.name), fmt.Sprintf("rb-%d-%s-del", i, action.name), fmt.Sprintf("rb-%d-%s", i, action.name)
				for _, topic := range []string{data, del} {
					if r, err := admin.CreateTopic(testCtx(t), 1, -1, nil, topic); err != nil || r.Err != nil {
						t.Fatalf("admin creating %s: %v %v", topic, err, r.Err)
					}
				}
				if err := producer.ProduceSync(testCtx(t), &kgo.Record{Topic: data, Value: []byte("seed")}).FirstErr(); err != nil {
					t.Fatalf("admin producing: %v", err)
				}
				err := action.run(t, d, p, data, del, group)
				switch want := slices.Contains(tt.allowed, action.name); {
				case want && err != nil:
					t.Errorf("%s: %v, want allowed", action.name, err)
				case !want && !isAuthorizationError(err):
					t.Errorf("%s: %v, want an authorization error", action.name, err)
				}
			}
		})
	}
}

// TestACLsAndQuotasThroughRESTOnRealBroker runs the ACL and client-quota
// REST APIs against the real broker, where both live: what REST writes the
// Kafka Admin API reads and the broker enforces, and the other way round.
func TestACLsAndQuotasThroughRESTOnRealBroker(t *testing.T) {
	d := startDev(t)
	a, c := d.rest, d.Credentials
	admin := d.admin(t)
	cluster := "/v1/environments/" + c.EnvironmentID + "/clusters/" + c.ClusterID
	a.must(200, "POST", cluster+"/topics", map[string]any{"name": "acl-topic", "partitions_count": 1})
	p := a.newKafkaPrincipal("acl-app", c.ClusterID)
	producer := d.kafkaClient(t, p, kgo.DefaultProduceTopic("acl-topic"))
	produce := func() error {
		return producer.ProduceSync(testCtx(t), &kgo.Record{Value: []byte("v")}).FirstErr()
	}
	if err := produce(); !isAuthorizationError(err) {
		t.Fatalf("produce without ACL or binding: %v, want an authorization error", err)
	}

	// An ACL created over REST is the broker's, and allows at once.
	a.must(200, "POST", cluster+"/acls", map[string]any{"resource_type": "TOPIC", "resource_name": "acl-topic",
		"pattern_type": "LITERAL", "principal": p.name(), "operation": "WRITE", "permission": "ALLOW"})
	described, err := admin.DescribeACLs(testCtx(t), kadm.NewACLs().Topics("acl-topic").ResourcePatternType(kadm.ACLPatternLiteral).
		Operations(kadm.OpAny).Allow(p.name()).AllowHosts())
	if err != nil || len(described) != 1 || len(described[0].Described) != 1 || described[0].Described[0].Operation != kadm.OpWrite {
		t.Fatalf("broker's ACLs after REST create: %+v %v", described, err)
	}
	if err := produce(); err != nil {
		t.Fatalf("produce with a WRITE ACL: %v", err)
	}
	// A DENY ACL made with the Kafka Admin API shows in REST and wins.
	if _, err := admin.CreateACLs(testCtx(t), kadm.NewACLs().Topics("acl-").ResourcePatternType(kadm.ACLPatternPrefixed).
		Operations(kadm.OpAll).Deny(p.name()).DenyHosts("*")); err != nil {
		t.Fatal(err)
	}
	listed := a.must(200, "GET", cluster+"/acls?principal="+url.QueryEscape(p.name()), nil)
	if got := listed.ids("acls", "permission"); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"ALLOW", "DENY"}) {
		t.Fatalf("REST lists %s", listed.raw)
	}
	if err := produce(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce with a DENY ACL: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	for _, id := range listed.ids("acls", "id") {
		a.must(200, "DELETE", cluster+"/acls/"+id, nil)
	}
	if got := a.must(200, "GET", cluster+"/acls", nil).ids("acls", "id"); len(got) != 0 {
		t.Fatalf("ACLs left after REST delete: %v", got)
	}
	if err := produce(); !isAuthorizationError(err) {
		t.Fatalf("produce after the ACLs were deleted: %v, want an authorization error", err)
	}

	// Client quotas: REST writes Kafka client quotas of entity user=<id>.
	entity := []kadm.DescribeClientQuotaComponent{{Type: "user", MatchName: &p.sa}}
	quotas := func() map[string]float64 {
		t.Helper()
		got, err := admin.DescribeClientQuotas(testCtx(t), true, entity)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, q := range got {
			for _, v := range q.Values {
				out[v.Key] = v.Value
			}
		}
		return out
	}
	q := a.must(200, "POST", cluster+"/client-quotas", map[string]any{"display_name": "acl-app",
		"principals": []string{p.name()}, "ingress_byte_rate": 1048576, "egress_byte_rate": 2097152})
	if got := quotas(); got["producer_byte_rate"] != 1048576 || got["consumer_byte_rate"] != 2097152 || len(got) != 2 {
		t.Fatalf("broker's quotas after REST create: %v", got)
	}
	a.must(200, "PATCH", cluster+"/client-quotas/"+q.str("id"), map[string]any{"ingress_byte_rate": 4096})
	if got := quotas(); got["producer_byte_rate"] != 4096 || got["consumer_byte_rate"] != 2097152 {
		t.Fatalf("broker's quotas after REST update: %v", got)
	}
	if got := a.must(200, "GET", cluster+"/client-quotas", nil).ids("client_quotas", "id"); !slices.Equal(got, []string{q.str("id")}) {
		t.Fatalf("REST lists quotas %v", got)
	}
	a.must(200, "DELETE", cluster+"/client-quotas/"+q.str("id"), nil)
	if got := quotas(); len(got) != 0 {
		t.Fatalf("broker's quotas after REST delete: %v", got)
	}
}
