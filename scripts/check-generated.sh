#!/usr/bin/env bash
# Regenerates every generated file into a scratch directory and compares it
# with the tree, so stale, edited or deleted generated files fail the build.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
bin/buf generate --output "$scratch"
if ! diff -r "$scratch/proto/gen" proto/gen > "$scratch/diff.txt"; then
  echo "generated code is stale: run 'make generate' and commit the result" >&2
  head -40 "$scratch/diff.txt" >&2
  exit 1
fi
# Grafana dashboards (scripts/dashboards) and the plain Kubernetes manifests
# rendered from the Helm chart.
go run ./scripts/dashboards -out "$scratch/grafana"
./scripts/render-manifests.sh "$scratch/kubernetes"
for d in grafana kubernetes; do
  if ! diff -r "$scratch/$d" "deploy/$d" > "$scratch/diff.txt"; then
    echo "deploy/$d is stale: run 'make generate' and commit the result" >&2
    head -40 "$scratch/diff.txt" >&2
    exit 1
  fi
done
echo "generated code is up to date"
