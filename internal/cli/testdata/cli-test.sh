#!/usr/bin/env bash
# The CLI's acceptance script, run by TestCLIAgainstAffluentDev against a
# fresh `affluent dev`: every command's exit status is checked (set -e, and
# expect_fail for the misuse cases), JSON output is parsed with jq.
#
# Needs: $AFFLUENT (the binary), $CREDS (dev-credentials.json),
# $AFFLUENT_CONFIG (a config path that does not exist yet), $WORK (a scratch dir).
set -euo pipefail
trap 'echo "FAIL: line $LINENO exited $?: $BASH_COMMAND" >&2' ERR

af() { "$AFFLUENT" "$@"; }
step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_fail STATUS TEXT CMD...: CMD exits STATUS and prints one line on
# stderr containing TEXT, nothing on stdout.
expect_fail() {
  local want=$1 needle=$2 got
  shift 2
  set +e
  "$@" >"$WORK/stdout" 2>"$WORK/stderr"
  got=$?
  set -e
  [ "$got" -eq "$want" ] || fail "$* exited $got, want $want; stderr: $(cat "$WORK/stderr")"
  [ "$(wc -l <"$WORK/stderr")" -eq 1 ] || fail "$* printed $(wc -l <"$WORK/stderr") lines on stderr, want 1: $(cat "$WORK/stderr")"
  grep -qF -- "$needle" "$WORK/stderr" || fail "$* stderr $(cat "$WORK/stderr"), want it to contain: $needle"
  [ ! -s "$WORK/stdout" ] || fail "$* printed on stdout: $(cat "$WORK/stdout")"
  echo "ok (exit $got): $(cat "$WORK/stderr")"
}

# matches REGEX CMD...: CMD succeeds and a line of its output matches REGEX
# (grep reads it all: a `| grep -q` would cut the pipe and fail CMD).
matches() {
  local re=$1 out
  shift
  out=$("$@")
  grep -Eq -- "$re" <<<"$out" || fail "$* printed:
$out
want a line matching: $re"
}

step "before login"
af version -o json | jq -e '.version != ""' >/dev/null
expect_fail 2 'no context: run `affluent login --credentials-file' af environment list
expect_fail 2 'no context' af kafka topic produce orders
expect_fail 2 'credentials file' af login --credentials-file "$WORK/missing.json"

step "login from the credentials file"
af login --credentials-file "$CREDS"
[ "$(stat -c %a "$AFFLUENT_CONFIG")" = 600 ] || fail "config mode $(stat -c %a "$AFFLUENT_CONFIG"), want 600"
[ "$(af context current)" = dev ] || fail "current context $(af context current), want dev"
af context list -o json | jq -e 'length == 1 and .[0].current and .[0].insecure' >/dev/null
matches '^name: dev$' af context describe -o yaml
af environment list -o json | jq -e --arg env "$(jq -r .environment_id "$CREDS")" 'any(.[]; .id == $env)' >/dev/null

step "environment"
ENV=$(af environment create cli-test-env --description 'CLI acceptance' -o json | jq -r .id)
[[ $ENV == env-* ]] || fail "environment id $ENV"
matches '^display_name: cli-test-env$' af environment describe "$ENV" -o yaml
af environment update "$ENV" --description updated -o json | jq -e '.description == "updated"' >/dev/null
expect_fail 1 'already exists' af environment create cli-test-env
expect_fail 1 'not found' af environment describe env-doesnotexist0
expect_fail 2 'is not an environment id' af environment describe bogus
expect_fail 2 'nothing to update' af environment update "$ENV"

step "cluster (create waits for RUNNING)"
af kafka cluster create cli-test --environment "$ENV" -o json >"$WORK/cluster.json"
jq -e '.status.phase == "RUNNING" and .status.bootstrap_servers != ""' "$WORK/cluster.json" >/dev/null
CLUSTER=$(jq -r .id "$WORK/cluster.json")
af kafka cluster use "$CLUSTER"
af kafka cluster list -o json | jq -e --arg c "$CLUSTER" 'length == 1 and .[0].id == $c' >/dev/null
matches "^Phase  *RUNNING$" af kafka cluster describe
af kafka cluster update "$CLUSTER" --name cli-test-2 -o json | jq -e '.display_name == "cli-test-2"' >/dev/null
expect_fail 2 'is not a cluster id' af kafka topic list --cluster nope
expect_fail 2 'no Kafka API key for cluster' af kafka topic produce orders

step "topic"
af kafka topic create orders --partitions 3 --config retention.ms=86400000 -o json \
  | jq -e '.partitions_count == 3 and .configs["retention.ms"] == "86400000"' >/dev/null
af kafka topic create orders --if-not-exists >/dev/null
expect_fail 1 'already exists' af kafka topic create orders
af kafka topic list -o json | jq -e '[.[].name] == ["orders"]' >/dev/null
af kafka topic update orders --config retention.ms=3600000 -o json | jq -e '.configs["retention.ms"] == "3600000"' >/dev/null
expect_fail 2 'missing NAME' af kafka topic create

step "service account, Kafka API key, role binding"
SA=$(af iam service-account create cli-app --description 'CLI acceptance app' -o json | jq -r .id)
[[ $SA == sa-* ]] || fail "service account id $SA"
af iam service-account describe "$SA" -o json | jq -e --arg sa "$SA" '.principal == "User:" + $sa' >/dev/null
af api-key create --service-account "$SA" --resource "$CLUSTER" --name cli-key -o json >"$WORK/key.json"
KEY=$(jq -r .id "$WORK/key.json")
jq -e '(.secret | length) == 64' "$WORK/key.json" >/dev/null
af api-key use "$KEY"
af api-key list --resource "$CLUSTER" -o json | jq -e --arg k "$KEY" 'length == 1 and .[0].id == $k and (.[0] | has("secret") | not)' >/dev/null
af iam rbac role-binding create --principal "User:$SA" --role DeveloperWrite --resource Topic:orders -o json >"$WORK/rb.json"
RB=$(jq -r .id "$WORK/rb.json")
jq -e --arg env "$ENV" --arg c "$CLUSTER" '.role_name == "DeveloperWrite" and
  (.crn_pattern | endswith("/environment=" + $env + "/cloud-cluster=" + $c + "/kafka=" + $c + "/topic=orders"))' "$WORK/rb.json" >/dev/null
# What else the app needs once brokers enforce role bindings: read the
# topic, and use (and delete) its consumer groups.
RB_READ=$(af iam rbac role-binding create --principal "User:$SA" --role DeveloperRead --resource Topic:orders -o json | jq -r .id)
RB_GROUP=$(af iam rbac role-binding create --principal "User:$SA" --role DeveloperRead --resource Group:cli- --prefix -o json | jq -r .id)
RB_MANAGE=$(af iam rbac role-binding create --principal "User:$SA" --role DeveloperManage --resource Group:cli- --prefix -o json | jq -r .id)
af iam rbac role-binding list --principal "User:$SA" -o json | jq -e --arg rb "$RB" 'length == 4 and any(.[]; .id == $rb)' >/dev/null
af iam rbac role-binding list --principal "User:$SA" -o json | jq -e 'any(.[]; .crn_pattern | endswith("/group=cli-*"))' >/dev/null
expect_fail 2 'required flag(s) "role" not set' af iam rbac role-binding create --principal "User:$SA"
expect_fail 2 'is not a role binding id' af iam rbac role-binding delete nope

step "produce 1,000 keyed lines"
seq 1 1000 | sed 's/.*/key-&,value-&/' >"$WORK/produced.txt"
af kafka topic produce orders --parse-key --key-separator , --header origin=cli-test -o json <"$WORK/produced.txt" \
  | jq -e '.records == 1000 and .topic == "orders"' >/dev/null
af kafka topic describe orders -o json >"$WORK/describe.json"
jq -e '(.partitions | length) == 3 and ([.partitions[].latest_offset] | add) == 1000 and all(.partitions[]; .earliest_offset == 0)' "$WORK/describe.json" >/dev/null
matches '^PARTITION  LEADER  EARLIEST OFFSET  LATEST OFFSET$' af kafka topic describe orders
echo 'no-separator' | expect_fail 1 'no key separator' af kafka topic produce orders --parse-key --key-separator ,

step "consume them with a group"
af kafka topic consume orders --group cli-group --from-beginning --max-messages 1000 --print-key --key-separator , >"$WORK/consumed.txt"
[ "$(wc -l <"$WORK/consumed.txt")" -eq 1000 ] || fail "consumed $(wc -l <"$WORK/consumed.txt") lines, want 1000"
diff <(sort "$WORK/produced.txt") <(sort "$WORK/consumed.txt") >/dev/null || fail "consumed records differ from the produced ones"
af kafka group describe cli-group -o json >"$WORK/group.json"
jq -e '.total_lag == 0 and (.partitions | length) == 3 and all(.partitions[]; .lag == 0 and .current_offset == .log_end_offset)' "$WORK/group.json" >/dev/null \
  || fail "group lag: $(cat "$WORK/group.json")"
matches '^Total Lag  *0$' af kafka group describe cli-group
af kafka group list -o json | jq -e 'any(.[]; .group == "cli-group")' >/dev/null
# The group committed everything: it has nothing more to read.
af kafka topic consume orders --group cli-group --timeout 8s -o json >"$WORK/again.txt"
[ ! -s "$WORK/again.txt" ] || fail "the group read again: $(head -3 "$WORK/again.txt")"

step "consume without a group: offsets, formats, headers"
af kafka topic consume orders --partition 0 --offset 0 --max-messages 1 -o json | jq -e '.partition == 0 and .offset == 0 and .headers == [{"key": "origin", "value": "cli-test"}]' >/dev/null
matches $'^CreateTime:[0-9]+\torigin=cli-test\tvalue-[0-9]+$' af kafka topic consume orders --from-beginning --max-messages 1 --print-headers --print-timestamp
matches '^orders 1/[01] key-[0-9]+=value-[0-9]+$' af kafka topic consume orders --partition 1 --offset earliest --max-messages 2 --format '%T %p/%o %k=%v'
expect_fail 2 '--group and --partition' af kafka topic consume orders --group g --partition 1
expect_fail 2 '--offset needs --partition' af kafka topic consume orders --offset 3
expect_fail 1 'topic "nosuch" not found' af kafka topic consume nosuch --max-messages 1
expect_fail 1 'topic "nosuch" not found' af --context dev kafka topic produce nosuch --cluster "$(jq -r .cluster_id "$CREDS")" --environment "$(jq -r .environment_id "$CREDS")" </dev/null

step "value file"
printf 'line one\nline two\n' >"$WORK/value.txt"
af kafka topic produce orders --key file-key --value-file "$WORK/value.txt" --partition 2 >/dev/null
af kafka topic consume orders --partition 2 --offset latest --timeout 1s >/dev/null
LAST=$(af kafka topic describe orders -o json | jq '.partitions[] | select(.partition == 2) | .latest_offset - 1')
af kafka topic consume orders --partition 2 --offset "$LAST" --max-messages 1 -o json | jq -e '.key == "file-key" and .value == "line one\nline two\n"' >/dev/null

step "ACLs and client quotas (when the broker serves them)"
if out=$(af kafka acl create --allow --service-account "$SA" --operations READ,DESCRIBE --topic orders -o json 2>&1); then
  jq -e 'length == 2' <<<"$out" >/dev/null
  for id in $(jq -r '.[].id' <<<"$out"); do af kafka acl delete "$id" >/dev/null; done
else
  grep -q "brokers did not answer" <<<"$out" || fail "acl create: $out"
  echo "skipped ACLs: $out"
fi
if out=$(af kafka quota create --name cli-quota --principals "$SA" --ingress 1MiB --egress 2MiB -o json 2>&1); then
  QUOTA=$(jq -r .id <<<"$out")
  af kafka quota update "$QUOTA" --egress 4MiB -o json | jq -e '(.egress_byte_rate | tonumber) == 4194304 and (.ingress_byte_rate | tonumber) == 1048576' >/dev/null
  af kafka quota delete "$QUOTA" >/dev/null
else
  grep -q "brokers did not answer" <<<"$out" || fail "quota create: $out"
  echo "skipped client quotas: $out"
fi
expect_fail 2 'give --allow or --deny' af kafka acl create --service-account "$SA" --operations READ --topic orders

step "a deleted cloud API key is refused"
af api-key create --service-account "$SA" --resource cloud -o json >"$WORK/cloudkey.json"
af login --context ci --endpoint "$(jq -r .grpc_endpoint "$CREDS")" --insecure \
  --api-key "$(jq -r .id "$WORK/cloudkey.json")" --api-secret "$(jq -r .secret "$WORK/cloudkey.json")" >/dev/null
af context use dev >/dev/null
af api-key delete "$(jq -r .id "$WORK/cloudkey.json")" >/dev/null
expect_fail 1 'authentication failed' af --context ci environment list
af context delete ci >/dev/null
expect_fail 2 'no context "ci"' af --context ci environment list

step "dedicated cluster: brokers of its own, resized"
expect_fail 2 'needs 1 to 32 brokers' af kafka cluster create cli-ded --type DEDICATED
af kafka cluster create cli-ded --type DEDICATED --brokers 1 -o json >"$WORK/ded.json"
jq -e '.status.phase == "RUNNING" and .spec.brokers == 1 and .status.brokers == 1' "$WORK/ded.json" >/dev/null
DED=$(jq -r .id "$WORK/ded.json")
[ "$(jq -r .status.bootstrap_servers "$WORK/ded.json")" != "$(jq -r .bootstrap_servers "$CREDS")" ] || fail "dedicated cluster on the shared broker"
af kafka cluster update "$DED" --brokers 2 -o json \
  | jq -e '.spec.brokers == 2 and .status.brokers == 2 and (.status.bootstrap_servers | split(",") | length) == 2' >/dev/null
matches '^Brokers  *2 \(2 running\)$' af kafka cluster describe "$DED"
expect_fail 2 'must be unset for a SERVERLESS cluster' af kafka cluster update "$CLUSTER" --brokers 2
af kafka cluster delete "$DED" >/dev/null
af kafka cluster list -o json | jq -e --arg c "$DED" 'all(.[]; .id != $c)' >/dev/null

step "delete everything"
af kafka group delete cli-group
expect_fail 1 'consumer group "cli-group" not found' af kafka group describe cli-group
af kafka topic delete orders
af kafka topic list -o json | jq -e 'length == 0' >/dev/null
for rb in "$RB" "$RB_READ" "$RB_GROUP" "$RB_MANAGE"; do af iam rbac role-binding delete "$rb" >/dev/null; done
af iam rbac role-binding list --principal "User:$SA" -o json | jq -e 'length == 0' >/dev/null
af api-key delete "$KEY"
af api-key list --resource "$CLUSTER" -o json | jq -e 'length == 0' >/dev/null
expect_fail 2 'no Kafka API key for cluster' af kafka group list
expect_fail 1 'delete them first' af environment delete "$ENV"
af kafka cluster delete "$CLUSTER"
af environment delete "$ENV"
af iam service-account delete "$SA"
expect_fail 1 'not found' af environment describe "$ENV"
expect_fail 1 'not found' af iam service-account describe "$SA"
af context delete dev
expect_fail 2 'no context' af environment list
echo "--- all steps passed"
