#!/usr/bin/env bash
# TaskBudgets Governance over HTTP/JSON with curl: ask for a budget, "call a model", report
# what it used. JSON is read with jq, or with python3 where jq is missing.
#
# TASKBUDGETS_HTTP     base URL of the HTTP/1.1 port (default http://localhost:8081)
# TASKBUDGETS_API_KEY  optional key, sent as "Authorization: Bearer <key>"
# TASKBUDGETS_ORG      org to ask for (default "demo", the sample policy's org)
# TASKBUDGETS_CA_FILE  PEM CA bundle to trust for an https:// TASKBUDGETS_HTTP (the server's Server:Tls)
# TASKBUDGETS_CERT_FILE, TASKBUDGETS_KEY_FILE  PEM client certificate and key, for mTLS
set -euo pipefail
base="${TASKBUDGETS_HTTP:-http://localhost:8081}"
org="${TASKBUDGETS_ORG:-demo}"
headers=(-H "Content-Type: application/json")
if [ -n "${TASKBUDGETS_API_KEY:-}" ]; then
  headers+=(-H "Authorization: Bearer $TASKBUDGETS_API_KEY")
fi
tls=()
if [ -n "${TASKBUDGETS_CA_FILE:-}" ]; then
  tls+=(--cacert "$TASKBUDGETS_CA_FILE")
fi
if [ -n "${TASKBUDGETS_CERT_FILE:-}" ]; then
  tls+=(--cert "$TASKBUDGETS_CERT_FILE" --key "${TASKBUDGETS_KEY_FILE:?TASKBUDGETS_KEY_FILE goes with TASKBUDGETS_CERT_FILE}")
fi

# get FIELD.PATH < json: one value, printed raw.
get() {
  if command -v jq >/dev/null; then
    jq -r ".$1"
  else
    python3 -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(str(v).lower() if isinstance(v, bool) else v)' "$1"
  fi
}

# post PATH BODY: the response body; on an HTTP error, the google.rpc.Status and exit 1.
post() {
  local out status
  out=$(mktemp)
  status=$(curl -sS ${tls[@]+"${tls[@]}"} -o "$out" -w '%{http_code}' -X POST "${headers[@]}" --data "$2" "$base$1") || { rm -f "$out"; exit 1; }
  if [ "$status" != 200 ]; then
    echo "error: HTTP $status from $1: $(cat "$out")" >&2
    rm -f "$out"
    exit 1
  fi
  cat "$out"
  rm -f "$out"
}

input_tokens=1200
request_id="curl-$(date +%s)-$$-$RANDOM"   # a retry with the same id gets the same grant
grant=$(post "/v1/orgs/$org/budget:get" "{
  \"taskType\": \"support\",
  \"model\": \"claude-sonnet-4-5\",
  \"features\": {\"complexity\": 0.5, \"estimatedInputTokens\": $input_tokens},
  \"requestId\": \"$request_id\"
}")
grant_id=$(get grantId <<<"$grant")
reasoning=$(get budget.reasoningTokens <<<"$grant")
max_output=$(get budget.maxOutputTokens <<<"$grant")
echo "grant: $(get decision <<<"$grant") reasoning_tokens=$reasoning max_output_tokens=$max_output effort=$(get budget.effort <<<"$grant") expires_at=$(get expiresAt <<<"$grant")"

# "Call a model": use part of the budget, as a call that ends normally does.
used_reasoning=$((reasoning * 6 / 10))
used_output=$((used_reasoning + 350))
[ "$used_output" -le "$max_output" ] || used_output=$max_output

settlement=$(post /v1/usage:report "{
  \"grantId\": \"$grant_id\",
  \"usage\": {\"inputTokens\": $input_tokens, \"outputTokens\": $used_output, \"reasoningTokens\": $used_reasoning},
  \"stopReason\": \"STOP_REASON_END_TURN\",
  \"outcome\": \"OUTCOME_SUCCESS\",
  \"latency\": \"2.5s\"
}")
echo "settlement: cost_micros=$(get costMicros <<<"$settlement") duplicate=$(get duplicate <<<"$settlement") late=$(get late <<<"$settlement") over_grant=$(get overGrant <<<"$settlement") truncated=$(get truncated <<<"$settlement")"
