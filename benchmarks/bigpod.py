"""One pod of many containers (figure 9): `minikubelet run` to `/healthz`, to every
container running, and the probes' timing once they run.

One pod of N containers (`sleep`), each with an httpGet liveness probe every second on its
own path of one shared `path_server.py` (one process records every probe, by path). The
benchmark stamps the wall clock before starting the daemon and tries `/healthz` every 10 ms
from then on; once it answers, the pod is read every 250 ms until all N containers run
(that figure is exact to 250 ms plus one read). Then, after a settling time, the probes'
|gap between consecutive probes - 1 s| over a window, per container, and the event loop's
lag (a `/healthz` round trip every 50 ms during the window).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.harness import (
    JSON,
    BenchmarkError,
    Daemon,
    WindowStats,
    container_doc,
    free_ports,
    pod_doc,
    running_containers,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.startup import healthz_ok
from benchmarks.stats import percentile, summary_ms

SERVER = Path(__file__).resolve().parent / "path_server.py"
PERIOD = 1.0
HEALTHZ_TARGET_MS = 1000.0
RUNNING_TARGET_S = 5.0
P99_TARGET_MS = 20.0
TARGET_N = 1000


def big_pod(n: int, port: int) -> JSON:
    sleeper = ["sleep", "100000"]
    containers = [
        container_doc(f"c{i:04d}", sleeper, livenessProbe={
            "httpGet": {"path": f"/c{i:04d}", "port": port},
            "periodSeconds": 1, "failureThreshold": 30,
        })
        for i in range(n)
    ]  # fmt: skip
    return pod_doc("big", containers)


def intervals(record: Path, since: float, until: float) -> list[float]:
    per: dict[str, list[float]] = {}
    for line in record.read_text().splitlines():
        path, _, stamp = line.partition(" ")
        try:
            t = float(stamp)
        except ValueError:
            continue
        if since <= t <= until:
            per.setdefault(path, []).append(t)
    return [b - a for v in per.values() for a, b in itertools.pairwise(sorted(v))]


async def _lag(url: str, session: aiohttp.ClientSession, until: float) -> list[float]:
    seen: list[float] = []
    while time.time() < until:
        began = time.perf_counter()
        async with session.get(url + "/healthz") as resp:
            await resp.read()
        seen.append(time.perf_counter() - began)
        await asyncio.sleep(0.05)
    return seen


async def run_one(
    workdir: Path, n: int, seconds: float, settle: float
) -> tuple[dict[str, float], WindowStats]:
    (port, api_port) = free_ports(2)
    record = workdir / f"bigpod-{n}.txt"
    record.write_text("")
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(SERVER), str(port), str(record), start_new_session=True
    )
    manifest = write_manifest(workdir / f"bigpod-{n}.json", [big_pod(n, port)])
    daemon = Daemon(manifest, state_dir=workdir / f"state-bigpod-{n}", port=api_port)
    within = 60 + n * 0.2
    try:
        started = asyncio.create_task(daemon.start(within))
        async with asyncio.timeout(within):
            healthy = None
            while healthy is None:
                if await healthz_ok(api_port):
                    healthy = time.time()
                else:
                    await asyncio.sleep(0.01)
        await started
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(within):
                while True:
                    pod = await daemon.get_json(session, "/api/v1/namespaces/default/pods/big")
                    if running_containers([pod]) >= n:
                        break
                    await asyncio.sleep(0.25)
            running = time.time()
            await asyncio.sleep(settle)
            before = await daemon.metrics(session)
            since = time.time()
            lag = await _lag(daemon.url, session, since + seconds)
            until = time.time()
            after = await daemon.metrics(session)
    except TimeoutError:
        raise BenchmarkError(f"the pod of {n} did not run within {within:g}s") from None
    finally:
        await daemon.stop()
        server.terminate()
        await server.wait()
    errors = [abs(g - PERIOD) for g in intervals(record, since, until)]
    timing = summary_ms(errors)
    return {
        "healthz_ms": (healthy - daemon.launched_at) * 1000,
        "running_s": running - daemon.launched_at,
        **timing,
        "lag_p50_ms": percentile(lag, 50) * 1000,
        "lag_p99_ms": percentile(lag, 99) * 1000,
    }, window_stats(before, after)


async def measure(workdir: Path, *, n: int, seconds: float, settle: float) -> list[Figure]:
    r, stats = await run_one(workdir, n, seconds, settle)
    section = "9. one big pod"
    at = f"one pod of {n} containers, 1 httpGet probe each"
    targeted = n == TARGET_N
    lag = f"/healthz round trip p50 / p99 {r['lag_p50_ms']:.1f} / {r['lag_p99_ms']:.1f} ms"

    def fig(name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
        if targeted:
            return below(section, name, value, unit, limit, **kw)
        return Figure(section, name, value, unit, **kw)

    return [
        fig(f"run to /healthz ok, N={n}", r["healthz_ms"], "ms", HEALTHZ_TARGET_MS, note=at),
        fig(f"run to all containers running, N={n}", r["running_s"], "s", RUNNING_TARGET_S),
        Figure(section, f"probe |interval - period| p50, N={n}", r["p50_ms"], "ms",
               details=r),
        fig(f"probe |interval - period| p99, N={n}", r["p99_ms"], "ms", P99_TARGET_MS,
            note=f"{r['count']:.0f} intervals; {lag}"),
        *window_figures(section, stats, f", N={n}"),
    ]  # fmt: skip
