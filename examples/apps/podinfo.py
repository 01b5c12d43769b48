"""A small podinfo-like web app for the examples: `/` answers its configuration as JSON,
`/healthz` is its liveness, `/readyz` its readiness (ready after READY_AFTER seconds, and
not while the file named by UNREADY_FILE exists, so a test or a user can take it out of its
Service). Configuration comes from the environment, as a container's does."""

from __future__ import annotations

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = time.monotonic()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path == "/healthz":
            self._answer(200, {"status": "ok"})
        elif self.path == "/readyz":
            ready_after = float(os.environ.get("READY_AFTER", "0"))
            gate = os.environ.get("UNREADY_FILE", "")
            ready = time.monotonic() - STARTED >= ready_after and not (gate and os.path.exists(gate))
            self._answer(200 if ready else 503, {"ready": ready})
        else:
            self._answer(200, {
                "hostname": os.environ.get("HOSTNAME", ""),
                "message": os.environ.get("PODINFO_UI_MESSAGE", ""),
                "color": os.environ.get("PODINFO_UI_COLOR", ""),
                "secretSet": bool(os.environ.get("PODINFO_TOKEN")),
            })

    def _answer(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write("%s %s\n" % (self.address_string(), format % args))


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "9898"))
    print(f"podinfo listening on 127.0.0.1:{port}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
