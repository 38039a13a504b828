"""A webhook receiver that verifies every delivery with the Standard Webhooks library.

    pip install standardwebhooks
    IDV_WEBHOOK_SECRET=whsec_... python3 receiver.py 3000

Prints one JSON line per delivery ({"verified": true, "id": ..., "type": ...}) and
answers 204 to a verified one, 400 otherwise. The test suite runs it against real
deliveries; the README shows it to integrators.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["IDV_WEBHOOK_SECRET"])


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        try:
            payload = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError:
            print(json.dumps({"verified": False}), flush=True)
            self.send_response(400)
            self.end_headers()
            return
        event = payload["data"]
        # webhook-id is the event id: the same on every retry and replay, so dedupe on it.
        print(json.dumps({"verified": True, "id": self.headers["webhook-id"],
                          "type": event["attributes"]["type"]}), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver)
    print(json.dumps({"listening": server.server_address[1]}), flush=True)
    server.serve_forever()
