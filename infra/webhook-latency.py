"""Change → receiver latency of webhooks on a running stack.

    python3 infra/webhook-latency.py BASE_URL API_KEY [N]

Registers an endpoint (session.created) pointing at a receiver this script runs on a
loopback port, creates N sessions one after another, and for each measures the time from
the API's 201 to the signed delivery's arrival (the signature is checked with the
Standard Webhooks algorithm, written out here with the standard library). Prints p50/p99
and deletes the endpoint. Exits non-zero if a delivery is missing or badly signed.
"""

import base64
import hashlib
import hmac
import json
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE, KEY = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 20
arrived = {}
bad = []
secret = None


def api(method, path, body=None):
    req = urllib.request.Request(BASE + path, method=method, headers={"X-Api-Key": KEY})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=60) as r:
        raw = r.read()
        return json.loads(raw) if raw else None


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = base64.b64decode(secret[len("whsec_"):])
        signed = f"{self.headers['webhook-id']}.{self.headers['webhook-timestamp']}.".encode() + body
        expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        if expected not in self.headers["webhook-signature"].split(" "):
            bad.append(self.headers["webhook-id"])
        event = json.loads(body)["data"]["attributes"]
        arrived[event["data"]["object"]["id"]] = time.monotonic()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]
created = api("POST", "/v1/identity/webhook-endpoints", {"data": {"type": "webhook_endpoint", "attributes": {
    "url": f"http://127.0.0.1:{port}/hook", "enabled_events": ["session.created"],
    "description": "webhook-latency.py"}}})
endpoint, secret = created["data"]["id"], created["data"]["attributes"]["secret"]
latencies = []
try:
    for _ in range(N):
        s = api("POST", "/v1/identity/sessions", {"data": {"type": "session", "attributes": {"entity_type": "person"}}})
        sent = time.monotonic()
        sid = s["data"]["id"]
        while sid not in arrived and time.monotonic() - sent < 30:
            time.sleep(0.005)
        if sid not in arrived:
            sys.exit(f"no delivery for {sid} within 30 s")
        latencies.append(arrived[sid] - sent)
finally:
    api("DELETE", f"/v1/identity/webhook-endpoints/{endpoint}")
if bad:
    sys.exit(f"badly signed deliveries: {bad}")
latencies.sort()
p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"webhook latency, change → receiver, n={N}: p50 {p(0.5) * 1000:.0f} ms, p99 {p(0.99) * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
