package dedicated

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/affluent-io/affluent/controlplane/cluster"
	"github.com/affluent-io/affluent/controlplane/resource"
)

// ClusterLabel names the cluster of every object rendered for it.
const ClusterLabel = "affluent.io/cluster"

// KafkaPort is the port dedicated brokers serve Kafka on in their pods.
const KafkaPort = 9092

const httpPort = 8080

// Applier makes rendered objects real in a Kubernetes cluster.
type Applier interface {
	// Apply creates or updates the objects of manifests (YAML documents).
	Apply(ctx context.Context, manifests []byte) error
	// Delete removes every object carrying label ClusterLabel=clusterID.
	Delete(ctx context.Context, clusterID string) error
	// Replicas reports a StatefulSet's replicas and ready replicas, and
	// whether it exists.
	Replicas(ctx context.Context, statefulSet string) (replicas, ready int32, found bool, err error)
}

// KubernetesOptions configure a Kubernetes provisioner.
type KubernetesOptions struct {
	Namespace string
	Image     string
	// ControlPlaneAddr is the control plane's gRPC address as pods reach it.
	ControlPlaneAddr string
	// BrokerSecret names the Secret (key broker-secret) brokers present to
	// the control plane.
	BrokerSecret string
	// ObjectStore and MetadataDB are URLs in which {cluster} stands for the
	// cluster id with '-' as '_', so that each cluster has its own bucket
	// prefix and database (or schema).
	ObjectStore string
	MetadataDB  string
	Applier     Applier
	Logger      *slog.Logger
}

// Kubernetes runs each DEDICATED cluster as a StatefulSet of brokers (one
// replica per broker, node id = pod ordinal), a headless Service giving
// each pod a stable address, a Service for bootstrapping and a ConfigMap
// with the brokers' configuration, all labelled ClusterLabel=lkc-…. A
// resize changes the replicas; the StatefulSet adds pods in order and
// removes the highest ordinal first, one at a time.
type Kubernetes struct {
	opts KubernetesOptions
}

var _ cluster.Provisioner = (*Kubernetes)(nil)

// NewKubernetes returns a Kubernetes provisioner.
func NewKubernetes(opts KubernetesOptions) (*Kubernetes, error) {
	var errs []error
	for _, f := range []struct{ name, v string }{{"namespace", opts.Namespace}, {"image", opts.Image},
		{"control plane address", opts.ControlPlaneAddr}, {"broker secret", opts.BrokerSecret},
		{"object store", opts.ObjectStore}, {"metadata DB", opts.MetadataDB}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("kubernetes dedicated provisioner: no %s", f.name))
		}
	}
	if opts.Applier == nil {
		errs = append(errs, errors.New("kubernetes dedicated provisioner: no applier"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Kubernetes{opts: opts}, nil
}

// objectName is the name of the cluster's StatefulSet, ConfigMap and
// bootstrap Service.
func objectName(clusterID string) string { return "affluent-" + clusterID }

// Bootstrap is the cluster's bootstrap servers: each broker pod's stable
// address.
func (k *Kubernetes) Bootstrap(c resource.Cluster) string {
	name := objectName(c.ID)
	addrs := make([]string, c.Brokers)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("%s-%d.%s-brokers.%s.svc:%d", name, i, name, k.opts.Namespace, KafkaPort)
	}
	return strings.Join(addrs, ",")
}

// Provision implements cluster.Provisioner: it applies the cluster's
// objects with c.Brokers replicas and returns the bootstrap servers once
// that many brokers are ready, cluster.ErrNotReady before.
func (k *Kubernetes) Provision(ctx context.Context, c resource.Cluster) (string, error) {
	manifests, err := k.Render(c)
	if err != nil {
		return "", err
	}
	if err := k.opts.Applier.Apply(ctx, manifests); err != nil {
		return "", fmt.Errorf("apply objects of %s: %w", c.ID, err)
	}
	replicas, ready, found, err := k.opts.Applier.Replicas(ctx, objectName(c.ID))
	if err != nil {
		return "", fmt.Errorf("read brokers of %s: %w", c.ID, err)
	}
	if !found || replicas != c.Brokers || ready != c.Brokers {
		return "", fmt.Errorf("%w: %d of %d brokers of %s ready", cluster.ErrNotReady, ready, c.Brokers, c.ID)
	}
	return k.Bootstrap(c), nil
}

// Deprovision implements cluster.Provisioner: it deletes the cluster's
// objects. The data in its bucket prefix and database is the operator's
// to drop (they are named after the cluster).
func (k *Kubernetes) Deprovision(ctx context.Context, c resource.Cluster) error {
	if err := k.opts.Applier.Delete(ctx, c.ID); err != nil {
		return fmt.Errorf("delete objects of %s: %w", c.ID, err)
	}
	return nil
}

// storeName is the cluster id as bucket prefixes and database names take
// it.
func storeName(clusterID string) string { return strings.ReplaceAll(clusterID, "-", "_") }

// Render returns the cluster's objects as YAML documents.
func (k *Kubernetes) Render(c resource.Cluster) ([]byte, error) {
	if !resource.HasID(c.ID, resource.PrefixCluster) {
		return nil, fmt.Errorf("%w: bad cluster id %q", cluster.ErrPermanent, c.ID)
	}
	if c.Brokers < 1 {
		return nil, fmt.Errorf("%w: cluster %s asks for %d brokers", cluster.ErrPermanent, c.ID, c.Brokers)
	}
	name := objectName(c.ID)
	ns := k.opts.Namespace
	labels := map[string]any{
		"app.kubernetes.io/name":      "affluent",
		"app.kubernetes.io/component": "dedicated-broker",
		"app.kubernetes.io/instance":  name,
		ClusterLabel:                  c.ID,
	}
	selector := map[string]any{"app.kubernetes.io/instance": name, ClusterLabel: c.ID}
	meta := func(n string) map[string]any {
		return map[string]any{"name": n, "namespace": ns, "labels": labels}
	}
	brokerConfig, err := yaml.Marshal(map[string]any{
		"roles": "broker",
		"log":   map[string]any{"format": "json", "level": "info"},
		"http":  map[string]any{"addr": fmt.Sprintf("0.0.0.0:%d", httpPort)},
		"kafka": map[string]any{"addr": fmt.Sprintf("0.0.0.0:%d", KafkaPort), "dedicated_cluster": c.ID},
		"controlplane": map[string]any{"addr": k.opts.ControlPlaneAddr,
			"broker_secret_file": "/etc/affluent/broker-auth/broker-secret"},
		"storage": map[string]any{
			"data_dir":     "/var/lib/affluent",
			"object_store": strings.ReplaceAll(k.opts.ObjectStore, "{cluster}", storeName(c.ID)),
			"metadata_db":  strings.ReplaceAll(k.opts.MetadataDB, "{cluster}", storeName(c.ID)),
		},
	})
	if err != nil {
		return nil, err
	}
	probe := func(path string, period, failures int) map[string]any {
		return map[string]any{"httpGet": map[string]any{"path": path, "port": "http"},
			"periodSeconds": period, "failureThreshold": failures}
	}
	objects := []map[string]any{
		{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name + "-config"),
			"data": map[string]any{"broker.yaml": string(brokerConfig)},
		},
		{
			// Stable addresses of the pods, advertised to clients.
			"apiVersion": "v1", "kind": "Service", "metadata": meta(name + "-brokers"),
			"spec": map[string]any{
				"clusterIP": "None", "publishNotReadyAddresses": true, "selector": selector,
				"ports": []any{map[string]any{"name": "kafka", "port": KafkaPort, "targetPort": "kafka", "protocol": "TCP"}},
			},
		},
		{
			"apiVersion": "v1", "kind": "Service", "metadata": meta(name),
			"spec": map[string]any{
				"type": "ClusterIP", "selector": selector,
				"ports": []any{map[string]any{"name": "kafka", "port": KafkaPort, "targetPort": "kafka", "protocol": "TCP"}},
			},
		},
		{
			"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name),
			"spec": map[string]any{
				"replicas":    int(c.Brokers),
				"serviceName": name + "-brokers",
				// One broker at a time, in order: a resize never takes
				// two brokers away at once.
				"podManagementPolicy": "OrderedReady",
				"updateStrategy":      map[string]any{"type": "RollingUpdate"},
				"selector":            map[string]any{"matchLabels": selector},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{
						"securityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 65532, "runAsGroup": 65532,
							"fsGroup": 65532, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
						// A broker drains in-flight produces on SIGTERM;
						// acknowledged data is already stored.
						"terminationGracePeriodSeconds": 30,
						"containers": []any{map[string]any{
							"name": "broker", "image": k.opts.Image, "imagePullPolicy": "IfNotPresent",
							"args": []any{"server", "--config", "/etc/affluent/broker.yaml"},
							"env": []any{
								map[string]any{"name": "POD_NAME", "valueFrom": map[string]any{"fieldRef": map[string]any{"fieldPath": "metadata.name"}}},
								// The pod's ordinal is its node id.
								map[string]any{"name": "AFFLUENT_BROKER_ID", "valueFrom": map[string]any{"fieldRef": map[string]any{
									"fieldPath": "metadata.labels['apps.kubernetes.io/pod-index']"}}},
								map[string]any{"name": "AFFLUENT_KAFKA_ADVERTISED_ADDR",
									"value": fmt.Sprintf("$(POD_NAME).%s-brokers.%s.svc:%d", name, ns, KafkaPort)},
							},
							"ports": []any{
								map[string]any{"name": "kafka", "containerPort": KafkaPort, "protocol": "TCP"},
								map[string]any{"name": "http", "containerPort": httpPort, "protocol": "TCP"},
							},
							"livenessProbe":  probe("/healthz", 10, 3),
							"readinessProbe": probe("/readyz", 5, 2),
							"securityContext": map[string]any{"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
								"capabilities": map[string]any{"drop": []any{"ALL"}}},
							"volumeMounts": []any{
								map[string]any{"name": "config", "mountPath": "/etc/affluent/broker.yaml", "subPath": "broker.yaml", "readOnly": true},
								map[string]any{"name": "broker-auth", "mountPath": "/etc/affluent/broker-auth", "readOnly": true},
								map[string]any{"name": "data", "mountPath": "/var/lib/affluent"},
								map[string]any{"name": "tmp", "mountPath": "/tmp"},
							},
						}},
						"volumes": []any{
							map[string]any{"name": "config", "configMap": map[string]any{"name": name + "-config"}},
							map[string]any{"name": "broker-auth", "secret": map[string]any{"secretName": k.opts.BrokerSecret}},
							// Brokers keep nothing that matters on disk.
							map[string]any{"name": "data", "emptyDir": map[string]any{}},
							map[string]any{"name": "tmp", "emptyDir": map[string]any{}},
						},
					},
				},
			},
		},
	}
	var out bytes.Buffer
	for _, o := range objects {
		raw, err := yaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		out.WriteString("---\n")
		out.Write(raw)
	}
	return out.Bytes(), nil
}

// Kubectl is an Applier that runs kubectl (with the credentials of its
// environment: in-cluster service account or KUBECONFIG).
type Kubectl struct {
	Binary    string
	Namespace string
}

var _ Applier = (*Kubectl)(nil)

func (k *Kubectl) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, k.Binary, append([]string{"--namespace", k.Namespace}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("kubectl %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Apply implements Applier with server-side apply.
func (k *Kubectl) Apply(ctx context.Context, manifests []byte) error {
	_, err := k.run(ctx, manifests, "apply", "--server-side", "--field-manager", "affluent-controlplane", "-f", "-")
	return err
}

// Delete implements Applier.
func (k *Kubectl) Delete(ctx context.Context, clusterID string) error {
	_, err := k.run(ctx, nil, "delete", "statefulset,service,configmap", "-l", ClusterLabel+"="+clusterID,
		"--ignore-not-found", "--wait=true")
	return err
}

// Replicas implements Applier.
func (k *Kubectl) Replicas(ctx context.Context, name string) (int32, int32, bool, error) {
	out, err := k.run(ctx, nil, "get", "statefulset", name, "--ignore-not-found",
		"-o", "jsonpath={.status.replicas} {.status.readyReplicas}")
	if err != nil {
		return 0, 0, false, err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return 0, 0, false, nil
	}
	fields := strings.Fields(string(out))
	var n [2]int32
	for i := range min(len(fields), 2) {
		v, err := strconv.ParseInt(fields[i], 10, 32)
		if err != nil {
			return 0, 0, false, fmt.Errorf("kubectl get statefulset %s: %q", name, out)
		}
		n[i] = int32(v)
	}
	return n[0], n[1], true, nil
}
