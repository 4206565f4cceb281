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
echo "generated code is up to date"
