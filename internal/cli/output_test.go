package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/affluent-io/affluent/sdk"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the output of the code")

var (
	created = timestamppb.New(time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC))
	updated = timestamppb.New(time.Date(2025, 3, 15, 8, 0, 0, 0, time.UTC))
)

func fixtureEnvironments() []*sdk.Environment {
	return []*sdk.Environment{
		{Id: "env-abc123", DisplayName: "default", Description: "Created by affluent dev", CreateTime: created, UpdateTime: created, Etag: "e1"},
		{Id: "env-def456", DisplayName: "staging", CreateTime: created, UpdateTime: updated, Etag: "e2"},
	}
}

func fixtureCluster() *sdk.Cluster {
	return &sdk.Cluster{
		Id: "lkc-xyz789", DisplayName: "orders", Environment: "env-abc123", CreateTime: created, UpdateTime: updated, Etag: "c1",
		Spec: &sdk.ClusterSpec{Type: "SERVERLESS", Cloud: "LOCAL", Region: "local", Plan: "BASIC", Limits: &sdk.ClusterLimits{
			IngressByteRate: 10485760, EgressByteRate: 31457280, MaxPartitions: 100, MaxStorageBytes: 10737418240,
			MaxConnections: 100, MaxMessageBytes: 2097152, MaxRequestRate: 1000}},
		Status: &sdk.ClusterStatus{Phase: "RUNNING", BootstrapServers: "127.0.0.1:9092", RestEndpoint: "http://127.0.0.1:8080", OperationId: "op-123abc"},
	}
}

func fixtureTopic() topicDescription {
	return topicDescription{
		Name: "orders", TopicID: "b2e4c6a8-0000-4000-8000-123456789abc", PartitionsCount: 3,
		Configs:    map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete"},
		Partitions: []partitionOffsets{{0, 0, 0, 334}, {1, 0, 0, 333}, {2, 0, 12, 345}},
	}
}

func fixtureGroup() groupDescription {
	return groupDescription{
		Group: "billing", State: "Stable", ProtocolType: "consumer", Protocol: "cooperative-sticky",
		Members: []groupMember{{MemberID: "m-1", ClientID: "billing-app", Host: "/10.0.0.7"}},
		Partitions: []partitionLag{
			{Topic: "orders", Partition: 0, CurrentOffset: 330, LogEndOffset: 334, Lag: 4, MemberID: "m-1", ClientID: "billing-app", Host: "/10.0.0.7"},
			{Topic: "orders", Partition: 1, CurrentOffset: 333, LogEndOffset: 333, Lag: 0, MemberID: "m-1", ClientID: "billing-app", Host: "/10.0.0.7"},
			{Topic: "orders", Partition: 2, CurrentOffset: -1, LogEndOffset: 345, Lag: 345},
		},
		TotalLag: 349,
	}
}

func fixtureKey() *sdk.APIKey {
	secret := "s3cr3t-0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
	return &sdk.APIKey{Id: "ABCDEFGH12345678", DisplayName: "orders-app", Owner: "sa-app123", Resource: "lkc-xyz789",
		CreateTime: created, UpdateTime: created, Etag: "k1", Secret: &secret}
}

// renderings are every table the golden files hold, by name.
func renderings() map[string]func(p printer) error {
	return map[string]func(p printer) error{
		"environment-list":     func(p printer) error { return printList(p, fixtureEnvironments(), environmentColumns) },
		"environment-describe": func(p printer) error { return printOne(p, fixtureEnvironments()[1], environmentFields) },
		"cluster-list": func(p printer) error {
			other := fixtureCluster()
			other.Id, other.DisplayName, other.Status.Phase = "lkc-new001", "analytics", "PROVISIONING"
			return printList(p, []*sdk.Cluster{fixtureCluster(), other}, clusterColumns("lkc-xyz789"))
		},
		"cluster-describe": func(p printer) error { return printOne(p, fixtureCluster(), clusterFields) },
		"topic-list": func(p printer) error {
			return printList(p, []*sdk.Topic{{Name: "orders", PartitionsCount: 3}, {Name: "payments", PartitionsCount: 6}}, topicColumns)
		},
		"topic-describe": func(p printer) error { return printTopicDescription(p, fixtureTopic()) },
		"api-key-create": func(p printer) error { return printOne(p, fixtureKey(), newKeyFields) },
		"api-key-list": func(p printer) error {
			k := fixtureKey()
			k.Secret = nil
			return printList(p, []*sdk.APIKey{k}, apiKeyColumns)
		},
		"service-account-list": func(p printer) error {
			return printList(p, []*sdk.ServiceAccount{{Id: "sa-app123", DisplayName: "orders-app", Description: "the order service"}}, serviceAccountColumns)
		},
		"service-account-describe": func(p printer) error {
			return printOne(p, &sdk.ServiceAccount{Id: "sa-app123", DisplayName: "orders-app", Principal: "User:sa-app123", CreateTime: created}, serviceAccountFields)
		},
		"role-binding-list": func(p printer) error {
			return printList(p, []*sdk.RoleBinding{{Id: "rb-1a2b3c", Principal: "User:sa-app123", RoleName: "DeveloperRead",
				CrnPattern: "crn://affluent/organization=org-1/environment=env-abc123/cloud-cluster=lkc-xyz789/kafka=lkc-xyz789/topic=orders"}}, roleBindingColumns)
		},
		"acl-list": func(p printer) error {
			return printList(p, []*sdk.ACL{{Id: "acl-9f8e", ResourceType: "TOPIC", ResourceName: "orders", PatternType: "LITERAL",
				Principal: "User:sa-app123", Host: "*", Operation: "READ", Permission: "ALLOW"}}, aclColumns)
		},
		"quota-describe": func(p printer) error {
			return printOne(p, &sdk.ClientQuota{Id: "cq-42", DisplayName: "slow-apps", Environment: "env-abc123", Cluster: "lkc-xyz789",
				Principals: []string{"User:sa-app123", "User:sa-other1"}, IngressByteRate: 1048576, CreateTime: created}, quotaFields)
		},
		"group-list": func(p printer) error {
			return printGroups(p, []groupSummary{{"billing", "Stable", "consumer"}, {"audit", "Empty", "consumer"}})
		},
		"group-describe": func(p printer) error { return printGroupDescription(p, fixtureGroup()) },
		"context-list": func(p printer) error {
			return printContexts(p, []contextView{
				{Name: "dev", Current: true, Endpoint: "127.0.0.1:8090", Insecure: true, APIKey: "ABCDEFGH12345678", Environment: "env-abc123", Cluster: "lkc-xyz789"},
				{Name: "prod", Endpoint: "api.affluent.example:443", APIKey: "ZYXWVUTS87654321"},
			})
		},
	}
}

// TestTableGolden compares every table with testdata/NAME.golden; run
// `go test ./internal/cli -run Golden -update` after an intended change.
func TestTableGolden(t *testing.T) {
	for name, render := range renderings() {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := render(printer{format: formatTable, w: &out}); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if out.String() != string(want) {
				t.Errorf("%s differs from %s (run with -update if intended):\ngot:\n%s\nwant:\n%s", name, golden, out.String(), want)
			}
		})
	}
}

// TestJSONIsStableAndParseable renders everything twice as JSON: the bytes
// must not change, must parse, and use snake_case keys; YAML must hold the
// same document.
func TestJSONIsStableAndParseable(t *testing.T) {
	for name, render := range renderings() {
		t.Run(name, func(t *testing.T) {
			var first, second, yml bytes.Buffer
			if err := render(printer{format: formatJSON, w: &first}); err != nil {
				t.Fatal(err)
			}
			if err := render(printer{format: formatJSON, w: &second}); err != nil {
				t.Fatal(err)
			}
			if first.String() != second.String() {
				t.Fatalf("JSON changed between two renderings:\n%s\n%s", first.String(), second.String())
			}
			var doc any
			if err := json.Unmarshal(first.Bytes(), &doc); err != nil {
				t.Fatalf("invalid JSON %v:\n%s", err, first.String())
			}
			checkSnakeCase(t, doc)
			if err := render(printer{format: formatYAML, w: &yml}); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(yml.String(), "{\"") || strings.HasPrefix(yml.String(), "[") {
				t.Fatalf("YAML in flow style:\n%s", yml.String())
			}
		})
	}
}

func checkSnakeCase(t *testing.T, doc any) {
	t.Helper()
	switch v := doc.(type) {
	case map[string]any:
		for k, child := range v {
			if k != strings.ToLower(k) || strings.Contains(k, "-") {
				// configs hold Kafka's own keys (retention.ms), which are fine.
				if !strings.Contains(k, ".") {
					t.Errorf("key %q is not snake_case", k)
				}
			}
			checkSnakeCase(t, child)
		}
	case []any:
		for _, child := range v {
			checkSnakeCase(t, child)
		}
	}
}

func TestYAMLKeepsStringsThatLookLikeNumbers(t *testing.T) {
	var out bytes.Buffer
	p := printer{format: formatYAML, w: &out}
	if err := p.data([]byte(`{"configs":{"retention.ms":"86400000","flag":"true"},"n":3,"empty":""}`)); err != nil {
		t.Fatal(err)
	}
	want := "configs:\n  retention.ms: \"86400000\"\n  flag: \"true\"\nn: 3\nempty: \"\"\n"
	if out.String() != want {
		t.Fatalf("YAML:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestFormatRecordTemplate(t *testing.T) {
	r := kgoRecord("orders", 2, 41, "k1", "v1", time.UnixMilli(1700000000123), "origin", "cli")
	for tmpl, want := range map[string]string{
		`%k %v %o %p %t %h`: "k1 v1 41 2 1700000000123 origin=cli",
		`%T/%p@%o: %s`:      "orders/2@41: v1",
		`100%% %x`:          "100% %x",
		`%k\t%v\n`:          "k1\tv1\n",
	} {
		if got := formatRecord(unescape(tmpl), r); got != want {
			t.Errorf("%q: got %q, want %q", tmpl, got, want)
		}
	}
}
