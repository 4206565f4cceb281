package store

import (
	"context"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// BrokerState is every row brokers need to authenticate and authorize
// Kafka clients, across organizations: what the control plane's broker
// config watch turns into snapshots.
type BrokerState struct {
	Clusters               []resource.Cluster
	APIKeys                []resource.APIKey
	RoleBindings           []resource.RoleBinding
	IdentityProviders      []resource.IdentityProvider
	IdentityPools          []resource.IdentityPool
	CertificateAuthorities []resource.CertificateAuthority
	CertificatePools       []resource.CertificatePool
}

// BrokerState reads the rows of BrokerState, each table in creation order.
// The tables are read one after the other, not in one transaction: a write
// landing in between is in the next state read, which the write's commit
// triggers.
func (s *Store) BrokerState(ctx context.Context) (BrokerState, error) {
	var st BrokerState
	var err error
	if st.Clusters, err = every(ctx, s, clustersTable); err != nil {
		return st, err
	}
	if st.APIKeys, err = every(ctx, s, apiKeysTable); err != nil {
		return st, err
	}
	if st.RoleBindings, err = every(ctx, s, roleBindingsTable); err != nil {
		return st, err
	}
	if st.IdentityProviders, err = every(ctx, s, identityProvidersTable); err != nil {
		return st, err
	}
	if st.IdentityPools, err = every(ctx, s, identityPoolsTable); err != nil {
		return st, err
	}
	if st.CertificateAuthorities, err = every(ctx, s, certificateAuthoritiesTable); err != nil {
		return st, err
	}
	if st.CertificatePools, err = every(ctx, s, certificatePoolsTable); err != nil {
		return st, err
	}
	return st, nil
}

// every reads every row of t, of every organization.
func every[T any, P metaPtr[T]](ctx context.Context, s *Store, t *table[T, P]) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, t.selectSQL()+" ORDER BY create_time, id")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := t.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t.name, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.name, err)
	}
	return out, nil
}
