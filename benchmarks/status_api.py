"""Status API throughput (figure 5): `GET /pods` with 100 running containers.

100 single-container pods, each a sleeping process. `benchmarks.loadgen` runs as a separate
process on loopback with a fixed number of keep-alive connections, bounded by a request count
and a time limit, after a short warm-up run; its own CPU use is reported beside the figure so
a reader can tell whether the client or the daemon was the limit.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import aiohttp
import psutil

from benchmarks.harness import (
    ROOT,
    BenchmarkError,
    Daemon,
    container_doc,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, above

RPS_TARGET = 2000.0
SLEEPER = ["sleep", "100000"]


async def loadgen(url: str, connections: int, requests: int, seconds: float) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.loadgen", url, "--connections", str(connections),
        "--requests", str(requests), "--seconds", str(seconds),
        stdout=asyncio.subprocess.PIPE, cwd=ROOT, start_new_session=True,
    )  # fmt: skip
    ps = psutil.Process(proc.pid)
    cpu = 0.0
    try:
        async with asyncio.timeout(seconds + 30):
            while proc.returncode is None:
                try:
                    t = ps.cpu_times()
                    cpu = t.user + t.system
                except psutil.Error:
                    pass
                try:
                    async with asyncio.timeout(0.2):
                        await proc.wait()
                except TimeoutError:
                    pass
            out = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchmarkError("the load generator did not finish") from None
    result: dict[str, float] = json.loads(out[0])
    result["client_cpu_s"] = cpu
    return result


async def measure(
    workdir: Path,
    *,
    containers: int,
    requests: int,
    seconds: float,
    connections: int = 8,
    settle: float = 1.0,
) -> list[Figure]:
    pods = [pod_doc(f"web-{i:03d}", [container_doc("c", SLEEPER)]) for i in range(containers)]
    manifest = write_manifest(workdir / "status-api.json", pods)
    async with Daemon(manifest, state_dir=workdir / "state-status-api") as daemon:
        await daemon.wait_running(containers, within=60 + containers * 0.3)
        await asyncio.sleep(settle)
        url = daemon.url + "/pods"
        await loadgen(url, connections, max(requests // 10, 10), 2.0)  # warm-up
        sampler = psutil.Process(daemon.pid)
        async with aiohttp.ClientSession() as session:
            metrics_before = await daemon.metrics(session)
            before = sum(sampler.cpu_times()[:2])
            result = await loadgen(url, connections, requests, seconds)
            result["daemon_cpu_s"] = sum(sampler.cpu_times()[:2]) - before
            stats = window_stats(metrics_before, await daemon.metrics(session))
    note = (
        f"{result['requests']:.0f} requests of {result['bytes_per_response'] / 1024:.0f} KiB, "
        f"{connections} connections, {result['errors']:.0f} errors; client CPU "
        f"{result['client_cpu_s']:.1f} s, daemon CPU {result['daemon_cpu_s']:.1f} s "
        f"in {result['seconds']:.1f} s"
    )
    section = "5. status API"
    return [
        above(section, f"GET /pods, {containers} containers", result["rps"], "req/s",
              RPS_TARGET, note=note, details=result),
        Figure(section, "GET /pods latency p50", result["p50_ms"], "ms"),
        Figure(section, "GET /pods latency p99", result["p99_ms"], "ms"),
        *window_figures(section, stats, ", GET /pods load"),
    ]  # fmt: skip
