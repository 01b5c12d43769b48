"""Log flood: `/healthz` latency while a container writes 30 MB of output as fast as it can.

One container sleeps two seconds, then writes 300,000 lines of 100 bytes (`head | tr | fold`);
its log rotates under a 1 MiB cap. Once with `--quiet-logs`, once echoing every line on the
daemon's stdout (the default, read here as a terminal would). Meanwhile `/healthz` is asked on
a fresh connection every 20 ms until the container has exited; the figures are the p99 and the
worst of those answers (the targets the reliability tests used to assert).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import (
    BenchmarkError,
    Daemon,
    WindowStats,
    container_doc,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.startup import healthz_ok
from benchmarks.stats import percentile, summary_ms

P99_MS = 100.0
WORST_MS = 500.0
FLOOD = "sleep 2; head -c {size} /dev/zero | tr '\\0' x | fold -w 100"


async def _terminated(daemon: Daemon, session: aiohttp.ClientSession) -> bool:
    pods = await daemon.pods(session)
    return any("terminated" in c.get("state", {}) for c in pods[0]["status"].get(
        "containerStatuses", []))  # fmt: skip


async def once(
    workdir: Path, *, echo: bool, size: int, within: float
) -> tuple[list[float], WindowStats]:
    """Seconds of each /healthz answer during one flood, and the daemon's lag and GC."""
    name = "echo" if echo else "quiet"
    manifest = write_manifest(
        workdir / f"flood-{name}.json",
        [pod_doc("flood", [container_doc("flood", ["sh", "-c", FLOOD.format(size=size)])],
                 restart_policy="Never")],
    )  # fmt: skip
    args = ("--log-max-size", "1Mi", "--log-max-files", "3")
    latencies: list[float] = []
    daemon = Daemon(manifest, *args, state_dir=workdir / f"state-flood-{name}", quiet_logs=not echo)
    async with daemon, aiohttp.ClientSession() as session:
        port = int(daemon.url.rsplit(":", 1)[1])
        before = await daemon.metrics(session)
        deadline = time.monotonic() + within
        while True:
            if time.monotonic() > deadline:
                raise BenchmarkError(f"the flood did not end within {within:g}s")
            began = time.monotonic()
            if not await healthz_ok(port):
                raise BenchmarkError("/healthz did not answer ok during the flood")
            latencies.append(time.monotonic() - began)
            if await _terminated(daemon, session):
                break
            await asyncio.sleep(0.02)
        stats = window_stats(before, await daemon.metrics(session))
    return latencies, stats


async def measure(workdir: Path, *, size: int, within: float) -> list[Figure]:
    section = "log flood"
    figures = []
    for echo in (False, True):
        latencies, stats = await once(workdir, echo=echo, size=size, within=within)
        ms = [s * 1000 for s in latencies]
        mode = "echoed" if echo else "--quiet-logs"
        details = summary_ms(latencies)
        figures.append(below(section, f"/healthz p99 during a flood ({mode})",
                             percentile(ms, 99), "ms", P99_MS,
                             note=f"{len(ms)} requests", details=details))  # fmt: skip
        figures.append(below(section, f"/healthz worst during a flood ({mode})", max(ms), "ms",
                             WORST_MS))  # fmt: skip
        figures += window_figures(section, stats, f", {mode}")
    return figures
