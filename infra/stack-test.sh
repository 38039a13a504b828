#!/usr/bin/env bash
# The end-to-end part of the test suite (infra/test.sh runs it after `cargo test`): starts
# the README's local stack (infra/local.sh) privately, on free ports and in a throwaway
# data directory, so it never meets a stack you are running; then drives it as users
# would: the product page's curl examples and the webhook checks (infra/smoke.sh), and the
# applicant's hosted page in headless Chromium (tests/browser/capture.mjs, when present).
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
if [ -f tests/browser/capture.mjs ]; then
  ensure_browser
  node tests/browser/capture.mjs "$BASE" "$KEY" "$IDV_STACK_DIR/fixtures"
fi
