package brokertest

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/affluent-io/affluent/internal/testutil"
)

// kcat runs kcat (librdkafka) against the broker as its first tenant and
// returns its standard output.
func kcat(t *testing.T, h *testutil.BrokerHandle, stdin string, args ...string) string {
	t.Helper()
	bin := testutil.RequireTool(t, "kcat", "kcat")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	base := []string{
		"-b", h.Addr,
		"-X", "security.protocol=SASL_PLAINTEXT",
		"-X", "sasl.mechanisms=PLAIN",
		"-X", "sasl.username=" + h.Username,
		"-X", "sasl.password=" + h.Password,
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstderr:\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func TestKcat(t *testing.T) {
	h := testutil.StartBroker(t, testutil.BrokerOptions{})
	createTopic(t, h.Admin(t), "kcat-topic", 2, nil)

	t.Run("metadata", func(t *testing.T) {
		var md struct {
			Brokers []struct {
				ID   int32  `json:"id"`
				Name string `json:"name"`
			} `json:"brokers"`
			Topics []struct {
				Topic      string            `json:"topic"`
				Partitions []json.RawMessage `json:"partitions"`
			} `json:"topics"`
		}
		out := kcat(t, h, "", "-L", "-J")
		if err := json.Unmarshal([]byte(out), &md); err != nil {
			t.Fatalf("kcat -L -J output %q: %v", out, err)
		}
		if len(md.Brokers) != 1 || md.Brokers[0].ID != 1 || md.Brokers[0].Name != h.Addr {
			t.Fatalf("brokers %+v, want node 1 at %s", md.Brokers, h.Addr)
		}
		if len(md.Topics) != 1 || md.Topics[0].Topic != "kcat-topic" || len(md.Topics[0].Partitions) != 2 {
			t.Fatalf("topics %+v, want kcat-topic with 2 partitions", md.Topics)
		}
	})

	t.Run("produce lz4 and consume back", func(t *testing.T) {
		lines := []string{"alpha:1", "beta:2", "gamma:3", "delta:4", "epsilon:5"}
		kcat(t, h, strings.Join(lines, "\n")+"\n", "-P", "-t", "kcat-topic", "-z", "lz4", "-K", ":")
		out := kcat(t, h, "", "-C", "-t", "kcat-topic", "-o", "beginning", "-e", "-q", "-f", "%k:%s\n")
		got := strings.Fields(out)
		slices.Sort(got)
		want := slices.Clone(lines)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("consumed %q, want %q", got, want)
		}
	})

	t.Run("consumer group", func(t *testing.T) {
		out := kcat(t, h, "", "-G", "kcat-group", "-o", "beginning", "-e", "-q", "-f", "%s\n", "kcat-topic")
		if got := len(strings.Fields(out)); got != 5 {
			t.Fatalf("group consumed %d records (%q), want 5", got, out)
		}
	})
}
