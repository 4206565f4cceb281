package authz

import (
	"slices"
	"strings"
	"testing"
)

// TestKafkaOperationsByRole is the matrix of what each role allows a Kafka
// client: every operation Kafka defines, on a topic, group and
// transactional id inside and outside the binding, and on the cluster.
func TestKafkaOperationsByRole(t *testing.T) {
	const p = "User:sa-1"
	topicOps := []string{"READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"}
	groupOps := []string{"READ", "DESCRIBE", "DELETE"}
	txnOps := []string{"WRITE", "DESCRIBE"}
	clusterOps := []string{"CREATE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE", "ALTER", "DESCRIBE"}
	everything := map[string][]string{KafkaTopic: topicOps, KafkaGroup: groupOps, KafkaTransactionalID: txnOps, KafkaCluster: clusterOps}

	topicsPattern := kafka1.String() + "/topic=orders-*"
	groupPattern := kafka1.String() + "/group=billing"
	txnPattern := kafka1.String() + "/transactional-id=billing-*"
	tests := []struct {
		role, pattern string
		// want lists the allowed "TYPE:name:OP"; every other one of the
		// matrix must be denied.
		want []string
		all  bool // every operation on every resource of cluster 1
	}{
		{role: OrganizationAdmin, pattern: orgCRN.String(), all: true},
		{role: EnvironmentAdmin, pattern: env1.String(), all: true},
		{role: CloudClusterAdmin, pattern: cluster1.String(), all: true},
		{role: CloudClusterAdmin, pattern: cluster2.String()}, // another cluster: nothing
		{role: EnvironmentAdmin, pattern: env2.String()},
		{role: DeveloperRead, pattern: topicsPattern, want: []string{
			"TOPIC:orders-eu:READ", "TOPIC:orders-eu:DESCRIBE", "TOPIC:orders-eu:DESCRIBE_CONFIGS"}},
		{role: DeveloperRead, pattern: groupPattern, want: []string{"GROUP:billing:READ", "GROUP:billing:DESCRIBE"}},
		{role: DeveloperWrite, pattern: topicsPattern, want: []string{
			"TOPIC:orders-eu:WRITE", "TOPIC:orders-eu:DESCRIBE", "TOPIC:orders-eu:DESCRIBE_CONFIGS", "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE"}},
		{role: DeveloperWrite, pattern: txnPattern, want: []string{
			"TRANSACTIONAL_ID:billing-tx:WRITE", "TRANSACTIONAL_ID:billing-tx:DESCRIBE", "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE"}},
		{role: DeveloperManage, pattern: topicsPattern, want: []string{
			"TOPIC:orders-eu:CREATE", "TOPIC:orders-eu:DELETE", "TOPIC:orders-eu:ALTER", "TOPIC:orders-eu:DESCRIBE",
			"TOPIC:orders-eu:DESCRIBE_CONFIGS", "TOPIC:orders-eu:ALTER_CONFIGS"}},
		{role: DeveloperManage, pattern: groupPattern, want: []string{"GROUP:billing:DESCRIBE", "GROUP:billing:DELETE"}},
		{role: ResourceOwner, pattern: topicsPattern, want: append(prefixed("TOPIC:orders-eu:", topicOps), "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE")},
		{role: ResourceOwner, pattern: groupPattern, want: append(prefixed("GROUP:billing:", groupOps), "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE")},
		{role: ResourceOwner, pattern: txnPattern, want: append(prefixed("TRANSACTIONAL_ID:billing-tx:", txnOps), "CLUSTER:kafka-cluster:IDEMPOTENT_WRITE")},
		{role: Operator, pattern: cluster1.String(), want: []string{
			"TOPIC:orders-eu:DESCRIBE", "TOPIC:orders-eu:DESCRIBE_CONFIGS", "TOPIC:payments:DESCRIBE", "TOPIC:payments:DESCRIBE_CONFIGS",
			"GROUP:billing:DESCRIBE", "GROUP:other:DESCRIBE"}},
		{role: MetricsViewer, pattern: cluster1.String()},
	}
	names := map[string][]string{
		KafkaTopic: {"orders-eu", "payments"}, KafkaGroup: {"billing", "other"},
		KafkaTransactionalID: {"billing-tx", "other-tx"}, KafkaCluster: {"kafka-cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.role+"@"+tt.pattern[strings.LastIndex(tt.pattern, "/")+1:], func(t *testing.T) {
			if err := ValidateBinding(tt.role, tt.pattern); err != nil {
				t.Fatalf("test binding is invalid: %v", err)
			}
			policy := Compile(p, []Binding{{Principal: p, RoleName: tt.role, CRNPattern: tt.pattern}})
			if got := policy.AdministersKafka(kafka1); got != tt.all {
				t.Errorf("AdministersKafka = %v, want %v", got, tt.all)
			}
			for typ, ops := range everything {
				for _, name := range names[typ] {
					for _, op := range ops {
						key := typ + ":" + name + ":" + op
						want := tt.all || slices.Contains(tt.want, key)
						if got := policy.AllowsKafka(kafka1, typ, name, op); got != want {
							t.Errorf("%s: allowed = %v, want %v", key, got, want)
						}
						// Nothing but the organization's admin reaches
						// another cluster.
						if tt.role != OrganizationAdmin && tt.pattern != cluster2.String() && tt.pattern != env2.String() &&
							policy.AllowsKafka(kafka2, typ, name, op) {
							t.Errorf("%s allowed in another cluster", key)
						}
					}
				}
			}
		})
	}
	if Compile("", nil).AllowsKafka(kafka1, KafkaTopic, "t", "READ") {
		t.Fatal("no principal allowed")
	}
	if _, ok := KafkaResource(kafka1, "DELEGATION_TOKEN", "x"); ok {
		t.Fatal("delegation tokens have no CRN")
	}
}

func prefixed(prefix string, ops []string) []string {
	out := make([]string, len(ops))
	for i, op := range ops {
		out[i] = prefix + op
	}
	return out
}
