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
