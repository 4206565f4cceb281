package brokertest

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/affluent-io/affluent/internal/testutil"
)

// suiteBackendsEnv names the object stores the suite runs on,
// comma-separated; unset means all of suiteBackends.
const suiteBackendsEnv = "AFFLUENT_BROKERTEST_BACKENDS"

// suiteBackends are the object stores the whole suite runs on, one after
// the other, the tests unchanged: the data directory (file://), then a
// bucket of a real S3 server (versitygw) per broker data directory.
var suiteBackends = []string{testutil.BackendFile, testutil.BackendS3}

// TestMain lets testutil.StartBrokerProcess re-execute this binary as a
// broker that a test can kill, then runs the suite once per backend.
func TestMain(m *testing.M) {
	testutil.MaybeServeBrokerProcess()
	os.Exit(runOnEachBackend(m))
}

// runOnEachBackend runs every test once per backend, setting
// testutil.BrokerBackend, which every broker the tests start (in process
// or as a process) takes its object store from. A test's name is the same
// in each run; the line before each run says which backend it is, and a
// failure names the bucket in the broker's storage errors.
func runOnEachBackend(m *testing.M) int {
	flag.Parse()
	backends := suiteBackends
	if only := os.Getenv(suiteBackendsEnv); only != "" {
		backends = nil
		for b := range strings.SplitSeq(only, ",") {
			if b = strings.TrimSpace(b); slices.Contains(suiteBackends, b) {
				backends = append(backends, b)
			} else if b != "" {
				fmt.Fprintf(os.Stderr, "$%s: unknown backend %q (want %s)\n", suiteBackendsEnv, b, strings.Join(suiteBackends, ", "))
				return 2
			}
		}
	}
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		backends = backends[:min(1, len(backends))] // list the tests once
	}
	defer testutil.StopSharedS3()
	code := 0
	for _, b := range backends {
		testutil.BrokerBackend = b
		fmt.Printf("brokertest: the suite on the %s object store\n", b)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	return code
}
