"""A container's own small server for the probe benchmarks: `probe_server.py HTTP TCP RECORD`.

Listens on 127.0.0.1:HTTP (answers any request `200 ok`) and 127.0.0.1:TCP (accepts and
closes), and appends one line per accepted connection to RECORD: `h|t <wall clock>`. It uses
only the standard library and no asyncio, so each of hundreds of copies starts fast and stays
small. Exits on SIGTERM, as a container should.
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


def listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def serve(http_port: int, tcp_port: int, record: str) -> None:
    out = os.open(record, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sel = selectors.DefaultSelector()
    sel.register(listen(http_port), selectors.EVENT_READ, "h")
    sel.register(listen(tcp_port), selectors.EVENT_READ, "t")
    pending: dict[socket.socket, bytes] = {}
    while True:
        for key, _ in sel.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            if key.data in ("h", "t"):
                try:
                    conn, _addr = sock.accept()
                except BlockingIOError:
                    continue
                os.write(out, f"{key.data} {time.time():.6f}\n".encode())
                if key.data == "t":
                    conn.close()
                    continue
                conn.setblocking(False)
                pending[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "r")
            else:
                _read_request(sel, sock, pending)


def _read_request(
    sel: selectors.BaseSelector, conn: socket.socket, pending: dict[socket.socket, bytes]
) -> None:
    try:
        data = conn.recv(4096)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    buf = pending[conn] + data
    if data and b"\r\n\r\n" not in buf and len(buf) < MAX_REQUEST:
        pending[conn] = buf
        return
    sel.unregister(conn)
    del pending[conn]
    if data:
        try:
            conn.setblocking(True)
            conn.sendall(RESPONSE)
        except OSError:
            pass
    conn.close()


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])


if __name__ == "__main__":
    main()
