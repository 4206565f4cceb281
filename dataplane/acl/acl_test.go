package acl

import (
	"strings"
	"testing"
)

func allow(t ResourceType, name string, p PatternType, principal string, op Operation) Binding {
	return Binding{ResourceType: t, ResourceName: name, PatternType: p, Principal: principal, Host: Wildcard, Operation: op, Permission: PermissionAllow}
}

func deny(t ResourceType, name string, p PatternType, principal string, op Operation) Binding {
	b := allow(t, name, p, principal, op)
	b.Permission = PermissionDeny
	return b
}

func TestDecide(t *testing.T) {
	const alice, bob = "User:alice", "User:bob"
	tests := []struct {
		name      string
		acls      []Binding
		principal string
		host      string
		res       ResourceType
		resName   string
		op        Operation
		want      Decision
	}{
		{"no acls", nil, alice, "10.0.0.1", ResourceTopic, "t", OpRead, NoMatch},
		{"literal allow", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpRead)}, alice, "", ResourceTopic, "t", OpRead, Allowed},
		{"literal is not prefix", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpRead)}, alice, "", ResourceTopic, "tt", OpRead, NoMatch},
		{"other principal", []Binding{allow(ResourceTopic, "t", PatternLiteral, bob, OpRead)}, alice, "", ResourceTopic, "t", OpRead, NoMatch},
		{"wildcard principal", []Binding{allow(ResourceTopic, "t", PatternLiteral, WildcardPrincipal, OpRead)}, alice, "", ResourceTopic, "t", OpRead, Allowed},
		{"wildcard name", []Binding{allow(ResourceTopic, "*", PatternLiteral, alice, OpWrite)}, alice, "", ResourceTopic, "anything", OpWrite, Allowed},
		{"prefixed", []Binding{allow(ResourceTopic, "orders.", PatternPrefixed, alice, OpWrite)}, alice, "", ResourceTopic, "orders.eu", OpWrite, Allowed},
		{"prefixed miss", []Binding{allow(ResourceTopic, "orders.", PatternPrefixed, alice, OpWrite)}, alice, "", ResourceTopic, "order", OpWrite, NoMatch},
		{"prefixed * is literal text", []Binding{allow(ResourceTopic, "*", PatternPrefixed, alice, OpWrite)}, alice, "", ResourceTopic, "x", OpWrite, NoMatch},
		{"other type", []Binding{allow(ResourceGroup, "t", PatternLiteral, alice, OpRead)}, alice, "", ResourceTopic, "t", OpRead, NoMatch},
		{"other op", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpWrite)}, alice, "", ResourceTopic, "t", OpRead, NoMatch},
		{"all", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpAll)}, alice, "", ResourceTopic, "t", OpDelete, Allowed},
		{"read implies describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpRead)}, alice, "", ResourceTopic, "t", OpDescribe, Allowed},
		{"write implies describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpWrite)}, alice, "", ResourceTopic, "t", OpDescribe, Allowed},
		{"delete implies describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpDelete)}, alice, "", ResourceTopic, "t", OpDescribe, Allowed},
		{"alter implies describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpAlter)}, alice, "", ResourceTopic, "t", OpDescribe, Allowed},
		{"create does not imply describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpCreate)}, alice, "", ResourceTopic, "t", OpDescribe, NoMatch},
		{"alter_configs implies describe_configs", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpAlterConfigs)}, alice, "", ResourceTopic, "t", OpDescribeConfigs, Allowed},
		{"describe implies nothing", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpDescribe)}, alice, "", ResourceTopic, "t", OpRead, NoMatch},
		{"deny wins", []Binding{allow(ResourceTopic, "*", PatternLiteral, alice, OpAll), deny(ResourceTopic, "t", PatternLiteral, alice, OpWrite)}, alice, "", ResourceTopic, "t", OpWrite, Denied},
		{"deny all wins", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpRead), deny(ResourceTopic, "t", PatternPrefixed, WildcardPrincipal, OpAll)}, alice, "", ResourceTopic, "t", OpRead, Denied},
		{"deny read leaves describe", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpDescribe), deny(ResourceTopic, "t", PatternLiteral, alice, OpRead)}, alice, "", ResourceTopic, "t", OpDescribe, Allowed},
		{"deny of another principal", []Binding{allow(ResourceTopic, "t", PatternLiteral, alice, OpRead), deny(ResourceTopic, "t", PatternLiteral, bob, OpRead)}, alice, "", ResourceTopic, "t", OpRead, Allowed},
		{"host matches", []Binding{{ResourceTopic, "t", PatternLiteral, alice, "10.0.0.1", OpRead, PermissionAllow}}, alice, "10.0.0.1", ResourceTopic, "t", OpRead, Allowed},
		{"host differs", []Binding{{ResourceTopic, "t", PatternLiteral, alice, "10.0.0.1", OpRead, PermissionAllow}}, alice, "10.0.0.2", ResourceTopic, "t", OpRead, NoMatch},
		{"ipv6 canonical", []Binding{{ResourceTopic, "t", PatternLiteral, alice, "::1", OpRead, PermissionAllow}}, alice, "0:0::1", ResourceTopic, "t", OpRead, Allowed},
		{"cluster", []Binding{allow(ResourceCluster, ClusterName, PatternLiteral, alice, OpIdempotentWrite)}, alice, "", ResourceCluster, ClusterName, OpIdempotentWrite, Allowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Select(tt.acls, tt.principal, tt.host).Decide(tt.res, tt.resName, tt.op); got != tt.want {
				t.Fatalf("Decide(%s %q %s) = %d, want %d", tt.res, tt.resName, tt.op, got, tt.want)
			}
		})
	}
}

func TestAllowsAnyOf(t *testing.T) {
	const p = "User:p"
	tests := []struct {
		name string
		acls []Binding
		want bool
	}{
		{"none", nil, false},
		{"literal write", []Binding{allow(ResourceTopic, "t", PatternLiteral, p, OpWrite)}, true},
		{"read is not write", []Binding{allow(ResourceTopic, "t", PatternLiteral, p, OpRead)}, false},
		{"all", []Binding{allow(ResourceTopic, "t", PatternPrefixed, p, OpAll)}, true},
		{"denied by wildcard", []Binding{allow(ResourceTopic, "t", PatternLiteral, p, OpWrite), deny(ResourceTopic, "*", PatternLiteral, p, OpWrite)}, false},
		{"denied literally", []Binding{allow(ResourceTopic, "t", PatternLiteral, p, OpWrite), deny(ResourceTopic, "t", PatternLiteral, p, OpWrite)}, false},
		{"prefix denied by shorter prefix", []Binding{allow(ResourceTopic, "ab", PatternPrefixed, p, OpWrite), deny(ResourceTopic, "a", PatternPrefixed, p, OpAll)}, false},
		{"prefix partly denied", []Binding{allow(ResourceTopic, "a", PatternPrefixed, p, OpWrite), deny(ResourceTopic, "ab", PatternLiteral, p, OpWrite)}, true},
		{"group write is not topic", []Binding{allow(ResourceGroup, "g", PatternLiteral, p, OpAll)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Select(tt.acls, p, "127.0.0.1").AllowsAnyOf(ResourceTopic, OpWrite); got != tt.want {
				t.Fatalf("AllowsAnyOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFilterMatches(t *testing.T) {
	str := func(s string) *string { return &s }
	lit := allow(ResourceTopic, "orders", PatternLiteral, "User:a", OpRead)
	pre := allow(ResourceTopic, "ord", PatternPrefixed, "User:a", OpWrite)
	wild := deny(ResourceTopic, "*", PatternLiteral, "User:b", OpAll)
	grp := allow(ResourceGroup, "orders", PatternLiteral, "User:a", OpRead)
	all := []Binding{lit, pre, wild, grp}
	any := Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}
	with := func(f func(*Filter)) Filter { c := any; f(&c); return c }
	tests := []struct {
		name   string
		filter Filter
		want   []Binding
	}{
		{"everything", any, all},
		{"topics", with(func(f *Filter) { f.ResourceType = ResourceTopic }), []Binding{lit, pre, wild}},
		{"any pattern compares names", with(func(f *Filter) { f.ResourceName = str("orders") }), []Binding{lit, grp}},
		{"literal only", with(func(f *Filter) { f.PatternType = PatternLiteral; f.ResourceName = str("orders") }), []Binding{lit, grp}},
		{"prefixed only", with(func(f *Filter) { f.PatternType = PatternPrefixed }), []Binding{pre}},
		{"match", with(func(f *Filter) {
			f.ResourceType = ResourceTopic
			f.PatternType = PatternMatch
			f.ResourceName = str("orders")
		}), []Binding{lit, pre, wild}},
		{"match other name", with(func(f *Filter) { f.PatternType = PatternMatch; f.ResourceName = str("x") }), []Binding{wild}},
		{"principal", with(func(f *Filter) { f.Principal = str("User:b") }), []Binding{wild}},
		{"host", with(func(f *Filter) { f.Host = str("10.0.0.1") }), nil},
		{"operation", with(func(f *Filter) { f.Operation = OpWrite }), []Binding{pre}},
		{"permission", with(func(f *Filter) { f.Permission = PermissionDeny }), []Binding{wild}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Binding
			for _, b := range all {
				if tt.filter.Matches(b) {
					got = append(got, b)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("matched %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("matched %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := allow(ResourceTopic, "t", PatternLiteral, "User:a", OpRead)
	with := func(f func(*Binding)) Binding { c := ok; f(&c); return c }
	tests := []struct {
		name    string
		b       Binding
		wantErr string
	}{
		{"ok", ok, ""},
		{"any type", with(func(b *Binding) { b.ResourceType = ResourceAny }), "resource type"},
		{"user type", with(func(b *Binding) { b.ResourceType = ResourceUser }), "resource type"},
		{"match pattern", with(func(b *Binding) { b.PatternType = PatternMatch }), "pattern type"},
		{"any permission", with(func(b *Binding) { b.Permission = PermissionAny }), "permission"},
		{"any op", with(func(b *Binding) { b.Operation = OpAny }), "not defined"},
		{"op not on group", with(func(b *Binding) { b.ResourceType = ResourceGroup; b.Operation = OpWrite }), "not defined"},
		{"all on group", with(func(b *Binding) { b.ResourceType = ResourceGroup; b.Operation = OpAll }), ""},
		{"empty name", with(func(b *Binding) { b.ResourceName = "" }), "empty"},
		{"cluster name", with(func(b *Binding) { b.ResourceType = ResourceCluster; b.Operation = OpAlter; b.ResourceName = "lkc-1" }), "kafka-cluster"},
		{"cluster", with(func(b *Binding) {
			b.ResourceType = ResourceCluster
			b.Operation = OpAlter
			b.ResourceName = ClusterName
		}), ""},
		{"principal", with(func(b *Binding) { b.Principal = "alice" }), "principal"},
		{"host", with(func(b *Binding) { b.Host = "example.com" }), "host"},
		{"ip host", with(func(b *Binding) { b.Host = "10.1.2.3" }), ""},
		{"delegation token", with(func(b *Binding) { b.ResourceType = ResourceDelegationToken; b.Operation = OpDescribe }), ""},
		{"transactional id", with(func(b *Binding) { b.ResourceType = ResourceTransactionalID; b.Operation = OpWrite }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestNames(t *testing.T) {
	if OpDescribeConfigs.String() != "DESCRIBE_CONFIGS" || ResourceTransactionalID.String() != "TRANSACTIONAL_ID" ||
		PatternPrefixed.String() != "PREFIXED" || PermissionDeny.String() != "DENY" || Operation(99).String() != "UNKNOWN(99)" {
		t.Fatal("names differ from Kafka's")
	}
	if err := (Filter{ResourceType: ResourceAny, PatternType: PatternAny, Operation: OpAny, Permission: PermissionAny}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Filter{ResourceType: ResourceAny, PatternType: PatternUnknown, Operation: OpAny, Permission: PermissionAny}).Validate(); err == nil {
		t.Fatal("unknown pattern type accepted in a filter")
	}
}
