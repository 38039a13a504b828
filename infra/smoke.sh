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

# --- Documents: declare front and back, PUT both to their presigned URLs, wait for the
# upload checker (S3 event -> document-events) to mark them, submit, download.
code=$(status POST "$BASE/v1/identity/sessions" -H "Content-Type: application/json" \
  -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}')
check "$code" 201
DOC_SESSION=$(field "$OUT/body")
# Real JPEGs: the upload checker parses the image header.
"$ROOT/target/debug/idv-local" fixture licence-back >"$OUT/front.jpg"
"$ROOT/target/debug/idv-local" fixture licence-back >"$OUT/back.jpg"
FRONT_SIZE=$(stat -c %s "$OUT/front.jpg"); BACK_SIZE=$(stat -c %s "$OUT/back.jpg")
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/documents/idvs \
  -H "X-Api-Key: $KEY" -H "Content-Type: application/json" \
  -d '{"data": {"type": "document/idv", "attributes": {"document_type": "driving_license", "files": [
        {"filename": "front.jpg", "content_type": "image/jpeg", "byte_size": '"$FRONT_SIZE"', "side": "front"},
        {"filename": "back.jpg", "content_type": "image/jpeg", "byte_size": '"$BACK_SIZE"', "side": "back"}]},
       "relationships": {"session": {"data": {"type": "session", "id": "'"$DOC_SESSION"'"}}}}}')
check "$code" 201
DOC=$(field "$OUT/body")
url() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['meta']['files'][int(sys.argv[2])]['presigned_upload_url'])" "$OUT/body" "$1"; }
# PUT file $1 of the last answer with exactly the headers it lists (the signed ones, e.g.
# If-None-Match: * — the URL is write-once); curl sets Content-Length itself.
put() {
  local args=() line
  while IFS= read -r line; do args+=(-H "$line"); done < <(python3 -c "import json,sys; h=json.load(open(sys.argv[1]))['meta']['files'][int(sys.argv[2])]['headers']; print('\n'.join(f'{k}: {v}' for k, v in h.items() if k != 'content-length'))" "$OUT/body" "$1")
  curl -s -o /dev/null -w '%{http_code}' -X PUT "${args[@]}" --data-binary @"$2" "$(url "$1")"
}
check "$(put 0 "$OUT/front.jpg")" 200
check "$(put 1 "$OUT/back.jpg")" 200
check "$(put 1 "$OUT/front.jpg")" 412
UPLOADED_AT=$(date +%s.%N)
for _ in $(seq 1 200); do
  status GET "$BASE/v1/identity/documents/idvs/$DOC" >/dev/null
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if all(f['status']=='uploaded' for f in d['data']['attributes']['files']) else 1)" "$OUT/body"; then
    break
  fi
  sleep 0.1
done
expect "$OUT/body" "[f['status'] for f in d['data']['attributes']['files']] == ['uploaded', 'uploaded']"
echo "uploads marked by the event path in $(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$UPLOADED_AT") s"
code=$(status POST "$BASE/v1/identity/documents/idvs/$DOC/submit")
check "$code" 200
code=$(status GET "$BASE/v1/identity/documents/idvs/$DOC")
check "$code" 200
DOWNLOAD=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['data']['attributes']['files'][1]['url'])" "$OUT/body")
curl -s -o "$OUT/downloaded" "$DOWNLOAD"
cmp -s "$OUT/downloaded" "$OUT/back.jpg" || { echo "the downloaded back differs from the upload"; exit 1; }
code=$(status GET "$BASE/v1/identity/sessions/$DOC_SESSION")
expect "$OUT/body" "d['data']['attributes']['status'] == 'pending' and d['data']['attributes']['started_at']"

# --- Verification: a licence back (a PDF417 barcode encoded by the project) through its
# presigned URL, then verification/idv with auto_update_session (the seed's body).
code=$(status POST "$BASE/v1/identity/sessions" -H "Content-Type: application/json" \
  -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}')
check "$code" 201
V_SESSION=$(field "$OUT/body")
"$ROOT/target/debug/idv-local" fixture licence-back >"$OUT/licence.jpg"
SIZE=$(stat -c %s "$OUT/licence.jpg")
code=$(status POST "$BASE/v1/identity/documents/idvs" -H "Content-Type: application/json" \
  -d '{"data": {"type": "document/idv", "attributes": {"files": [
        {"filename": "back.jpg", "content_type": "image/jpeg", "byte_size": '"$SIZE"', "side": "back"}]},
       "relationships": {"session": {"data": {"type": "session", "id": "'"$V_SESSION"'"}}}}}')
check "$code" 201
V_DOC=$(field "$OUT/body")
check "$(put 0 "$OUT/licence.jpg")" 200
for _ in $(seq 1 200); do
  status GET "$BASE/v1/identity/documents/idvs/$V_DOC" >/dev/null
  if python3 -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d['data']['attributes']['files'][0]['status']=='uploaded' else 1)" "$OUT/body"; then
    break
  fi
  sleep 0.1
done
STARTED=$(date +%s.%N)
code=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST $BASE/v1/identity/verifications \
  -H "X-Api-Key: $KEY" -H "Content-Type: application/json" \
  -d '{
    "data": {
      "type": "verification/idv",
      "relationships": {
        "document": { "data": { "type": "document/idv", "id": "'"$V_DOC"'" } },
        "session": { "data": { "type": "session", "id": "'"$V_SESSION"'" } }
      }
    },
    "meta": {
      "auto_update_session": true
    }
  }')
check "$code" 201
echo "verification/idv answered in $(python3 -c "import time,sys; print(f'{time.time()-float(sys.argv[1]):.2f}')" "$STARTED") s (debug build, through cargo lambda watch)"
expect "$OUT/body" "d['data']['attributes']['status'] == 'passed' and d['data']['attributes']['extracted']['document']['number'] == 'T64235789'"
code=$(status GET "$BASE/v1/identity/sessions/$V_SESSION")
expect "$OUT/body" "d['data']['attributes']['status'] == 'completed' and d['data']['attributes']['person']['name']['last'] == 'SAMPLE' and d['data']['attributes']['address']['city'] == 'RICHMOND'"

# The events feed (served by its own function) tells the same story, newest first.
code=$(status GET "$BASE/v1/identity/events?filter%5Bsession_id%5D=$V_SESSION&filter%5Btype%5D=verification.completed,session.completed")
check "$code" 200
expect "$OUT/body" "[e['attributes']['type'] for e in d['data']] in (['session.completed', 'verification.completed'], ['verification.completed', 'session.completed'])"

# Webhooks through the whole local stack (stream relay → webhook-fanout → queue →
# webhook-delivery), signed, with the change → receiver latency.
python3 "$ROOT/infra/webhook-latency.py" "$BASE" "$KEY" "${IDV_SMOKE_WEBHOOKS:-20}"

# `idv-local listen` registers an endpoint for the key and forwards each event to a receiver.
RECEIVED="$OUT/received"
RECV_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
LISTEN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$RECV_PORT" "$RECEIVED" <<'PY' &
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class R(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(body + b"\n")
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), R).serve_forever()
PY
RECV_PID=$!
IDV_TOOLS_DIR="$OUT" "$ROOT/target/debug/idv-local" listen --key "$KEY" --api "$BASE" \
  --port "$LISTEN_PORT" --forward-to "http://127.0.0.1:$RECV_PORT/hook" >"$OUT/listen.log" 2>&1 &
LISTEN_PID=$!
trap 'kill $RECV_PID $LISTEN_PID 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do grep -q "signing secret" "$OUT/listen.log" 2>/dev/null && break; sleep 0.1; done
grep -q "signing secret: whsec_" "$OUT/listen.log" || { cat "$OUT/listen.log"; exit 1; }
code=$(status POST "$BASE/v1/identity/sessions" -H "Content-Type: application/json" \
  -d '{"data": {"type": "session", "attributes": {"entity_type": "person"}}}')
check "$code" 201
L_SESSION=$(field "$OUT/body")
for _ in $(seq 200); do grep -q "$L_SESSION" "$RECEIVED" 2>/dev/null && break; sleep 0.1; done
grep -q "$L_SESSION" "$RECEIVED" || { echo "idv-local listen did not forward session.created"; cat "$OUT/listen.log"; exit 1; }
grep -q "session.created .*$L_SESSION.*(signature ok)" "$OUT/listen.log" || { cat "$OUT/listen.log"; exit 1; }
kill $RECV_PID $LISTEN_PID 2>/dev/null || true
# The listener's endpoint is removed again so reruns start clean.
L_ENDPOINT=$(python3 -c "import json,glob; print(json.load(open(glob.glob('$OUT/listen/*.json')[0]))['id'])")
check "$(status DELETE "$BASE/v1/identity/webhook-endpoints/$L_ENDPOINT")" 204

echo "the product page's examples, the document flow, a verification, the events feed and webhooks work against $BASE"
