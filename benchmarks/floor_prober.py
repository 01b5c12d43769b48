"""The floor of probing: the least a prober can do, as a tiny asyncio program of the
benchmark's own. `floor_prober.py SECONDS SETTLE PERIOD SPREAD TARGET...`, each TARGET `h:PORT`
(an httpGet: `GET /healthz`, the status line read), `t:PORT` (a tcpSocket: connect, close)
or `x:` (an exec: `true` in its own session, its output read, reaped).

Every target is probed every PERIOD seconds, each probe due a period after the last one was
due; with SPREAD 1 the targets' phases are spread over the period (as the daemon's jittered
probes are: the timing floor), with 0 every target is due at the same instant (the fewest
wake-ups of the loop, which on a small VM cost more than the probes: the CPU floor). After
SETTLE seconds it counts the probes that finish and its own CPU time (and, apart, its reaped
children's: the exec commands) over SECONDS, and prints them as one JSON line. No daemon,
no store, no metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys

HOST = "127.0.0.1"
REQUEST = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


async def _connect(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    except BaseException:
        sock.close()
        raise
    return sock


async def http(port: int) -> bool:
    loop = asyncio.get_running_loop()
    with await _connect(port) as sock:
        await loop.sock_sendall(sock, REQUEST)
        data = b""
        while chunk := await loop.sock_recv(sock, 4096):
            data += chunk
        return data.startswith(b"HTTP/1.1 2")


async def tcp(port: int) -> bool:
    (await _connect(port)).close()
    return True


async def run_true() -> bool:
    proc = await asyncio.create_subprocess_exec(
        "true", stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    await proc.communicate()
    return proc.returncode == 0


def cpu() -> tuple[float, float]:
    t = os.times()
    return t.user + t.system, t.children_user + t.children_system


async def main(
    seconds: float, settle: float, period: float, spread: bool, targets: list[str]
) -> None:
    loop = asyncio.get_running_loop()
    counted = {"probes": 0, "failures": 0}
    counting = False
    stopping = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def probe(kind: str, port: int) -> None:
        try:
            ok = await (http(port) if kind == "h" else tcp(port) if kind == "t" else run_true())
        except OSError:
            ok = False
        if counting:
            counted["probes"] += 1
            counted["failures"] += not ok

    def due(when: float, kind: str, port: int) -> None:
        if stopping.is_set():
            return
        task = loop.create_task(probe(kind, port))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        loop.call_at(when + period, due, when + period, kind, port)

    start = loop.time()
    for i, target in enumerate(targets):
        kind, _, port = target.partition(":")
        when = start + (period * i / len(targets) if spread else 0.0)
        loop.call_at(when, due, when, kind, int(port or 0))
    await asyncio.sleep(settle)
    counting = True
    (own, kids), began = cpu(), loop.time()
    await asyncio.sleep(seconds)
    own_after, kids_after = cpu()
    wall = loop.time() - began
    counting = False
    stopping.set()  # no more probes: the ones in flight finish
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({
        "probes": counted["probes"], "failures": counted["failures"], "wall_s": wall,
        "cpu_s": own_after - own, "children_cpu_s": kids_after - kids,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(float(args[0]), float(args[1]), float(args[2]), args[3] == "1", args[4:]))
