"""The floor of probing: the least a prober can do, as a tiny asyncio program of the
benchmark's own. `floor_prober.py SECONDS SETTLE PERIOD TARGET...`, each TARGET `h:PORT`
(an httpGet: `GET /healthz`, the status line read), `t:PORT` (a tcpSocket: connect, close)
or `x:` (an exec: `true` in its own session, its output read, reaped).

Every target is probed every PERIOD seconds, the targets' phases spread over the period,
each probe due a period after the last one was due. After SETTLE seconds it counts the
probes that finish and its own CPU time (and, apart, its reaped children's: the exec
commands) over SECONDS, and prints them as one JSON line. No daemon, no store, no metrics.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

HOST = "127.0.0.1"
REQUEST = f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()


async def http(port: int) -> bool:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(REQUEST)
        data = await reader.read()
        return data.startswith(b"HTTP/1.1 2")
    finally:
        writer.close()


async def tcp(port: int) -> bool:
    _reader, writer = await asyncio.open_connection(HOST, port)
    writer.close()
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


async def main(seconds: float, settle: float, period: float, targets: list[str]) -> None:
    loop = asyncio.get_running_loop()
    counted = {"probes": 0, "failures": 0}
    counting = False
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
        task = loop.create_task(probe(kind, port))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        loop.call_at(when + period, due, when + period, kind, port)

    start = loop.time()
    for i, target in enumerate(targets):
        kind, _, port = target.partition(":")
        when = start + period * i / len(targets)
        loop.call_at(when, due, when, kind, int(port or 0))
    await asyncio.sleep(settle)
    counting = True
    (own, kids), began = cpu(), loop.time()
    await asyncio.sleep(seconds)
    own_after, kids_after = cpu()
    wall = loop.time() - began
    counting = False
    print(json.dumps({
        "probes": counted["probes"], "failures": counted["failures"], "wall_s": wall,
        "cpu_s": own_after - own, "children_cpu_s": kids_after - kids,
    }), flush=True)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]))
