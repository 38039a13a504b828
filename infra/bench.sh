#!/usr/bin/env bash
# The performance table of the README: not a pass/fail test, one command.
#
#   infra/bench.sh [requests per endpoint, default 300]
#
# Starts a private DynamoDB Local and s3s-fs (as infra/test.sh does), runs
# tests/examples/bench_api.rs built with the `bench-fast` profile (release code generation
# without LTO, 16 codegen units, incremental: a build takes minutes; the shipped release
# profile adds fat LTO), then the idv-checks verification benches for a 2 MP licence back and
# a passport photo with a short measurement time, and stops every server it started.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
N="${1:-300}"

ensure_dynamodb_local
ensure_s3s_fs
DDB_PORT=$(free_port)
S3_PORT=$(free_port)
S3_ROOT=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$S3_ROOT"
}
trap cleanup EXIT INT TERM
start_dynamodb_local "$DDB_PORT"
PIDS+=("$STARTED_PID")
start_s3s_fs "$S3_PORT" "$S3_ROOT"
PIDS+=("$STARTED_PID")

log "building the bench (profile bench-fast)"
cargo build --quiet --profile bench-fast -p idv-tests --example bench_api

wait_for_port "$DDB_PORT" 60 "DynamoDB Local"
wait_for_port "$S3_PORT" 30 "s3s-fs"
export IDV_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$DDB_PORT"
export IDV_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export_local_aws_env "$DDB_PORT"

echo "Machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(free -g | awk '/^Mem:/ {print $2}') GB RAM"
echo
# The functions' EMF metric lines and logs go to stdout too: only the tables are kept.
"$CARGO_TARGET_DIR/bench-fast/examples/bench_api" "$N" |
  grep -v -E '^\{"|^[0-9]{4}-[0-9]{2}-[0-9]{2}T'

# The idv-checks verification benches (criterion, short measurement) for a 2 MP licence back
# and a 2 MP passport photo, extraction and evaluation together, one thread.
if [ "${BENCH_CHECKS:-1}" = 1 ]; then
  echo
  echo "Verification (idv-checks criterion benches, profile bench-fast, 3 s per benchmark)"
  printf '%-42s %12s %12s %12s\n' "benchmark" "low" "estimate" "high"
  for b in "verify licence_back_jpeg_2mp\$" "mrz_photo passport_photo_jpeg_2mp_verify"; do
    set -- $b
    cargo bench --quiet --profile bench-fast -p idv-checks --features fixtures --bench "$1" -- \
      --warm-up-time 1 --measurement-time 3 --noplot "$2" 2>/dev/null |
      awk -v name="$1/${2%\$}" '/time:/ { gsub(/[\[\]]/, ""); printf "%-42s %9s %-2s %9s %-2s %9s %-2s\n", name, $2, $3, $4, $5, $6, $7 }'
  done
fi

# The release bootstraps (the shipped profile: fat LTO, one codegen unit, stripped): each
# one's size and cold init against the stand-in Lambda Runtime API of infra/cold_init.py
# (spawn -> first /invocation/next, median of BENCH_COLD_RUNS, default 11). Packages are
# built in groups that enable the same features of idv (none; `verify`; `webhooks`): built
# all together, cargo would unify the features and compile idv once with the image checks
# and the webhook sender for everyone; within a group the fat-LTO links run in parallel.
# From clean this takes tens of minutes on 2 cores; BENCH_BOOTSTRAPS=0 skips it.
if [ "${BENCH_BOOTSTRAPS:-1}" = 1 ]; then
  GROUPS_OF_PACKAGES=("sessions accounts capture expiry" "documents document-events verifications"
    "events webhooks")
  BOOTSTRAPS=(sessions accounts capture expiry-stream expiry-sweep documents document-events
    verifications events webhooks webhook-fanout webhook-delivery)
  for group in "${GROUPS_OF_PACKAGES[@]}"; do
    log "building the release bootstraps of: $group"
    cargo build --quiet --release $(printf -- '-p %s ' $group)
  done
  # Each function's environment as template.yaml sets it, with dummy names and credentials
  # (nothing at init calls AWS but the secrets' BatchGetSecretValue, which the stand-in
  # answers), in an environment otherwise empty, as a Lambda's is.
  arn="arn:aws:secretsmanager:us-east-1:123456789012:secret"
  cursor="IDV_CURSOR_SECRET_ARN=$arn:CursorSecret-AbCdEf"
  fingerprint="IDV_FINGERPRINT_SECRET_ARN=$arn:FingerprintSecret-GhIjKl"
  sealing="IDV_WEBHOOK_KEY_ARN=$arn:WebhookSealingKey-MnOpQr"
  queue="IDV_WEBHOOK_QUEUE_URL=https://sqs.us-east-1.amazonaws.com/123456789012/idv-deliveries"
  checks="IDV_CHECKS_CONFIG={}"
  echo
  env -i PATH="$PATH" python3 infra/cold_init.py --runs "${BENCH_COLD_RUNS:-11}" --secrets-stand-in \
    --label " (profile release, $(uname -m))" \
    --env AWS_REGION=us-east-1 --env AWS_DEFAULT_REGION=us-east-1 \
    --env AWS_ACCESS_KEY_ID=AKIDEXAMPLE --env AWS_SECRET_ACCESS_KEY=secret \
    --env AWS_SESSION_TOKEN=token --env IDV_TABLE=idv --env IDV_BUCKET=idv-documents \
    --env IDV_SESSION_LIFETIME_SECONDS=86400 --env IDV_KEY_CACHE_SECONDS=5 \
    --env IDV_RATE_LIMIT_PER_SECOND=50 --env RUST_LOG=info \
    --env-for sessions "$cursor" --env-for accounts "$cursor" \
    --env-for documents "$cursor" --env-for documents "$fingerprint" --env-for documents "$checks" \
    --env-for document-events "$fingerprint" --env-for document-events "$checks" \
    --env-for verifications "$cursor" --env-for verifications "$fingerprint" \
    --env-for verifications "$checks" \
    --env-for events "$cursor" --env-for events "$queue" \
    --env-for webhooks "$cursor" --env-for webhooks "$sealing" --env-for webhooks "$queue" \
    --env-for webhook-fanout "$queue" \
    --env-for webhook-delivery "$sealing" --env-for webhook-delivery "$queue" \
    --env-for capture "IDV_UPLOAD_ORIGIN=https://idv-documents.s3.us-east-1.amazonaws.com" \
    "${BOOTSTRAPS[@]/#/$CARGO_TARGET_DIR/release/}"
fi
