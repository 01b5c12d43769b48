"""A small HTTP server for the probe examples.

GET /healthz answers 200 for the first --healthy-for seconds after start, then 500, as the
Kubernetes docs' liveness-http example server does; --ready-after delays the first 200 (a slow
start). Any other path answers 200 with a short body.
"""

import argparse
import http.server
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--port", type=int, default=8080)
parser.add_argument("--healthy-for", type=float, default=float("inf"))
parser.add_argument("--ready-after", type=float, default=0.0)
parser.add_argument("--start-delay", type=float, default=0.0, help="sleep before listening")
args = parser.parse_args()

time.sleep(args.start_delay)
started = time.monotonic()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        age = time.monotonic() - started
        if self.path.startswith("/healthz") and not (args.ready_after <= age < args.healthy_for):
            self.send_response(500)
            body = f"error: {age:.1f}s since start\n".encode()
        else:
            self.send_response(200)
            body = b"ok\n"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt: str, *a: object) -> None:
        sys.stdout.write(f"{self.command} {self.path} -> {a[1] if len(a) > 1 else ''}\n")
        sys.stdout.flush()


print(f"listening on 127.0.0.1:{args.port}", flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()
