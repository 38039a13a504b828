#!/usr/bin/env bash
# Measures webhook fan-out and delivery (tests/examples/webhook_fanout.rs) against a private
# DynamoDB Local and s3s-fs, as infra/test.sh starts them. Not a pass/fail test.
#
#   infra/bench-webhooks.sh [events, default 1000]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_dynamodb_local
ensure_s3s_fs
DDB_PORT=$(free_port)
S3_PORT=$(free_port)
S3_ROOT=$(mktemp -d)
start_dynamodb_local "$DDB_PORT"
DDB_PID=$STARTED_PID
start_s3s_fs "$S3_PORT" "$S3_ROOT"
S3_PID=$STARTED_PID
cleanup() {
  kill "$DDB_PID" "$S3_PID" 2>/dev/null || true
  wait "$DDB_PID" "$S3_PID" 2>/dev/null || true
  rm -rf "$S3_ROOT"
}
trap cleanup EXIT INT TERM
wait_for_port "$DDB_PORT" 60 "DynamoDB Local"
wait_for_port "$S3_PORT" 30 "s3s-fs"
export IDV_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export IDV_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export_local_aws_env "$DDB_PORT"
# A debug build, like the tests: the time goes to DynamoDB Local, the queue and the receivers.
cargo run --quiet -p idv-tests --example webhook_fanout -- "${1:-1000}"
