// Package credstore keeps the dataplane's own credentials: the SCRAM
// credentials of each cluster's users, in the dataplane metadata DB (SQLite
// or PostgreSQL, the same URL the storage engine uses), so that every broker
// of a cell sees them. It is their one source of truth: Kafka's Admin API
// (DescribeUserScramCredentials, AlterUserScramCredentials) reads and writes
// here, and the control plane goes through that API.
//
// Only what RFC 5802 lets a server keep is stored — salt, iterations,
// StoredKey and ServerKey — never a password or a salted password.
package credstore

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/affluent-io/affluent/dataplane/sasl"
)

// Store holds SCRAM credentials keyed by (cluster, user, mechanism).
type Store struct {
	db  *sql.DB
	now func() time.Time
}

// schema is idempotent, in SQL both engines accept; the table lives beside
// the storage engine's in the dataplane metadata DB.
const schema = `CREATE TABLE IF NOT EXISTS scram_credentials (
  cluster     TEXT NOT NULL,
  username    TEXT NOT NULL,
  mechanism   INTEGER NOT NULL,
  salt        TEXT NOT NULL,
  iterations  INTEGER NOT NULL,
  stored_key  TEXT NOT NULL,
  server_key  TEXT NOT NULL,
  update_time BIGINT NOT NULL,
  PRIMARY KEY (cluster, username, mechanism)
)`

// Open connects to the metadata DB at rawURL — sqlite:///abs/path.db,
// sqlite://rel/path.db, a plain path (SQLite) or postgres://… — and creates
// the table if needed.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	driver, dsn, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("open credential store: %w", err)
	}
	if driver == "sqlite" {
		// Writes are rare (Admin API); SQLite has one writer anyway.
		db.SetMaxOpenConns(2)
	} else {
		db.SetMaxOpenConns(4)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	if _, err := db.ExecContext(ctx, schema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("credential store schema: %w", err)
	}
	return &Store{db: db, now: time.Now}, nil
}

func parseURL(raw string) (driver, dsn string, err error) {
	scheme, _, ok := strings.Cut(raw, "://")
	path := strings.TrimPrefix(raw, "sqlite:")
	switch {
	case !ok:
	case scheme == "sqlite" || scheme == "sqlite3" || scheme == "file":
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", fmt.Errorf("credential store URL: %w", err)
		}
		path = u.Host + u.Path
	case scheme == "postgres" || scheme == "postgresql":
		return "pgx", raw, nil
	default:
		return "", "", fmt.Errorf("credential store URL: unsupported scheme %q (want sqlite:// or postgres://)", scheme)
	}
	if path == "" {
		return "", "", errors.New("credential store URL has no path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", "", fmt.Errorf("credential store dir: %w", err)
		}
	}
	return "sqlite", "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate", nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

var b64 = base64.StdEncoding

// LookupScram returns the credential of user in cluster for mechanism m;
// found is false when there is none.
func (s *Store) LookupScram(ctx context.Context, cluster, user string, m sasl.ScramMechanism) (sasl.ScramCredential, bool, error) {
	var salt, stored, server string
	cred := sasl.ScramCredential{Mechanism: m}
	err := s.db.QueryRowContext(ctx, `SELECT salt, iterations, stored_key, server_key FROM scram_credentials
		WHERE cluster = $1 AND username = $2 AND mechanism = $3`, cluster, user, int(m)).Scan(&salt, &cred.Iterations, &stored, &server)
	if errors.Is(err, sql.ErrNoRows) {
		return cred, false, nil
	}
	if err != nil {
		return cred, false, fmt.Errorf("look up scram credential: %w", err)
	}
	var errs [3]error
	cred.Salt, errs[0] = b64.DecodeString(salt)
	cred.StoredKey, errs[1] = b64.DecodeString(stored)
	cred.ServerKey, errs[2] = b64.DecodeString(server)
	if err := errors.Join(errs[:]...); err != nil {
		return cred, false, fmt.Errorf("scram credential of %s in %s is corrupt: %w", user, cluster, err)
	}
	return cred, true, nil
}

// ScramCredentials returns the mechanisms and iterations (no keys) of the
// credentials of users in cluster, of every user when users is nil. Users
// without credentials are absent from the map.
func (s *Store) ScramCredentials(ctx context.Context, cluster string, users []string) (map[string][]sasl.ScramCredential, error) {
	q := `SELECT username, mechanism, iterations FROM scram_credentials WHERE cluster = $1`
	args := []any{cluster}
	if users != nil {
		if len(users) == 0 {
			return map[string][]sasl.ScramCredential{}, nil
		}
		marks := make([]string, len(users))
		for i, u := range users {
			marks[i] = fmt.Sprintf("$%d", i+2)
			args = append(args, u)
		}
		q += " AND username IN (" + strings.Join(marks, ", ") + ")"
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY username, mechanism", args...)
	if err != nil {
		return nil, fmt.Errorf("list scram credentials: %w", err)
	}
	defer rows.Close()
	out := map[string][]sasl.ScramCredential{}
	for rows.Next() {
		var user string
		var c sasl.ScramCredential
		var mech int
		if err := rows.Scan(&user, &mech, &c.Iterations); err != nil {
			return nil, fmt.Errorf("list scram credentials: %w", err)
		}
		c.Mechanism = sasl.ScramMechanism(mech)
		out[user] = append(out[user], c)
	}
	return out, rows.Err()
}

// AlterScram applies upserts (user → credentials) and deletions (user →
// mechanisms) to cluster in one transaction. Deleting what does not exist
// is not an error here; the Admin API checks that first.
func (s *Store) AlterScram(ctx context.Context, cluster string, upserts map[string][]sasl.ScramCredential, deletions map[string][]sasl.ScramMechanism) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alter scram credentials: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, user := range sortedKeys(deletions) {
		for _, m := range deletions[user] {
			if _, err := tx.ExecContext(ctx, `DELETE FROM scram_credentials WHERE cluster = $1 AND username = $2 AND mechanism = $3`,
				cluster, user, int(m)); err != nil {
				return fmt.Errorf("delete scram credential: %w", err)
			}
		}
	}
	now := s.now().UnixMicro()
	for _, user := range sortedKeys(upserts) {
		for _, c := range upserts[user] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO scram_credentials
				(cluster, username, mechanism, salt, iterations, stored_key, server_key, update_time)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (cluster, username, mechanism) DO UPDATE SET salt = excluded.salt,
				iterations = excluded.iterations, stored_key = excluded.stored_key,
				server_key = excluded.server_key, update_time = excluded.update_time`,
				cluster, user, int(c.Mechanism), b64.EncodeToString(c.Salt), c.Iterations,
				b64.EncodeToString(c.StoredKey), b64.EncodeToString(c.ServerKey), now); err != nil {
				return fmt.Errorf("upsert scram credential: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alter scram credentials: %w", err)
	}
	return nil
}

// DeleteCluster drops every credential of cluster (the cluster was deleted).
func (s *Store) DeleteCluster(ctx context.Context, cluster string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM scram_credentials WHERE cluster = $1`, cluster); err != nil {
		return fmt.Errorf("delete scram credentials of %s: %w", cluster, err)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
