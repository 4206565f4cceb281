// Package deploy_test checks what operators deploy Affluent with: the Helm
// chart renders and validates against Kubernetes' schemas, the plain
// manifests are the chart's output, the configurations it and the Compose
// file carry are ones `affluent server` accepts, and the systemd unit
// passes systemd's own checks. The tools come from scripts/test-deps.sh.
package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/affluent-io/affluent/internal/config"
)

// tool finds a binary test-deps.sh installed; a missing one fails the
// test rather than skipping it.
func tool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("AFFLUENT_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "affluent", "tools")
	}
	if p := filepath.Join(dir, name); isExecutable(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in %s or PATH: run scripts/test-deps.sh (make test-deps)", name, dir)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// schemaDir is where test-deps.sh made kubeconform's schemas.
func schemaDir(t *testing.T) string {
	t.Helper()
	kubeconform := tool(t, "kubeconform")
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(kubeconform), "k8s-schemas-*", "deployment-apps-v1.json"))
	if len(matches) == 0 {
		t.Fatalf("no Kubernetes schemas beside %s: run scripts/test-deps.sh", kubeconform)
	}
	return filepath.Dir(matches[len(matches)-1])
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

// valueSets are the values files the chart is rendered with: its defaults
// and the production shape.
var valueSets = map[string][]string{
	"default":    nil,
	"production": {"-f", "helm/affluent/values-production.yaml"},
}

func helmTemplate(t *testing.T, helm string, values []string) []byte {
	t.Helper()
	args := append([]string{"template", "affluent", "helm/affluent", "--namespace", "streaming"}, values...)
	return run(t, helm, args...)
}

func TestHelmChartRendersValidManifests(t *testing.T) {
	helm, kubeconform, schemas := tool(t, "helm"), tool(t, "kubeconform"), schemaDir(t)
	for name, values := range valueSets {
		t.Run(name, func(t *testing.T) {
			run(t, helm, append([]string{"lint", "--strict", "helm/affluent"}, values...)...)
			rendered := helmTemplate(t, helm, values)
			path := filepath.Join(t.TempDir(), "rendered.yaml")
			if err := os.WriteFile(path, rendered, 0o600); err != nil {
				t.Fatal(err)
			}
			out := run(t, kubeconform, "-strict", "-summary",
				"-schema-location", filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json"), path)
			if !bytes.Contains(out, []byte("Invalid: 0, Errors: 0, Skipped: 0")) {
				t.Fatalf("kubeconform: %s", out)
			}
			docs := decodeAll(t, rendered)
			checkManifests(t, name, docs)
		})
	}
}

// TestKubeconformCatchesMistakes proves the validation above can fail: a
// misspelt field and a wrong type are both refused.
func TestKubeconformCatchesMistakes(t *testing.T) {
	helm, kubeconform, schemas := tool(t, "helm"), tool(t, "kubeconform"), schemaDir(t)
	rendered := string(helmTemplate(t, helm, valueSets["production"]))
	for name, broken := range map[string]string{
		"misspelt field": strings.Replace(rendered, "terminationGracePeriodSeconds:", "terminationGracePeriodSecond:", 1),
		"wrong type":     strings.Replace(rendered, "maxReplicas: 24", "maxReplicas: many", 1),
	} {
		if broken == rendered {
			t.Fatalf("%s: the rendered chart changed; the test no longer breaks it", name)
		}
		path := filepath.Join(t.TempDir(), "broken.yaml")
		if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(kubeconform, "-strict", "-summary",
			"-schema-location", filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json"), path)
		out, err := cmd.CombinedOutput()
		if err == nil || !bytes.Contains(out, []byte("Invalid: 1")) {
			t.Errorf("%s: kubeconform accepted it: %s", name, out)
		}
	}
}

func TestHelmChartRefusesUnknownMode(t *testing.T) {
	helm := tool(t, "helm")
	cmd := exec.Command(helm, "template", "affluent", "helm/affluent", "--set", "mode=clustered")
	out, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte(`mode must be standalone or distributed, not "clustered"`)) {
		t.Fatalf("want the mode refused with a clear message, got %v: %s", err, out)
	}
}

type object struct {
	Kind     string         `yaml:"kind"`
	Metadata map[string]any `yaml:"metadata"`
	Spec     map[string]any `yaml:"spec"`
	Data     map[string]any `yaml:"data"`
}

func decodeAll(t *testing.T, raw []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var docs []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v", err)
		}
		if o.Kind != "" {
			docs = append(docs, o)
		}
	}
}

// checkManifests asserts what an operator relies on beyond the schema: the
// configuration files are ones `affluent server` accepts, the workloads run
// as non-root with probes, and the autoscaler scales the brokers.
func checkManifests(t *testing.T, set string, docs []object) {
	t.Helper()
	kinds := map[string]int{}
	for _, d := range docs {
		kinds[d.Kind]++
		switch d.Kind {
		case "ConfigMap":
			for file, text := range d.Data {
				c := loadConfig(t, set+"/"+file, text.(string))
				if !strings.Contains(file, "broker") && !c.HasRole(config.RoleControlPlane) {
					t.Errorf("%s/%s: no controlplane role", set, file)
				}
			}
		case "Deployment", "StatefulSet":
			checkPodSpec(t, set+"/"+d.Metadata["name"].(string), d.Spec)
		case "HorizontalPodAutoscaler":
			target := d.Spec["scaleTargetRef"].(map[string]any)["name"].(string)
			if !strings.HasSuffix(target, "-broker") {
				t.Errorf("%s: the autoscaler scales %s, not the brokers", set, target)
			}
		}
	}
	want := map[string]map[string]int{
		"default":    {"StatefulSet": 1, "Service": 2, "ConfigMap": 1},
		"production": {"Deployment": 2, "HorizontalPodAutoscaler": 1, "PodDisruptionBudget": 1, "ServiceMonitor": 1, "Service": 3, "ConfigMap": 1},
	}[set]
	for kind, n := range want {
		if kinds[kind] != n {
			t.Errorf("%s: %d %s, want %d (all: %v)", set, kinds[kind], kind, n, kinds)
		}
	}
}

func checkPodSpec(t *testing.T, name string, spec map[string]any) {
	t.Helper()
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	if sc, _ := pod["securityContext"].(map[string]any); sc["runAsNonRoot"] != true {
		t.Errorf("%s: pods may run as root", name)
	}
	for _, c := range pod["containers"].([]any) {
		c := c.(map[string]any)
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			if c[probe] == nil {
				t.Errorf("%s/%s: no %s", name, c["name"], probe)
			}
		}
		if sc, _ := c["securityContext"].(map[string]any); sc["readOnlyRootFilesystem"] != true {
			t.Errorf("%s/%s: writable root filesystem", name, c["name"])
		}
	}
}

// loadConfig reads a configuration as `affluent server --config` does,
// strict about unknown keys.
func loadConfig(t *testing.T, name, text string) config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "affluent.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	var c config.Config
	c.SetDefaults()
	fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
	c.RegisterFlags(fs, true)
	if err := c.Load(fs, path, nil); err != nil {
		t.Fatalf("%s is not a configuration affluent server accepts: %v\n%s", name, err, text)
	}
	return c
}

func TestComposeFile(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"compose/compose.yaml"}, cli.WithName("affluent"), cli.WithInterpolation(true))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose/compose.yaml: %v", err)
	}
	brokers := 0
	for name, s := range project.Services {
		if strings.HasPrefix(name, "broker-") {
			brokers++
			if _, ok := s.DependsOn["controlplane"]; !ok {
				t.Errorf("%s does not wait for the control plane", name)
			}
		}
	}
	if brokers != 3 {
		t.Errorf("%d brokers, want 3", brokers)
	}
	for _, name := range []string{"controlplane", "broker"} {
		cfg, ok := project.Configs[name]
		if !ok {
			t.Fatalf("no %s config", name)
		}
		loadConfig(t, "compose "+name, cfg.Content)
	}
}

// TestSystemdUnit runs systemd's own verifier on the unit, with ExecStart
// pointing at a real affluent binary.
func TestSystemdUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found (Debian package systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "affluent")
	run(t, "go", "build", "-o", bin, "../cmd/affluent")
	unit, err := os.ReadFile("systemd/affluent.service")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(unit), "/usr/local/bin/affluent", bin)
	if text == string(unit) {
		t.Fatal("ExecStart no longer names /usr/local/bin/affluent")
	}
	path := filepath.Join(dir, "affluent.service")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestAlertRules checks the rules with promtool and runs their unit tests
// (alerts_test.yaml: an alert fires on the series it watches, with the
// labels and text operators see).
func TestAlertRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found (Debian package prometheus): run scripts/test-deps.sh")
	}
	out := run(t, promtool, "check", "rules", "prometheus/alerts.yaml")
	if !bytes.Contains(out, []byte("SUCCESS")) {
		t.Fatalf("promtool check rules: %s", out)
	}
	run(t, promtool, "test", "rules", "prometheus/alerts_test.yaml")
}
