#!/usr/bin/env bash
# The README's test command: installs what is missing, starts a private DynamoDB Local on a
# free port, runs the whole test suite against it, and stops it again, pass or fail.
#
#   infra/test.sh [extra cargo test arguments]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

ensure_dynamodb_local
DDB_PORT=$(free_port)
DDB_PID=$(start_dynamodb_local "$DDB_PORT")
cleanup() { kill "$DDB_PID" 2>/dev/null || true; wait "$DDB_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
wait_for_port "$DDB_PORT" 60 "DynamoDB Local"
log "DynamoDB Local on port $DDB_PORT"

export IDV_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export_local_aws_env "$DDB_PORT"
cargo test --workspace "$@"
