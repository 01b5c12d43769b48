"""A small podinfo-like web app for the examples: `/` answers its configuration as JSON,
`/healthz` is its liveness, `/readyz` its readiness (ready after READY_AFTER seconds, and
not while the file named by UNREADY_FILE exists, so a test or a user can take it out of its
Service). Configuration comes from the environment, as a container's does.

Port 0 is any free port, so that replicas of one template run side by side on the one
shared network: the port is printed, and written to `$PORT_DIR/$HOSTNAME.port` for the
probe mode, `podinfo.py --probe /readyz`, which asks this pod's server (an exec probe)."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        elif self.path == "/readyz":
            ready_after = float(os.environ.get("READY_AFTER", "0"))
            gate = os.environ.get("UNREADY_FILE", "")
            ready = time.monotonic() - STARTED >= ready_after and not (
                gate and os.path.exists(gate)
            )
            self._answer(200 if ready else 503, {"ready": ready})
        else:
            self._answer(
                200,
                {
                    "hostname": os.environ.get("HOSTNAME", ""),
                    "message": os.environ.get("PODINFO_UI_MESSAGE", ""),
                    "color": os.environ.get("PODINFO_UI_COLOR", ""),
                    "secretSet": bool(os.environ.get("PODINFO_TOKEN")),
                },
            )

    def _answer(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def port_file() -> str:
    directory = os.environ.get("PORT_DIR") or os.path.join(tempfile.gettempdir(), "podinfo")
    return os.path.join(directory, os.environ.get("HOSTNAME", "podinfo") + ".port")


def probe(path: str) -> int:
    """The exec probe: 0 if this pod's server answers `path` with a 2xx."""
    try:
        with open(port_file()) as f:
            port = int(f.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return 0 if 200 <= r.status < 300 else 1
    except (OSError, ValueError, urllib.error.URLError) as err:
        print(f"probe {path}: {err}", file=sys.stderr)
        return 1


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--probe":
        sys.exit(probe(sys.argv[2]))
    requested = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "9898"))
    server = ThreadingHTTPServer(("127.0.0.1", requested), Handler)
    port = server.server_address[1]
    if requested == 0:  # any free port: say which, for the probes
        os.makedirs(os.path.dirname(port_file()), exist_ok=True)
        with open(port_file(), "w") as f:
            f.write(str(port))
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"podinfo listening on 127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        if requested == 0 and os.path.exists(port_file()):
            os.unlink(port_file())


if __name__ == "__main__":
    main()
