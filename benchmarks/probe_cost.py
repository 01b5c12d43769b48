"""Probe cost (figure 4): the daemon's CPU seconds per 1000 probes, by handler.

For each handler, M single-container pods with one liveness probe of that kind every second:
`exec` runs `true` beside a sleeping container; `httpGet` and `tcpSocket` probe the
container's own `probe_server.py`. Once everything runs and has settled, the daemon's own CPU
time (user + system, psutil) is read across a window together with its probe counter
(`prober_probe_total`). The idle cost of the same M containers without probes, measured
first, is subtracted. CPU seconds per 1000 probes is the same number as ms per probe. For
`exec`, the CPU of the probe commands themselves (reaped children) is reported beside it.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import (
    JSON,
    Daemon,
    ProcessSampler,
    container_doc,
    free_ports,
    pod_doc,
    write_manifest,
)
from benchmarks.probe_timing import server_pod
from benchmarks.report import Figure, below

SETTLE = 3.0
TARGETS_MS = {"exec": 5.0, "httpGet": 1.0, "tcpSocket": 1.0}
SLEEPER = ["sleep", "100000"]


def pods_for(handler: str, m: int, out: Path) -> list[JSON]:
    if handler == "idle":
        return [pod_doc(f"idle-{i:04d}", [container_doc("c", SLEEPER)]) for i in range(m)]
    if handler == "exec":
        probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
        return [
            pod_doc(f"exec-{i:04d}", [container_doc("c", SLEEPER, livenessProbe=probe)])
            for i in range(m)
        ]
    ports = free_ports(2 * m)
    http = handler == "httpGet"
    pods = []
    for i in range(m):
        pod = server_pod(
            f"{handler.lower()}-{i:04d}", ports[2 * i], ports[2 * i + 1], out / f"{i}",
            http=http, tcp=not http,
        )  # fmt: skip
        if not http:  # the tcpSocket probe as a liveness probe, like the others
            c = pod["spec"]["containers"][0]
            c["livenessProbe"] = {**c.pop("readinessProbe"), "failureThreshold": 30}
        pods.append(pod)
    return pods


async def window(
    workdir: Path, handler: str, m: int, seconds: float, settle: float
) -> tuple[float, float, float, float]:
    """(own CPU s, children CPU s, probes, wall seconds) across the window."""
    out = workdir / f"cost-{handler}"
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(workdir / f"cost-{handler}.json", pods_for(handler, m, out))
    async with Daemon(manifest, state_dir=workdir / f"state-cost-{handler}") as daemon:
        await daemon.wait_running(m, within=60 + m * 0.3)
        await asyncio.sleep(settle)
        sampler = ProcessSampler(daemon.pid)
        async with aiohttp.ClientSession() as session:
            probes = await daemon.probe_count(session)
            cpu, kids, began = sampler.cpu(), sampler.children_cpu(), time.monotonic()
            await asyncio.sleep(seconds)
            cpu, kids = sampler.cpu() - cpu, sampler.children_cpu() - kids
            wall = time.monotonic() - began
            probes = await daemon.probe_count(session) - probes
    return cpu, kids, probes, wall


async def measure(
    workdir: Path, *, containers: int, seconds: float, settle: float = SETTLE
) -> list[Figure]:
    idle_cpu, _kids, _p, idle_wall = await window(workdir, "idle", containers, seconds / 2, settle)
    idle_rate = idle_cpu / idle_wall
    figures = []
    for handler in ("exec", "httpGet", "tcpSocket"):
        cpu, kids, probes, wall = await window(workdir, handler, containers, seconds, settle)
        net = cpu - idle_rate * wall
        per_probe_ms = net / probes * 1000 if probes else float("nan")
        note = f"{probes:.0f} probes, {containers} containers"
        details = {
            "daemon_cpu_s": cpu,
            "idle_cpu_s": idle_rate * wall,
            "children_cpu_s": kids,
            "probes": probes,
            "window_s": wall,
        }
        if handler == "exec" and probes:
            note += f"; the commands themselves: {kids / probes * 1000:.2f} ms each"
        figures.append(
            below("4. probe cost", f"daemon CPU per probe, {handler}", per_probe_ms, "ms",
                  TARGETS_MS[handler], note=note, details=details)
        )  # fmt: skip
    return figures
