"""Exec round trips (figure 14), with N pods running: `kubectl exec POD -- true` and an echo
through one open exec session.

N single-container `sleep` pods from one manifest, all running. `kubectl exec p-0000 -- true`:
the real kubectl's wall time from its exec to its exit (discovery cached, one unmeasured run
first). In-session: one `v5.channel.k8s.io` websocket (aiohttp's client) on
`/pods/p-0000/exec?command=cat&stdin=true&stdout=true`; a line written on the stdin channel,
timed until `cat` has sent it all back on the stdout channel; the next line after that.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import BenchmarkError, Daemon, write_manifest
from benchmarks.report import Figure
from benchmarks.scaled import (
    NO_KUBECTL,
    find_kubectl,
    judged,
    kubectl,
    p50_p99_ms,
    skipped,
    sleepers,
)

V5 = "v5.channel.k8s.io"
STDIN, STDOUT, ERROR, CLOSE = 0, 1, 3, 255  # remotecommand channels; v5's CLOSE signal
POD = "p-0000"
EXEC = f"/api/v1/namespaces/default/pods/{POD}/exec?container=c&stdin=true&stdout=true"
# a line through an open session is two websocket messages and a pipe each way: a local tool
# should answer well within a frame of a terminal; a whole `kubectl exec` (a process start on
# each side and the upgrade) well under a third of a second
ECHO_P99_TARGET_MS = 10.0
KUBECTL_P50_TARGET_MS = 300.0


async def _stdout_until(ws: aiohttp.ClientWebSocketResponse, want: bytes) -> None:
    got = b""
    while not got.endswith(want):
        msg = await ws.receive()
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise BenchmarkError(f"exec session: {msg.type.name} {msg.data!r}")
        channel, data = msg.data[0], msg.data[1:]
        if channel == ERROR:
            raise BenchmarkError(f"exec session ended: {data!r}")
        if channel == STDOUT:
            got += data


async def echoes(url: str, repeats: int) -> list[float]:
    """Seconds for each of `repeats` lines to come back through one `cat` session."""
    took: list[float] = []
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(url + EXEC + "&command=cat", protocols=[V5]) as ws,
    ):
        if ws.protocol != V5:
            raise BenchmarkError(f"exec: the server chose {ws.protocol!r}")
        async with asyncio.timeout(30):
            first = await ws.receive()  # an empty message: the session is established
            if first.type != aiohttp.WSMsgType.BINARY or first.data[:1] != bytes((STDOUT,)):
                raise BenchmarkError(f"exec: {first.type.name} {first.data!r}")
            for i in range(repeats + 3):
                line = f"bench line {i:05d}\n".encode()
                began = time.perf_counter()
                await ws.send_bytes(bytes((STDIN,)) + line)
                await _stdout_until(ws, line)
                if i >= 3:  # three warm-ups
                    took.append(time.perf_counter() - began)
            await ws.send_bytes(bytes((CLOSE, STDIN)))  # cat sees end of input and exits
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY and msg.data[0] == ERROR:
                    status = json.loads(msg.data[1:])
                    if status.get("status") != "Success":
                        raise BenchmarkError(f"exec: {status}")
    return took


async def measure(workdir: Path, *, sizes: tuple[int, ...], repeats: int) -> list[Figure]:
    exe = find_kubectl()
    section = "14. exec"
    figs: list[Figure] = []
    for n in sizes:
        manifest = write_manifest(workdir / f"exec-{n}.json", sleepers(n))
        async with Daemon(manifest, state_dir=workdir / f"state-exec-{n}") as daemon:
            await daemon.wait_running(n, within=60 + n * 0.3)
            took = await echoes(daemon.url, repeats * 4)
            e50, e99 = p50_p99_ms(took)
            figs += [
                Figure(section, f"in-session echo p50, N={n}", e50, "ms",
                       note=f"{len(took)} lines through `cat`, {V5}"),
                judged("<", section, f"in-session echo p99, N={n}", e99, "ms",
                       ECHO_P99_TARGET_MS, True),
            ]  # fmt: skip
            name = f"kubectl exec -- true p50, N={n}"
            if exe is None:
                figs.append(skipped(section, name, "ms", NO_KUBECTL))
                continue
            home = workdir / f"kubectl-exec-home-{n}"
            await kubectl(exe, daemon.url, home, "exec", POD, "--", "true")
            runs = [
                await kubectl(exe, daemon.url, home, "exec", POD, "--", "true")
                for _ in range(max(repeats // 2, 3))
            ]
            k50, k99 = p50_p99_ms(runs)
            figs += [
                judged("<", section, name, k50, "ms", KUBECTL_P50_TARGET_MS, True,
                       note=f"{len(runs)} runs, {exe}"),
                Figure(section, f"kubectl exec -- true p99, N={n}", k99, "ms"),
            ]  # fmt: skip
    return figs
