package testutil

import (
	"context"
	"os"
	"strings"
	"testing"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"
)

func TestS3ServerRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, err := StartS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := s.dir
	a, err := s.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.NewBucket(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two buckets share the URL %s", a)
	}
	bucket, err := blob.OpenBucket(ctx, a)
	if err != nil {
		t.Fatalf("open %s: %v", a, err)
	}
	if err := bucket.WriteAll(ctx, "x/y", []byte("hello"), nil); err != nil {
		t.Fatalf("write to %s: %v", a, err)
	}
	got, err := bucket.ReadAll(ctx, "x/y")
	if err != nil || string(got) != "hello" {
		t.Fatalf("read back %q %v, want hello", got, err)
	}
	_ = bucket.Close()
	other, err := blob.OpenBucket(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Exists(ctx, "x/y"); err != nil || ok {
		t.Fatalf("object of bucket a visible in bucket b: %v %v", ok, err)
	}
	_ = other.Close()
	s.Stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("server dir %s still exists after Stop (err %v)", dir, err)
	}
}

func TestMissingVersitygwExplains(t *testing.T) {
	t.Setenv(S3BinaryEnv, "")
	t.Setenv("AFFLUENT_TOOLS_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	_, err := versitygwBinary()
	if err == nil || !strings.Contains(err.Error(), "make test-deps") {
		t.Fatalf("want an error saying how to install versitygw, got %v", err)
	}
}
