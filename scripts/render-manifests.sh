#!/usr/bin/env bash
# Renders the plain Kubernetes manifests of deploy/kubernetes (or of the
# directory given) from the Helm chart.
set -euo pipefail
out=$(realpath "${1:-$(dirname "$0")/../deploy/kubernetes}")
cd "$(dirname "$0")/../deploy"
helm=${AFFLUENT_TOOLS_DIR:-$HOME/.cache/affluent/tools}/helm
[ -x "$helm" ] || { echo "render-manifests: $helm missing: run make test-deps" >&2; exit 2; }
mkdir -p "$out"
header() { printf '# Rendered from deploy/helm/affluent by `make generate` (%s); do not edit.\n' "$1"; }
{ header "default values"; "$helm" template affluent helm/affluent --namespace streaming; } > "$out/standalone.yaml"
# The production rendering names its broker key Secret, so that the output
# holds no generated secret and is the same on every run.
{ header "values-production.yaml"; "$helm" template affluent helm/affluent --namespace streaming \
    -f helm/affluent/values-production.yaml --set brokerAuth.existingSecret=affluent-broker-auth; } > "$out/distributed.yaml"
