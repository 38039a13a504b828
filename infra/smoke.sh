#!/usr/bin/env bash
# The product page's curl examples, as written (only the host and the key changed), against
# a running local stack. Exits non-zero on the first answer that is not the documented one.
#
#   infra/smoke.sh [base-url] [api-key]     (defaults: http://localhost:9000 and the dev key)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BASE="${1:-http://localhost:${IDV_API_PORT:-9000}}"
KEY="${2:-$(cat "${IDV_TOOLS_DIR:-$ROOT/.tools}/dynamodb-data/dev-key")}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# expect <file> <python expression over `d`, the parsed body>
expect() {
  python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if not eval(sys.argv[2]):
    sys.exit(f"unexpected response for {sys.argv[2]}:\n{json.dumps(d, indent=2)}")
PY
}
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['data']['id'])" "$1"; }
status() { # method url [curl args...] -> prints the status, body in $OUT/body
  local method=$1 url=$2; shift 2
  curl -s -o "$OUT/body" -w '%{http_code}' -X "$method" "$url" -H "X-Api-Key: $KEY" "$@"
}
check() { [ "$1" = "$2" ] || { echo "expected HTTP $2, got $1: $(cat "$OUT/body")"; exit 1; }; }

# An account to link (not on the page, which assumes one exists).
code=$(status POST "$BASE/v1/identity/accounts" -H "Content-Type: application/json" \
  -d '{"data": {"type": "account", "attributes": {"entity_type": "person"}}}')
check "$code" 201
ACC=$(field "$OUT/body")

# Creating a Session
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/sessions \
  -H "X-Api-Key: $KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "data": {
      "type": "session",
      "attributes": {
        "entity_type": "person"
      },
      "relationships": {
        "account": {
          "data": { "type": "account", "id": "'"$ACC"'" }
        }
      }
    }
  }')
check "$code" 201
expect "$OUT/body" "d['data']['attributes']['status'] == 'created' and d['data']['relationships']['account']['data']['id'] == '$ACC' and d['data']['relationships']['documents'] == {'data': []}"
SESSION=$(field "$OUT/body")

# Manual input
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X PATCH $BASE/v1/identity/sessions/$SESSION \
  -H "X-Api-Key: $KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "data": {
      "type": "session",
      "id": "'"$SESSION"'",
      "attributes": {
        "person": {
          "name": { "first": "Jane", "last": "Doe" },
          "birth_date": "1990-05-15"
        },
        "address": {
          "line1": "123 Main St",
          "city": "San Francisco",
          "subdivision": "CA",
          "postal_code": "94102",
          "country_code": "US"
        },
        "contact": {
          "email": "jane@example.com",
          "phone": "+1234567890"
        }
      }
    }
  }')
check "$code" 200
expect "$OUT/body" "d['data']['attributes']['person']['name']['first'] == 'Jane' and d['data']['attributes']['address']['city'] == 'San Francisco'"

# List all sessions for an account. The page's command as written fails inside curl itself
# ("bad range in URL", exit 3) before any request is sent: curl reads [account_id] as a glob.
# -g (--globoff) is the one flag added; %5B/%5D-encoded brackets work as well.
code=$(curl -g -s -o "$OUT/body" -w '%{http_code}' -X GET "$BASE/v1/identity/sessions?filter[account_id]=$ACC" \
  -H "X-Api-Key: $KEY")
check "$code" 200
expect "$OUT/body" "[s['id'] for s in d['data']] == ['$SESSION']"

# Making Decisions (after simulating the automatic transitions to completed)
for action in start submit complete; do
  code=$(status POST "$BASE/v1/identity/sessions/$SESSION/simulate" -H "Content-Type: application/json" \
    -d '{"data": {"attributes": {"action": "'$action'"}}}')
  check "$code" 200
done
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/sessions/$SESSION/approve \
  -H "X-Api-Key: $KEY")
check "$code" 200
expect "$OUT/body" "d['data']['attributes']['status'] == 'approved' and d['data']['attributes']['decisioned_at']"

# Expiring a Session (a fresh one: an approved session cannot expire)
code=$(status POST "$BASE/v1/identity/sessions" -H "Content-Type: application/json" \
  -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}')
check "$code" 201
OTHER=$(field "$OUT/body")
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/sessions/$OTHER/expire \
  -H "X-Api-Key: $KEY")
check "$code" 200
expect "$OUT/body" "d['data']['attributes']['status'] == 'expired'"

# Redacting a Session
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/sessions/$SESSION/redact \
  -H "X-Api-Key: $KEY")
check "$code" 200
expect "$OUT/body" "d['data']['attributes']['person'] is None and d['data']['attributes']['redacted_at']"

echo "the product page's examples work against $BASE"
