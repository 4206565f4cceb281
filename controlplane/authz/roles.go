package authz

import (
	"fmt"
	"slices"
	"strings"
)

// Action is a permission checked on a resource CRN.
type Action string

// Actions of the control plane API, checked on the CRN of the resource acted
// on (for creates, on the parent that will hold it).
const (
	OrganizationDescribe Action = "organization.describe"
	OrganizationUpdate   Action = "organization.update"

	EnvironmentCreate   Action = "environment.create" // on the organization
	EnvironmentDescribe Action = "environment.describe"
	EnvironmentUpdate   Action = "environment.update"
	EnvironmentDelete   Action = "environment.delete"

	ClusterCreate   Action = "cluster.create" // on the environment
	ClusterDescribe Action = "cluster.describe"
	ClusterUpdate   Action = "cluster.update"
	ClusterDelete   Action = "cluster.delete"
	MetricsRead     Action = "metrics.read"

	ServiceAccountCreate   Action = "service-account.create" // on the organization
	ServiceAccountDescribe Action = "service-account.describe"
	ServiceAccountUpdate   Action = "service-account.update"
	ServiceAccountDelete   Action = "service-account.delete"

	UserCreate   Action = "user.create" // on the organization
	UserDescribe Action = "user.describe"
	UserUpdate   Action = "user.update"
	UserDelete   Action = "user.delete"

	// API keys: a cloud key's CRN is organization=…/api-key=K, a cluster
	// key's …/cloud-cluster=C/api-key=K.
	APIKeyCreate   Action = "api-key.create" // on the organization or the cluster
	APIKeyDescribe Action = "api-key.describe"
	APIKeyUpdate   Action = "api-key.update"
	APIKeyDelete   Action = "api-key.delete"

	// Role bindings are checked on the binding's CRN pattern: one may grant
	// only on resources one administers.
	RoleBindingCreate   Action = "role-binding.create"
	RoleBindingDescribe Action = "role-binding.describe"
	RoleBindingDelete   Action = "role-binding.delete"

	IdentityProviderCreate   Action = "identity-provider.create" // on the organization
	IdentityProviderDescribe Action = "identity-provider.describe"
	IdentityProviderUpdate   Action = "identity-provider.update"
	IdentityProviderDelete   Action = "identity-provider.delete"
	IdentityPoolCreate       Action = "identity-pool.create" // on the provider
	IdentityPoolDescribe     Action = "identity-pool.describe"
	IdentityPoolUpdate       Action = "identity-pool.update"
	IdentityPoolDelete       Action = "identity-pool.delete"

	CertificateAuthorityCreate   Action = "certificate-authority.create" // on the organization
	CertificateAuthorityDescribe Action = "certificate-authority.describe"
	CertificateAuthorityUpdate   Action = "certificate-authority.update"
	CertificateAuthorityDelete   Action = "certificate-authority.delete"
	CertificatePoolCreate        Action = "certificate-pool.create" // on the CA
	CertificatePoolDescribe      Action = "certificate-pool.describe"
	CertificatePoolUpdate        Action = "certificate-pool.update"
	CertificatePoolDelete        Action = "certificate-pool.delete"

	AuditLogRead Action = "audit-log.read" // on the organization
)

// Actions of Kafka, checked by the control plane's topic, ACL and quota APIs
// and by brokers, on …/cloud-cluster=C/kafka=C and the resources inside it.
const (
	KafkaClusterDescribe        Action = "kafka-cluster.describe"
	KafkaClusterIdempotentWrite Action = "kafka-cluster.idempotent-write"
	KafkaClusterAlter           Action = "kafka-cluster.alter" // broker-side configs

	ACLCreate   Action = "acl.create" // ACLs and client quotas: on the kafka cluster
	ACLDescribe Action = "acl.describe"
	ACLDelete   Action = "acl.delete"

	ClientQuotaCreate   Action = "client-quota.create"
	ClientQuotaDescribe Action = "client-quota.describe"
	ClientQuotaUpdate   Action = "client-quota.update"
	ClientQuotaDelete   Action = "client-quota.delete"

	TopicCreate   Action = "topic.create"
	TopicDescribe Action = "topic.describe" // metadata and configs
	TopicAlter    Action = "topic.alter"    // configs and partitions
	TopicDelete   Action = "topic.delete"
	TopicRead     Action = "topic.read"  // consume
	TopicWrite    Action = "topic.write" // produce

	GroupRead     Action = "group.read"
	GroupDescribe Action = "group.describe"
	GroupDelete   Action = "group.delete"

	TransactionalIDWrite    Action = "transactional-id.write"
	TransactionalIDDescribe Action = "transactional-id.describe"
)

// ancestorActions are granted on a resource to whoever is granted them on
// something beneath it: a developer with a role on one topic may see its
// environment and cluster, and write idempotently to the cluster.
var ancestorActions = map[Action]bool{
	OrganizationDescribe:        true,
	EnvironmentDescribe:         true,
	ClusterDescribe:             true,
	KafkaClusterDescribe:        true,
	KafkaClusterIdempotentWrite: true,
}

// Role is a predefined role: the actions it grants on the resources its
// binding's CRN pattern covers, and where it may be bound.
type Role struct {
	Name        string
	Description string
	// BindTo lists the resource types a binding's pattern may end with.
	BindTo  []string
	Actions []Action
}

// Grants reports whether the role includes action.
func (r Role) Grants(a Action) bool { return slices.Contains(r.Actions, a) }

// Role names.
const (
	OrganizationAdmin = "OrganizationAdmin"
	EnvironmentAdmin  = "EnvironmentAdmin"
	CloudClusterAdmin = "CloudClusterAdmin"
	Operator          = "Operator"
	MetricsViewer     = "MetricsViewer"
	ResourceOwner     = "ResourceOwner"
	DeveloperRead     = "DeveloperRead"
	DeveloperWrite    = "DeveloperWrite"
	DeveloperManage   = "DeveloperManage"
)

var (
	describeAncestors = []Action{OrganizationDescribe, EnvironmentDescribe, ClusterDescribe, KafkaClusterDescribe}
	clusterContents   = []Action{
		KafkaClusterDescribe, KafkaClusterIdempotentWrite, KafkaClusterAlter,
		ACLCreate, ACLDescribe, ACLDelete,
		ClientQuotaCreate, ClientQuotaDescribe, ClientQuotaUpdate, ClientQuotaDelete,
		TopicCreate, TopicDescribe, TopicAlter, TopicDelete, TopicRead, TopicWrite,
		GroupRead, GroupDescribe, GroupDelete, TransactionalIDWrite, TransactionalIDDescribe,
		APIKeyCreate, APIKeyDescribe, APIKeyUpdate, APIKeyDelete,
		RoleBindingCreate, RoleBindingDescribe, RoleBindingDelete, MetricsRead,
	}
)

func join(lists ...[]Action) []Action {
	var out []Action
	for _, l := range lists {
		for _, a := range l {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}

// roles is the table of predefined roles; ROLES.md is generated from it.
var roles = []Role{
	{
		Name:        OrganizationAdmin,
		Description: "Everything in the organization: environments, clusters and their contents, principals, API keys, role bindings, identity providers, certificate authorities, the audit log.",
		BindTo:      []string{TypeOrganization},
		Actions:     allActions(),
	},
	{
		Name:        EnvironmentAdmin,
		Description: "Everything in one environment: its clusters and their contents, their API keys and role bindings. Not the environment's deletion.",
		BindTo:      []string{TypeEnvironment},
		Actions: join(describeAncestors, []Action{EnvironmentUpdate,
			ClusterCreate, ClusterUpdate, ClusterDelete}, clusterContents),
	},
	{
		Name:        CloudClusterAdmin,
		Description: "Everything in one cluster: topics, groups, ACLs, client quotas, the cluster's API keys and role bindings, its settings. Not its deletion.",
		BindTo:      []string{TypeCloudCluster},
		Actions:     join(describeAncestors, []Action{ClusterUpdate}, clusterContents),
	},
	{
		Name:        Operator,
		Description: "Watch without touching data: describe environments, clusters, topics and groups, read metrics.",
		BindTo:      []string{TypeOrganization, TypeEnvironment, TypeCloudCluster},
		Actions:     join(describeAncestors, []Action{MetricsRead, TopicDescribe, GroupDescribe}),
	},
	{
		Name:        MetricsViewer,
		Description: "Read metrics of the environments and clusters in scope, and see that they exist.",
		BindTo:      []string{TypeOrganization, TypeEnvironment, TypeCloudCluster},
		Actions:     join(describeAncestors, []Action{MetricsRead}),
	},
	{
		Name:        ResourceOwner,
		Description: "Full control of the topics, groups or transactional ids in scope, data included, and granting roles on them.",
		BindTo:      []string{TypeTopic, TypeGroup, TypeTransactionalID},
		Actions: join(describeAncestors, []Action{KafkaClusterIdempotentWrite,
			TopicCreate, TopicDescribe, TopicAlter, TopicDelete, TopicRead, TopicWrite,
			GroupRead, GroupDescribe, GroupDelete, TransactionalIDWrite, TransactionalIDDescribe,
			RoleBindingCreate, RoleBindingDescribe, RoleBindingDelete}),
	},
	{
		Name:        DeveloperRead,
		Description: "Consume from the topics in scope and use the consumer groups in scope.",
		BindTo:      []string{TypeTopic, TypeGroup},
		Actions:     join(describeAncestors, []Action{TopicDescribe, TopicRead, GroupRead, GroupDescribe}),
	},
	{
		Name:        DeveloperWrite,
		Description: "Produce to the topics in scope (idempotently, and transactionally with the transactional ids in scope).",
		BindTo:      []string{TypeTopic, TypeTransactionalID},
		Actions: join(describeAncestors, []Action{KafkaClusterIdempotentWrite,
			TopicDescribe, TopicWrite, TransactionalIDWrite, TransactionalIDDescribe}),
	},
	{
		Name:        DeveloperManage,
		Description: "Create, configure and delete the topics in scope and manage the groups in scope, without access to data.",
		BindTo:      []string{TypeTopic, TypeGroup},
		Actions: join(describeAncestors, []Action{TopicCreate, TopicDescribe, TopicAlter, TopicDelete,
			GroupDescribe, GroupDelete}),
	},
}

var rolesByName = func() map[string]Role {
	m := make(map[string]Role, len(roles))
	for _, r := range roles {
		m[r.Name] = r
	}
	return m
}()

// Roles returns the predefined roles.
func Roles() []Role { return slices.Clone(roles) }

// LookupRole returns the predefined role called name.
func LookupRole(name string) (Role, bool) {
	r, ok := rolesByName[name]
	return r, ok
}

// AllActions lists every action, control plane and Kafka.
func AllActions() []Action { return allActions() }

func allActions() []Action {
	return []Action{
		OrganizationDescribe, OrganizationUpdate,
		EnvironmentCreate, EnvironmentDescribe, EnvironmentUpdate, EnvironmentDelete,
		ClusterCreate, ClusterDescribe, ClusterUpdate, ClusterDelete, MetricsRead,
		ServiceAccountCreate, ServiceAccountDescribe, ServiceAccountUpdate, ServiceAccountDelete,
		UserCreate, UserDescribe, UserUpdate, UserDelete,
		APIKeyCreate, APIKeyDescribe, APIKeyUpdate, APIKeyDelete,
		RoleBindingCreate, RoleBindingDescribe, RoleBindingDelete,
		IdentityProviderCreate, IdentityProviderDescribe, IdentityProviderUpdate, IdentityProviderDelete,
		IdentityPoolCreate, IdentityPoolDescribe, IdentityPoolUpdate, IdentityPoolDelete,
		CertificateAuthorityCreate, CertificateAuthorityDescribe, CertificateAuthorityUpdate, CertificateAuthorityDelete,
		CertificatePoolCreate, CertificatePoolDescribe, CertificatePoolUpdate, CertificatePoolDelete,
		AuditLogRead,
		KafkaClusterDescribe, KafkaClusterIdempotentWrite, KafkaClusterAlter,
		ACLCreate, ACLDescribe, ACLDelete,
		ClientQuotaCreate, ClientQuotaDescribe, ClientQuotaUpdate, ClientQuotaDelete,
		TopicCreate, TopicDescribe, TopicAlter, TopicDelete, TopicRead, TopicWrite,
		GroupRead, GroupDescribe, GroupDelete,
		TransactionalIDWrite, TransactionalIDDescribe,
	}
}

// ValidateBinding checks that role may be bound on pattern: a known role,
// a well-formed pattern ending with a resource type the role binds to, and
// for Kafka resources the full path down to the cluster.
func ValidateBinding(roleName, pattern string) error {
	role, ok := rolesByName[roleName]
	if !ok {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = r.Name
		}
		return fmt.Errorf("unknown role %q: want one of %s", roleName, strings.Join(names, ", "))
	}
	p, err := ParsePattern(pattern)
	if err != nil {
		return err
	}
	last := p.Last()
	if !slices.Contains(role.BindTo, last.Type) {
		return fmt.Errorf("role %s binds to a CRN ending with %s, not %s", roleName, strings.Join(role.BindTo, " or "), last.Type)
	}
	if last.Prefix && !slices.Contains([]string{TypeTopic, TypeGroup, TypeTransactionalID}, last.Type) {
		return fmt.Errorf("wildcards are only allowed on topic, group and transactional-id names")
	}
	segs := p.Segments()
	if last.Type == TypeTopic || last.Type == TypeGroup || last.Type == TypeTransactionalID {
		if len(segs) != 5 || segs[3].Value != segs[2].Value {
			return fmt.Errorf("a %s pattern must be organization=…/environment=…/cloud-cluster=C/kafka=C/%s=…", last.Type, last.Type)
		}
	}
	return nil
}
