#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Idempotent: a
# second run installs nothing and takes a second.
set -euo pipefail

# Debian packages: Kafka clients to test against, PostgreSQL for the
# production metadata stores.
packages=(kcat python3-confluent-kafka postgresql jq prometheus
  libcurl4-openssl-dev libsasl2-dev libzstd-dev liblz4-dev libssl-dev zlib1g-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "test-deps: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The package starts a cluster of its own; tests start their own servers.
  if command -v systemctl >/dev/null 2>&1; then
    "${sudo_cmd[@]}" systemctl disable --now postgresql prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
fi

# Terraform 1.5.7 (the last MPL release), built once from the Go module proxy.
tools_dir=${AFFLUENT_TOOLS_DIR:-$HOME/.cache/affluent/tools}
mkdir -p "$tools_dir"
if ! "$tools_dir/terraform" version 2>/dev/null | grep -q "v1.5.7"; then
  echo "test-deps: building terraform 1.5.7 into $tools_dir"
  GOBIN="$tools_dir" GOFLAGS=-mod=mod go install github.com/hashicorp/terraform@v1.5.7
fi
# versitygw, the S3 server of the storage tests (internal/testutil/s3.go),
# built once from the Go module proxy.
# Its --version says nothing useful when built so; a stamp file records it.
versitygw_version=v1.8.0
if [ ! -x "$tools_dir/versitygw" ] || [ "$(cat "$tools_dir/versitygw.version" 2>/dev/null)" != "$versitygw_version" ]; then
  echo "test-deps: building versitygw $versitygw_version into $tools_dir"
  GOBIN="$tools_dir" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
  echo "$versitygw_version" > "$tools_dir/versitygw.version"
fi
# Helm and kubeconform check the chart of deploy/ (deploy/deploy_test.go).
helm_version=v3.19.5
if [ ! -x "$tools_dir/helm" ] || [ "$(cat "$tools_dir/helm.version" 2>/dev/null)" != "$helm_version" ]; then
  echo "test-deps: building helm $helm_version into $tools_dir"
  GOBIN="$tools_dir" GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$helm_version"
  echo "$helm_version" > "$tools_dir/helm.version"
fi
kubeconform_version=v0.7.0
if [ ! -x "$tools_dir/kubeconform" ] || [ "$(cat "$tools_dir/kubeconform.version" 2>/dev/null)" != "$kubeconform_version" ]; then
  echo "test-deps: building kubeconform $kubeconform_version into $tools_dir"
  GOBIN="$tools_dir" GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$kubeconform_version"
  echo "$kubeconform_version" > "$tools_dir/kubeconform.version"
fi
# kubeconform's schemas, made offline from the OpenAPI definitions of a
# Kubernetes release and the Prometheus Operator's CRDs (both served by the
# Go module proxy) by scripts/k8sschemas.
k8s_version=v1.34.2
promop_version=v0.85.0
schemas="$tools_dir/k8s-schemas-$k8s_version-$promop_version"
if [ ! -f "$schemas/deployment-apps-v1.json" ]; then
  echo "test-deps: making Kubernetes $k8s_version schemas in $schemas"
  k8s_dir=$(cd "$tools_dir" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$k8s_version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  promop_dir=$(cd "$tools_dir" && GOFLAGS= go mod download -json "github.com/prometheus-operator/prometheus-operator@$promop_version" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  crds="$promop_dir/example/prometheus-operator-crd"
  go run ./scripts/k8sschemas -swagger "$k8s_dir/api/openapi-spec/swagger.json" \
    -crd "$crds/monitoring.coreos.com_servicemonitors.yaml" -crd "$crds/monitoring.coreos.com_prometheusrules.yaml" \
    -out "$schemas.tmp"
  rm -rf "$schemas" && mv "$schemas.tmp" "$schemas"
fi
# librdkafka with libcurl, for kcat's OAUTHBEARER OIDC token fetching
# (sasl.oauthbearer.method=oidc): Debian's librdkafka 2.0.2 is built without
# it. The sources of librdkafka 2.12.0 come bundled in node-rdkafka on the
# npm registry; Debian's kcat runs against the result by LD_LIBRARY_PATH
# (internal/app/security_test.go).
rdkafka_version=2.12.0
rdkafka_dir="$tools_dir/librdkafka-$rdkafka_version"
if [ ! -f "$rdkafka_dir/librdkafka.so.1" ]; then
  echo "test-deps: building librdkafka $rdkafka_version (with libcurl) into $rdkafka_dir"
  work=$(mktemp -d)
  (cd "$work" && npm pack --silent node-rdkafka@3.6.1 >/dev/null && tar xzf node-rdkafka-3.6.1.tgz)
  src="$work/package/deps/librdkafka"
  grep -q "librdkafka v$rdkafka_version" "$src/CHANGELOG.md" || { echo "test-deps: node-rdkafka 3.6.1 does not bundle librdkafka $rdkafka_version" >&2; exit 1; }
  (cd "$src" && ./configure --enable-curl --enable-ssl --enable-zstd --enable-lz4-ext >/dev/null && make -j"$(nproc)" libs >/dev/null)
  mkdir -p "$rdkafka_dir.tmp" && cp "$src/src/librdkafka.so.1" "$rdkafka_dir.tmp/"
  rm -rf "$rdkafka_dir" "$work" && mv "$rdkafka_dir.tmp" "$rdkafka_dir"
fi
echo "test-deps: ok"
