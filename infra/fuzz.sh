#!/usr/bin/env bash
# The contract fuzz (part of infra/stack-test.sh, so of the README's test command): runs
# Schemathesis against a running local stack, with the document the API itself serves at
# /v1/identity/openapi.json. Every operation gets the seed's examples, the coverage phase
# (boundary and malformed values of every parameter and body), at least IDV_FUZZ_EXAMPLES
# (50) generated cases, and the stateful phase, which follows the document's links
# (create -> get -> transition, document -> verification, endpoint -> deliveries). The checks
# are the contract's: no 5xx, only documented status codes, content types and headers, and
# every response valid against its schema. Any failure fails the run.
#
# A key of its own (tenant `fuzz`, staging, every scope) with the rate limit raised to 1000
# requests/s is issued first, so the fuzzer is never throttled into 429s and never touches
# the stack's other data.
#
#   infra/fuzz.sh BASE_URL DYNAMODB_PORT
#
# IDV_FUZZ_EXAMPLES (50), IDV_FUZZ_SEED (random; the run prints the one it used), and
# IDV_FUZZ_REPORT (a directory for the JUnit report; none by default).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BASE="${1:?usage: infra/fuzz.sh BASE_URL DYNAMODB_PORT}"
DDB_PORT="${2:?usage: infra/fuzz.sh BASE_URL DYNAMODB_PORT}"
ensure_schemathesis

KEY=$(export_local_aws_env "$DDB_PORT" && IDV_TABLE=idv ./target/debug/idv-admin issue-key \
  --tenant fuzz --environment staging --name "contract fuzz" --scopes '*' --rate-limit 1000 2>/dev/null)
case "$KEY" in
  sk_staging_*) ;;
  *) echo "could not issue the fuzz key"; exit 1 ;;
esac

ARGS=(
  run "$BASE/v1/identity/openapi.json" --url "$BASE"
  -H "X-Api-Key: $KEY"
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
  --phases examples,coverage,fuzzing,stateful
  --max-examples "${IDV_FUZZ_EXAMPLES:-50}"
  --workers 2 --request-timeout 30
  --generation-database none
  --no-color
)
[ -n "${IDV_FUZZ_SEED:-}" ] && ARGS+=(--seed "$IDV_FUZZ_SEED")
[ -n "${IDV_FUZZ_REPORT:-}" ] && ARGS+=(--report junit --report-dir "$IDV_FUZZ_REPORT")
log "fuzzing the contract (Schemathesis, ${IDV_FUZZ_EXAMPLES:-50} examples per operation and the stateful links)"
# tests/fuzz/hooks.py: drops only the non-UTF-8 JSON bodies the local gateway cannot carry.
START=$(date +%s)
# From .tools/: Schemathesis keeps a state folder (.schemathesis/) in its working directory.
cd "$TOOLS"
# The API's operations; not the four public, static ones the capture function serves (the
# page, its script and style, this document), tagged Public. Fuzzed through `cargo lambda
# watch`, about one generated request in 200 to them came back as the emulator's own 500
# (its `httpstatuses.com` problem body, no error in the function's log), and the same
# requests replayed by hand answer 200. Their answers are pinned by `cargo test -p capture`
# (policy, ETag and 304, the served document equal to openapi.yaml) and the browser test.
SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$ROOT/tests/fuzz" "$SCHEMATHESIS" "${ARGS[@]}" --exclude-tag Public
log "contract fuzz passed in $(($(date +%s) - START)) s"
