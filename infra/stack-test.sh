#!/usr/bin/env bash
# The end-to-end part of the test suite (infra/test.sh runs it after `cargo test`): starts
# the README's local stack (infra/local.sh) privately, on free ports and in a throwaway
# data directory, so it never meets a stack you are running; then drives it as users
# would: the product page's curl examples and the webhook checks (infra/smoke.sh), the
# contract fuzz (infra/fuzz.sh, Schemathesis), and the applicant's hosted page in headless
# Chromium (tests/browser/capture.mjs, when present).
# Stops everything it started, pass or fail.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

export IDV_API_PORT="$(free_port)" IDV_DYNAMODB_PORT="$(free_port)" IDV_SQS_PORT="$(free_port)" \
  IDV_S3_PORT="$(free_port)" IDV_S3_CORS_PORT="$(free_port)"
export IDV_STACK_DIR="$TOOLS/stack-test"
rm -rf "$IDV_STACK_DIR"
mkdir -p "$IDV_STACK_DIR"
LOG="$IDV_STACK_DIR/local-stack.log"
infra/local.sh >"$LOG" 2>&1 &
STACK=$!
stop_stack() { kill "$STACK" 2>/dev/null || true; wait "$STACK" 2>/dev/null || true; }
trap stop_stack EXIT INT TERM
if ! wait_for_port "$IDV_API_PORT" 900 "the local stack"; then
  cat "$LOG"
  exit 1
fi
# The stack answers once cargo lambda watch listens; the key is written before that.
KEY="$(cat "$IDV_STACK_DIR/dynamodb-data/dev-key")"
BASE="http://127.0.0.1:$IDV_API_PORT"
infra/smoke.sh "$BASE" "$KEY"

# `idv-admin capture-link` (for trying the page by hand) issues a token that works.
SESSION=$(curl -sf -X POST "$BASE/v1/identity/sessions" -H "X-Api-Key: $KEY" \
  -H "Content-Type: application/json" -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}' |
  python3 -c "import json,sys; print(json.load(sys.stdin)['data']['id'])")
# The whole output, then its first line (`| head -1` would close the pipe under the CLI's
# later lines: a broken-pipe exit, now and then).
LINK=$(export_local_aws_env "$IDV_DYNAMODB_PORT" && IDV_TABLE=idv ./target/debug/idv-admin capture-link \
  --session "$SESSION" --steps idv,address --base-url "$BASE")
LINK="${LINK%%$'\n'*}"
case "$LINK" in
  "$BASE/v1/identity/capture#token=ct_"*) ;;
  *) echo "capture-link printed: $LINK"; exit 1 ;;
esac
ANSWER=$(curl -s -H "Authorization: Bearer ${LINK#*#token=}" "$BASE/v1/identity/client-token")
python3 -c "import json,sys; d=json.loads(sys.argv[1])['data']['attributes']; assert d['session_id']==sys.argv[2] and d['steps']==['idv','address'], d" \
  "$ANSWER" "$SESSION"
PAGE=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$BASE/v1/identity/capture")
[ "$PAGE" = "200 text/html; charset=utf-8" ] || { echo "the capture page answered $PAGE"; exit 1; }
log "capture-link: a working link; the page is served"

# The contract: Schemathesis against the document the stack serves (infra/fuzz.sh).
infra/fuzz.sh "$BASE" "$IDV_DYNAMODB_PORT"
if [ -f tests/browser/capture.mjs ]; then
  ensure_browser
  node tests/browser/capture.mjs "$BASE" "$KEY" "$IDV_STACK_DIR/fixtures"
fi
