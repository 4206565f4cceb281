package tiered

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/affluent-io/affluent/dataplane/storage"
)

var _ storage.ClientQuotas = (*Store)(nil)

// Kinds of an entity part in client_quotas.
const (
	quotaPartAbsent  = 0
	quotaPartNamed   = 1
	quotaPartDefault = 2
)

func quotaPart(n *storage.QuotaName) (kind int, name string) {
	switch {
	case n == nil:
		return quotaPartAbsent, ""
	case n.Default:
		return quotaPartDefault, ""
	}
	return quotaPartNamed, n.Name
}

func quotaName(kind int, name string) *storage.QuotaName {
	switch kind {
	case quotaPartNamed:
		return &storage.QuotaName{Name: name}
	case quotaPartDefault:
		return &storage.QuotaName{Default: true}
	}
	return nil
}

// ClientQuotas implements storage.ClientQuotas, entities in a stable order.
func (s *Store) ClientQuotas(ctx context.Context, cluster string) ([]storage.ClientQuota, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	rows, err := s.db.read.QueryContext(ctx, `SELECT user_kind, user_name, client_kind, client_name, quota_key, quota_value
		FROM client_quotas WHERE cluster = $1 ORDER BY user_kind, user_name, client_kind, client_name, quota_key`, cluster)
	if err != nil {
		return nil, fmt.Errorf("read client quotas of %s: %w", cluster, err)
	}
	defer rows.Close()
	type entityKey struct {
		userKind, clientKind int
		user, client         string
	}
	var out []storage.ClientQuota
	var last entityKey
	for rows.Next() {
		var k entityKey
		var key, text string
		if err := rows.Scan(&k.userKind, &k.user, &k.clientKind, &k.client, &key, &text); err != nil {
			return nil, fmt.Errorf("read client quotas of %s: %w", cluster, err)
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("client quota %s of %s: bad value %q", key, cluster, text)
		}
		if len(out) == 0 || k != last {
			out = append(out, storage.ClientQuota{
				Entity: storage.QuotaEntity{User: quotaName(k.userKind, k.user), ClientID: quotaName(k.clientKind, k.client)},
				Values: map[string]float64{},
			})
			last = k
		}
		out[len(out)-1].Values[key] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read client quotas of %s: %w", cluster, err)
	}
	return out, nil
}

// AlterClientQuotas implements storage.ClientQuotas.
func (s *Store) AlterClientQuotas(ctx context.Context, cluster string, changes []storage.QuotaChange) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	err := s.db.inTx(ctx, func(tx *sql.Tx) error {
		for _, c := range changes {
			uk, un := quotaPart(c.Entity.User)
			ck, cn := quotaPart(c.Entity.ClientID)
			for _, key := range c.Remove {
				if _, err := tx.ExecContext(ctx, `DELETE FROM client_quotas WHERE cluster = $1 AND user_kind = $2
					AND user_name = $3 AND client_kind = $4 AND client_name = $5 AND quota_key = $6`,
					cluster, uk, un, ck, cn, key); err != nil {
					return fmt.Errorf("remove %s: %w", key, err)
				}
			}
			for key, v := range c.Set {
				if _, err := tx.ExecContext(ctx, `INSERT INTO client_quotas (cluster, user_kind, user_name,
					client_kind, client_name, quota_key, quota_value) VALUES ($1, $2, $3, $4, $5, $6, $7)
					ON CONFLICT (cluster, user_kind, user_name, client_kind, client_name, quota_key)
					DO UPDATE SET quota_value = excluded.quota_value`,
					cluster, uk, un, ck, cn, key, strconv.FormatFloat(v, 'g', -1, 64)); err != nil {
					return fmt.Errorf("set %s: %w", key, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("alter client quotas of %s: %w", cluster, err)
	}
	return nil
}
