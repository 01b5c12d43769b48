"""Load (figure 9): the idle daemon with memory-limited containers, and the event loop while
`/stats/summary` is polled.

- Memory watch: single-container pods sleeping, each with `resources.limits.memory`, so the
  daemon watches each tree's resident set every 50 ms. The figure is the daemon process's
  CPU time (psutil user+system) over a quiet window, in CPU seconds and as a share of a core.
- Stats polling: single-container sleeping pods; one client asks `GET /stats/summary` back to
  back over a keep-alive connection while another asks `GET /healthz` every 50 ms. The
  `/healthz` round trip stands in for the loop's lag (it is answered by the loop with no work:
  its time is what the loop made it wait, plus ~1 ms of HTTP on loopback); p50/p99 over the
  window, with the summaries' own latency beside, and `/healthz` alone over half the window
  first (what the machine's load adds without any summary).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import (
    BenchmarkError,
    Daemon,
    ProcessSampler,
    container_doc,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.stats import summary_ms

IDLE_CPU_TARGET = 5.0  # % of a core
LAG_TARGET_MS = 20.0
HEALTHZ_EVERY = 0.05
SLEEPER = ["sleep", "100000"]


def _limited(i: int) -> dict[str, object]:
    c = container_doc("c", SLEEPER, resources={"limits": {"memory": "256Mi"}})
    return pod_doc(f"mem-{i:04d}", [c])


async def memory_idle(
    workdir: Path, *, containers: int, seconds: float, settle: float
) -> list[Figure]:
    pods = [_limited(i) for i in range(containers)]
    manifest = write_manifest(workdir / f"memory-idle-{containers}.json", pods)
    async with Daemon(manifest, state_dir=workdir / f"state-memory-idle-{containers}") as daemon:
        await daemon.wait_running(containers, within=60 + containers * 0.3)
        await asyncio.sleep(settle)
        sampler = ProcessSampler(daemon.pid)
        async with aiohttp.ClientSession() as session:
            metrics_before = await daemon.metrics(session)
            before, began = sampler.cpu(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu_s, wall = sampler.cpu() - before, time.monotonic() - began
            stats = window_stats(metrics_before, await daemon.metrics(session))
    share = cpu_s / wall * 100
    note = f"{cpu_s:.2f} CPU s in {wall:.0f} s"
    return [
        below(
            "9. load", f"idle CPU, {containers} memory-limited containers", share,
            "% of a core", IDLE_CPU_TARGET, note=note, details={"cpu_s": cpu_s, "wall_s": wall},
        ),
        *window_figures("9. load", stats, f", {containers} memory-limited containers"),
    ]  # fmt: skip


async def _poll_summary(
    session: aiohttp.ClientSession, url: str, stop: asyncio.Event
) -> list[float]:
    times: list[float] = []
    while not stop.is_set():
        began = time.monotonic()
        async with session.get(url + "/stats/summary") as resp:
            if resp.status != 200:
                raise BenchmarkError(f"GET /stats/summary: {resp.status}")
            await resp.read()
        times.append(time.monotonic() - began)
    return times


async def _healthz(session: aiohttp.ClientSession, url: str, seconds: float) -> list[float]:
    times: list[float] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        began = time.monotonic()
        async with session.get(url + "/healthz") as resp:
            await resp.read()
        times.append(time.monotonic() - began)
        await asyncio.sleep(HEALTHZ_EVERY)
    return times


async def stats_lag(
    workdir: Path, *, containers: int, seconds: float, settle: float
) -> list[Figure]:
    pods = [pod_doc(f"stats-{i:04d}", [container_doc("c", SLEEPER)]) for i in range(containers)]
    manifest = write_manifest(workdir / f"stats-lag-{containers}.json", pods)
    async with Daemon(manifest, state_dir=workdir / f"state-stats-lag-{containers}") as daemon:
        await daemon.wait_running(containers, within=60 + containers * 0.3)
        await asyncio.sleep(settle)
        timeout = aiohttp.ClientTimeout(total=60)
        async with (
            aiohttp.ClientSession(timeout=timeout) as polling,
            aiohttp.ClientSession(timeout=timeout) as health,
        ):
            quiet = summary_ms(await _healthz(health, daemon.url, seconds / 2))
            metrics_before = await daemon.metrics(health)
            stop = asyncio.Event()
            poller = asyncio.create_task(_poll_summary(polling, daemon.url, stop))
            try:
                lags = await _healthz(health, daemon.url, seconds)
            finally:
                stop.set()
            summaries = await poller
            stats = window_stats(metrics_before, await daemon.metrics(health))
    lag, summ = summary_ms(lags), summary_ms(summaries)
    section = "9. load"
    what = f"{containers} containers, /stats/summary polled"
    note = (
        f"{summ['count']:.0f} summaries, p50 {summ['p50_ms']:.0f} ms, p99 {summ['p99_ms']:.0f} ms"
    )
    return [
        below(section, f"/healthz (loop lag) p99, {what}", lag["p99_ms"], "ms", LAG_TARGET_MS,
              note=note, details={"healthz": lag, "summary": summ}),
        Figure(section, f"/healthz (loop lag) p50, {what}", lag["p50_ms"], "ms"),
        Figure(section, f"/healthz p99, {containers} containers, not polled (the machine's share)",
               quiet["p99_ms"], "ms", details={"healthz": quiet}),
        Figure(section, f"/stats/summary latency p50, {containers} containers",
               summ["p50_ms"], "ms"),
        *window_figures(section, stats, f", {what}"),
    ]  # fmt: skip


async def measure(
    workdir: Path, *, memory_containers: int, stats_containers: int, seconds: float, settle: float
) -> list[Figure]:
    idle = await memory_idle(workdir, containers=memory_containers, seconds=seconds, settle=settle)
    return [
        *idle,
        *await stats_lag(workdir, containers=stats_containers, seconds=seconds, settle=settle),
    ]
