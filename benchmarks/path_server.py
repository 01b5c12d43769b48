"""One server for every container of the big-pod benchmark: `path_server.py PORT RECORD`.

Listens on 127.0.0.1:PORT, answers any request `200 ok`, and appends one line per request to
RECORD: `<path> <wall clock at accept>`, so that one process tells apart the probes of a
thousand containers (each probes its own path). Standard library only, no asyncio; exits on
SIGTERM.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import time

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
MAX_REQUEST = 64 * 1024


def serve(port: int, record: str) -> None:
    out = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(1024)
    lsock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, None)
    pending: dict[socket.socket, tuple[float, bytes]] = {}
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data is None:
                try:
                    conn, _addr = sock.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                pending[conn] = (time.time(), b"")
                sel.register(conn, selectors.EVENT_READ, "r")
                continue
            accepted, buf = pending[sock]
            try:
                data = sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            buf += data
            if data and b"\r\n\r\n" not in buf and len(buf) < MAX_REQUEST:
                pending[sock] = (accepted, buf)
                continue
            sel.unregister(sock)
            del pending[sock]
            parts = buf.split(b" ", 2)
            if data and len(parts) > 1:
                os.write(out, parts[1] + f" {accepted:.6f}\n".encode())
                try:
                    sock.setblocking(True)
                    sock.sendall(RESPONSE)
                except OSError:
                    pass
            sock.close()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(int(sys.argv[1]), sys.argv[2])


if __name__ == "__main__":
    main()
