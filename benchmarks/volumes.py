"""Volume setup per container start (figure 13): pods with an emptyDir and a configMap volume
mounted at their mountPath (`--volumes=namespace`), against the same pods with no volumes.

The daemon starts with one ConfigMap and no pods, with `--volumes=namespace` both times (a
host that cannot make mount namespaces skips the section, saying why). N pods are POSTed one at a
time, each once the one before has started; each container's first instruction writes the
wall clock (`$EPOCHREALTIME`, no fork) to its own file. Per pod: that stamp minus the wall
clock just before its POST was sent. The extra time per start is the difference of the
medians with and without volumes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import JSON, BenchmarkError, Daemon, container_doc, pod_doc, write_manifest
from benchmarks.report import Figure
from benchmarks.scaled import CONFIG_MAP, judged, p50_p99_ms, read_stamp, skipped, stamped_argv

PODS = "/api/v1/namespaces/default/pods"
# a mount namespace with a tmpfs and a bind per volume is a handful of system calls: a start
# with two volumes should cost a good local tool under 10 ms more than one with none
EXTRA_TARGET_MS = 10.0
VOLUMES: list[JSON] = [
    {"name": "scratch", "emptyDir": {}},
    {"name": "conf", "configMap": {"name": CONFIG_MAP["metadata"]["name"]}},
]
MOUNTS = [{"name": "scratch", "mountPath": "/scratch"}, {"name": "conf", "mountPath": "/etc/app"}]


def volume_pod(name: str, stamp: Path, with_volumes: bool) -> JSON:
    if not with_volumes:
        return pod_doc(name, [container_doc("c", stamped_argv(stamp))])
    pod = pod_doc(name, [container_doc("c", stamped_argv(stamp), volumeMounts=MOUNTS)])
    pod["spec"]["volumes"] = VOLUMES
    return pod


class Unavailable(Exception):
    """The host cannot make mount namespaces (the daemon refused `--volumes=namespace`)."""


async def run_one(workdir: Path, n: int, with_volumes: bool) -> list[float]:
    """Seconds from each POST to its container's first instruction, one pod at a time."""
    tag = f"{n}-{'vol' if with_volumes else 'none'}"
    stamps = workdir / f"volumes-{tag}"
    stamps.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(workdir / "volumes.json", [CONFIG_MAP])
    daemon = Daemon(manifest, "--volumes=namespace", state_dir=workdir / f"state-volumes-{tag}")
    try:
        await daemon.start()
    except BenchmarkError as exc:
        await daemon.stop()
        if "--volumes=namespace" in str(exc):
            reason = next(line for line in str(exc).splitlines() if "--volumes" in line)
            raise Unavailable(reason.strip()) from None
        raise
    took: list[float] = []
    within = 30.0
    try:
        async with aiohttp.ClientSession() as http:
            for i in range(n):
                stamp = stamps / f"{i}.txt"
                pod = volume_pod(f"v-{i:04d}", stamp, with_volumes)
                posted = time.time()
                async with http.post(daemon.url + PODS, json=pod) as resp:
                    if resp.status != 201:
                        raise BenchmarkError(f"POST pod: {resp.status} {await resp.text()}")
                deadline = time.monotonic() + within
                while (ran := read_stamp(stamp)) is None:
                    if time.monotonic() > deadline:
                        raise BenchmarkError(f"pod {i} did not start within {within:g}s")
                    await asyncio.sleep(0.005)
                took.append(ran - posted)
    finally:
        await daemon.stop()
    return took


async def measure(workdir: Path, *, sizes: tuple[int, ...]) -> list[Figure]:
    section = "13. volumes"
    figs: list[Figure] = []
    for n in sizes:
        try:
            bare = await run_one(workdir, n, False)
            vol = await run_one(workdir, n, True)
        except Unavailable as exc:
            return [skipped(section, "extra per start with 2 volumes", "ms", f"skipped: {exc}")]
        b50, b99 = p50_p99_ms(bare)
        v50, v99 = p50_p99_ms(vol)
        note = f"p99 {b99:.1f} ms without, {v99:.1f} ms with; {n} pods one at a time"
        figs += [
            Figure(section, f"POST to first instruction, no volumes p50, N={n}", b50, "ms"),
            Figure(section, f"POST to first instruction, 2 volumes p50, N={n}", v50, "ms"),
            judged("<", section, f"extra per start with 2 volumes (p50), N={n}", v50 - b50,
                   "ms", EXTRA_TARGET_MS, True, note=note,
                   details={"without_ms": [t * 1000 for t in bare],
                            "with_ms": [t * 1000 for t in vol]}),
        ]  # fmt: skip
    return figs
