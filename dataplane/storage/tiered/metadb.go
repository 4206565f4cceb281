package tiered

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// dialect is everything that differs between metadata DB engines. The SQL
// itself is written once: $N placeholders, TEXT/INTEGER/BIGINT columns,
// INSERT … ON CONFLICT … DO UPDATE and UPDATE … RETURNING, which SQLite
// (3.35+) and PostgreSQL both accept.
type dialect struct {
	name string
	// open returns the pool for writes and the pool for reads (they may be
	// the same).
	open func(ctx context.Context, target string) (write, read *sql.DB, err error)
	// forUpdate ends a SELECT whose rows the transaction must hold until it
	// ends. SQLite needs none: its write transactions (BEGIN IMMEDIATE on
	// one connection) run one at a time. PostgreSQL takes row locks, so
	// brokers sharing the DB serialize per partition, not globally.
	forUpdate string
	// migrationLock, when set, starts every migration transaction, so that
	// brokers starting together apply each version once.
	migrationLock string
	// uniqueViolation reports whether err is a unique-key violation.
	uniqueViolation func(error) bool
}

var dialects = map[string]dialect{
	"sqlite": {name: "sqlite", open: openSQLite, uniqueViolation: sqliteUniqueViolation},
	"postgres": {name: "postgres", open: openPostgres, forUpdate: " FOR UPDATE",
		// Any constant key will do; this one spells "affl".
		migrationLock: `SELECT pg_advisory_xact_lock(1634100844)`, uniqueViolation: postgresUniqueViolation},
}

// parseMetadataURL picks the dialect: sqlite:///abs/path.db, postgres://…,
// or a plain file path (SQLite).
func parseMetadataURL(raw string) (dialect, string, error) {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return dialects["sqlite"], strings.TrimPrefix(raw, "sqlite:"), nil
	}
	switch scheme {
	case "sqlite", "sqlite3", "file":
		u, err := url.Parse(raw)
		if err != nil {
			return dialect{}, "", fmt.Errorf("metadata URL %q: %w", raw, err)
		}
		path := u.Host + u.Path // sqlite://rel/x.db is relative, sqlite:///abs/x.db absolute
		if path == "" {
			return dialect{}, "", fmt.Errorf("metadata URL %q has no path", raw)
		}
		return dialects["sqlite"], path, nil
	case "postgres", "postgresql":
		return dialects["postgres"], raw, nil
	default:
		return dialect{}, "", fmt.Errorf("metadata URL %q: unsupported scheme %q (want sqlite:// or postgres://)", raw, scheme)
	}
}

// openSQLite opens one write connection and a small pool of read-only ones.
// SQLite has a single writer anyway; queuing writers in database/sql is
// fairer and faster than letting them spin on SQLITE_BUSY. WAL lets readers
// run beside the writer; synchronous=FULL makes every commit durable.
func openSQLite(ctx context.Context, path string) (*sql.DB, *sql.DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("create metadata DB dir %s: %w", dir, err)
		}
	}
	base := "file:" + path + "?_pragma=busy_timeout(10000)"
	write, err := sql.Open("sqlite", base+"&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		_ = write.Close()
		return nil, nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(4)
	read.SetMaxIdleConns(4)
	read.SetConnMaxIdleTime(0)
	return write, read, nil
}

// metaDB is the metadata DB with the statements of the hot paths prepared
// once.
type metaDB struct {
	dialect dialect
	write   *sql.DB
	read    *sql.DB
	// metrics times transactions; set by newStore before any goroutine
	// uses the DB (nil while migrating).
	metrics *storeMetrics

	// Write path, used inside the commit transaction.
	advancePartition *sql.Stmt
	insertChunk      *sql.Stmt
	selectProducer   *sql.Stmt
	upsertProducer   *sql.Stmt
	// Read path.
	selectPartition  *sql.Stmt
	selectChunksFrom *sql.Stmt
}

func openMetaDB(ctx context.Context, rawURL string) (*metaDB, error) {
	d, target, err := parseMetadataURL(rawURL)
	if err != nil {
		return nil, err
	}
	write, read, err := d.open(ctx, target)
	if err != nil {
		return nil, err
	}
	db := &metaDB{dialect: d, write: write, read: read}
	if err := db.migrate(ctx); err != nil {
		_ = db.close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		_ = db.close()
		return nil, err
	}
	return db, nil
}

func (db *metaDB) prepare(ctx context.Context) error {
	for _, p := range []struct {
		into **sql.Stmt
		pool *sql.DB
		sql  string
	}{
		{&db.advancePartition, db.write, `UPDATE partitions SET next_offset = next_offset + $1
			WHERE topic_id = $2 AND partition_id = $3 RETURNING next_offset, log_start_offset`},
		{&db.insertChunk, db.write, `INSERT INTO chunks (topic_id, partition_id, base_offset, last_offset,
			object_key, byte_offset, byte_length, first_timestamp, max_timestamp, kind, append_time_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{&db.selectProducer, db.write, `SELECT producer_epoch, last_sequence, recent_batches FROM producers
			WHERE topic_id = $1 AND partition_id = $2 AND producer_id = $3`},
		{&db.upsertProducer, db.write, `INSERT INTO producers (topic_id, partition_id, producer_id,
			producer_epoch, last_sequence, recent_batches, update_time_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (topic_id, partition_id, producer_id) DO UPDATE SET producer_epoch = excluded.producer_epoch,
			last_sequence = excluded.last_sequence, recent_batches = excluded.recent_batches,
			update_time_ms = excluded.update_time_ms`},
		{&db.selectPartition, db.read, `SELECT next_offset, log_start_offset FROM partitions
			WHERE topic_id = $1 AND partition_id = $2`},
		{&db.selectChunksFrom, db.read, `SELECT ` + chunkColumns + ` FROM chunks
			WHERE topic_id = $1 AND partition_id = $2 AND last_offset >= $3 ORDER BY last_offset LIMIT $4`},
	} {
		stmt, err := p.pool.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("prepare %q: %w", firstLine(p.sql), err)
		}
		*p.into = stmt
	}
	return nil
}

const chunkColumns = `base_offset, last_offset, object_key, byte_offset, byte_length, first_timestamp,
	max_timestamp, kind, append_time_ms`

func scanChunk(rows *sql.Rows) (chunkRef, error) {
	var (
		c    chunkRef
		kind int
	)
	err := rows.Scan(&c.base, &c.last, &c.objectKey, &c.pos, &c.length, &c.firstTimestamp, &c.maxTimestamp,
		&kind, &c.appendTime)
	c.stamped = kind == chunkKindSegment
	return c, err
}

// insertChunkRow records c in the chunks table.
func insertChunkRow(ctx context.Context, stmt *sql.Stmt, k partitionKey, c chunkRef) error {
	kind := chunkKindWAL
	if c.stamped {
		kind = chunkKindSegment
	}
	_, err := stmt.ExecContext(ctx, k.topicID, k.partition, c.base, c.last, c.objectKey, c.pos, c.length,
		c.firstTimestamp, c.maxTimestamp, kind, c.appendTime)
	return err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func (db *metaDB) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{db.advancePartition, db.insertChunk, db.selectProducer,
		db.upsertProducer, db.selectPartition, db.selectChunksFrom} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, db.write.Close())
	if db.read != db.write {
		errs = append(errs, db.read.Close())
	}
	return errors.Join(errs...)
}

// inTx runs fn in a write transaction and commits it when fn succeeds.
func (db *metaDB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if db.metrics != nil {
		defer func(start time.Time) { db.metrics.observeTx(start, err) }(time.Now())
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// migration is one schema version; statements run in one transaction.
type migration struct {
	version    int
	statements []string
}

func (db *metaDB) migrate(ctx context.Context) error {
	for _, m := range migrations {
		// One transaction per version, which reads the version again
		// under the lock: brokers starting together each skip what
		// another applied.
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			if db.dialect.migrationLock != "" {
				if _, err := tx.ExecContext(ctx, db.dialect.migrationLock); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
			var current int
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
			if m.version <= current {
				return nil
			}
			for _, stmt := range m.statements {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%q: %w", firstLine(stmt), err)
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at_ms) VALUES ($1, $2)`,
				m.version, time.Now().UnixMilli())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate metadata DB to version %d: %w", m.version, err)
		}
	}
	return nil
}
