"""Waits until something listens on 127.0.0.1:PORT (an init container's job)."""

import socket
import sys
import time

port = int(sys.argv[1])
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        print(f"port {port} is open", flush=True)
        break
    except OSError:
        print(f"waiting for port {port}", flush=True)
        time.sleep(1)
