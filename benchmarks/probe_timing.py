"""Probe timing accuracy (figure 3) and descriptors across many probes (part of figure 7).

N single-container pods; each container is its own `probe_server.py` process with two ports,
probed by a liveness `httpGet` and a readiness `tcpSocket` probe every second. The servers
write the wall clock of every accepted connection; for each (container, handler) the gaps
between consecutive connections inside the measuring window are compared with the period.
The window opens once every container runs and a few seconds have passed, so the first
probe's jitter and the readiness probe's first trigger are not counted. The benchmark does
not poll the daemon during the window; it reads the descriptor and probe counts at its edges.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import (
    JSON,
    Daemon,
    ProcessSampler,
    WindowStats,
    container_doc,
    free_ports,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.stats import summary_ms

PERIOD = 1.0
SETTLE = 3.0
TIMING_TARGET_MS = 20.0
TARGET_N = 1000  # issue 18: p99 < 20 ms with 1000 containers x 2 probes
FD_N = 200  # the descriptor figure's size: past it, probes in flight blur the count
SERVER = Path(__file__).resolve().parent / "probe_server.py"


def server_pod(
    name: str, http_port: int, tcp_port: int, record: Path, *, http: bool = True, tcp: bool = True
) -> JSON:
    fields: dict[str, object] = {}
    if http:
        fields["livenessProbe"] = {
            "httpGet": {"path": "/healthz", "port": http_port},
            "periodSeconds": 1,
            "failureThreshold": 30,
        }
    if tcp:
        fields["readinessProbe"] = {"tcpSocket": {"port": tcp_port}, "periodSeconds": 1}
    argv = [sys.executable, "-S", str(SERVER), str(http_port), str(tcp_port), str(record)]
    return pod_doc(name, [container_doc("srv", argv, **fields)])


def intervals(record: Path, since: float, until: float) -> dict[str, list[float]]:
    """Gaps between consecutive connections per handler (`h`, `t`) inside the window."""
    times: dict[str, list[float]] = {"h": [], "t": []}
    try:
        text = record.read_text()
    except OSError:
        return times
    for line in text.splitlines():
        kind, _, stamp = line.partition(" ")
        try:
            t = float(stamp)
        except ValueError:
            continue
        if kind in times and since <= t <= until:
            times[kind].append(t)
    return {k: [b - a for a, b in itertools.pairwise(v)] for k, v in times.items()}


async def min_fds(sampler: ProcessSampler, samples: int = 5) -> int:
    """Open descriptors, the least of a few reads: a probe in flight holds one or two."""
    seen = []
    for _ in range(samples):
        seen.append(sampler.fds())
        await asyncio.sleep(0.1)
    return min(seen)


async def run_one(
    workdir: Path, n: int, seconds: float, settle: float
) -> tuple[dict[str, float], dict[str, float], WindowStats]:
    """(timing summary, descriptor/probe counts) for N containers."""
    out = workdir / f"probe-timing-{n}"
    out.mkdir(parents=True, exist_ok=True)
    ports = free_ports(2 * n)
    names = [f"srv-{i:04d}" for i in range(n)]
    manifest = write_manifest(
        workdir / f"probe-timing-{n}.json",
        [server_pod(nm, ports[2 * i], ports[2 * i + 1], out / nm) for i, nm in enumerate(names)],
    )
    async with Daemon(manifest, state_dir=workdir / f"state-timing-{n}") as daemon:
        await daemon.wait_running(n, within=60 + n * 0.3)
        await asyncio.sleep(settle)
        sampler = ProcessSampler(daemon.pid)
        async with aiohttp.ClientSession() as session:
            probes_before = await daemon.probe_count(session)  # opens our connection first
            metrics_before = await daemon.metrics(session)
            fds_before = await min_fds(sampler)
            cpu_before, since = sampler.cpu(), time.time()
            await asyncio.sleep(seconds)
            until, cpu_after = time.time(), sampler.cpu()
            probes_after = await daemon.probe_count(session)
            metrics_after = await daemon.metrics(session)
            fds_after = await min_fds(sampler)
    gaps = [g for nm in names for per in intervals(out / nm, since, until).values() for g in per]
    errors = [abs(g - PERIOD) for g in gaps]
    counts = {
        "fds_before": float(fds_before),
        "fds_after": float(fds_after),
        "probes": probes_after - probes_before,
        "cpu_fraction": (cpu_after - cpu_before) / (until - since),
    }
    return summary_ms(errors), counts, window_stats(metrics_before, metrics_after)


async def measure(
    workdir: Path, *, sizes: list[int], seconds: float, settle: float = SETTLE
) -> list[Figure]:
    figures: list[Figure] = []
    fd_run: dict[str, float] | None = None
    for n in sizes:
        timing, counts, stats = await run_one(workdir, n, seconds, settle)
        section = "3. probe timing"
        note = (
            f"N={n} x 2 probes, {timing['count']:.0f} intervals, daemon CPU "
            f"{counts['cpu_fraction'] * 100:.0f}% of a core, {stats.gc_text()}"
        )
        details = {**timing, **counts}
        figures.append(
            Figure(section, f"|interval - period| p50, N={n}", timing["p50_ms"], "ms",
                   details=details)
        )  # fmt: skip
        name = f"|interval - period| p99, N={n}"
        if n == TARGET_N:
            figures.append(below(section, name, timing["p99_ms"], "ms", TIMING_TARGET_MS,
                                 note=note))  # fmt: skip
        else:
            figures.append(Figure(section, name, timing["p99_ms"], "ms", note=note))
        figures += window_figures(section, stats, f", N={n}")
        # the descriptor figure comes from N=200 (12 000 probes in a full run); past it
        # probes still in flight blur the count
        if n == FD_N or fd_run is None or (fd_run["n"] != FD_N and n < FD_N):
            fd_run = {**counts, "n": float(n)}
    if fd_run is not None:
        grew = fd_run["fds_after"] - fd_run["fds_before"]
        figures.append(
            Figure(
                "7. footprint",
                "open fds: after - before",
                grew,
                "fds",
                target="<= 0 (no growth)",
                met=grew <= 0,
                note=(
                    f"{fd_run['fds_before']:.0f} -> {fd_run['fds_after']:.0f} across "
                    f"{fd_run['probes']:.0f} probes, N={fd_run['n']:.0f}"
                ),
                details=fd_run,
            )
        )
    return figures
