"""Footprint (figure 7): the daemon's resident memory and idle CPU, with one container and
with many; the descriptor figure comes from the probe timing run (`probe_timing.py`).

Containers are single-container pods running `sleep`, without probes. Memory is the daemon
process's own RSS (psutil), read once everything runs and has settled; idle CPU is the CPU
seconds over a quiet window (60 s in a full run: a CPU-time tick is 10 ms, so a short
window or a rounded % says nothing) of the daemon and of its helpers (the two guards above
it, its watchdog), each given. The event loop's lag and the full GC pauses of the window are
read from the daemon's /metrics at its edges. The same measurement of the peer uses
`sample()` so the two are read the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import psutil

from benchmarks.harness import (
    Daemon,
    ProcessSampler,
    WindowStats,
    container_doc,
    helpers_cpu,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, at_most

SETTLE = 3.0
SECTION = "7. footprint"
RSS_TARGETS_MIB = {1: 35.0, 500: 55.0}  # issue 18: idle, and with 500 containers
SLEEPER = ["sleep", "100000"]


@dataclass(frozen=True, slots=True)
class Footprint:
    containers: int
    rss_mib: float
    idle_cpu: float  # fraction of one core, the process and its helpers
    fds: int
    window: float = 0.0  # seconds the idle CPU was read over
    own_cpu_s: float = 0.0  # the process's CPU seconds over the window
    helpers_cpu_s: float = 0.0  # its helper processes' (guards, watchdog)
    stats: WindowStats | None = None  # lag and GC, where the process exports them

    @property
    def cpu_s(self) -> float:
        return self.own_cpu_s + self.helpers_cpu_s


async def sample(
    pid: int, containers: int, seconds: float, helpers: Sequence[psutil.Process] = ()
) -> Footprint:
    sampler = ProcessSampler(pid)
    before, helpers_before = sampler.cpu(), helpers_cpu(helpers)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(seconds)
    window = loop.time() - began
    own = sampler.cpu() - before
    theirs = helpers_cpu(helpers) - helpers_before
    return Footprint(
        containers, sampler.rss() / 2**20, (own + theirs) / window, sampler.fds(), window,
        own_cpu_s=own, helpers_cpu_s=theirs,
    )  # fmt: skip


async def ours(workdir: Path, containers: int, seconds: float, settle: float) -> Footprint:
    pods = [pod_doc(f"idle-{i:04d}", [container_doc("c", SLEEPER)]) for i in range(containers)]
    manifest = write_manifest(workdir / f"footprint-{containers}.json", pods)
    async with Daemon(manifest, state_dir=workdir / f"state-footprint-{containers}") as daemon:
        await daemon.wait_running(containers, within=60 + containers * 0.3)
        await asyncio.sleep(settle)
        async with aiohttp.ClientSession() as session:
            before = await daemon.metrics(session)
            fp = await sample(daemon.pid, containers, seconds, daemon.helpers())
            after = await daemon.metrics(session)
        return replace(fp, stats=window_stats(before, after))


def figures(fp: Footprint, *, section: str = "7. footprint") -> list[Figure]:
    what = "idle" if fp.containers <= 1 else f"{fp.containers} containers"
    details = {
        "rss_mib": fp.rss_mib, "idle_cpu": fp.idle_cpu, "fds": float(fp.fds),
        "window_s": fp.window, "own_cpu_s": fp.own_cpu_s, "helpers_cpu_s": fp.helpers_cpu_s,
    }  # fmt: skip
    limit = RSS_TARGETS_MIB.get(fp.containers) if section == SECTION else None
    rss = f"RSS, {what}"
    out = [
        at_most(section, rss, fp.rss_mib, "MiB", limit, details=details)
        if limit is not None
        else Figure(section, rss, fp.rss_mib, "MiB", details=details),
        # CPU time counts in 10 ms ticks: CPU seconds over a long window, not a rounded %
        Figure(
            section,
            f"idle CPU seconds, {what}",
            fp.cpu_s,
            "s",
            note=(
                f"in {fp.window:.0f} s: the process {fp.own_cpu_s:.2f} s, its helpers "
                f"{fp.helpers_cpu_s:.2f} s"
            ),
        ),
    ]
    if fp.stats is not None:
        out += window_figures(section, fp.stats, f", {what}")
    return out


async def measure(
    workdir: Path, *, many: int, seconds: float, settle: float = SETTLE
) -> tuple[list[Figure], Footprint]:
    """Figures for one container and for `many`; the latter is returned for the peer's ratios."""
    one = await ours(workdir, 1, seconds, settle)
    big = await ours(workdir, many, seconds, settle)
    return figures(one) + figures(big), big
