// Package testutil holds the helpers tests share: real dependencies
// (PostgreSQL, brokers, object storage) started on loopback with free ports
// and cleaned up after themselves.
package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresBinEnv names a directory holding initdb and postgres, overriding
// the search of /usr/lib/postgresql/*/bin and PATH.
const PostgresBinEnv = "AFFLUENT_POSTGRES_BIN"

// Postgres is a PostgreSQL server started for tests: its own data directory
// in a temporary directory, trust authentication, listening on a free
// loopback port, tuned for speed rather than durability.
type Postgres struct {
	dir  string
	port int
	cmd  *exec.Cmd
	// exited is closed when the server process has been waited for.
	exited chan struct{}
	dbSeq  atomic.Int64
	// What Start needs to start the server again after Crash.
	binDir, dataDir string
	cred            *syscall.Credential
}

// StartPostgres initialises and starts a server. Running as root, it runs
// the server as the `postgres` system user (PostgreSQL refuses root).
func StartPostgres(ctx context.Context) (*Postgres, error) {
	binDir, err := postgresBinDir(debianPostgresBins)
	if err != nil {
		return nil, err
	}
	cred, uid, gid, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "affluent-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres temp dir: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres temp dir: %w", err)
		}
	}
	dataDir := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	// A free port can be taken between our probe and the server's bind, so
	// try a few.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		p := &Postgres{dir: dir, port: port, binDir: binDir, dataDir: dataDir, cred: cred}
		if lastErr = p.start(ctx, binDir, dataDir, cred); lastErr == nil {
			return p, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (p *Postgres) start(ctx context.Context, binDir, dataDir string, cred *syscall.Credential) error {
	logPath := filepath.Join(p.dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("postgres log: %w", err)
	}
	defer logFile.Close()
	p.cmd = exec.Command(filepath.Join(binDir, "postgres"),
		"-D", dataDir, "-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-k", p.dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200")
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.exited = make(chan struct{})
	// Pdeathsig stops the server if the test binary dies without cleanup.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	cmd, exited := p.cmd, p.exited
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, p.url("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-p.exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited during startup:\n%s", out)
		case <-ctx.Done():
			p.Stop()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop()
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres not accepting connections after 30s: %v\n%s", err, out)
		}
	}
}

// Stop shuts the server down (fast shutdown, then SIGKILL after 10s) and
// removes its directory.
func (p *Postgres) Stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	os.RemoveAll(p.dir)
}

// Halt stops the server, keeping its data; Start brings it back. To its
// clients it is a crash: every session is cut and connections are refused
// until Start. It is a fast shutdown all the same, since the server runs
// with synchronous_commit=off, which an immediate one would turn into
// losing acknowledged commits. The test owning the server calls both,
// never at once.
func (p *Postgres) Halt() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Start starts the server again on its data directory and port after
// Halt, and waits until it accepts connections (after crash recovery).
func (p *Postgres) Start(ctx context.Context) error {
	select {
	case <-p.exited:
	default:
		return errors.New("postgres is still running")
	}
	return p.start(ctx, p.binDir, p.dataDir, p.cred)
}

// Addr is the server's host:port.
func (p *Postgres) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

func (p *Postgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", p.Addr(), db)
}

// NewDatabase creates an empty database and returns its URL
// (postgres://…?sslmode=disable), so tests sharing a server never see each
// other's rows.
func (p *Postgres) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), p.dbSeq.Add(1))
	conn, err := pgx.Connect(ctx, p.url("postgres"))
	if err != nil {
		return "", fmt.Errorf("connect to test postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return p.url(name), nil
}

// shared is the server of this test binary, started on first use when the
// binary's TestMain uses RunWithPostgres.
var shared struct {
	mu      sync.Mutex // guards the fields below
	enabled bool
	server  *Postgres
	err     error
}

// RunWithPostgres runs the tests of a package sharing one PostgreSQL
// server, started the first time a test asks for a database and stopped
// when every test is done:
//
//	func TestMain(m *testing.M) { os.Exit(testutil.RunWithPostgres(m)) }
func RunWithPostgres(m *testing.M) int {
	shared.mu.Lock()
	shared.enabled = true
	shared.mu.Unlock()
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.server != nil {
		shared.server.Stop()
		shared.server = nil
	}
	return code
}

// PostgresURL returns the URL of a new, empty database for t. With
// RunWithPostgres in TestMain the server is shared by the package's tests;
// without, t gets a server of its own, stopped when t ends. It fails t with
// an explanation when PostgreSQL is not installed.
func PostgresURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := sharedServer(t, ctx)
	if server == nil {
		var err error
		if server, err = StartPostgres(ctx); err != nil {
			t.Fatalf("start PostgreSQL: %v", err)
		}
		t.Cleanup(server.Stop)
	}
	url, err := server.NewDatabase(ctx)
	if err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	return url
}

func sharedServer(t testing.TB, ctx context.Context) *Postgres {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.enabled {
		return nil
	}
	if shared.server == nil && shared.err == nil {
		shared.server, shared.err = StartPostgres(ctx)
	}
	if shared.err != nil {
		t.Fatalf("start PostgreSQL: %v", shared.err)
	}
	return shared.server
}

// debianPostgresBins is where Debian installs each PostgreSQL version.
const debianPostgresBins = "/usr/lib/postgresql/*/bin"

// postgresBinDir finds initdb and postgres: $AFFLUENT_POSTGRES_BIN, the
// newest version matching pattern, or PATH.
func postgresBinDir(pattern string) (string, error) {
	var looked []string
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				return false
			}
		}
		return true
	}
	if dir := os.Getenv(PostgresBinEnv); dir != "" {
		if has(dir) {
			return dir, nil
		}
		looked = append(looked, dir+" ($"+PostgresBinEnv+")")
	}
	dirs, _ := filepath.Glob(pattern)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir, nil
		}
	}
	looked = append(looked, pattern)
	if p, err := exec.LookPath("initdb"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	looked = append(looked, "PATH")
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in %s: "+
		"install the Debian package postgresql (`make test-deps`) or set $%s",
		strings.Join(looked, ", "), PostgresBinEnv)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// serverCredential is who runs the server: ourselves, or the postgres
// system user when we are root.
func serverCredential() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, 0, 0, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, errors.New("running as root, PostgreSQL must run as another user, " +
			"but there is no `postgres` system user (the Debian package postgresql creates it)")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
