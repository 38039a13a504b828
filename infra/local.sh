#!/usr/bin/env bash
# The README's first command: installs what is missing, starts the whole local stack and
# serves the API at http://localhost:9000/v1/identity/... until Ctrl-C, which stops
# everything it started. Running it again while it runs just prints how to reach it.
#
# What runs: DynamoDB Local (the table), s3s-fs (the documents bucket; it checks
# signatures, so presigned URLs are tested for real), `cargo lambda watch` (every function,
# the contract's paths routed to them), and `idv-local s3-events`, which turns new objects
# into the S3 -> SQS events the upload checker gets on AWS. `idv-local stream` reads the
# table's DynamoDB stream and hands TTL deletions of timers to `expiry-stream` (as the
# event source mapping does on AWS); `idv-local sweep` runs `expiry-sweep` every
# IDV_SWEEP_SECONDS (the schedule; 5 minutes on AWS). Webhooks: `idv-local stream
# --function webhook-fanout --filter feed` hands new feed events to the fan-out, and
# `idv-local queue` is the deliveries queue (an SQS-compatible server in memory) feeding
# `webhook-delivery`; signing secrets are sealed with a key kept in the data directory.
# `idv-local listen --key ... --forward-to URL` then shows and forwards a tenancy's webhooks.
# `idv-local s3-cors` stands in front of s3s-fs with the bucket's CORS rule (s3s-fs has no
# CORS): the functions' AWS_ENDPOINT_URL_S3 names it, so presigned upload URLs point at it
# and a web page can PUT to them; the relays and the admin CLI talk to s3s-fs directly.
#
# Environment: IDV_API_PORT (9000), IDV_DYNAMODB_PORT (8000), IDV_S3_PORT (8014),
# IDV_S3_CORS_PORT (8015), IDV_UPLOAD_ORIGINS (*: the template's UploadOrigins),
# IDV_SQS_PORT (9324), IDV_TOOLS_DIR (.tools), IDV_STACK_DIR (data, logs; IDV_TOOLS_DIR),
# IDV_SWEEP_SECONDS (60),
# IDV_RETENTION_PRODUCTION and IDV_RETENTION_STAGING (unset: keep sessions forever).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

API_PORT="${IDV_API_PORT:-9000}"
DDB_PORT="${IDV_DYNAMODB_PORT:-8000}"
S3_PORT="${IDV_S3_PORT:-8014}"
S3_CORS_PORT="${IDV_S3_CORS_PORT:-8015}"
SQS_PORT="${IDV_SQS_PORT:-9324}"
# Where the stack keeps its data and process files: `.tools/` unless IDV_STACK_DIR names
# another place (infra/stack-test.sh runs a private, throwaway stack next to yours).
STACK_DIR="${IDV_STACK_DIR:-$TOOLS}"
RUN="$STACK_DIR/run"
DATA="$STACK_DIR/dynamodb-data"
S3_DATA="$STACK_DIR/s3-data"
mkdir -p "$RUN" "$DATA" "$S3_DATA"

banner() {
  cat <<MSG

  Identity API  http://localhost:$API_PORT/v1/identity
  Staging key   $(cat "$DATA/dev-key")   (tenant "local", every scope)

  curl -s -X POST http://localhost:$API_PORT/v1/identity/sessions \\
    -H "X-Api-Key: $(cat "$DATA/dev-key")" -H "Content-Type: application/json" \\
    -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}'

MSG
}

if [ -f "$RUN/stack.pid" ] && kill -0 "$(cat "$RUN/stack.pid")" 2>/dev/null; then
  log "the local stack is already running (pid $(cat "$RUN/stack.pid"))"
  banner
  exit 0
fi

ensure_dynamodb_local
ensure_s3s_fs
ensure_cargo_lambda

# Build before serving: `cargo lambda watch` would otherwise compile each function on its
# first request. Each binary is built on its own, exactly as watch's `cargo run --bin`
# builds it, so watch finds nothing left to compile.
log "building the functions (the first build takes several minutes)"
for bin in idv-admin idv-local sessions accounts documents document-events verifications events \
  webhooks webhook-fanout webhook-delivery expiry-stream expiry-sweep capture; do
  cargo build --quiet --bin "$bin"
done

PIDS=()
cleanup() {
  trap - EXIT INT TERM
  log "stopping the local stack"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$RUN/stack.pid"
}
trap cleanup EXIT INT TERM
echo $$ >"$RUN/stack.pid"

for port in "$DDB_PORT" "$S3_PORT" "$S3_CORS_PORT" "$API_PORT" "$SQS_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "port $port is taken; set IDV_API_PORT, IDV_DYNAMODB_PORT, IDV_S3_PORT, IDV_S3_CORS_PORT or IDV_SQS_PORT to free ports"
    exit 1
  fi
done
# On disk (not in memory) so data and the development key survive a restart.
start_dynamodb_local "$DDB_PORT" "$DATA"
PIDS+=("$STARTED_PID")
start_s3s_fs "$S3_PORT" "$S3_DATA"
PIDS+=("$STARTED_PID")
# Browsers reach the bucket through this proxy, which answers CORS as the bucket's rule
# does on AWS and forwards everything else to s3s-fs unchanged (Host included, so URLs
# presigned for this port verify).
./target/debug/idv-local s3-cors --port "$S3_CORS_PORT" --upstream "http://127.0.0.1:$S3_PORT" \
  --origins "${IDV_UPLOAD_ORIGINS:-*}" >"$RUN/s3-cors.log" 2>&1 &
PIDS+=($!)
wait_for_port "$DDB_PORT" 60 "DynamoDB Local"
wait_for_port "$S3_PORT" 30 "s3s-fs"
wait_for_port "$S3_CORS_PORT" 30 "idv-local s3-cors"
log "DynamoDB Local on port $DDB_PORT, s3s-fs on port $S3_PORT (browsers: $S3_CORS_PORT, with CORS)"

export_local_aws_env "$DDB_PORT" "$S3_PORT"
export IDV_TABLE=idv IDV_BUCKET=idv-documents
./target/debug/idv-admin create-table >/dev/null
./target/debug/idv-admin create-bucket >/dev/null
if [ ! -s "$DATA/dev-key" ]; then
  ./target/debug/idv-admin issue-key --tenant local --environment staging \
    --name "local development" --scopes '*' >"$DATA/dev-key" 2>/dev/null
  chmod 600 "$DATA/dev-key"
fi

# The key that seals webhook signing secrets (on AWS a KMS-encrypted Secrets Manager
# secret): made once, readable by its owner only, kept with the data it protects.
if [ ! -s "$DATA/webhook.key" ]; then
  (umask 077 && python3 -c "import secrets; print(secrets.token_hex(32))" >"$DATA/webhook.key")
fi

cat >"$RUN/functions.env" <<ENV
IDV_TABLE=idv
IDV_BUCKET=idv-documents
IDV_CURSOR_SECRET=local-development-cursor-secret
IDV_FINGERPRINT_SECRET=local-development-fingerprint-secret
IDV_KEY_CACHE_SECONDS=5
IDV_S3_FORCE_PATH_STYLE=true
AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY
AWS_SECRET_ACCESS_KEY=$S3_SECRET_KEY
AWS_REGION=us-east-1
AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
AWS_ENDPOINT_URL_S3=http://127.0.0.1:$S3_CORS_PORT
AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$SQS_PORT
IDV_WEBHOOK_QUEUE_URL=http://127.0.0.1:$SQS_PORT/000000000000/idv-webhook-deliveries
IDV_WEBHOOK_KEY_FILE=$DATA/webhook.key
IDV_RETENTION_PRODUCTION=${IDV_RETENTION_PRODUCTION:-}
IDV_RETENTION_STAGING=${IDV_RETENTION_STAGING:-}
RUST_LOG=info
ENV

log "serving the API through cargo lambda watch on port $API_PORT"
cargo lambda watch --quiet --invoke-port "$API_PORT" --env-file "$RUN/functions.env" &
PIDS+=($!)
wait_for_port "$API_PORT" 120 "cargo lambda watch"
./target/debug/idv-local s3-events --invoke "http://127.0.0.1:$API_PORT" >"$RUN/s3-events.log" 2>&1 &
PIDS+=($!)
./target/debug/idv-local stream --invoke "http://127.0.0.1:$API_PORT" >"$RUN/stream.log" 2>&1 &
PIDS+=($!)
./target/debug/idv-local stream --invoke "http://127.0.0.1:$API_PORT" --function webhook-fanout --filter feed \
  >"$RUN/webhook-fanout.log" 2>&1 &
PIDS+=($!)
./target/debug/idv-local queue --port "$SQS_PORT" --invoke "http://127.0.0.1:$API_PORT" \
  --function webhook-delivery --queue idv-webhook-deliveries >"$RUN/queue.log" 2>&1 &
PIDS+=($!)
./target/debug/idv-local sweep --invoke "http://127.0.0.1:$API_PORT" --every "${IDV_SWEEP_SECONDS:-60}" \
  >"$RUN/sweep.log" 2>&1 &
PIDS+=($!)
banner
# Whichever part stops first (Ctrl-C, a crash) takes the rest down with it.
wait -n "${PIDS[@]}"
