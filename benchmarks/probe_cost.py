"""Probe cost (figure 4): the daemon's CPU seconds per 1000 probes, by handler.

For each handler, M single-container pods with one liveness probe of that kind every second:
`exec` runs `true` beside a sleeping container; `httpGet` and `tcpSocket` probe the
container's own `probe_server.py`. Once everything runs and has settled, the daemon's own CPU
time (user + system, psutil) and its helpers' (the two guards above it and its watchdog,
which reads the pid of every session it spawns) are read across a window together with its
probe counter (`prober_probe_total`). The idle cost of the same M containers without probes,
daemon and helpers, measured first, is subtracted. CPU seconds per 1000 probes is the same
number as ms per probe. For `exec`, the CPU of the probe commands themselves (the daemon's
reaped children) is a figure of its own: it is the command's, not minikubelet's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.harness import (
    JSON,
    Daemon,
    ProcessSampler,
    WindowStats,
    container_doc,
    free_ports,
    helpers_cpu,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.probe_timing import server_pod
from benchmarks.report import Figure, below

SETTLE = 3.0
SECTION = "4. probe cost"
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


@dataclass(frozen=True, slots=True)
class Window:
    own_cpu: float  # the daemon's CPU seconds
    helpers_cpu: float  # its guards' and watchdog's
    commands_cpu: float  # reaped children: the exec probes' commands
    probes: float
    wall: float
    stats: WindowStats

    @property
    def cpu(self) -> float:
        """The daemon and its helpers: what running the probes costs minikubelet."""
        return self.own_cpu + self.helpers_cpu


async def window(workdir: Path, handler: str, m: int, seconds: float, settle: float) -> Window:
    out = workdir / f"cost-{handler}"
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(workdir / f"cost-{handler}.json", pods_for(handler, m, out))
    async with Daemon(manifest, state_dir=workdir / f"state-cost-{handler}") as daemon:
        await daemon.wait_running(m, within=60 + m * 0.3)
        await asyncio.sleep(settle)
        sampler = ProcessSampler(daemon.pid)
        helpers = daemon.helpers()
        async with aiohttp.ClientSession() as session:
            before = await daemon.metrics(session)
            probes = await daemon.probe_count(session)
            cpu, kids, theirs = sampler.cpu(), sampler.children_cpu(), helpers_cpu(helpers)
            began = time.monotonic()
            await asyncio.sleep(seconds)
            cpu, kids = sampler.cpu() - cpu, sampler.children_cpu() - kids
            theirs = helpers_cpu(helpers) - theirs
            wall = time.monotonic() - began
            probes = await daemon.probe_count(session) - probes
            after = await daemon.metrics(session)
    return Window(cpu, theirs, kids, probes, wall, window_stats(before, after))


async def measure(
    workdir: Path, *, containers: int, seconds: float, settle: float = SETTLE
) -> list[Figure]:
    idle = await window(workdir, "idle", containers, seconds / 2, settle)
    idle_rate = idle.cpu / idle.wall
    figures = []
    for handler in ("exec", "httpGet", "tcpSocket"):
        w = await window(workdir, handler, containers, seconds, settle)
        net = w.cpu - idle_rate * w.wall
        per_probe_ms = net / w.probes * 1000 if w.probes else float("nan")
        note = (
            f"{w.probes:.0f} probes, {containers} containers; the daemon "
            f"{w.own_cpu:.2f} s + its helpers {w.helpers_cpu:.2f} s - idle "
            f"{idle_rate * w.wall:.2f} s"
        )
        details = {
            "daemon_cpu_s": w.own_cpu,
            "helpers_cpu_s": w.helpers_cpu,
            "idle_cpu_s": idle_rate * w.wall,
            "children_cpu_s": w.commands_cpu,
            "probes": w.probes,
            "window_s": w.wall,
        }
        figures.append(
            below(SECTION, f"daemon + helpers CPU per probe, {handler}", per_probe_ms, "ms",
                  TARGETS_MS[handler], note=note, details=details)
        )  # fmt: skip
        if handler == "exec":
            each = w.commands_cpu / w.probes * 1000 if w.probes else float("nan")
            figures.append(
                Figure(SECTION, "the probe commands themselves, exec", each, "ms",
                       note="CPU of each reaped `true`, not minikubelet's")
            )  # fmt: skip
        figures += window_figures(SECTION, w.stats, f", {handler}")
    return figures
