package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
)

func kgoRecord(topic string, partition int32, offset int64, key, value string, ts time.Time, hk, hv string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Offset: offset, Key: []byte(key), Value: []byte(value), Timestamp: ts,
		Headers: []kgo.RecordHeader{{Key: hk, Value: []byte(hv)}}}
}

// runIn runs the CLI in-process with its configuration in dir.
func runIn(dir string, stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	environ := []string{"AFFLUENT_CONFIG=" + filepath.Join(dir, "config.yaml"), "HOME=" + dir}
	root := NewRoot(&out, &errb, environ)
	root.SetIn(strings.NewReader(stdin))
	code = execute(context.Background(), root, args, &errb)
	return code, out.String(), errb.String()
}

// writeContext saves a context whose API is unreachable: enough for
// everything that fails before calling it.
func writeContext(t *testing.T, dir string) {
	t.Helper()
	a := &cliApp{environ: []string{"AFFLUENT_CONFIG=" + filepath.Join(dir, "config.yaml")}}
	cfg := &userConfig{CurrentContext: "dev", Contexts: map[string]*apiContext{"dev": {
		Endpoint: "127.0.0.1:1", Insecure: true, APIKey: "ABCDEFGH12345678", APISecret: "secret",
		Environment: "env-abc123", Cluster: "lkc-xyz789",
	}}}
	if err := a.saveConfig(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestMisuseExitsWithOneClearLine(t *testing.T) {
	empty := t.TempDir()
	withContext := t.TempDir()
	writeContext(t, withContext)
	for _, tc := range []struct {
		dir  string
		args []string
		code int
		want string
	}{
		{empty, []string{"environment", "list"}, ExitUsage, "no context: run `affluent login --credentials-file"},
		{empty, []string{"kafka", "topic", "consume", "orders"}, ExitUsage, "no context"},
		{empty, []string{"context", "use", "nope"}, ExitUsage, `no context "nope"`},
		{empty, []string{"login"}, ExitUsage, "give --credentials-file"},
		{empty, []string{"login", "--credentials-file", "/nonexistent/dev-credentials.json"}, ExitUsage, "credentials file"},
		{withContext, []string{"--context", "prod", "environment", "list"}, ExitUsage, `no context "prod": see`},
		{withContext, []string{"environment", "list", "-o", "xml"}, ExitUsage, `--output "xml": want one of table, json, yaml`},
		{withContext, []string{"environment", "describe", "prod"}, ExitUsage, `"prod" is not an environment id (env-…)`},
		{withContext, []string{"environment", "create"}, ExitUsage, "missing NAME"},
		{withContext, []string{"environment", "update", "env-abc123"}, ExitUsage, "nothing to update"},
		{withContext, []string{"kafka", "cluster", "describe", "orders"}, ExitUsage, `"orders" is not a cluster id (lkc-…)`},
		{withContext, []string{"kafka", "topic", "create", "a", "b"}, ExitUsage, `too many arguments ["b"]`},
		{withContext, []string{"kafka", "topic", "create", "t", "--config", "novalue"}, ExitUsage, `--config "novalue": want key=value`},
		{withContext, []string{"kafka", "topic", "consume", "t", "--group", "g", "--partition", "1"}, ExitUsage, "--group and --partition"},
		{withContext, []string{"kafka", "topic", "consume", "t", "--offset", "5"}, ExitUsage, "--offset needs --partition"},
		{withContext, []string{"kafka", "topic", "consume", "t", "--partition", "0", "--offset", "soon"}, ExitUsage, `--offset "soon"`},
		{withContext, []string{"kafka", "topic", "produce", "t", "--header", "nokey"}, ExitUsage, `--header "nokey"`},
		{withContext, []string{"kafka", "topic", "produce", "t"}, ExitUsage, "no Kafka API key for cluster lkc-xyz789: run `affluent api-key create --resource lkc-xyz789`"},
		{withContext, []string{"kafka", "quota", "create", "--name", "q"}, ExitUsage, `required flag(s) "principals" not set`},
		{withContext, []string{"kafka", "quota", "create", "--name", "q", "--principals", "sa-1", "--ingress", "fast"}, ExitUsage, `--ingress "fast"`},
		{withContext, []string{"kafka", "acl", "create", "--allow", "--deny"}, ExitUsage, "[allow deny] were all set"},
		{withContext, []string{"api-key", "create", "--service-account", "sa-1", "--resource", "everything"}, ExitUsage, `--resource "everything"`},
		{withContext, []string{"api-key", "describe", "lowercase"}, ExitUsage, "is not an API key"},
		{withContext, []string{"iam", "rbac", "role-binding", "create", "--principal", "User:sa-1"}, ExitUsage, `required flag(s) "role" not set`},
		{withContext, []string{"iam", "rbac", "role-binding", "create", "--principal", "User:sa-1", "--role", "R", "--resource", "Table:x", "--crn-pattern", "crn://x"}, ExitUsage, "[crn-pattern resource] were all set"},
		{withContext, []string{"iam", "service-account", "describe", "u-123"}, ExitUsage, "is not a service account id (sa-…)"},
		{withContext, []string{"environment", "list"}, ExitError, "cannot reach the Affluent API"},
	} {
		code, stdout, stderr := runIn(tc.dir, "", tc.args...)
		if code != tc.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", tc.args, code, tc.code, stderr)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: stderr %q, want one line containing %q", tc.args, stderr, tc.want)
		}
		if stdout != "" {
			t.Errorf("%v: stdout %q, want nothing", tc.args, stdout)
		}
	}
}

func TestConfigLocation(t *testing.T) {
	for _, tc := range []struct {
		environ []string
		want    string
	}{
		{[]string{"AFFLUENT_CONFIG=/a/b.yaml", "XDG_CONFIG_HOME=/x", "HOME=/h"}, "/a/b.yaml"},
		{[]string{"XDG_CONFIG_HOME=/x", "HOME=/h"}, "/x/affluent/config.yaml"},
		{[]string{"HOME=/h"}, "/h/.config/affluent/config.yaml"},
	} {
		got, err := (&cliApp{environ: tc.environ}).configPath()
		if err != nil || got != tc.want {
			t.Errorf("%v: %q %v, want %q", tc.environ, got, err, tc.want)
		}
	}
}

func TestContextsFileIsPrivateAndEditable(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir)
	path := filepath.Join(dir, "config.yaml")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("config mode %v, want 0600", fi.Mode().Perm())
	}
	code, out, stderr := runIn(dir, "", "context", "list")
	if code != ExitOK || !strings.Contains(out, "*        dev") {
		t.Fatalf("context list: %d %q %q", code, out, stderr)
	}
	if code, _, stderr := runIn(dir, "", "context", "delete", "dev"); code != ExitOK {
		t.Fatalf("context delete: %d %s", code, stderr)
	}
	if code, _, stderr := runIn(dir, "", "context", "current"); code != ExitUsage || !strings.Contains(stderr, "no context") {
		t.Fatalf("context current after delete: %d %q", code, stderr)
	}
}

// TestEveryCommandHasHelpWithExamples walks the command tree.
func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	root := NewRoot(&bytes.Buffer{}, &bytes.Buffer{}, nil)
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Name() == "__complete" {
			return
		}
		n++
		if c.Short == "" || c.Example == "" {
			t.Errorf("%q lacks a Short or an Example", c.CommandPath())
		}
		if c.Runnable() && c.Flags().Lookup("output") == nil && c.InheritedFlags().Lookup("output") == nil {
			t.Errorf("%q has no --output", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if n < 50 {
		t.Fatalf("walked %d commands, want the whole tree", n)
	}
}

func TestShellCompletion(t *testing.T) {
	dir := t.TempDir()
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, stderr := runIn(dir, "", "completion", shell)
		if code != ExitOK || !strings.Contains(out, "affluent") {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, code, len(out), stderr)
		}
	}
	code, out, _ := runIn(dir, "", "__complete", "kafka", "topic", "")
	for _, sub := range []string{"create", "produce", "consume", "describe"} {
		if code != ExitOK || !strings.Contains(out, sub) {
			t.Errorf("completing `kafka topic`: %q lacks %s", out, sub)
		}
	}
}
