package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// BrokerState is every row brokers need to authenticate and authorize
// Kafka clients, across organizations: what the control plane's broker
// config watch turns into snapshots.
type BrokerState struct {
	// Sequence is the write sequence (migration 0004) the rows are read
	// at: they are the database's state after exactly the first Sequence
	// writes, whichever control-plane process made them.
	Sequence               uint64
	Clusters               []resource.Cluster
	APIKeys                []resource.APIKey
	RoleBindings           []resource.RoleBinding
	IdentityProviders      []resource.IdentityProvider
	IdentityPools          []resource.IdentityPool
	CertificateAuthorities []resource.CertificateAuthority
	CertificatePools       []resource.CertificatePool
}

// WriteSequence is the number of configuration writes committed to the
// database by every process sharing it.
func (s *Store) WriteSequence(ctx context.Context) (uint64, error) {
	var v int64
	if err := s.db.QueryRowContext(ctx, "SELECT value FROM write_sequence WHERE id = 1").Scan(&v); err != nil {
		return 0, fmt.Errorf("read write sequence: %w", err)
	}
	return uint64(v), nil
}

// BrokerState reads the rows of BrokerState, each table in creation order,
// in one read-only transaction: a consistent state, named by its write
// sequence (PostgreSQL's REPEATABLE READ; SQLite's read transaction in
// WAL mode sees one snapshot of the database).
func (s *Store) BrokerState(ctx context.Context) (BrokerState, error) {
	var st BrokerState
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect.name() == "postgres" {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return st, fmt.Errorf("read broker state: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to commit
	var seq int64
	if err := tx.QueryRowContext(ctx, "SELECT value FROM write_sequence WHERE id = 1").Scan(&seq); err != nil {
		return st, fmt.Errorf("read write sequence: %w", err)
	}
	st.Sequence = uint64(seq)
	if st.Clusters, err = every(ctx, tx, clustersTable); err != nil {
		return st, err
	}
	if st.APIKeys, err = every(ctx, tx, apiKeysTable); err != nil {
		return st, err
	}
	if st.RoleBindings, err = every(ctx, tx, roleBindingsTable); err != nil {
		return st, err
	}
	if st.IdentityProviders, err = every(ctx, tx, identityProvidersTable); err != nil {
		return st, err
	}
	if st.IdentityPools, err = every(ctx, tx, identityPoolsTable); err != nil {
		return st, err
	}
	if st.CertificateAuthorities, err = every(ctx, tx, certificateAuthoritiesTable); err != nil {
		return st, err
	}
	if st.CertificatePools, err = every(ctx, tx, certificatePoolsTable); err != nil {
		return st, err
	}
	return st, nil
}

// every reads every row of t, of every organization.
func every[T any, P metaPtr[T]](ctx context.Context, q querier, t *table[T, P]) ([]T, error) {
	rows, err := q.QueryContext(ctx, t.selectSQL()+" ORDER BY create_time, id")
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
