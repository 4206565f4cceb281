// Package store persists the control plane's resources in SQLite (the
// embedded default, modernc.org/sqlite) or PostgreSQL (production, pgx),
// chosen by URL. Both engines run the same versioned migrations and the
// same queries; what differs between them — placeholders, how constraint
// violations are reported, how concurrent migrators are kept apart — is
// behind the small dialect interface. Every query is scoped to an
// organization, so tenants never see each other's rows.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Errors services map to the API's catalogue.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	ErrEtagMismatch  = errors.New("etag mismatch")
	// ErrRequestIDReused: the request id was used for a different request.
	ErrRequestIDReused = errors.New("request id reused")
	// ErrNotEmpty: the resource still holds children.
	ErrNotEmpty = errors.New("not empty")
)

// Store is the control plane's database.
type Store struct {
	db      *sql.DB
	dialect dialect
	now     func() time.Time

	// commits counts committed write transactions; onCommit, when set, is
	// called after each (the cue of the brokers' config watch).
	commits  atomic.Uint64
	onCommit atomic.Pointer[func()]
}

// OnCommit makes fn be called after every committed write transaction.
// fn must not block.
func (s *Store) OnCommit(fn func()) { s.onCommit.Store(&fn) }

// Commits is the number of write transactions committed so far.
func (s *Store) Commits() uint64 { return s.commits.Load() }

// Open connects to url — sqlite:///abs/path.db, sqlite://rel/path.db or
// postgres://… (postgresql://…) — and brings its schema up to date.
func Open(ctx context.Context, url string) (*Store, error) {
	var s *Store
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		if path == "" {
			return nil, errors.New("open metadata db: sqlite:// needs a file path")
		}
		dsn := "file:" + filepath.ToSlash(path) +
			"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// One writer at a time is SQLite's rule. Several connections make
		// writers collide inside SQLite, whose busy handler then sleeps for
		// up to 100ms per retry: under 50 concurrent API clients that took
		// p99 to seconds. One connection queues them in Go instead, where
		// each statement takes about a millisecond.
		db.SetMaxOpenConns(1)
		s = &Store{db: db, dialect: sqliteDialect{}}
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		db.SetConnMaxIdleTime(5 * time.Minute)
		s = &Store{db: db, dialect: postgresDialect{}}
	default:
		return nil, fmt.Errorf("open metadata db: unsupported URL %q: want sqlite:// or postgres://", redactURL(url))
	}
	s.now = time.Now
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s metadata db: %w", s.dialect.name(), err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// redactURL drops credentials from a URL for error messages.
func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "…" + u[i:]
		}
	}
	return u
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Engine is "sqlite" or "postgres".
func (s *Store) Engine() string { return s.dialect.name() }

// DB exposes the database handle for tests that inspect rows.
func (s *Store) DB() *sql.DB { return s.db }

// now returns the current time at the precision the store keeps.
func (s *Store) nowMicro() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// tx runs fn in a transaction, committed when fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	// Last, so the row lock is held only for the commit: concurrent
	// writers queue on it briefly, and a write and its sequence number
	// become visible together (write_sequence).
	if _, err := tx.ExecContext(ctx, "UPDATE write_sequence SET value = value + 1 WHERE id = 1"); err != nil {
		_ = tx.Rollback()
		return fmt.Errorf("bump write sequence: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return s.classify(fmt.Errorf("commit: %w", err))
	}
	s.commits.Add(1)
	if fn := s.onCommit.Load(); fn != nil {
		(*fn)()
	}
	return nil
}

// classify turns constraint violations into ErrAlreadyExists (unique) or
// ErrNotFound (a parent vanished: foreign key).
func (s *Store) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case s.dialect.isUniqueViolation(err):
		return fmt.Errorf("%w: %v", ErrAlreadyExists, err)
	case s.dialect.isForeignKeyViolation(err):
		return fmt.Errorf("%w: parent resource: %v", ErrNotFound, err)
	}
	return err
}

func newEtag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dialect is what differs between the engines.
type dialect interface {
	name() string
	// rebind rewrites ? placeholders to the engine's.
	rebind(query string) string
	isUniqueViolation(err error) bool
	isForeignKeyViolation(err error) bool
	// lockMigrations keeps concurrent processes from migrating at once.
	lockMigrations(ctx context.Context, tx *sql.Tx) error
}

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}
func (sqliteDialect) isForeignKeyViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// SQLite transactions begin IMMEDIATE (see the DSN): the migration holds
// the write lock from its start.
func (sqliteDialect) lockMigrations(context.Context, *sql.Tx) error { return nil }

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgresDialect) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func (postgresDialect) isForeignKeyViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23503"
}

// migrationLockID is an arbitrary constant naming the advisory lock.
const migrationLockID = 0x6166666c75656e74 // "affluent"

func (postgresDialect) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLockID))
	return err
}
