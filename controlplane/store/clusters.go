package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
)

func init() {
	// Creating a cluster starts its CREATE operation in the same transaction.
	clustersTable.afterInsert = func(ctx context.Context, tx *sql.Tx, s *Store, c *resource.Cluster) error {
		return insertClusterOperation(ctx, tx, s, c, resource.VerbCreate)
	}
}

func insertClusterOperation(ctx context.Context, tx *sql.Tx, s *Store, c *resource.Cluster, verb string) error {
	if c.OperationID == "" {
		return errors.New("cluster without operation id")
	}
	now := s.nowMicro()
	op := resource.Operation{
		Meta:      resource.Meta{ID: c.OperationID, OrgID: c.OrgID, CreateTime: now, UpdateTime: now, Etag: newEtag()},
		Target:    resource.ClusterPath(c.EnvironmentID, c.ID),
		TargetCRN: resource.ClusterCRN(c.OrgID, c.EnvironmentID, c.ID).String(),
		Verb:      verb,
	}
	return operationsTable.insert(ctx, tx, s, &op)
}

// BeginClusterDeletion moves the cluster to DELETING under a new DELETE
// operation (c.OperationID), if its etag is still prevEtag.
func (s *Store) BeginClusterDeletion(ctx context.Context, c resource.Cluster, prevEtag string) (resource.Cluster, error) {
	c.Phase = resource.PhaseDeleting
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.Clusters().update(ctx, tx, &c, prevEtag); err != nil {
			return err
		}
		return insertClusterOperation(ctx, tx, s, &c, resource.VerbDelete)
	})
	return c, err
}

// BeginClusterResize writes the cluster, whose broker count changed, under a
// new UPDATE operation (c.OperationID), if its etag is still prevEtag.
func (s *Store) BeginClusterResize(ctx context.Context, c resource.Cluster, prevEtag string) (resource.Cluster, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.Clusters().update(ctx, tx, &c, prevEtag); err != nil {
			return err
		}
		return insertClusterOperation(ctx, tx, s, &c, resource.VerbUpdate)
	})
	return c, err
}

// ClustersResizing lists the RUNNING clusters, of every organization, whose
// brokers differ from those asked for: the reconciler's resizes.
func (s *Store) ClustersResizing(ctx context.Context) ([]resource.Cluster, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(clustersTable.selectSQL()+
		" WHERE phase = ? AND cluster_type = ? AND brokers <> observed_brokers ORDER BY create_time, id"),
		resource.PhaseRunning, resource.ClusterDedicated)
	if err != nil {
		return nil, fmt.Errorf("clusters resizing: %w", err)
	}
	defer rows.Close()
	var out []resource.Cluster
	for rows.Next() {
		c, err := clustersTable.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("clusters resizing: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClustersInPhase lists the clusters, of every organization, in one of
// phases: the reconciler's work list.
func (s *Store) ClustersInPhase(ctx context.Context, phases ...string) ([]resource.Cluster, error) {
	if len(phases) == 0 {
		return nil, nil
	}
	q := clustersTable.selectSQL() + " WHERE phase IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(phases)), ", ") + ") ORDER BY create_time, id"
	args := make([]any, len(phases))
	for i, p := range phases {
		args[i] = p
	}
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("clusters in phase: %w", err)
	}
	defer rows.Close()
	var out []resource.Cluster
	for rows.Next() {
		c, err := clustersTable.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("clusters in phase: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// OperationResult ends an operation; a zero Code means success.
type OperationResult struct {
	Code    int32
	Message string
}

// SetClusterStatus writes the cluster's status (if its etag is still
// prevEtag) and, when result is not nil, ends its current operation.
func (s *Store) SetClusterStatus(ctx context.Context, c resource.Cluster, prevEtag string, result *OperationResult) (resource.Cluster, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.Clusters().update(ctx, tx, &c, prevEtag); err != nil {
			return err
		}
		if result != nil {
			return s.finishOperation(ctx, tx, c.OperationID, *result)
		}
		return nil
	})
	return c, err
}

func (s *Store) finishOperation(ctx context.Context, tx *sql.Tx, id string, r OperationResult) error {
	_, err := s.exec(ctx, tx, "UPDATE operations SET done = 1, error_code = ?, error_message = ?, update_time = ?, etag = ? WHERE id = ?",
		int64(r.Code), r.Message, s.nowMicro().UnixMicro(), newEtag(), id)
	if err != nil {
		return fmt.Errorf("finish operation %s: %w", id, err)
	}
	return nil
}

// PurgeCluster removes a deprovisioned cluster with what only made sense
// with it — its client quotas, API keys and the role bindings on it and
// inside it — and ends its DELETE operation successfully.
func (s *Store) PurgeCluster(ctx context.Context, c resource.Cluster) error {
	crn := resource.ClusterCRN(c.OrgID, c.EnvironmentID, c.ID).String()
	return s.tx(ctx, func(tx *sql.Tx) error {
		steps := []struct {
			what  string
			query string
			args  []any
		}{
			{"quota principals", "DELETE FROM client_quota_principals WHERE cluster_id = ?", []any{c.ID}},
			{"client quotas", "DELETE FROM client_quotas WHERE cluster_id = ?", []any{c.ID}},
			{"api keys", "DELETE FROM api_keys WHERE org_id = ? AND resource = ?", []any{c.OrgID, c.ID}},
			{"role bindings", "DELETE FROM role_bindings WHERE org_id = ? AND (crn_pattern = ? OR substr(crn_pattern, 1, ?) = ?)",
				[]any{c.OrgID, crn, int64(len(crn) + 1), crn + "/"}},
			{"cluster", "DELETE FROM clusters WHERE id = ?", []any{c.ID}},
		}
		for _, st := range steps {
			if _, err := s.exec(ctx, tx, st.query, st.args...); err != nil {
				return fmt.Errorf("purge cluster %s: %s: %w", c.ID, st.what, err)
			}
		}
		return s.finishOperation(ctx, tx, c.OperationID, OperationResult{})
	})
}

// LookupAPIKey reads an API key by its id alone, whatever its organization:
// authentication does not know the organization yet.
func (s *Store) LookupAPIKey(ctx context.Context, key string) (resource.APIKey, error) {
	v, err := apiKeysTable.scan(s.db.QueryRowContext(ctx, s.dialect.rebind(apiKeysTable.selectSQL()+" WHERE id = ?"), key))
	if errors.Is(err, sql.ErrNoRows) {
		return v, ErrNotFound
	}
	if err != nil {
		return v, fmt.Errorf("read api key: %w", err)
	}
	return v, nil
}

// PrincipalExists reports whether id names a service account, user or
// pool of the organization.
func (s *Store) PrincipalExists(ctx context.Context, org, id string) (bool, error) {
	var tbl string
	switch {
	case strings.HasPrefix(id, resource.PrefixServiceAccount):
		tbl = "service_accounts"
	case strings.HasPrefix(id, resource.PrefixUser):
		tbl = "users"
	case strings.HasPrefix(id, resource.PrefixPool):
		n, err := s.count(ctx, s.db, "SELECT (SELECT COUNT(*) FROM identity_pools WHERE org_id = ? AND id = ?) + (SELECT COUNT(*) FROM certificate_pools WHERE org_id = ? AND id = ?)", org, id, org, id)
		return n > 0, err
	default:
		return false, nil
	}
	n, err := s.count(ctx, s.db, "SELECT COUNT(*) FROM "+tbl+" WHERE org_id = ? AND id = ?", org, id)
	return n > 0, err
}

// ForgetRequestIDs drops idempotency records older than before.
func (s *Store) ForgetRequestIDs(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, s.db, "DELETE FROM request_ids WHERE create_time < ?", before.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("forget request ids: %w", err)
	}
	return res.RowsAffected()
}

// ClusterByID reads a cluster by id alone, whatever its organization, for
// brokers that know only the cluster of a connection.
func (s *Store) ClusterByID(ctx context.Context, id string) (resource.Cluster, error) {
	c, err := clustersTable.scan(s.db.QueryRowContext(ctx, s.dialect.rebind(clustersTable.selectSQL()+" WHERE id = ?"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	if err != nil {
		return c, fmt.Errorf("read cluster %s: %w", id, err)
	}
	return c, nil
}

// OrganizationByName returns the oldest organization called name.
func (s *Store) OrganizationByName(ctx context.Context, name string) (resource.Organization, error) {
	o, err := organizationsTable.scan(s.db.QueryRowContext(ctx, s.dialect.rebind(
		organizationsTable.selectSQL()+" WHERE display_name = ? ORDER BY create_time, id LIMIT 1"), name))
	if errors.Is(err, sql.ErrNoRows) {
		return o, ErrNotFound
	}
	if err != nil {
		return o, fmt.Errorf("read organization %q: %w", name, err)
	}
	return o, nil
}
