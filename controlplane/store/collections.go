package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// The collections of a store, one per resource type.
type (
	Organizations          = Collection[resource.Organization, *resource.Organization]
	Environments           = Collection[resource.Environment, *resource.Environment]
	Clusters               = Collection[resource.Cluster, *resource.Cluster]
	Operations             = Collection[resource.Operation, *resource.Operation]
	ServiceAccounts        = Collection[resource.ServiceAccount, *resource.ServiceAccount]
	Users                  = Collection[resource.User, *resource.User]
	APIKeys                = Collection[resource.APIKey, *resource.APIKey]
	RoleBindings           = Collection[resource.RoleBinding, *resource.RoleBinding]
	IdentityProviders      = Collection[resource.IdentityProvider, *resource.IdentityProvider]
	IdentityPools          = Collection[resource.IdentityPool, *resource.IdentityPool]
	CertificateAuthorities = Collection[resource.CertificateAuthority, *resource.CertificateAuthority]
	CertificatePools       = Collection[resource.CertificatePool, *resource.CertificatePool]
	ClientQuotas           = Collection[resource.ClientQuota, *resource.ClientQuota]
)

var organizationsTable = &table[resource.Organization, *resource.Organization]{
	name: "organizations", orgCol: "id",
	cols:   []string{"display_name"},
	fields: func(v *resource.Organization) []any { return []any{&v.DisplayName} },
}

var environmentsTable = &table[resource.Environment, *resource.Environment]{
	name: "environments", orgCol: "org_id",
	cols:   []string{"display_name", "description"},
	fields: func(v *resource.Environment) []any { return []any{&v.DisplayName, &v.Description} },
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.Environment) error {
		n, err := s.count(ctx, tx, "SELECT COUNT(*) FROM clusters WHERE environment_id = ?", v.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: environment %s holds %d clusters", ErrNotEmpty, v.ID, n)
		}
		return nil
	},
}

var clustersTable = &table[resource.Cluster, *resource.Cluster]{
	name: "clusters", orgCol: "org_id", parentCol: "environment_id",
	cols: []string{"environment_id", "display_name", "cluster_type", "cloud", "region", "plan", "limits_json",
		"phase", "bootstrap_servers", "rest_endpoint", "operation_id", "message", "brokers", "observed_brokers"},
	fields: func(v *resource.Cluster) []any {
		return []any{&v.EnvironmentID, &v.DisplayName, &v.Type, &v.Cloud, &v.Region, &v.Plan, jsonCol{&v.Limits},
			&v.Phase, &v.BootstrapServers, &v.RestEndpoint, &v.OperationID, &v.Message, &v.Brokers, &v.ObservedBrokers}
	},
}

var operationsTable = &table[resource.Operation, *resource.Operation]{
	name: "operations", orgCol: "org_id",
	cols: []string{"target", "target_crn", "verb", "done", "error_code", "error_message"},
	fields: func(v *resource.Operation) []any {
		return []any{&v.Target, &v.TargetCRN, &v.Verb, boolCol{&v.Done}, &v.ErrorCode, &v.ErrorMessage}
	},
}

// deletePrincipal removes what a deleted principal leaves behind: its API
// keys and role bindings, and its place in client quotas.
func deletePrincipal(ctx context.Context, tx *sql.Tx, s *Store, org, id string) error {
	if _, err := s.exec(ctx, tx, "DELETE FROM api_keys WHERE org_id = ? AND owner = ?", org, id); err != nil {
		return fmt.Errorf("delete api keys of %s: %w", id, err)
	}
	if _, err := s.exec(ctx, tx, "DELETE FROM role_bindings WHERE org_id = ? AND principal = ?", org, resource.Principal(id)); err != nil {
		return fmt.Errorf("delete role bindings of %s: %w", id, err)
	}
	return nil
}

var serviceAccountsTable = &table[resource.ServiceAccount, *resource.ServiceAccount]{
	name: "service_accounts", orgCol: "org_id",
	cols:   []string{"display_name", "description"},
	fields: func(v *resource.ServiceAccount) []any { return []any{&v.DisplayName, &v.Description} },
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.ServiceAccount) error {
		return deletePrincipal(ctx, tx, s, v.OrgID, v.ID)
	},
}

var usersTable = &table[resource.User, *resource.User]{
	name: "users", orgCol: "org_id",
	cols:   []string{"display_name", "email"},
	fields: func(v *resource.User) []any { return []any{&v.DisplayName, &v.Email} },
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.User) error {
		return deletePrincipal(ctx, tx, s, v.OrgID, v.ID)
	},
}

var apiKeysTable = &table[resource.APIKey, *resource.APIKey]{
	name: "api_keys", orgCol: "org_id",
	cols: []string{"display_name", "description", "owner", "resource", "secret_hash"},
	fields: func(v *resource.APIKey) []any {
		return []any{&v.DisplayName, &v.Description, &v.Owner, &v.Resource, &v.SecretHash}
	},
}

var roleBindingsTable = &table[resource.RoleBinding, *resource.RoleBinding]{
	name: "role_bindings", orgCol: "org_id",
	cols:   []string{"principal", "role_name", "crn_pattern"},
	fields: func(v *resource.RoleBinding) []any { return []any{&v.Principal, &v.RoleName, &v.CRNPattern} },
}

var identityProvidersTable = &table[resource.IdentityProvider, *resource.IdentityProvider]{
	name: "identity_providers", orgCol: "org_id",
	cols: []string{"display_name", "description", "issuer", "jwks_uri"},
	fields: func(v *resource.IdentityProvider) []any {
		return []any{&v.DisplayName, &v.Description, &v.Issuer, &v.JWKSURI}
	},
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.IdentityProvider) error {
		return refuseIfChildren(ctx, tx, s, "identity_pools", "provider_id", v.ID, "identity provider", "identity pools")
	},
}

var identityPoolsTable = &table[resource.IdentityPool, *resource.IdentityPool]{
	name: "identity_pools", orgCol: "org_id", parentCol: "provider_id",
	cols: []string{"provider_id", "display_name", "description", "identity_claim", "filter_expr"},
	fields: func(v *resource.IdentityPool) []any {
		return []any{&v.ProviderID, &v.DisplayName, &v.Description, &v.IdentityClaim, &v.Filter}
	},
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.IdentityPool) error {
		return deletePrincipal(ctx, tx, s, v.OrgID, v.ID)
	},
}

var certificateAuthoritiesTable = &table[resource.CertificateAuthority, *resource.CertificateAuthority]{
	name: "certificate_authorities", orgCol: "org_id",
	cols: []string{"display_name", "description", "certificate_chain"},
	fields: func(v *resource.CertificateAuthority) []any {
		return []any{&v.DisplayName, &v.Description, &v.CertificateChain}
	},
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.CertificateAuthority) error {
		return refuseIfChildren(ctx, tx, s, "certificate_pools", "ca_id", v.ID, "certificate authority", "certificate pools")
	},
}

var certificatePoolsTable = &table[resource.CertificatePool, *resource.CertificatePool]{
	name: "certificate_pools", orgCol: "org_id", parentCol: "ca_id",
	cols: []string{"ca_id", "display_name", "description", "external_identifier", "filter_expr", "cluster_id"},
	fields: func(v *resource.CertificatePool) []any {
		return []any{&v.CAID, &v.DisplayName, &v.Description, &v.ExternalIdentifier, &v.Filter, &v.ClusterID}
	},
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.CertificatePool) error {
		return deletePrincipal(ctx, tx, s, v.OrgID, v.ID)
	},
}

var clientQuotasTable = &table[resource.ClientQuota, *resource.ClientQuota]{
	name: "client_quotas", orgCol: "org_id", parentCol: "cluster_id",
	cols: []string{"environment_id", "cluster_id", "display_name", "description", "principals_json",
		"ingress_byte_rate", "egress_byte_rate"},
	fields: func(v *resource.ClientQuota) []any {
		return []any{&v.EnvironmentID, &v.ClusterID, &v.DisplayName, &v.Description, jsonCol{&v.Principals},
			&v.IngressByteRate, &v.EgressByteRate}
	},
	afterInsert: claimQuotaPrincipals,
	afterUpdate: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.ClientQuota) error {
		if _, err := s.exec(ctx, tx, "DELETE FROM client_quota_principals WHERE quota_id = ?", v.ID); err != nil {
			return err
		}
		return claimQuotaPrincipals(ctx, tx, s, v)
	},
	beforeDelete: func(ctx context.Context, tx *sql.Tx, s *Store, v *resource.ClientQuota) error {
		_, err := s.exec(ctx, tx, "DELETE FROM client_quota_principals WHERE quota_id = ?", v.ID)
		return err
	},
}

// ErrPrincipalHasQuota: a principal may have one client quota per cluster.
var ErrPrincipalHasQuota = errors.New("principal already has a client quota in this cluster")

func claimQuotaPrincipals(ctx context.Context, tx *sql.Tx, s *Store, v *resource.ClientQuota) error {
	for _, p := range v.Principals {
		_, err := s.exec(ctx, tx, "INSERT INTO client_quota_principals (cluster_id, principal, quota_id) VALUES (?, ?, ?)",
			v.ClusterID, p, v.ID)
		if errors.Is(err, ErrAlreadyExists) {
			return fmt.Errorf("%w: %s", ErrPrincipalHasQuota, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func refuseIfChildren(ctx context.Context, tx *sql.Tx, s *Store, childTable, parentCol, id, kind, children string) error {
	n, err := s.count(ctx, tx, "SELECT COUNT(*) FROM "+childTable+" WHERE "+parentCol+" = ?", id)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: %s %s holds %d %s", ErrNotEmpty, kind, id, n, children)
	}
	return nil
}

// Collections of the store.
func (s *Store) Organizations() Organizations     { return Organizations{s, organizationsTable} }
func (s *Store) Environments() Environments       { return Environments{s, environmentsTable} }
func (s *Store) Clusters() Clusters               { return Clusters{s, clustersTable} }
func (s *Store) Operations() Operations           { return Operations{s, operationsTable} }
func (s *Store) ServiceAccounts() ServiceAccounts { return ServiceAccounts{s, serviceAccountsTable} }
func (s *Store) Users() Users                     { return Users{s, usersTable} }
func (s *Store) APIKeys() APIKeys                 { return APIKeys{s, apiKeysTable} }
func (s *Store) RoleBindings() RoleBindings       { return RoleBindings{s, roleBindingsTable} }
func (s *Store) IdentityProviders() IdentityProviders {
	return IdentityProviders{s, identityProvidersTable}
}
func (s *Store) IdentityPools() IdentityPools { return IdentityPools{s, identityPoolsTable} }
func (s *Store) CertificateAuthorities() CertificateAuthorities {
	return CertificateAuthorities{s, certificateAuthoritiesTable}
}
func (s *Store) CertificatePools() CertificatePools {
	return CertificatePools{s, certificatePoolsTable}
}
func (s *Store) ClientQuotas() ClientQuotas { return ClientQuotas{s, clientQuotasTable} }
