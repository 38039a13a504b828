#!/usr/bin/env bash
# The README's test command: installs what is missing, starts a private DynamoDB Local and
# a private S3 server (s3s-fs, which checks signatures) on free ports, runs the whole test
# suite against them, and stops them again, pass or fail.
#
# A second DynamoDB Local serves only the tests that wait for real TTL deletions: DynamoDB
# Local runs TTL for at most seven tables at a time (the first ones with TTL enabled; a slot
# frees only when such a table is deleted), and the suite creates a table per test.
#
# With no arguments (the whole suite) it then runs infra/stack-test.sh: the README's local
# stack, started privately, driven through curl and a headless browser.
#
#   infra/test.sh [extra cargo test arguments]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# The OpenAPI contract is linted first: it is quick, and a broken document would fail
# the capture function's build anyway.
lint_openapi

ensure_dynamodb_local
ensure_s3s_fs
ensure_webhook_receivers
DDB_PORT=$(free_port)
TTL_DDB_PORT=$(free_port)
S3_PORT=$(free_port)
S3_ROOT=$(mktemp -d)
start_dynamodb_local "$DDB_PORT"
DDB_PID=$STARTED_PID
start_dynamodb_local "$TTL_DDB_PORT"
TTL_DDB_PID=$STARTED_PID
start_s3s_fs "$S3_PORT" "$S3_ROOT"
S3_PID=$STARTED_PID
cleanup() {
  kill "$DDB_PID" "$TTL_DDB_PID" "$S3_PID" 2>/dev/null || true
  wait "$DDB_PID" "$TTL_DDB_PID" "$S3_PID" 2>/dev/null || true
  rm -rf "$S3_ROOT"
}
trap cleanup EXIT INT TERM
wait_for_port "$DDB_PORT" 60 "DynamoDB Local"
wait_for_port "$TTL_DDB_PORT" 60 "DynamoDB Local (TTL tests)"
wait_for_port "$S3_PORT" 30 "s3s-fs"
log "DynamoDB Local on port $DDB_PORT, s3s-fs on port $S3_PORT"

export IDV_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export IDV_TEST_TTL_DYNAMODB_ENDPOINT="http://127.0.0.1:$TTL_DDB_PORT"
export IDV_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export IDV_TEST_PYTHON="$TOOLS/receivers-venv/bin/python"
export IDV_TEST_NODE_PATH="$TOOLS/npm/node_modules"
export_local_aws_env "$DDB_PORT"
cargo test --workspace "$@"
if [ $# -eq 0 ]; then
  cleanup
  trap - EXIT INT TERM
  infra/stack-test.sh
fi
