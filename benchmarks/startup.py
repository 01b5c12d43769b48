"""Start-up (figure 6): from exec of `minikubelet run` to the first container running, and to
`GET /healthz` answering `ok`.

One pod with one container whose first act is to write the wall clock to a file
(`$EPOCHREALTIME`, no fork). The benchmark stamps the wall clock just before starting the
daemon on a port it chose, and tries `/healthz` every 5 ms from then on (a refused connection
costs the daemon nothing), so that figure is exact to 5 ms. Repeated a few times; the median
is held to the target and the worst is shown.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from benchmarks.harness import (
    HOST,
    BenchmarkError,
    Daemon,
    container_doc,
    free_ports,
    pod_doc,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.stats import percentile

HEALTHZ_TARGET_MS = 150.0  # issue 18: `python -c pass` takes about 20 ms here
FIRST_TARGET_MS = 80.0
POLL = 0.005


async def healthz_ok(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return False
    try:
        writer.write(f"GET /healthz HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode())
        data = await reader.read()
        return data.startswith(b"HTTP/1.1 200") and data.endswith(b"ok")
    except OSError:
        return False
    finally:
        writer.close()


def _read_time(path: Path) -> float | None:
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None


async def first_time(path: Path, within: float) -> float:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = _read_time(path)
        if value is not None:
            return value
        await asyncio.sleep(POLL)
    raise BenchmarkError(f"the container did not start within {within:g}s")


async def once(workdir: Path, run: int) -> tuple[float, float]:
    """(seconds to /healthz ok, seconds to the container's first instruction)."""
    record = workdir / f"startup-{run}.txt"
    script = 'echo "$EPOCHREALTIME" > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 100000'
    manifest = write_manifest(
        workdir / "startup.json",
        [pod_doc("first", [container_doc("c", ["bash", "-c", script, str(record)])])],
    )
    (port,) = free_ports(1)
    daemon = Daemon(manifest, state_dir=workdir / f"state-startup-{run}", port=port)
    try:
        started = asyncio.create_task(daemon.start())
        healthy = None
        async with asyncio.timeout(30):
            while healthy is None:
                if await healthz_ok(port):
                    healthy = time.time()
                else:
                    await asyncio.sleep(POLL)
        await started
        ran = await first_time(record, 30)
    finally:
        await daemon.stop()
    return healthy - daemon.launched_at, ran - daemon.launched_at


async def measure(workdir: Path, *, runs: int) -> list[Figure]:
    await once(workdir, -1)  # warm-up: bytecode compiled and cached, files in the page cache
    health: list[float] = []
    first: list[float] = []
    for run in range(runs):
        h, f = await once(workdir, run)
        health.append(h * 1000)
        first.append(f * 1000)
    section = "6. start-up"
    note = f"median of {runs}, worst {max(first):.0f} ms / {max(health):.0f} ms"
    return [
        below(section, "run to first container running", percentile(first, 50), "ms",
              FIRST_TARGET_MS, note=note, details={"runs_ms": first}),
        below(section, "run to /healthz ok", percentile(health, 50), "ms", HEALTHZ_TARGET_MS,
              details={"runs_ms": health}),
    ]  # fmt: skip
