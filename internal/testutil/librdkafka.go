package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// Librdkafka is the directory of the librdkafka 2.12.0 that
// scripts/test-deps.sh builds (with libcurl for OIDC, and a complete
// KIP-848 consumer): put it in LD_LIBRARY_PATH to run Debian's kcat or
// python3-confluent-kafka on it. The test fails when it is missing.
func Librdkafka(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("AFFLUENT_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "affluent", "tools")
	}
	dir = filepath.Join(dir, "librdkafka-2.12.0")
	if _, err := os.Stat(filepath.Join(dir, "librdkafka.so.1")); err != nil {
		t.Fatalf("no librdkafka 2.12.0 in %s: run scripts/test-deps.sh (%v)", dir, err)
	}
	return dir
}
