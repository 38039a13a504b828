#!/usr/bin/env python3
"""Cold init of Lambda bootstraps against a stand-in Lambda Runtime API.

For each binary: start a tiny HTTP server playing the Runtime API, spawn the binary with the
environment a Lambda gives it (plus the function's own settings), and record the time from
the spawn to its first `GET /2018-06-01/runtime/invocation/next` - that is, everything the
bootstrap does before it can take an event (loading, TLS and SDK clients, configuration,
secrets from the environment). The request is never answered: the process is killed. The
median of --runs spawns is printed with the file's size.

    infra/cold_init.py [--runs 5] [--env KEY=VALUE ...] [--env-for NAME KEY=VALUE ...]
                       [--secrets-stand-in] BINARY...

--env applies to every binary, --env-for only to the binary whose file name is NAME (the
functions' own variables, as template.yaml sets them). --secrets-stand-in starts a stand-in
Secrets Manager on a loopback port (AWS_ENDPOINT_URL_SECRETS_MANAGER) that answers
BatchGetSecretValue for any secret id with a 48-character value, so a function given
IDV_*_ARN variables makes its cold-start call as on AWS (over plain HTTP: on AWS the call
adds a TLS handshake and an in-region round trip).
"""
import argparse
import http.server
import json
import os
import statistics
import subprocess
import sys
import threading
import time

NEXT = "/2018-06-01/runtime/invocation/next"


class Runtime(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.first_next = None
        self.event = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == NEXT and self.server.first_next is None:
            self.server.first_next = time.monotonic()
            self.server.event.set()
        # Hold the long poll: the process is killed before it would get an event.
        self.server.event.wait(10)

    def do_POST(self):  # an init error report
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length).decode(errors="replace")
        sys.stderr.write(f"  init error reported: {body[:300]}\n")
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


class SecretsHandler(http.server.BaseHTTPRequestHandler):
    """Secrets Manager's BatchGetSecretValue (JSON 1.1), every id answered."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        ids = json.loads(self.rfile.read(length) or b"{}").get("SecretIdList", [])
        values = [{"ARN": i, "Name": i.rsplit(":", 1)[-1], "SecretString": "s" * 48,
                   "VersionId": "v1", "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9}
                  for i in ids]
        body = json.dumps({"SecretValues": values, "Errors": []}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.1")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def secrets_stand_in():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SecretsHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def one(binary, extra_env):
    server = Runtime()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    name = os.path.basename(binary)
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{server.server_address[1]}",
        AWS_LAMBDA_FUNCTION_NAME=name,
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{name}",
        AWS_LAMBDA_LOG_STREAM_NAME="bench",
        AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
        LAMBDA_TASK_ROOT=os.path.dirname(os.path.abspath(binary)),
        _HANDLER="bootstrap",
    )
    env.update(extra_env)
    started = time.monotonic()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    got = server.event.wait(10)
    proc.kill()
    _, err = proc.communicate()
    server.event.set()
    server.shutdown()
    server.server_close()
    if not got:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        return None, f"no /invocation/next (exit {proc.returncode}): {' | '.join(tail)}"
    return (server.first_next - started) * 1000.0, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--env-for", nargs=2, action="append", default=[], metavar=("NAME", "KEY=VALUE"))
    ap.add_argument("--secrets-stand-in", action="store_true")
    ap.add_argument("--label", default="")
    ap.add_argument("binaries", nargs="+")
    args = ap.parse_args()
    common = dict(e.split("=", 1) for e in args.env)
    if args.secrets_stand_in:
        common["AWS_ENDPOINT_URL_SECRETS_MANAGER"] = secrets_stand_in()
    rows = []
    for b in args.binaries:
        extra = dict(common)
        extra.update(kv.split("=", 1) for name, kv in args.env_for if name == os.path.basename(b))
        times, error = [], None
        for _ in range(args.runs):
            ms, error = one(b, extra)
            if ms is None:
                break
            times.append(ms)
        size = os.path.getsize(b) / 1e6
        if times:
            rows.append((os.path.basename(b), f"{size:.1f} MB", f"{statistics.median(times):.1f} ms",
                         f"{min(times):.1f} ms", f"{max(times):.1f} ms", ""))
        else:
            rows.append((os.path.basename(b), f"{size:.1f} MB", "-", "-", "-", error))
    header = ("bootstrap", "size", "init p50", "min", "max", "")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(5)]
    print(f"Bootstrap size and cold init (spawn -> first /invocation/next, median of {args.runs}){args.label}")
    for r in [header] + rows:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, 5)]
        print("  ".join(cells) + (f"  {r[5]}" if r[5] else ""))


if __name__ == "__main__":
    main()
