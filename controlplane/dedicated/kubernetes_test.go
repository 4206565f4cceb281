package dedicated

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

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/resource"
	"github.com/affluent-io/affluent/internal/config"
)

func testKubernetes(t *testing.T, a Applier) *Kubernetes {
	t.Helper()
	k, err := NewKubernetes(KubernetesOptions{
		Namespace: "tenants", Image: "ghcr.io/affluent-io/affluent:1.0.0", ControlPlaneAddr: "affluent-controlplane.streaming:8090",
		BrokerSecret: "affluent-broker-secret", ObjectStore: "s3://affluent-data?region=eu-west-1&prefix={cluster}/",
		MetadataDB: "postgres://affluent@db.streaming/{cluster}?sslmode=require", Applier: a,
	})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// kubeTool finds a tool scripts/test-deps.sh installed (as deploy's tests
// do); a missing one fails the test.
func kubeTool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("AFFLUENT_TOOLS_DIR")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "affluent", "tools")
	}
	if p := filepath.Join(dir, name); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s not found in %s or PATH: run scripts/test-deps.sh (make test-deps)", name, dir)
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// kubeconform validates manifests against the offline Kubernetes schemas
// and returns its summary and whether it accepted them.
func kubeconform(t *testing.T, manifests []byte) (string, bool) {
	t.Helper()
	bin := kubeTool(t, "kubeconform")
	schemas, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), "k8s-schemas-*", "statefulset-apps-v1.json"))
	if len(schemas) == 0 {
		t.Fatalf("no Kubernetes schemas beside %s: run scripts/test-deps.sh", bin)
	}
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, manifests, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-strict", "-summary", "-schema-location",
		filepath.Join(filepath.Dir(schemas[len(schemas)-1]), "{{ .ResourceKind }}{{ .KindSuffix }}.json"), path).CombinedOutput()
	return string(out), err == nil
}

type object struct {
	Kind     string         `yaml:"kind"`
	Metadata map[string]any `yaml:"metadata"`
	Spec     map[string]any `yaml:"spec"`
	Data     map[string]any `yaml:"data"`
}

func decode(t *testing.T, raw []byte) []object {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, raw)
		}
		out = append(out, o)
	}
}

func TestKubernetesManifestsValidate(t *testing.T) {
	k := testKubernetes(t, &fakeApplier{})
	for _, brokers := range []int32{1, 3, 32} {
		c := resource.Cluster{Meta: resource.Meta{ID: "lkc-abc123"}, Type: resource.ClusterDedicated, Brokers: brokers}
		raw, err := k.Render(c)
		if err != nil {
			t.Fatal(err)
		}
		if out, ok := kubeconform(t, raw); !ok || !strings.Contains(out, "Valid: 4, Invalid: 0, Errors: 0, Skipped: 0") {
			t.Fatalf("%d brokers: kubeconform: %s\n%s", brokers, out, raw)
		}
		kinds := map[string]int{}
		for _, o := range decode(t, raw) {
			kinds[o.Kind]++
			labels, _ := o.Metadata["labels"].(map[string]any)
			if labels[ClusterLabel] != "lkc-abc123" || o.Metadata["namespace"] != "tenants" {
				t.Errorf("%s %v: labels %v, namespace %v; want %s=lkc-abc123 in tenants", o.Kind, o.Metadata["name"], labels, ClusterLabel, o.Metadata["namespace"])
			}
			switch o.Kind {
			case "StatefulSet":
				if o.Spec["replicas"] != int(brokers) {
					t.Errorf("replicas %v, want %d", o.Spec["replicas"], brokers)
				}
			case "ConfigMap":
				// The brokers' configuration is one `affluent server` accepts,
				// for this cluster only, on its own stores.
				var cfg config.Config
				cfg.SetDefaults()
				path := filepath.Join(t.TempDir(), "broker.yaml")
				if err := os.WriteFile(path, []byte(o.Data["broker.yaml"].(string)), 0o600); err != nil {
					t.Fatal(err)
				}
				fs := pflag.NewFlagSet("server", pflag.ContinueOnError)
				cfg.RegisterFlags(fs, true)
				if err := cfg.Load(fs, path, nil); err != nil {
					t.Fatalf("broker.yaml is not a configuration affluent server accepts: %v", err)
				}
				if cfg.Kafka.DedicatedCluster != "lkc-abc123" || cfg.Roles != "broker" ||
					cfg.Storage.MetadataURL != "postgres://affluent@db.streaming/lkc_abc123?sslmode=require" ||
					cfg.Storage.ObjectStoreURL != "s3://affluent-data?region=eu-west-1&prefix=lkc_abc123/" {
					t.Errorf("broker config: %+v", cfg)
				}
			}
		}
		if kinds["StatefulSet"] != 1 || kinds["Service"] != 2 || kinds["ConfigMap"] != 1 {
			t.Errorf("objects %v, want a StatefulSet, two Services and a ConfigMap", kinds)
		}
	}
	// The validation can fail: a misspelt field is refused.
	raw, _ := k.Render(resource.Cluster{Meta: resource.Meta{ID: "lkc-abc123"}, Type: resource.ClusterDedicated, Brokers: 2})
	broken := bytes.Replace(raw, []byte("serviceName:"), []byte("servicename:"), 1)
	if bytes.Equal(broken, raw) {
		t.Fatal("the rendered manifests changed; the test no longer breaks them")
	}
	if out, ok := kubeconform(t, broken); ok {
		t.Errorf("kubeconform accepted a misspelt field: %s", out)
	}
}

// fakeApplier keeps what was applied and plays the StatefulSet controller:
// ready replicas follow the applied replicas when told to.
type fakeApplier struct {
	applied  []object
	deleted  []string
	replicas int32
	ready    int32
	found    bool
	err      error
}

func (f *fakeApplier) Apply(_ context.Context, manifests []byte) error {
	if f.err != nil {
		return f.err
	}
	dec := yaml.NewDecoder(bytes.NewReader(manifests))
	for {
		var o object
		if err := dec.Decode(&o); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return err
		}
		f.applied = append(f.applied, o)
		if o.Kind == "StatefulSet" {
			f.replicas, f.found = int32(o.Spec["replicas"].(int)), true
		}
	}
	return nil
}

func (f *fakeApplier) Delete(_ context.Context, clusterID string) error {
	f.deleted = append(f.deleted, clusterID)
	f.found, f.replicas, f.ready = false, 0, 0
	return nil
}

func (f *fakeApplier) Replicas(context.Context, string) (int32, int32, bool, error) {
	return f.replicas, f.ready, f.found, nil
}

func TestKubernetesProvisionResizeDelete(t *testing.T) {
	ctx := context.Background()
	f := &fakeApplier{}
	k := testKubernetes(t, f)
	c := resource.Cluster{Meta: resource.Meta{ID: "lkc-abc123"}, Type: resource.ClusterDedicated, Brokers: 2}

	if _, err := k.Provision(ctx, c); !errors.Is(err, cluster.ErrNotReady) {
		t.Fatalf("first provision: %v, want ErrNotReady while no pod is ready", err)
	}
	f.ready = 2
	bootstrap, err := k.Provision(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	want := "affluent-lkc-abc123-0.affluent-lkc-abc123-brokers.tenants.svc:9092,affluent-lkc-abc123-1.affluent-lkc-abc123-brokers.tenants.svc:9092"
	if bootstrap != want {
		t.Errorf("bootstrap %s, want %s", bootstrap, want)
	}

	// Resize to 3: not ready until the third pod is.
	c.Brokers = 3
	if _, err := k.Provision(ctx, c); !errors.Is(err, cluster.ErrNotReady) || f.replicas != 3 {
		t.Fatalf("grow: %v with %d replicas applied, want ErrNotReady and 3", err, f.replicas)
	}
	f.ready = 3
	if bootstrap, err = k.Provision(ctx, c); err != nil || strings.Count(bootstrap, ",") != 2 {
		t.Fatalf("grown: %q, %v", bootstrap, err)
	}
	// Shrink to 1: not ready while the StatefulSet still runs more.
	c.Brokers = 1
	if _, err := k.Provision(ctx, c); !errors.Is(err, cluster.ErrNotReady) || f.replicas != 1 {
		t.Fatalf("shrink: %v with %d replicas applied, want ErrNotReady and 1", err, f.replicas)
	}
	f.ready = 1
	if bootstrap, err = k.Provision(ctx, c); err != nil || strings.Contains(bootstrap, ",") {
		t.Fatalf("shrunk: %q, %v", bootstrap, err)
	}

	if err := k.Deprovision(ctx, c); err != nil {
		t.Fatal(err)
	}
	if len(f.deleted) != 1 || f.deleted[0] != "lkc-abc123" {
		t.Errorf("deleted %v, want [lkc-abc123]", f.deleted)
	}

	// An apply that fails is an error (retried), not readiness.
	f.err = errors.New("forbidden")
	if _, err := k.Provision(ctx, c); err == nil || errors.Is(err, cluster.ErrNotReady) {
		t.Errorf("provision with a failing apply: %v", err)
	}
	// Bad clusters are refused for good.
	for _, bad := range []resource.Cluster{{Meta: resource.Meta{ID: "lkc-../x"}, Brokers: 1}, {Meta: resource.Meta{ID: "lkc-abc"}, Brokers: 0}} {
		if _, err := k.Render(bad); !errors.Is(err, cluster.ErrPermanent) {
			t.Errorf("render %+v: %v, want ErrPermanent", bad, err)
		}
	}
}

// fakeKubectl records its arguments and stdin in dir and answers `get`
// with the replicas in dir/status (or nothing: not found).
const fakeKubectl = `#!/bin/sh
echo "$*" >> "$FAKE_KUBECTL_DIR/calls"
case "$*" in
*" apply "*) cat > "$FAKE_KUBECTL_DIR/applied" ;;
*" get "*) cat "$FAKE_KUBECTL_DIR/status" 2>/dev/null ;;
*" delete "*) [ -f "$FAKE_KUBECTL_DIR/forbidden" ] && { echo 'Error from server (Forbidden)' >&2; exit 1; } ;;
esac
exit 0
`

func TestKubectlApplier(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(bin, []byte(fakeKubectl), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_KUBECTL_DIR", dir)
	ctx := context.Background()
	k := &Kubectl{Binary: bin, Namespace: "tenants"}

	if err := k.Apply(ctx, []byte("kind: ConfigMap\n")); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(filepath.Join(dir, "applied")); string(raw) != "kind: ConfigMap\n" {
		t.Errorf("kubectl apply read %q from stdin", raw)
	}
	if _, _, found, err := k.Replicas(ctx, "affluent-lkc-abc123"); err != nil || found {
		t.Errorf("replicas of a missing StatefulSet: found %v, %v", found, err)
	}
	for status, want := range map[string][2]int32{"3 2": {3, 2}, "1 ": {1, 0}} {
		if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o600); err != nil {
			t.Fatal(err)
		}
		n, ready, found, err := k.Replicas(ctx, "affluent-lkc-abc123")
		if err != nil || !found || n != want[0] || ready != want[1] {
			t.Errorf("status %q: %d replicas, %d ready, found %v, %v; want %v", status, n, ready, found, err, want)
		}
	}
	if err := k.Delete(ctx, "lkc-abc123"); err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	for _, want := range []string{
		"--namespace tenants apply --server-side --field-manager affluent-controlplane -f -",
		"--namespace tenants get statefulset affluent-lkc-abc123 --ignore-not-found -o jsonpath={.status.replicas} {.status.readyReplicas}",
		"--namespace tenants delete statefulset,service,configmap -l affluent.io/cluster=lkc-abc123 --ignore-not-found --wait=true",
	} {
		if !strings.Contains(string(calls), want+"\n") {
			t.Errorf("kubectl calls:\n%s\nlack: %s", calls, want)
		}
	}
	// kubectl's own error is reported.
	if err := os.WriteFile(filepath.Join(dir, "forbidden"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(ctx, "lkc-abc123"); err == nil || !strings.Contains(err.Error(), "Forbidden") {
		t.Errorf("a refused delete: %v, want kubectl's error", err)
	}
}
