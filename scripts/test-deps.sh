#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Idempotent: a
# second run installs nothing and takes a second.
set -euo pipefail

# Debian packages: Kafka clients to test against, PostgreSQL for the
# production metadata stores.
packages=(kcat python3-confluent-kafka postgresql jq)
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
  if command -v systemctl >/dev/null 2>&1; then "${sudo_cmd[@]}" systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
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
echo "test-deps: ok"
