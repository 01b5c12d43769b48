"""A small versioned app for the rolling-update example: it says which version it is, from
its first argument (what the image tag stands for, see examples/rolling-update/
minikubelet.local.yaml), and keeps running until it is stopped. Its readiness is the
manifest's exec probe: ready unless the file `$UNREADY_DIR/unready-<version>` exists."""

from __future__ import annotations

import os
import signal
import sys
import threading


def main() -> None:
    version = sys.argv[1] if len(sys.argv) > 1 else "v0"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"hello {version} from {os.environ.get('HOSTNAME', '?')}", flush=True)
    while not stop.wait(5):
        print(f"hello {version} still here", flush=True)
    print(f"hello {version} stopping", flush=True)


if __name__ == "__main__":
    main()
