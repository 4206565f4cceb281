package brokertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/broker"
	"github.com/affluent-io/affluent/dataplane/storage/tiered"
	"github.com/affluent-io/affluent/internal/testutil"
)

// Principals of the authorizing test broker: in each of two clusters an
// administrator (a super user) and developers whose rights come from ACLs
// (or role bindings, when a test gives Policies).
var securedTenants = []testutil.Tenant{
	{Cluster: "lkc-a", Username: "a-admin", Password: "a-admin-secret"},
	{Cluster: "lkc-a", Username: "alice", Password: "alice-secret"},
	{Cluster: "lkc-a", Username: "bob", Password: "bob-secret"},
	{Cluster: "lkc-b", Username: "b-admin", Password: "b-admin-secret"},
	{Cluster: "lkc-b", Username: "b-dev", Password: "b-dev-secret"},
}

// startSecuredBroker starts a broker that authorizes every request with
// the ACLs in its metadata DB (and policies, if any), default deny, and
// keeps client quotas.
func startSecuredBroker(t *testing.T, policies broker.Policies, configure ...func(*broker.Config)) *testutil.BrokerHandle {
	t.Helper()
	return testutil.StartBroker(t, testutil.BrokerOptions{Tenants: securedTenants, Quiet: true, Configure: func(cfg *broker.Config) {
		store := cfg.Catalog.(*tiered.Store)
		cfg.ACLs, cfg.ClientQuotas, cfg.Policies = store, store, policies
		cfg.SuperUsers = []string{"User:a-admin", "User:b-admin"}
		for _, f := range configure {
			f(cfg)
		}
	}})
}

func tenant(t *testing.T, username string) testutil.Tenant {
	t.Helper()
	for _, tn := range securedTenants {
		if tn.Username == username {
			return tn
		}
	}
	t.Fatalf("no tenant %s", username)
	return testutil.Tenant{}
}

// clientAs is a franz-go client authenticated as username, closed when the
// test ends; failures are not retried long, so refusals come back quickly.
func clientAs(t *testing.T, h *testutil.BrokerHandle, username string, extra ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts := append(h.ClientOpts(tenant(t, username)), kgo.RetryTimeout(5*time.Second))
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func adminAs(t *testing.T, h *testutil.BrokerHandle, username string) *kadm.Client {
	return kadm.NewClient(clientAs(t, h, username))
}

// rawRequest sends req to the broker (node 1) as cl and returns the answer.
func rawRequest[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := cl.Broker(1).Request(testContext(t), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp.(R)
}

// codeErr turns a Kafka error code into an error (nil for 0).
func codeErr(code int16) error { return kerr.ErrorForCode(code) }

// aclSpec is one ACL a test case creates, as kadm builds it.
type aclSpec struct {
	resource  kmsg.ACLResourceType
	name      string
	pattern   kadm.ACLPattern
	principal string
	host      string
	op        kadm.ACLOperation
	deny      bool
}

func (a aclSpec) builder() *kadm.ACLBuilder {
	b := kadm.NewACLs().ResourcePatternType(a.pattern).Operations(a.op)
	switch a.resource {
	case kmsg.ACLResourceTypeTopic:
		b.Topics(a.name)
	case kmsg.ACLResourceTypeGroup:
		b.Groups(a.name)
	case kmsg.ACLResourceTypeCluster:
		b.Clusters()
	case kmsg.ACLResourceTypeTransactionalId:
		b.TransactionalIDs(a.name)
	case kmsg.ACLResourceTypeDelegationToken:
		b.DelegationTokens(a.name)
	}
	host := a.host
	if host == "" {
		host = "*"
	}
	if a.deny {
		return b.Deny(a.principal).DenyHosts(host)
	}
	return b.Allow(a.principal).AllowHosts(host)
}

func createACLs(t *testing.T, adm *kadm.Client, specs ...aclSpec) {
	t.Helper()
	for _, s := range specs {
		results, err := adm.CreateACLs(testContext(t), s.builder())
		if err != nil {
			t.Fatalf("create ACL %+v: %v", s, err)
		}
		for _, r := range results {
			if r.Err != nil {
				t.Fatalf("create ACL %+v: %v (%s)", s, r.Err, r.ErrMessage)
			}
		}
	}
}

// deleteACLsOf deletes every ACL of principal.
func deleteACLsOf(t *testing.T, adm *kadm.Client, principal string) {
	t.Helper()
	f := kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).
		Allow(principal).AllowHosts().Deny(principal).DenyHosts()
	results, err := adm.DeleteACLs(testContext(t), f)
	if err != nil {
		t.Fatalf("delete ACLs of %s: %v", principal, err)
	}
	for _, r := range results {
		if r.Err != nil {
			t.Fatalf("delete ACLs of %s: %v", principal, r.Err)
		}
	}
}

// produceOne produces one record to topic as cl.
func produceOne(ctx context.Context, cl *kgo.Client, topic string) error {
	return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("v")}).FirstErr()
}

// wantErr fails unless err is want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

// topicID looks a topic of lkc-a up as its administrator.
func topicID(t *testing.T, h *testutil.BrokerHandle, topic string) [16]byte {
	t.Helper()
	topics, err := adminAs(t, h, "a-admin").ListTopics(testContext(t), topic)
	if err != nil || topics[topic].Err != nil {
		t.Fatalf("look up %s: %v %v", topic, err, topics[topic].Err)
	}
	return topics[topic].ID
}
