package brokertest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/affluent-io/affluent/internal/testutil"
)

// describeACLs returns the ACLs a filter selects, as "PERM TYPE PATTERN
// name principal host OP" lines, sorted.
func describeACLs(t *testing.T, adm *kadm.Client, f *kadm.ACLBuilder) ([]string, error) {
	t.Helper()
	results, err := adm.DescribeACLs(testContext(t), f)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range results {
		if r.Err != nil {
			return nil, r.Err
		}
		for _, d := range r.Described {
			out = append(out, fmt.Sprintf("%s %s %s %s %s %s %s", d.Permission, d.Type, d.Pattern, d.Name, d.Principal, d.Host, d.Operation))
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func anyACL() *kadm.ACLBuilder {
	return kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).
		Allow().AllowHosts().Deny().DenyHosts()
}

// TestACLAdminAPI manages ACLs with kadm: who may, every resource type,
// LITERAL and PREFIXED, ALLOW and DENY, the MATCH and ANY filters, Kafka's
// validation, idempotent creation, deletion by filter, and tenants apart.
func TestACLAdminAPI(t *testing.T) {
	h := startSecuredBroker(t, nil)
	admin := adminAs(t, h, "a-admin")
	alice := adminAs(t, h, "alice")

	// Without ALTER or DESCRIBE on the cluster, nothing.
	if _, err := describeACLs(t, alice, anyACL()); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice describing ACLs: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	res, err := alice.CreateACLs(testContext(t), kadm.NewACLs().Topics("x").Operations(kadm.OpRead).Allow("User:alice").AllowHosts("*").ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(res) != 1 || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice creating an ACL: %v %+v, want CLUSTER_AUTHORIZATION_FAILED", err, res)
	}

	createACLs(t, admin,
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "orders", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpRead},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "ord", pattern: kadm.ACLPatternPrefixed, principal: "User:alice", op: kadm.OpWrite},
		aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "*", pattern: kadm.ACLPatternLiteral, principal: "User:bob", op: kadm.OpAll, deny: true},
		aclSpec{resource: kmsg.ACLResourceTypeGroup, name: "g", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpRead, host: "127.0.0.1"},
		aclSpec{resource: kmsg.ACLResourceTypeCluster, name: "kafka-cluster", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpDescribe},
		aclSpec{resource: kmsg.ACLResourceTypeTransactionalId, name: "tx-", pattern: kadm.ACLPatternPrefixed, principal: "User:alice", op: kadm.OpWrite},
		aclSpec{resource: kmsg.ACLResourceTypeDelegationToken, name: "tok", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpDescribe},
	)
	// Creating an existing ACL again is no error and no duplicate.
	createACLs(t, admin, aclSpec{resource: kmsg.ACLResourceTypeTopic, name: "orders", pattern: kadm.ACLPatternLiteral, principal: "User:alice", op: kadm.OpRead})

	all := []string{
		"ALLOW CLUSTER LITERAL kafka-cluster User:alice * DESCRIBE",
		"ALLOW DELEGATION_TOKEN LITERAL tok User:alice * DESCRIBE",
		"ALLOW GROUP LITERAL g User:alice 127.0.0.1 READ",
		"ALLOW TOPIC LITERAL orders User:alice * READ",
		"ALLOW TOPIC PREFIXED ord User:alice * WRITE",
		"ALLOW TRANSACTIONAL_ID PREFIXED tx- User:alice * WRITE",
		"DENY TOPIC LITERAL * User:bob * ALL",
	}
	for _, c := range []struct {
		name   string
		filter *kadm.ACLBuilder
		want   []string
	}{
		{"any", anyACL(), all},
		{"match orders", kadm.NewACLs().Topics("orders").ResourcePatternType(kadm.ACLPatternMatch).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[3], all[4], all[6]}},
		{"match other topic", kadm.NewACLs().Topics("payments").ResourcePatternType(kadm.ACLPatternMatch).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[6]}},
		{"prefixed", kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[4], all[5]}},
		{"literal name, any pattern", kadm.NewACLs().Topics("ord").ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[4]}},
		{"denied principal", kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Deny("User:bob").DenyHosts(),
			[]string{all[6]}},
		{"write", kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpWrite).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[4], all[5]}},
		{"host", kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().AllowHosts("127.0.0.1"),
			[]string{all[2]}},
		{"groups", kadm.NewACLs().Groups().ResourcePatternType(kadm.ACLPatternAny).Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts(),
			[]string{all[2]}},
	} {
		got, err := describeACLs(t, admin, c.filter)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("describe %s: %v (%v), want %v", c.name, got, err, c.want)
		}
	}
	// alice may describe (DESCRIBE on the cluster) but not change.
	if got, err := describeACLs(t, alice, anyACL()); err != nil || len(got) != len(all) {
		t.Fatalf("alice describing with DESCRIBE on the cluster: %v %v", got, err)
	}

	// Kafka's validation, one creation at a time.
	creation := func(f func(c *kmsg.CreateACLsRequestCreation)) kmsg.CreateACLsRequestCreation {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "t", kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = "User:alice", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		f(&c)
		return c
	}
	req := kmsg.NewPtrCreateACLsRequest()
	req.Creations = []kmsg.CreateACLsRequestCreation{
		creation(func(c *kmsg.CreateACLsRequestCreation) {
			c.ResourceType = kmsg.ACLResourceTypeGroup
			c.Operation = kmsg.ACLOperationWrite
		}),
		creation(func(c *kmsg.CreateACLsRequestCreation) {
			c.ResourceType, c.ResourceName = kmsg.ACLResourceTypeCluster, "lkc-a"
		}),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.Principal = "alice" }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.Host = "example.com" }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypeMatch }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceType = kmsg.ACLResourceTypeAny }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.PermissionType = kmsg.ACLPermissionTypeAny }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceName = "" }),
		creation(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceName = "valid" }),
	}
	resp := rawRequest[*kmsg.CreateACLsResponse](t, clientAs(t, h, "a-admin"), req)
	for i, r := range resp.Results {
		want := kerr.InvalidRequest.Code
		if i == len(resp.Results)-1 {
			want = 0
		}
		if r.ErrorCode != want || (want != 0 && (r.ErrorMessage == nil || *r.ErrorMessage == "")) {
			t.Errorf("creation %d: code %d message %v, want %d with a reason", i, r.ErrorCode, r.ErrorMessage, want)
		}
	}

	// Delete by filter: the prefixed ones, reported with what they were.
	deleted, err := admin.DeleteACLs(testContext(t), kadm.NewACLs().AnyResource().ResourcePatternType(kadm.ACLPatternPrefixed).
		Operations(kadm.OpAny).Allow().AllowHosts().Deny().DenyHosts())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range deleted {
		for _, d := range r.Deleted {
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"ord", "tx-"}) {
		t.Fatalf("deleted %v, want ord and tx-", names)
	}
	if got, _ := describeACLs(t, admin, anyACL()); len(got) != len(all)-2+1 { // +1: "valid"
		t.Fatalf("after deleting: %v", got)
	}

	// The other cluster has its own ACLs, none of these.
	other := adminAs(t, h, "b-admin")
	if got, err := describeACLs(t, other, anyACL()); err != nil || len(got) != 0 {
		t.Fatalf("lkc-b sees ACLs %v (%v), want none", got, err)
	}
	if d, err := other.DeleteACLs(testContext(t), anyACL()); err != nil || len(d) == 0 || len(d[0].Deleted) != 0 {
		t.Fatalf("lkc-b deleting every ACL touched lkc-a's: %+v %v", d, err)
	}
	if got, _ := describeACLs(t, admin, anyACL()); len(got) != len(all)-1 {
		t.Fatalf("lkc-a's ACLs after lkc-b deleted its own: %v", got)
	}
}

// Without an authorizer, ACL APIs answer SECURITY_DISABLED, as Kafka does.
func TestACLAPIsWithoutAuthorizer(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{Quiet: true})
	if _, err := describeACLs(t, h.Admin(t), anyACL()); !errors.Is(err, kerr.SecurityDisabled) {
		t.Fatalf("describe ACLs without an authorizer: %v, want SECURITY_DISABLED", err)
	}
}

func ptr(s string) *string { return &s }

// quotaLines writes described quotas as sorted "entity key=value" lines.
func quotaLines(qs kadm.DescribedClientQuotas) []string {
	var out []string
	for _, q := range qs {
		var vals []string
		for _, v := range q.Values {
			vals = append(vals, fmt.Sprintf("%s=%v", v.Key, v.Value))
		}
		slices.Sort(vals)
		out = append(out, q.Entity.String()+" "+strings.Join(vals, ","))
	}
	slices.Sort(out)
	return out
}

// TestClientQuotasAPI stores and describes client quotas with kadm: user
// and client-id entities with defaults, Kafka's validation, validate_only,
// exact, default and any matches, strict, removal, and tenants apart.
func TestClientQuotasAPI(t *testing.T) {
	h := startSecuredBroker(t, nil)
	admin := adminAs(t, h, "a-admin")
	alice := adminAs(t, h, "alice")
	ctx := testContext(t)

	if _, err := alice.DescribeClientQuotas(ctx, false, nil); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice describing quotas: %v, want CLUSTER_AUTHORIZATION_FAILED", err)
	}
	user := func(name *string) kadm.ClientQuotaEntityComponent {
		return kadm.ClientQuotaEntityComponent{Type: "user", Name: name}
	}
	client := func(name *string) kadm.ClientQuotaEntityComponent {
		return kadm.ClientQuotaEntityComponent{Type: "client-id", Name: name}
	}
	set := func(key string, v float64) kadm.AlterClientQuotaOp {
		return kadm.AlterClientQuotaOp{Key: key, Value: v}
	}
	if res, err := alice.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{Entity: kadm.ClientQuotaEntity{user(ptr("alice"))},
		Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}}}); err != nil || !errors.Is(res[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alice altering quotas: %+v %v, want CLUSTER_AUTHORIZATION_FAILED", res, err)
	}

	entries := []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{user(ptr("alice"))}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1048576), set("consumer_byte_rate", 2097152)}},
		{Entity: kadm.ClientQuotaEntity{user(nil)}, Ops: []kadm.AlterClientQuotaOp{set("request_percentage", 50)}},
		{Entity: kadm.ClientQuotaEntity{user(ptr("alice")), client(ptr("app"))}, Ops: []kadm.AlterClientQuotaOp{set("controller_mutation_rate", 1.5)}},
		{Entity: kadm.ClientQuotaEntity{client(nil)}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 100)}},
		// Invalid entries, refused one by one.
		{Entity: kadm.ClientQuotaEntity{user(ptr("x"))}, Ops: []kadm.AlterClientQuotaOp{set("bytes_per_fortnight", 1)}},
		{Entity: kadm.ClientQuotaEntity{user(ptr("x"))}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 0)}},
		{Entity: kadm.ClientQuotaEntity{user(ptr("x"))}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1.5)}},
		{Entity: kadm.ClientQuotaEntity{user(ptr("x")), user(ptr("y"))}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}},
		{Entity: kadm.ClientQuotaEntity{{Type: "ip", Name: ptr("10.0.0.1")}}, Ops: []kadm.AlterClientQuotaOp{set("connection_creation_rate", 1)}},
		{Entity: kadm.ClientQuotaEntity{}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1)}},
		{Entity: kadm.ClientQuotaEntity{user(ptr("x"))}, Ops: []kadm.AlterClientQuotaOp{set("producer_byte_rate", 1), set("producer_byte_rate", 2)}},
	}
	// validate_only answers the same and stores nothing.
	for _, validate := range []bool{true, false} {
		alter := admin.AlterClientQuotas
		if validate {
			alter = admin.ValidateAlterClientQuotas
		}
		res, err := alter(ctx, entries)
		if err != nil || len(res) != len(entries) {
			t.Fatalf("alter quotas (validate %v): %v %+v", validate, err, res)
		}
		for i, r := range res {
			if valid := i < 4; (r.Err == nil) != valid || (!valid && !errors.Is(r.Err, kerr.InvalidRequest)) {
				t.Errorf("entry %d %v (validate %v): %v %s, want valid=%v", i, entries[i].Entity, validate, r.Err, r.ErrMessage, valid)
			}
		}
		if validate {
			if got, err := admin.DescribeClientQuotas(ctx, false, nil); err != nil || len(got) != 0 {
				t.Fatalf("validate_only stored quotas: %v %v", quotaLines(got), err)
			}
		}
	}

	aliceQ := "{user=alice} consumer_byte_rate=2.097152e+06,producer_byte_rate=1.048576e+06"
	defaultUser := "{user=<default>} request_percentage=50"
	aliceApp := "{user=alice, client-id=app} controller_mutation_rate=1.5"
	defaultClient := "{client-id=<default>} producer_byte_rate=100"
	exact := func(typ, name string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchName: ptr(name), MatchType: kmsg.QuotasMatchTypeExact}
	}
	def := func(typ string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchType: kmsg.QuotasMatchTypeDefault}
	}
	anyOf := func(typ string) kadm.DescribeClientQuotaComponent {
		return kadm.DescribeClientQuotaComponent{Type: typ, MatchType: kmsg.QuotasMatchTypeAny}
	}
	for _, c := range []struct {
		name   string
		strict bool
		filter []kadm.DescribeClientQuotaComponent
		want   []string
	}{
		{"everything", false, nil, []string{aliceQ, aliceApp, defaultClient, defaultUser}},
		{"strict nothing", true, nil, nil},
		{"user alice", false, []kadm.DescribeClientQuotaComponent{exact("user", "alice")}, []string{aliceQ, aliceApp}},
		{"user alice strict", true, []kadm.DescribeClientQuotaComponent{exact("user", "alice")}, []string{aliceQ}},
		{"default user", false, []kadm.DescribeClientQuotaComponent{def("user")}, []string{defaultUser}},
		{"any user", false, []kadm.DescribeClientQuotaComponent{anyOf("user")}, []string{aliceQ, aliceApp, defaultUser}},
		{"any client strict", true, []kadm.DescribeClientQuotaComponent{anyOf("client-id")}, []string{defaultClient}},
		{"alice and app", true, []kadm.DescribeClientQuotaComponent{exact("user", "alice"), exact("client-id", "app")}, []string{aliceApp}},
		{"unknown user", false, []kadm.DescribeClientQuotaComponent{exact("user", "mallory")}, nil},
	} {
		got, err := admin.DescribeClientQuotas(ctx, c.strict, c.filter)
		slices.Sort(c.want)
		if lines := quotaLines(got); err != nil || !slices.Equal(lines, c.want) {
			t.Errorf("describe %s: %q (%v), want %q", c.name, lines, err, c.want)
		}
	}
	for _, bad := range [][]kadm.DescribeClientQuotaComponent{
		{exact("user", "a"), def("user")},
		{{Type: "user", MatchType: kmsg.QuotasMatchTypeExact}},
		{{Type: "tenant", MatchType: kmsg.QuotasMatchTypeAny}},
		{anyOf("ip"), anyOf("user")},
	} {
		if _, err := admin.DescribeClientQuotas(ctx, false, bad); !errors.Is(err, kerr.InvalidRequest) {
			t.Errorf("describe with filter %+v: %v, want INVALID_REQUEST", bad, err)
		}
	}

	// Removing values; the entity goes with its last one.
	res, err := admin.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{
		{Entity: kadm.ClientQuotaEntity{user(ptr("alice"))}, Ops: []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Remove: true}}},
		{Entity: kadm.ClientQuotaEntity{user(nil)}, Ops: []kadm.AlterClientQuotaOp{{Key: "request_percentage", Remove: true}, {Key: "consumer_byte_rate", Remove: true}}},
	})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("remove: %+v %v", res, err)
	}
	got, _ := admin.DescribeClientQuotas(ctx, false, []kadm.DescribeClientQuotaComponent{anyOf("user")})
	if lines := quotaLines(got); !slices.Equal(lines, []string{aliceApp, "{user=alice} consumer_byte_rate=2.097152e+06"}) {
		t.Fatalf("after removal: %q", lines)
	}

	// The other cluster keeps its own.
	if got, err := adminAs(t, h, "b-admin").DescribeClientQuotas(ctx, false, nil); err != nil || len(got) != 0 {
		t.Fatalf("lkc-b sees quotas %q (%v), want none", quotaLines(got), err)
	}
}
