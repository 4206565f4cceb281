package testutil

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// These tests start servers of their own: the package's TestMain, if it
// ever has one, belongs to whichever helper needs it.

func TestNewDatabaseGivesSeparateDatabases(t *testing.T) {
	ctx := context.Background()
	p, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	a, err := p.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two calls returned the same database %s", a)
	}
	conn, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatalf("connect %s: %v", a, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE t (v int); INSERT INTO t VALUES (42)"); err != nil {
		t.Fatalf("write: %v", err)
	}
	conn2, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatalf("connect %s: %v", b, err)
	}
	defer conn2.Close(ctx)
	var n int
	if err := conn2.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 't'").Scan(&n); err != nil {
		t.Fatalf("read: %v", err)
	}
	if n != 0 {
		t.Fatalf("table of database a visible in database b")
	}
}

func TestPostgresURLWithoutSharedServer(t *testing.T) {
	url := PostgresURL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	conn.Close(context.Background())
}

func TestStopRemovesEverything(t *testing.T) {
	ctx := context.Background()
	p, err := StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := p.dir
	url, err := p.NewDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	p.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s still exists after Stop (err %v)", dir, err)
	}
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatalf("server still accepts connections after Stop")
	}
}

func TestMissingBinariesExplain(t *testing.T) {
	t.Setenv(PostgresBinEnv, t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := postgresBinDir(t.TempDir() + "/*/bin")
	if err == nil || !strings.Contains(err.Error(), "install the Debian package postgresql") {
		t.Fatalf("want an error saying how to install PostgreSQL, got %v", err)
	}
}
