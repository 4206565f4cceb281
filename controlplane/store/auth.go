package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/affluent-io/affluent/controlplane/resource"
)

// SigningKey is a key of the OAuth token issuer, as stored.
type SigningKey struct {
	KID        string
	Algorithm  string
	PrivatePEM string
	CreateTime time.Time
	// RetireTime is when a newer key replaced it; zero while it signs.
	RetireTime time.Time
}

// SigningKeys returns every stored signing key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT kid, algorithm, private_key, create_time, retire_time FROM signing_keys ORDER BY create_time DESC, kid")
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	defer rows.Close()
	var out []SigningKey
	for rows.Next() {
		var k SigningKey
		var created, retired int64
		if err := rows.Scan(&k.KID, &k.Algorithm, &k.PrivatePEM, &created, &retired); err != nil {
			return nil, fmt.Errorf("read signing keys: %w", err)
		}
		k.CreateTime = time.UnixMicro(created).UTC()
		if retired != 0 {
			k.RetireTime = time.UnixMicro(retired).UTC()
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RotateSigningKey retires every signing key and adds k, in one
// transaction, and deletes keys retired before forgetBefore.
func (s *Store) RotateSigningKey(ctx context.Context, k SigningKey, forgetBefore time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.nowMicro().UnixMicro()
		if _, err := s.exec(ctx, tx, "UPDATE signing_keys SET retire_time = ? WHERE retire_time = 0", now); err != nil {
			return fmt.Errorf("retire signing keys: %w", err)
		}
		if _, err := s.exec(ctx, tx, "DELETE FROM signing_keys WHERE retire_time <> 0 AND retire_time < ?", forgetBefore.UnixMicro()); err != nil {
			return fmt.Errorf("forget signing keys: %w", err)
		}
		if _, err := s.exec(ctx, tx, "INSERT INTO signing_keys (kid, algorithm, private_key, create_time, retire_time) VALUES (?, ?, ?, ?, 0)",
			k.KID, k.Algorithm, k.PrivatePEM, k.CreateTime.UnixMicro()); err != nil {
			return s.classify(fmt.Errorf("add signing key: %w", err))
		}
		return nil
	})
}

// IdentityProvidersByIssuer returns the identity providers, of every
// organization, whose issuer is iss: a token's issuer is all that names
// its provider before it is verified.
func (s *Store) IdentityProvidersByIssuer(ctx context.Context, iss string) ([]resource.IdentityProvider, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(identityProvidersTable.selectSQL()+" WHERE issuer = ? ORDER BY create_time, id"), iss)
	if err != nil {
		return nil, fmt.Errorf("read identity providers: %w", err)
	}
	defer rows.Close()
	var out []resource.IdentityProvider
	for rows.Next() {
		p, err := identityProvidersTable.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read identity providers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// CertificatePoolsWithAuthorities returns every certificate pool bound to
// a cluster, with its certificate authority, of every organization: a
// client certificate names no organization before it is verified.
func (s *Store) CertificatePoolsWithAuthorities(ctx context.Context) ([]resource.CertificatePool, map[string]resource.CertificateAuthority, error) {
	pools, err := s.scanAll(ctx, certificatePoolsTable.selectSQL()+" WHERE cluster_id <> '' ORDER BY create_time, id")
	if err != nil {
		return nil, nil, err
	}
	cas := map[string]resource.CertificateAuthority{}
	rows, err := s.db.QueryContext(ctx, certificateAuthoritiesTable.selectSQL())
	if err != nil {
		return nil, nil, fmt.Errorf("read certificate authorities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		ca, err := certificateAuthoritiesTable.scan(rows)
		if err != nil {
			return nil, nil, fmt.Errorf("read certificate authorities: %w", err)
		}
		cas[ca.ID] = ca
	}
	return pools, cas, rows.Err()
}

func (s *Store) scanAll(ctx context.Context, query string, args ...any) ([]resource.CertificatePool, error) {
	rows, err := s.db.QueryContext(ctx, s.dialect.rebind(query), args...)
	if err != nil {
		return nil, fmt.Errorf("read certificate pools: %w", err)
	}
	defer rows.Close()
	var out []resource.CertificatePool
	for rows.Next() {
		p, err := certificatePoolsTable.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read certificate pools: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// IdentityPoolsOf returns the pools of an identity provider, oldest first.
func (s *Store) IdentityPoolsOf(ctx context.Context, org, provider string) ([]resource.IdentityPool, error) {
	return s.IdentityPools().ListAll(ctx, org, Query{Parent: provider})
}
