package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/affluent-io/affluent/sdk"
)

// TestCompleteExample applies examples/complete with the real Terraform CLI
// and a locally built provider binary (dev_overrides), produces to the
// created topic with the created Kafka API key, checks that a second plan is
// empty, destroys everything and checks through the SDK that it is gone.
func TestCompleteExample(t *testing.T) {
	tfBin := os.Getenv("TF_ACC_TERRAFORM_PATH")
	providerRoot, err := filepath.Abs(filepath.Join("..", "..")) // terraform-provider/
	if err != nil {
		t.Fatal(err)
	}
	repoRoot := filepath.Dir(providerRoot)

	// The provider binary, built from this tree.
	binDir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(binDir, "terraform-provider-affluent"), "./terraform-provider")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./terraform-provider: %v\n%s", err, out)
	}

	// A CLI config pointing Terraform at it, so no `terraform init` and no
	// registry access.
	cliConfig := filepath.Join(t.TempDir(), "terraformrc")
	rc := fmt.Sprintf(`provider_installation {
  dev_overrides {
    "affluent-io/affluent" = %q
  }
  direct {}
}
`, binDir)
	if err := os.WriteFile(cliConfig, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}

	workDir := t.TempDir()
	copyDir(t, filepath.Join(providerRoot, "examples", "complete"), workDir)

	prefix := fmt.Sprintf("tfex-%d", time.Now().UnixNano()%1_000_000)
	env := append(os.Environ(),
		"TF_CLI_CONFIG_FILE="+cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"AFFLUENT_ENDPOINT="+grpcAddr,
		"AFFLUENT_API_KEY="+devCreds.CloudAPIKey,
		"AFFLUENT_API_SECRET="+devCreds.CloudAPISecret,
		"AFFLUENT_INSECURE=true",
		"TF_VAR_organization_id="+devCreds.OrganizationID,
		"TF_VAR_name_prefix="+prefix,
	)
	terraform := func(args ...string) (stdout string, code int, err error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tfBin, append(args, "-no-color")...)
		cmd.Dir, cmd.Env = workDir, env
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err = cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return out.String(), exit.ExitCode(), fmt.Errorf("terraform %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), exit.ExitCode(), out.String(), errOut.String())
		}
		if err != nil {
			return out.String(), -1, fmt.Errorf("terraform %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), 0, nil
	}

	destroyed := false
	t.Cleanup(func() {
		if !destroyed { // best effort after a failure part-way
			if _, _, err := terraform("destroy", "-auto-approve"); err != nil {
				t.Logf("cleanup: %v", err)
			}
		}
	})

	start := time.Now()
	if _, _, err := terraform("apply", "-auto-approve"); err != nil {
		t.Fatalf("apply examples/complete: expected success, saw %v", err)
	}
	t.Logf("apply took %s", time.Since(start).Round(time.Millisecond))

	raw, _, err := terraform("output", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var outputs map[string]struct {
		Sensitive bool `json:"sensitive"`
		Value     any  `json:"value"`
	}
	if err := json.Unmarshal([]byte(raw), &outputs); err != nil {
		t.Fatalf("terraform output -json: %v\n%s", err, raw)
	}
	str := func(name, prefix string) string {
		t.Helper()
		o, ok := outputs[name]
		if !ok {
			t.Fatalf("output %q: expected it in terraform output -json, saw only %s", name, raw)
		}
		s, _ := o.Value.(string)
		if s == "" || !strings.HasPrefix(s, prefix) {
			t.Fatalf("output %q: expected a non-empty string starting with %q, saw %#v", name, prefix, o.Value)
		}
		return s
	}
	envID := str("environment_id", "env-")
	clusterID := str("cluster_id", "lkc-")
	bootstrap := str("bootstrap_servers", "")
	saID := str("service_account_id", "sa-")
	keyID := str("api_key_id", "")
	secret := str("api_key_secret", "")
	if !outputs["api_key_secret"].Sensitive {
		t.Errorf("output api_key_secret: expected sensitive=true, saw false")
	}
	t.Logf("created %s, %s (bootstrap %s), %s, key %s", envID, clusterID, bootstrap, saID, keyID)

	// Produce to orders as the service account; the role binding reaches the
	// brokers' authorization cache within ~2s, so retry for a while.
	produce := func() error {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(strings.Split(bootstrap, ",")...),
			kgo.SASL(plain.Auth{User: keyID, Pass: secret}.AsMechanism()),
			kgo.DefaultProduceTopic("orders"),
			kgo.RetryTimeout(5*time.Second), kgo.RecordRetries(2),
		)
		if err != nil {
			return err
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		recs := make([]*kgo.Record, 10)
		for i := range recs {
			recs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("order-%d", i)), Value: []byte(fmt.Sprintf(`{"id":%d}`, i))}
		}
		results := cl.ProduceSync(ctx, recs...)
		acked := 0
		for _, r := range results {
			if r.Err != nil {
				return fmt.Errorf("%d of 10 records acknowledged; first error: %w", acked, r.Err)
			}
			acked++
		}
		if acked != 10 {
			return fmt.Errorf("expected 10 acknowledged records, saw %d", acked)
		}
		return nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := produce()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("produce 10 records to orders on %s as %s (key %s): expected all acknowledged within 15s, saw %v", bootstrap, saID, keyID, err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// A second plan must find nothing to change.
	if out, code, err := terraform("plan", "-detailed-exitcode"); code != 0 {
		t.Fatalf("plan after apply: expected exit 0 (no changes), saw exit %d: %v\n%s", code, err, out)
	}

	if _, _, err := terraform("destroy", "-auto-approve"); err != nil {
		t.Fatalf("destroy: expected success, saw %v", err)
	}
	destroyed = true

	ctx := context.Background()
	client, err := sdk.New(ctx, grpcAddr, sdk.WithAPIKey(devCreds.CloudAPIKey, devCreds.CloudAPISecret), sdk.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	checkGone := func(what, id string, get func() error) {
		t.Helper()
		if err := get(); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("%s %s after destroy: expected sdk.ErrNotFound, saw %v", what, id, err)
		}
	}
	checkGone("environment", envID, func() error { _, err := client.GetEnvironment(ctx, envID); return err })
	checkGone("service account", saID, func() error { _, err := client.GetServiceAccount(ctx, saID); return err })
	checkGone("API key", keyID, func() error { _, err := client.GetAPIKey(ctx, keyID); return err })
}

// copyDir copies the regular files of src (examples, no subdirectories of
// interest) into dst, skipping Terraform's local state and caches.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		name := d.Name()
		if d.IsDir() {
			if name == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasPrefix(name, "terraform.tfstate") || name == ".terraform.lock.hcl" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}
