package authz

import (
	"fmt"
	"slices"
	"strings"
)

// Kafka resource types as Kafka's ACLs name them. Brokers ask role bindings
// about (resource type, name, operation), the question Kafka's authorizer
// answers; KafkaAction maps it to the Action roles grant.
const (
	KafkaTopic           = "TOPIC"
	KafkaGroup           = "GROUP"
	KafkaCluster         = "CLUSTER"
	KafkaTransactionalID = "TRANSACTIONAL_ID"
)

// kafkaActions maps Kafka's operations on each resource type to actions.
// Operations missing here (CLUSTER_ACTION, delegation tokens) are granted
// only by the cluster administrator roles. On CLUSTER, CREATE means
// creating any topic; DESCRIBE is what Kafka asks for listing ACLs, and
// DESCRIBE_CONFIGS for client quotas and broker configs, so they stay with
// the administrators rather than everyone who may see the cluster.
var kafkaActions = map[string]map[string]Action{
	KafkaTopic: {
		"READ": TopicRead, "WRITE": TopicWrite, "CREATE": TopicCreate, "DELETE": TopicDelete,
		"ALTER": TopicAlter, "DESCRIBE": TopicDescribe, "DESCRIBE_CONFIGS": TopicDescribe, "ALTER_CONFIGS": TopicAlter,
	},
	KafkaGroup: {"READ": GroupRead, "DESCRIBE": GroupDescribe, "DELETE": GroupDelete},
	KafkaTransactionalID: {
		"WRITE": TransactionalIDWrite, "DESCRIBE": TransactionalIDDescribe,
	},
	KafkaCluster: {
		"CREATE": TopicCreate, "IDEMPOTENT_WRITE": KafkaClusterIdempotentWrite,
		"DESCRIBE": ACLDescribe, "ALTER": KafkaClusterAlter,
		"DESCRIBE_CONFIGS": ClientQuotaDescribe, "ALTER_CONFIGS": KafkaClusterAlter,
	},
}

// kafkaChildTypes gives the CRN type of each Kafka resource type inside
// the kafka=… segment (CLUSTER is that segment itself).
var kafkaChildTypes = map[string]string{
	KafkaTopic: TypeTopic, KafkaGroup: TypeGroup, KafkaTransactionalID: TypeTransactionalID,
}

// clusterAdminRoles hold everything in the clusters they cover: to Kafka
// they are super users of those clusters, whom no ACL denies.
var clusterAdminRoles = []string{OrganizationAdmin, EnvironmentAdmin, CloudClusterAdmin}

// KafkaAction returns the action a role binding must grant for Kafka's
// operation on resourceType (Kafka's names: TOPIC, READ, …); false when no
// role but the cluster administrators' grants it.
func KafkaAction(resourceType, operation string) (Action, bool) {
	a, ok := kafkaActions[resourceType][operation]
	return a, ok
}

// KafkaResource returns the CRN of a Kafka resource of the cluster whose
// Kafka CRN is kafka: kafka itself for CLUSTER, kafka/topic=name for a
// topic, and so on.
func KafkaResource(kafka CRN, resourceType, name string) (CRN, bool) {
	if resourceType == KafkaCluster {
		return kafka, true
	}
	typ, ok := kafkaChildTypes[resourceType]
	if !ok {
		return CRN{}, false
	}
	return kafka.Child(typ, name), true
}

// AdministersKafka reports whether p holds a cluster administrator role
// (OrganizationAdmin, EnvironmentAdmin, CloudClusterAdmin) covering the
// cluster whose Kafka CRN is kafka.
func (p *Policy) AdministersKafka(kafka CRN) bool {
	for _, r := range p.rules {
		if slices.Contains(clusterAdminRoles, r.role.Name) && r.pattern.Matches(kafka) {
			return true
		}
	}
	return false
}

// AllowsKafka reports whether p's role bindings allow Kafka's operation on
// the resource (resourceType, name) of the cluster whose Kafka CRN is
// kafka: the cluster administrators may do everything, other roles what
// KafkaAction maps their actions to.
func (p *Policy) AllowsKafka(kafka CRN, resourceType, name, operation string) bool {
	if p.principal == "" {
		return false
	}
	if p.AdministersKafka(kafka) {
		return true
	}
	action, ok := KafkaAction(resourceType, operation)
	if !ok {
		return false
	}
	res, ok := KafkaResource(kafka, resourceType, name)
	if !ok {
		return false
	}
	return p.DecideCRN(action, res).Allowed
}

// kafkaMarkdown renders the mapping for ROLES.md.
func kafkaMarkdown() string {
	var b strings.Builder
	b.WriteString("\n## Kafka operations\n\n")
	b.WriteString("Brokers authorize every Kafka request with the principal's role bindings and the cluster's Kafka\n")
	b.WriteString("ACLs together: a DENY ACL wins, then an ALLOW ACL or a role binding allows, else the request is\n")
	b.WriteString("denied. " + strings.Join(clusterAdminRoles, ", ") + " covering the cluster allow every\n")
	b.WriteString("operation and no ACL denies them (Kafka's super users). Other roles allow a Kafka operation when\n")
	b.WriteString("they grant its action on the resource (`…/kafka=C` for CLUSTER, `…/kafka=C/topic=T` for a topic):\n\n")
	b.WriteString("| resource type | operation | action |\n|---|---|---|\n")
	types := []string{KafkaTopic, KafkaGroup, KafkaTransactionalID, KafkaCluster}
	for _, t := range types {
		ops := make([]string, 0, len(kafkaActions[t]))
		for op := range kafkaActions[t] {
			ops = append(ops, op)
		}
		slices.Sort(ops)
		for _, op := range ops {
			fmt.Fprintf(&b, "| %s | %s | `%s` |\n", t, op, kafkaActions[t][op])
		}
	}
	return b.String()
}
