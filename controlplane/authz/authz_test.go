package authz

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ROLES.md from the role table")

const org = "0c8f3f4e-2b0c-4c7e-9a55-5d6f1b2a7e10"

var (
	orgCRN   = Organization(org)
	env1     = orgCRN.Child(TypeEnvironment, "env-1")
	env2     = orgCRN.Child(TypeEnvironment, "env-2")
	cluster1 = env1.Child(TypeCloudCluster, "lkc-1")
	kafka1   = cluster1.Child(TypeKafka, "lkc-1")
	cluster2 = env2.Child(TypeCloudCluster, "lkc-2")
	kafka2   = cluster2.Child(TypeKafka, "lkc-2")
	orders   = kafka1.Child(TypeTopic, "orders-eu")
	payments = kafka1.Child(TypeTopic, "payments")
	group1   = kafka1.Child(TypeGroup, "billing")
	txn1     = kafka1.Child(TypeTransactionalID, "billing-tx")
	sa1      = orgCRN.Child(TypeServiceAccount, "sa-1")
)

func TestCRNRoundTrip(t *testing.T) {
	for _, c := range []CRN{orgCRN, orders, kafka1.Child(TypeGroup, "a/b=c*%d"), orgCRN.Child(TypeAPIKey, "ABCD")} {
		s := c.String()
		back, err := ParseCRN(s)
		if err != nil {
			t.Fatalf("ParseCRN(%q): %v", s, err)
		}
		if back.String() != s || back.Last() != c.Last() {
			t.Fatalf("round trip of %q gave %q (%+v)", s, back, back.Last())
		}
	}
	if got := orders.String(); got != "crn://affluent/organization="+org+"/environment=env-1/cloud-cluster=lkc-1/kafka=lkc-1/topic=orders-eu" {
		t.Fatalf("topic CRN = %s", got)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{
		"", "crn://affluent/", "crn://other/organization=o", "crn://affluent/environment=env-1",
		"crn://affluent/organization=o/topic=t", "crn://affluent/organization=o/bogus=x",
		"crn://affluent/organization=o/environment", "crn://affluent/organization=*/environment=e",
		"crn://affluent/organization=o/environment=",
		"crn://affluent/organization=o/environment=e/cloud-cluster=c/kafka=c/topic=a*b",
	} {
		if _, err := ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted", s)
		}
	}
	if _, err := ParseCRN(kafka1.String() + "/topic=orders-*"); err == nil {
		t.Error("ParseCRN accepted a wildcard")
	}
}

func TestPatternMatching(t *testing.T) {
	tests := []struct {
		pattern  string
		resource CRN
		want     bool
	}{
		{orgCRN.String(), orders, true},
		{env1.String(), orders, true},
		{env2.String(), orders, false},
		{kafka1.String() + "/topic=orders-*", orders, true},
		{kafka1.String() + "/topic=orders-*", payments, false},
		{kafka1.String() + "/topic=*", payments, true},
		{kafka1.String() + "/topic=*", group1, false},
		{kafka1.String() + "/topic=orders-eu", orders, true},
		{kafka1.String() + "/topic=orders", orders, false},
		{orders.String(), kafka1, false},
		{kafka2.String() + "/topic=*", orders, false},
	}
	for _, tt := range tests {
		p, err := ParsePattern(tt.pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Matches(tt.resource); got != tt.want {
			t.Errorf("%s matches %s = %v, want %v", tt.pattern, tt.resource, got, tt.want)
		}
	}
}

func TestDefaultDeny(t *testing.T) {
	const p = "User:sa-1"
	if d := Decide(p, nil, TopicRead, orders.String()); d.Allowed {
		t.Fatal("no bindings allowed")
	}
	other := []Binding{{Principal: "User:sa-2", RoleName: OrganizationAdmin, CRNPattern: orgCRN.String()}}
	if d := Decide(p, other, TopicRead, orders.String()); d.Allowed {
		t.Fatal("another principal's binding allowed")
	}
	bogus := []Binding{{Principal: p, RoleName: "SuperUser", CRNPattern: orgCRN.String()}}
	if d := Decide(p, bogus, TopicRead, orders.String()); d.Allowed {
		t.Fatal("unknown role allowed")
	}
	admin := []Binding{{Principal: p, RoleName: OrganizationAdmin, CRNPattern: orgCRN.String()}}
	if d := Decide(p, admin, "topic.fly", orders.String()); d.Allowed {
		t.Fatal("unknown action allowed")
	}
	if d := Decide(p, admin, TopicRead, "not a crn"); d.Allowed {
		t.Fatal("malformed resource allowed")
	}
	otherOrg := Organization("other").Child(TypeEnvironment, "env-1")
	if d := Decide(p, admin, EnvironmentDescribe, otherOrg.String()); d.Allowed {
		t.Fatal("admin of one organization allowed in another")
	}
}

// TestRoleMatrix checks each predefined role, bound where it usually is,
// against representative actions on resources inside and outside its scope.
func TestRoleMatrix(t *testing.T) {
	type check struct {
		action   Action
		resource CRN
	}
	checks := map[string]check{
		"org.update":             {OrganizationUpdate, orgCRN},
		"org.describe":           {OrganizationDescribe, orgCRN},
		"env.create":             {EnvironmentCreate, orgCRN},
		"env1.describe":          {EnvironmentDescribe, env1},
		"env1.update":            {EnvironmentUpdate, env1},
		"env1.delete":            {EnvironmentDelete, env1},
		"env2.describe":          {EnvironmentDescribe, env2},
		"cluster.create@env1":    {ClusterCreate, env1},
		"cluster1.describe":      {ClusterDescribe, cluster1},
		"cluster1.update":        {ClusterUpdate, cluster1},
		"cluster1.delete":        {ClusterDelete, cluster1},
		"cluster2.describe":      {ClusterDescribe, cluster2},
		"metrics@cluster1":       {MetricsRead, cluster1},
		"sa.create":              {ServiceAccountCreate, orgCRN},
		"sa1.describe":           {ServiceAccountDescribe, sa1},
		"apikey.create@cluster1": {APIKeyCreate, cluster1},
		"rolebinding@orders":     {RoleBindingCreate, orders},
		"rolebinding@org":        {RoleBindingCreate, orgCRN},
		"audit.read":             {AuditLogRead, orgCRN},
		"idp.create":             {IdentityProviderCreate, orgCRN},
		"acl.create@kafka1":      {ACLCreate, kafka1},
		"quota.create@kafka1":    {ClientQuotaCreate, kafka1},
		"kafka1.describe":        {KafkaClusterDescribe, kafka1},
		"kafka1.idempotent":      {KafkaClusterIdempotentWrite, kafka1},
		"orders.create":          {TopicCreate, orders},
		"orders.describe":        {TopicDescribe, orders},
		"orders.alter":           {TopicAlter, orders},
		"orders.delete":          {TopicDelete, orders},
		"orders.read":            {TopicRead, orders},
		"orders.write":           {TopicWrite, orders},
		"payments.read":          {TopicRead, payments},
		"payments.describe":      {TopicDescribe, payments},
		"group.read":             {GroupRead, group1},
		"group.delete":           {GroupDelete, group1},
		"txn.write":              {TransactionalIDWrite, txn1},
		"kafka2.topic.describe":  {TopicDescribe, kafka2.Child(TypeTopic, "orders-eu")},
	}
	ordersPattern := kafka1.String() + "/topic=orders-*"
	tests := []struct {
		role    string
		pattern string
		allowed []string // every other check must be denied
	}{
		{OrganizationAdmin, orgCRN.String(), keys(checks)},
		{EnvironmentAdmin, env1.String(), []string{"org.describe", "env1.describe", "env1.update",
			"cluster.create@env1", "cluster1.describe", "cluster1.update", "cluster1.delete", "metrics@cluster1",
			"apikey.create@cluster1", "rolebinding@orders", "acl.create@kafka1", "quota.create@kafka1",
			"kafka1.describe", "kafka1.idempotent", "orders.create", "orders.describe", "orders.alter",
			"orders.delete", "orders.read", "orders.write", "payments.read", "payments.describe",
			"group.read", "group.delete", "txn.write"}},
		{CloudClusterAdmin, cluster1.String(), []string{"org.describe", "env1.describe", "cluster1.describe",
			"cluster1.update", "metrics@cluster1", "apikey.create@cluster1", "rolebinding@orders",
			"acl.create@kafka1", "quota.create@kafka1", "kafka1.describe", "kafka1.idempotent",
			"orders.create", "orders.describe", "orders.alter", "orders.delete", "orders.read", "orders.write",
			"payments.read", "payments.describe", "group.read", "group.delete", "txn.write"}},
		{Operator, cluster1.String(), []string{"org.describe", "env1.describe", "cluster1.describe",
			"metrics@cluster1", "kafka1.describe", "orders.describe", "payments.describe"}},
		{MetricsViewer, env1.String(), []string{"org.describe", "env1.describe", "cluster1.describe",
			"metrics@cluster1", "kafka1.describe"}},
		{ResourceOwner, ordersPattern, []string{"org.describe", "env1.describe", "cluster1.describe",
			"kafka1.describe", "kafka1.idempotent", "rolebinding@orders", "orders.create", "orders.describe",
			"orders.alter", "orders.delete", "orders.read", "orders.write"}},
		{DeveloperRead, ordersPattern, []string{"org.describe", "env1.describe", "cluster1.describe",
			"kafka1.describe", "orders.describe", "orders.read"}},
		{DeveloperWrite, ordersPattern, []string{"org.describe", "env1.describe", "cluster1.describe",
			"kafka1.describe", "kafka1.idempotent", "orders.describe", "orders.write"}},
		{DeveloperManage, ordersPattern, []string{"org.describe", "env1.describe", "cluster1.describe",
			"kafka1.describe", "orders.create", "orders.describe", "orders.alter", "orders.delete"}},
	}
	const principal = "User:sa-dev"
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.role] = true
		if err := ValidateBinding(tt.role, tt.pattern); err != nil {
			t.Fatalf("binding %s on %s: %v", tt.role, tt.pattern, err)
		}
		bindings := []Binding{{Principal: principal, RoleName: tt.role, CRNPattern: tt.pattern}}
		allowed := map[string]bool{}
		for _, name := range tt.allowed {
			if _, ok := checks[name]; !ok {
				t.Fatalf("unknown check %q", name)
			}
			allowed[name] = true
		}
		for name, c := range checks {
			d := Decide(principal, bindings, c.action, c.resource.String())
			if d.Allowed != allowed[name] {
				t.Errorf("%s on %s: %s (%s on %s) allowed=%v, want %v (%s)",
					tt.role, tt.pattern, name, c.action, c.resource, d.Allowed, allowed[name], d.Reason)
			}
		}
	}
	for _, r := range Roles() {
		if !covered[r.Name] {
			t.Errorf("role %s has no row in the matrix", r.Name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestValidateBinding(t *testing.T) {
	tests := []struct {
		role, pattern string
		ok            bool
	}{
		{OrganizationAdmin, orgCRN.String(), true},
		{OrganizationAdmin, env1.String(), false},
		{EnvironmentAdmin, env1.String(), true},
		{CloudClusterAdmin, cluster1.String(), true},
		{CloudClusterAdmin, kafka1.String(), false},
		{DeveloperRead, kafka1.String() + "/topic=*", true},
		{DeveloperRead, kafka1.String() + "/topic=orders-*", true},
		{DeveloperRead, kafka1.String(), false},
		{DeveloperWrite, kafka1.String() + "/group=g", false},
		{DeveloperRead, cluster1.Child(TypeKafka, "lkc-9").String() + "/topic=t", false},
		{"Root", orgCRN.String(), false},
		{Operator, env1.String() + "*", false},
	}
	for _, tt := range tests {
		err := ValidateBinding(tt.role, tt.pattern)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateBinding(%s, %s) = %v, want ok=%v", tt.role, tt.pattern, err, tt.ok)
		}
	}
}

// A role binding being created is checked as a pattern: one may grant on a
// set of resources only when one's own binding covers all of it.
func TestGrantingNeedsCoverOfWholePattern(t *testing.T) {
	const p = "User:sa-owner"
	owner := Compile(p, []Binding{{Principal: p, RoleName: ResourceOwner, CRNPattern: kafka1.String() + "/topic=orders-*"}})
	narrower, _ := ParsePattern(kafka1.String() + "/topic=orders-eu-*")
	wider, _ := ParsePattern(kafka1.String() + "/topic=*")
	if !owner.DecideCRN(RoleBindingCreate, narrower).Allowed {
		t.Error("owner of orders-* may not grant on orders-eu-*")
	}
	if owner.DecideCRN(RoleBindingCreate, wider).Allowed {
		t.Error("owner of orders-* may grant on every topic")
	}
}

func TestRolesMarkdownIsCurrent(t *testing.T) {
	want := RolesMarkdown()
	if *update {
		if err := os.WriteFile("ROLES.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("ROLES.md")
	if err != nil || string(got) != want {
		t.Fatalf("ROLES.md is stale: run go test ./controlplane/authz -update")
	}
}
