package brokertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/affluent-io/affluent/internal/testutil"
)

// pythonScript is a confluent-kafka-python program a test runs.
type pythonScript struct {
	name   string // file name, for failure reports
	source string
	// librdkafka212 loads librdkafka 2.12.0 (scripts/test-deps.sh) rather
	// than the Debian package's 2.0.2, for transactions and the consumer
	// group protocol.
	librdkafka212 bool
	timeout       time.Duration
}

// run runs the script with args on the system Python, where the Debian
// package python3-confluent-kafka installs (a python3 earlier on PATH, from
// pyenv or the like, may lack it), and returns what it printed; err is how
// it failed, if it did, with what it wrote to stderr.
func (s pythonScript) run(t *testing.T, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import confluent_kafka (%v: %s): install the Debian packages python3 and python3-confluent-kafka (`apt-get install -y python3-confluent-kafka`, which `make test` does)", python, err, out)
	}
	path := filepath.Join(t.TempDir(), s.name)
	if err := os.WriteFile(path, []byte(s.source), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{path}, args...)...)
	if s.librdkafka212 {
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+testutil.Librdkafka(t))
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.Bytes(), errOut.Bytes(), fmt.Errorf("%s: %w\nstderr:\n%s", s.name, err, errOut.String())
	}
	return out.Bytes(), errOut.Bytes(), nil
}
