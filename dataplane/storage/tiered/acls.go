package tiered

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/affluent-io/affluent/dataplane/acl"
	"github.com/affluent-io/affluent/dataplane/storage"
)

var _ storage.ACLs = (*Store)(nil)

const aclColumns = `resource_type, resource_name, pattern_type, principal, host, operation, permission`

// ACLs implements storage.ACLs, in a stable order.
func (s *Store) ACLs(ctx context.Context, cluster string) ([]acl.Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	out, err := queryACLs(ctx, s.db.read, cluster)
	if err != nil {
		return nil, fmt.Errorf("read ACLs of %s: %w", cluster, err)
	}
	return out, nil
}

// aclReader is what reads ACLs: the read pool or a transaction.
type aclReader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryACLs(ctx context.Context, q aclReader, cluster string) ([]acl.Binding, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+aclColumns+` FROM kafka_acls WHERE cluster = $1
		ORDER BY resource_type, resource_name, pattern_type, principal, host, operation, permission`, cluster)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []acl.Binding
	for rows.Next() {
		var b acl.Binding
		var rt, pt, op, perm int
		if err := rows.Scan(&rt, &b.ResourceName, &pt, &b.Principal, &b.Host, &op, &perm); err != nil {
			return nil, err
		}
		b.ResourceType, b.PatternType = acl.ResourceType(rt), acl.PatternType(pt)
		b.Operation, b.Permission = acl.Operation(op), acl.Permission(perm)
		out = append(out, b)
	}
	return out, rows.Err()
}

// CreateACLs implements storage.ACLs, all bindings in one transaction.
func (s *Store) CreateACLs(ctx context.Context, cluster string, bindings []acl.Binding) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, b := range bindings {
			if _, err := tx.ExecContext(ctx, `INSERT INTO kafka_acls (cluster, `+aclColumns+`, create_time_ms)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
				cluster, int(b.ResourceType), b.ResourceName, int(b.PatternType), b.Principal, b.Host,
				int(b.Operation), int(b.Permission), now); err != nil {
				return fmt.Errorf("%v: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create ACLs of %s: %w", cluster, err)
	}
	return nil
}

// DeleteACLs implements storage.ACLs: the cluster's bindings are read and
// matched in the same transaction that deletes them.
func (s *Store) DeleteACLs(ctx context.Context, cluster string, filters []acl.Filter) ([][]acl.Binding, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	var deleted [][]acl.Binding
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		deleted = make([][]acl.Binding, len(filters))
		all, err := queryACLs(ctx, tx, cluster)
		if err != nil {
			return err
		}
		for _, b := range all {
			for i, f := range filters {
				if !f.Matches(b) {
					continue
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM kafka_acls WHERE cluster = $1 AND resource_type = $2
					AND resource_name = $3 AND pattern_type = $4 AND principal = $5 AND host = $6
					AND operation = $7 AND permission = $8`,
					cluster, int(b.ResourceType), b.ResourceName, int(b.PatternType), b.Principal, b.Host,
					int(b.Operation), int(b.Permission)); err != nil {
					return fmt.Errorf("%v: %w", b, err)
				}
				deleted[i] = append(deleted[i], b)
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delete ACLs of %s: %w", cluster, err)
	}
	return deleted, nil
}
