package tiered

import (
	"context"
	"reflect"
	"testing"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

// forEachMetadataDB runs test on each metadata DB engine (with file://
// objects: ACLs and quotas live in the metadata DB only).
func forEachMetadataDB(t *testing.T, test func(t *testing.T, s *Store)) {
	for _, b := range testBackends {
		if b.objects != "file" {
			continue
		}
		t.Run(b.name, func(t *testing.T) { test(t, openStore(t, backendConfig(t, b))) })
	}
}

func TestACLs(t *testing.T) {
	forEachMetadataDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		read := acl.Binding{ResourceType: acl.ResourceTopic, ResourceName: "orders", PatternType: acl.PatternLiteral,
			Principal: "User:a", Host: "*", Operation: acl.OpRead, Permission: acl.PermissionAllow}
		write := read
		write.ResourceName, write.PatternType, write.Operation = "ord", acl.PatternPrefixed, acl.OpWrite
		denyAll := read
		denyAll.Principal, denyAll.Operation, denyAll.Permission = "User:*", acl.OpAll, acl.PermissionDeny
		group := read
		group.ResourceType = acl.ResourceGroup

		if err := s.CreateACLs(ctx, "lkc-a", []acl.Binding{read, write, denyAll}); err != nil {
			t.Fatal(err)
		}
		// Creating again changes nothing; another cluster is apart.
		if err := s.CreateACLs(ctx, "lkc-a", []acl.Binding{read}); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateACLs(ctx, "lkc-b", []acl.Binding{group}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ACLs(ctx, "lkc-a")
		if err != nil {
			t.Fatal(err)
		}
		if want := []acl.Binding{write, denyAll, read}; !reflect.DeepEqual(got, want) {
			t.Fatalf("ACLs of lkc-a = %v, want %v", got, want)
		}
		if got, _ := s.ACLs(ctx, "lkc-c"); len(got) != 0 {
			t.Fatalf("ACLs of an unknown cluster = %v", got)
		}

		// A filter matching everything of lkc-a, after one matching
		// read: each binding is reported once, under the first filter.
		name := "orders"
		byName := acl.Filter{ResourceType: acl.ResourceTopic, ResourceName: &name, PatternType: acl.PatternMatch,
			Operation: acl.OpRead, Permission: acl.PermissionAny}
		everything := acl.Filter{ResourceType: acl.ResourceAny, PatternType: acl.PatternAny, Operation: acl.OpAny, Permission: acl.PermissionAny}
		deleted, err := s.DeleteACLs(ctx, "lkc-a", []acl.Filter{byName, everything})
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]acl.Binding{{read}, {write, denyAll}}; !reflect.DeepEqual(deleted, want) {
			t.Fatalf("deleted %v, want %v", deleted, want)
		}
		if got, _ := s.ACLs(ctx, "lkc-a"); len(got) != 0 {
			t.Fatalf("ACLs left in lkc-a: %v", got)
		}
		if got, _ := s.ACLs(ctx, "lkc-b"); !reflect.DeepEqual(got, []acl.Binding{group}) {
			t.Fatalf("deleting in lkc-a touched lkc-b: %v", got)
		}
	})
}

func TestClientQuotas(t *testing.T) {
	forEachMetadataDB(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		alice := storage.QuotaEntity{User: &storage.QuotaName{Name: "alice"}}
		defaultUser := storage.QuotaEntity{User: &storage.QuotaName{Default: true}}
		aliceApp := storage.QuotaEntity{User: &storage.QuotaName{Name: "alice"}, ClientID: &storage.QuotaName{Name: ""}}
		err := s.AlterClientQuotas(ctx, "lkc-a", []storage.QuotaChange{
			{Entity: alice, Set: map[string]float64{"producer_byte_rate": 1048576, "request_percentage": 12.5}},
			{Entity: defaultUser, Set: map[string]float64{"consumer_byte_rate": 100}},
			{Entity: aliceApp, Set: map[string]float64{"controller_mutation_rate": 0.1}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AlterClientQuotas(ctx, "lkc-b", []storage.QuotaChange{{Entity: alice, Set: map[string]float64{"producer_byte_rate": 1}}}); err != nil {
			t.Fatal(err)
		}
		// Update one value, remove another (and one never set).
		if err := s.AlterClientQuotas(ctx, "lkc-a", []storage.QuotaChange{
			{Entity: alice, Set: map[string]float64{"producer_byte_rate": 2048}, Remove: []string{"request_percentage", "consumer_byte_rate"}},
		}); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClientQuotas(ctx, "lkc-a")
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.ClientQuota{
			{Entity: alice, Values: map[string]float64{"producer_byte_rate": 2048}},
			{Entity: aliceApp, Values: map[string]float64{"controller_mutation_rate": 0.1}},
			{Entity: defaultUser, Values: map[string]float64{"consumer_byte_rate": 100}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("quotas of lkc-a = %+v, want %+v", got, want)
		}
		// Removing the last value removes the entity.
		if err := s.AlterClientQuotas(ctx, "lkc-a", []storage.QuotaChange{{Entity: defaultUser, Remove: []string{"consumer_byte_rate"}}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ClientQuotas(ctx, "lkc-a"); len(got) != 2 {
			t.Fatalf("quotas of lkc-a after removal = %+v", got)
		}
		if got, _ := s.ClientQuotas(ctx, "lkc-b"); len(got) != 1 || got[0].Values["producer_byte_rate"] != 1 {
			t.Fatalf("quotas of lkc-b = %+v", got)
		}
	})
}
