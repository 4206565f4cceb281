package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3 test server: versitygw (an S3 gateway) with its posix backend in a
// temporary directory, on a free loopback port. `make test-deps` builds the
// binary into $AFFLUENT_TOOLS_DIR.
const (
	// S3BinaryEnv names the versitygw binary, overriding the search of
	// $AFFLUENT_TOOLS_DIR and PATH.
	S3BinaryEnv = "AFFLUENT_VERSITYGW"
	// S3AccessKey and S3SecretKey are the static credentials of every test
	// S3 server. StartS3 exports them as AWS_ACCESS_KEY_ID and
	// AWS_SECRET_ACCESS_KEY, since gocloud.dev's s3:// URLs take
	// credentials from the environment only.
	S3AccessKey = "affluent-test"
	S3SecretKey = "affluent-test-secret"
	s3Region    = "us-east-1"
)

// S3Server is a running versitygw.
type S3Server struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has been waited for
	seq    atomic.Int64
}

// StartS3 starts a server. It sets the AWS credential variables of this
// process to S3AccessKey and S3SecretKey (and turns off the EC2 metadata
// lookup), which is what lets URLs from NewBucket open without more.
func StartS3(ctx context.Context) (*S3Server, error) {
	bin, err := versitygwBinary()
	if err != nil {
		return nil, err
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":         S3AccessKey,
		"AWS_SECRET_ACCESS_KEY":     S3SecretKey,
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		if err := os.Setenv(k, v); err != nil {
			return nil, fmt.Errorf("set %s: %w", k, err)
		}
	}
	dir, err := os.MkdirTemp("", "affluent-s3-")
	if err != nil {
		return nil, fmt.Errorf("s3 temp dir: %w", err)
	}
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("s3 root dir: %w", err)
	}
	var lastErr error
	for range 3 { // a probed free port can be taken before the server binds it
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		s := &S3Server{dir: dir, port: port, exited: make(chan struct{})}
		if lastErr = s.start(ctx, bin, root); lastErr == nil {
			return s, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (s *S3Server) start(ctx context.Context, bin, root string) error {
	logPath := filepath.Join(s.dir, "versitygw.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("versitygw log: %w", err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(bin, "--port", s.Addr(), "--access", S3AccessKey, "--secret", S3SecretKey,
		"--region", s3Region, "--quiet", "posix", root)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Pdeathsig stops the server if the test binary dies without cleanup.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	client := s.client()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("versitygw exited during startup:\n%s", out)
		case <-ctx.Done():
			s.stopProcess()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopProcess()
			out, _ := os.ReadFile(logPath)
			return fmt.Errorf("versitygw not answering after 30s: %v\n%s", err, out)
		}
	}
}

func (s *S3Server) client() *s3.Client {
	return s3.New(s3.Options{
		Region:       s3Region,
		BaseEndpoint: aws.String(s.Endpoint()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(S3AccessKey, S3SecretKey, ""),
	})
}

// Addr is the server's host:port.
func (s *S3Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Endpoint is the server's base URL.
func (s *S3Server) Endpoint() string { return "http://" + s.Addr() }

// NewBucket creates an empty bucket and returns its gocloud.dev URL:
// s3://bucket?endpoint=…&use_path_style=true&region=us-east-1.
func (s *S3Server) NewBucket(ctx context.Context) (string, error) {
	name := fmt.Sprintf("test-%d-%d", os.Getpid(), s.seq.Add(1))
	if _, err := s.client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return "", fmt.Errorf("create bucket %s: %w", name, err)
	}
	q := url.Values{}
	q.Set("endpoint", s.Endpoint())
	q.Set("use_path_style", "true")
	q.Set("region", s3Region)
	return "s3://" + name + "?" + q.Encode(), nil
}

func (s *S3Server) stopProcess() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// Stop stops the server and removes its directory.
func (s *S3Server) Stop() {
	s.stopProcess()
	os.RemoveAll(s.dir)
}

// sharedS3 is the server of this test binary, started on first use by
// S3URL and stopped by StopSharedS3.
var sharedS3 struct {
	mu     sync.Mutex // guards the fields below
	server *S3Server
	err    error
}

// S3URL returns the URL of a new, empty bucket on this test binary's S3
// server, started on first use. Call StopSharedS3 from TestMain after the
// tests ran; if nothing does, the server dies with the test binary but its
// temporary directory stays. It fails t with an explanation when versitygw
// is not installed.
func S3URL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sharedS3.mu.Lock()
	if sharedS3.server == nil && sharedS3.err == nil {
		sharedS3.server, sharedS3.err = StartS3(ctx)
	}
	server, err := sharedS3.server, sharedS3.err
	sharedS3.mu.Unlock()
	if err != nil {
		t.Fatalf("start S3 server: %v", err)
	}
	u, err := server.NewBucket(ctx)
	if err != nil {
		t.Fatalf("S3: %v", err)
	}
	return u
}

// StopSharedS3 stops the server S3URL started, if any.
func StopSharedS3() {
	sharedS3.mu.Lock()
	defer sharedS3.mu.Unlock()
	if sharedS3.server != nil {
		sharedS3.server.Stop()
		sharedS3.server = nil
	}
}

// versitygwBinary finds versitygw: $AFFLUENT_VERSITYGW, then
// $AFFLUENT_TOOLS_DIR (default ~/.cache/affluent/tools), then PATH.
func versitygwBinary() (string, error) {
	var looked []string
	if p := os.Getenv(S3BinaryEnv); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p+" ($"+S3BinaryEnv+")")
	}
	toolsDir := os.Getenv("AFFLUENT_TOOLS_DIR")
	if toolsDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			toolsDir = filepath.Join(home, ".cache", "affluent", "tools")
		}
	}
	if toolsDir != "" {
		p := filepath.Join(toolsDir, "versitygw")
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	looked = append(looked, "PATH")
	return "", errors.New("the S3 test server versitygw was not found in " + fmt.Sprint(looked) +
		": run `make test-deps` (it builds it into $AFFLUENT_TOOLS_DIR) or set $" + S3BinaryEnv)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
