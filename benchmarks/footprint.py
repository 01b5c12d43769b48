"""Footprint (figure 7): the daemon's resident memory and idle CPU, with one container and
with many; the descriptor figure comes from the probe timing run (`probe_timing.py`).

Containers are single-container pods running `sleep`, without probes. Memory is the daemon
process's own RSS (psutil), read once everything runs and has settled; idle CPU is its CPU
time over a quiet window, as a fraction of one core. The same measurement of the peer uses
`sample()` so the two are read the same way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from benchmarks.harness import Daemon, ProcessSampler, container_doc, pod_doc, write_manifest
from benchmarks.report import Figure

SETTLE = 3.0
SLEEPER = ["sleep", "100000"]


@dataclass(frozen=True, slots=True)
class Footprint:
    containers: int
    rss_mib: float
    idle_cpu: float  # fraction of one core
    fds: int
    window: float = 0.0  # seconds the idle CPU was read over


async def sample(pid: int, containers: int, seconds: float) -> Footprint:
    sampler = ProcessSampler(pid)
    before = sampler.cpu()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(seconds)
    window = loop.time() - began
    cpu = (sampler.cpu() - before) / window
    return Footprint(containers, sampler.rss() / 2**20, cpu, sampler.fds(), window)


async def ours(workdir: Path, containers: int, seconds: float, settle: float) -> Footprint:
    pods = [pod_doc(f"idle-{i:04d}", [container_doc("c", SLEEPER)]) for i in range(containers)]
    manifest = write_manifest(workdir / f"footprint-{containers}.json", pods)
    async with Daemon(manifest, state_dir=workdir / f"state-footprint-{containers}") as daemon:
        await daemon.wait_running(containers, within=60 + containers * 0.3)
        await asyncio.sleep(settle)
        return await sample(daemon.pid, containers, seconds)


def figures(fp: Footprint, *, section: str = "7. footprint") -> list[Figure]:
    what = "idle" if fp.containers <= 1 else f"{fp.containers} containers"
    details = {"rss_mib": fp.rss_mib, "idle_cpu": fp.idle_cpu, "fds": float(fp.fds)}
    return [
        Figure(section, f"RSS, {what}", fp.rss_mib, "MiB", details=details),
        Figure(section, f"idle CPU, {what}", fp.idle_cpu * 100, "% of a core"),
        # a CPU-time tick is 10 ms: the seconds themselves say what a short window resolves
        Figure(
            section,
            f"idle CPU time, {what}",
            fp.idle_cpu * fp.window,
            "s",
            note=f"over {fp.window:.0f} s",
        ),
    ]


async def measure(
    workdir: Path, *, many: int, seconds: float, settle: float = SETTLE
) -> tuple[list[Figure], Footprint]:
    """Figures for one container and for `many`; the latter is returned for the peer's ratios."""
    one = await ours(workdir, 1, seconds, settle)
    big = await ours(workdir, many, seconds, settle)
    return figures(one) + figures(big), big
