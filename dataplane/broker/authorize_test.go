package broker

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/dataplane/acl"
)

// Without authorization every operation is allowed: the bitfields the
// handler tests expect.
var (
	topicAuthorizedOps   = allOps(acl.ResourceTopic)
	clusterAuthorizedOps = allOps(acl.ResourceCluster)
)

func allOps(t acl.ResourceType) int32 {
	var bits int32
	for _, op := range acl.Operations(t) {
		bits |= 1 << op
	}
	return bits
}

// A new API must say what it authorizes before it can be served.
func TestEveryAPIHasAnAuthorizationRule(t *testing.T) {
	for key := range apis {
		if authorizationRules[key] == "" {
			t.Errorf("API %d (%s) has no entry in authorizationRules: authorize it as Kafka does and say how", key, kmsg.NameForKey(key))
		}
	}
	for key := range authorizationRules {
		if _, ok := apis[key]; !ok {
			t.Errorf("authorizationRules names API %d, which is not registered", key)
		}
	}
}

func topicACL(name, principal string, op acl.Operation, perm acl.Permission) acl.Binding {
	return acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: name, PatternType: acl.PatternLiteral,
		Principal: principal, Host: acl.Wildcard, Operation: op, Permission: perm}
}

// aclSource is an ACL store whose reads are counted and may fail.
type aclSource struct {
	mu       sync.Mutex // guards the fields below
	bindings map[string][]acl.Binding
	reads    int
	err      error
}

func (s *aclSource) ACLs(_ context.Context, cluster string) ([]acl.Binding, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.err != nil {
		return nil, s.err
	}
	return append([]acl.Binding(nil), s.bindings[cluster]...), nil
}

func (s *aclSource) CreateACLs(_ context.Context, cluster string, bs []acl.Binding) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bindings[cluster] = append(s.bindings[cluster], bs...)
	return nil
}

func (s *aclSource) DeleteACLs(context.Context, string, []acl.Filter) ([][]acl.Binding, error) {
	return nil, errors.New("not used")
}

func (s *aclSource) set(f func(s *aclSource)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// grants is a Policy allowing a fixed set of (type, name, op).
type grants struct {
	super bool
	ops   map[string]bool
}

func (g grants) Super() bool { return g.super }
func (g grants) Allows(t acl.ResourceType, name string, op acl.Operation) bool {
	return g.ops[t.String()+":"+name+":"+op.String()]
}

// policySource hands out grants per principal, counting reads.
type policySource struct {
	mu     sync.Mutex // guards the fields below
	grants map[string]grants
	reads  int
	err    error
}

func (p *policySource) KafkaPolicy(_ context.Context, _, principal string) (Policy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reads++
	if p.err != nil {
		return nil, p.err
	}
	return p.grants[principal], nil
}

func (p *policySource) set(f func(p *policySource)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func TestAuthorizerDecidesAndCaches(t *testing.T) {
	acls := &aclSource{bindings: map[string][]acl.Binding{"lkc-a": {
		topicACL("acl-read", "User:dev", acl.OpRead, acl.PermissionAllow),
		topicACL("denied", "User:*", acl.OpAll, acl.PermissionDeny),
	}}}
	policies := &policySource{grants: map[string]grants{
		"User:dev": {ops: map[string]bool{"TOPIC:rb-write:WRITE": true, "TOPIC:denied:WRITE": true}},
		"User:adm": {super: true},
	}}
	a := newAuthorizer(Config{ACLs: acls, Policies: policies, SuperUsers: []string{"User:root"}, AuthzCacheTTL: time.Second},
		slog.New(slog.DiscardHandler))
	now := time.Unix(1000, 0)
	a.now = func() time.Time { return now }
	ctx := context.Background()
	dev := Principal{Name: "User:dev", Cluster: "lkc-a"}

	decide := func(p Principal, name string, op acl.Operation) bool {
		return a.load(ctx, p, "127.0.0.1").allowed(acl.ResourceTopic, name, op)
	}
	for _, c := range []struct {
		p    Principal
		name string
		op   acl.Operation
		want bool
	}{
		{dev, "acl-read", acl.OpRead, true},
		{dev, "acl-read", acl.OpDescribe, true}, // implied
		{dev, "acl-read", acl.OpWrite, false},
		{dev, "rb-write", acl.OpWrite, true},
		{dev, "denied", acl.OpWrite, false}, // a DENY ACL beats the role binding
		{dev, "other", acl.OpRead, false},
		{Principal{Name: "User:adm", Cluster: "lkc-a"}, "denied", acl.OpWrite, true}, // cluster admin
		{Principal{Name: "User:root", Cluster: "lkc-a"}, "denied", acl.OpAll, true},  // super user
		{Principal{Name: "User:dev", Cluster: "lkc-b"}, "acl-read", acl.OpRead, false},
	} {
		if got := decide(c.p, c.name, c.op); got != c.want {
			t.Errorf("%s in %s: %s on %s = %v, want %v", c.p.Name, c.p.Cluster, c.op, c.name, got, c.want)
		}
	}

	// Within the TTL nothing is read again; after it, both are.
	acls.set(func(s *aclSource) { s.reads = 0 })
	policies.set(func(p *policySource) { p.reads = 0 })
	decide(dev, "acl-read", acl.OpRead)
	if acls.reads != 0 || policies.reads != 0 {
		t.Fatalf("read within the TTL: %d ACL reads, %d policy reads", acls.reads, policies.reads)
	}
	policies.set(func(p *policySource) { delete(p.grants, "User:dev") })
	now = now.Add(time.Second)
	if decide(dev, "rb-write", acl.OpWrite) {
		t.Fatal("a revoked role binding still allows after the TTL")
	}
	if acls.reads != 1 || policies.reads != 1 {
		t.Fatalf("after the TTL: %d ACL reads, %d policy reads, want 1 each", acls.reads, policies.reads)
	}

	// A local change applies at once.
	acls.set(func(s *aclSource) {
		s.bindings["lkc-a"] = append(s.bindings["lkc-a"], topicACL("new", "User:dev", acl.OpWrite, acl.PermissionAllow))
	})
	if decide(dev, "new", acl.OpWrite) {
		t.Fatal("an ACL changed elsewhere applies before the TTL")
	}
	a.aclsChanged("lkc-a")
	if !decide(dev, "new", acl.OpWrite) {
		t.Fatal("an ACL changed on this broker does not apply at once")
	}

	// Sources failing: what was read keeps serving; nothing read, nothing allowed.
	acls.set(func(s *aclSource) { s.err = errors.New("db down") })
	policies.set(func(p *policySource) { p.err = errors.New("control plane down") })
	now = now.Add(time.Hour)
	if !decide(dev, "new", acl.OpWrite) {
		t.Fatal("a failed refresh dropped the last ACLs read")
	}
	if decide(Principal{Name: "User:stranger", Cluster: "lkc-a"}, "new", acl.OpWrite) ||
		decide(Principal{Name: "User:dev", Cluster: "lkc-c"}, "x", acl.OpDescribe) {
		t.Fatal("allowed with nothing read")
	}
}

// The bits of authorized operations follow the decisions, with Kafka's
// implications.
func TestAuthorizedOperationBits(t *testing.T) {
	ra := &requestAuth{acls: acl.Select([]acl.Binding{
		topicACL("t", "User:p", acl.OpWrite, acl.PermissionAllow),
		topicACL("t", "User:p", acl.OpAlterConfigs, acl.PermissionAllow),
	}, "User:p", "")}
	b := &Broker{}
	r := &request{auth: ra}
	got := b.authorizedOps(context.Background(), r, acl.ResourceTopic, "t")
	want := int32(1<<acl.OpWrite | 1<<acl.OpDescribe | 1<<acl.OpAlterConfigs | 1<<acl.OpDescribeConfigs)
	if got != want {
		t.Fatalf("authorized ops %b, want %b", got, want)
	}
	if b.clusterAuthorizedOps(context.Background(), r) != 0 {
		t.Fatal("cluster operations shown without DESCRIBE on the cluster")
	}
}
