"""A Deployment of N replicas (figure 12): from its POST to all N pods Ready, against the floor
of starting N `sleep` processes from the benchmark itself.

The daemon starts with nothing to run (its manifest holds one ConfigMap). A watch on the pods
labelled `app=bench-N` is opened first; the Deployment (N replicas of a `sleep` container, no
probe, so a pod is Ready once its container runs) is POSTed to `apps/v1`, as `kubectl apply`
would create it, and the figure is from just before the POST to the arrival of the event that
makes the N-th pod Ready (stamped before it is parsed); the same watch gives the arrival of
the N-th pod's first event (the controllers have made them all) and of the first Ready, which
part the time into the controllers' and the node's. A second watch stamps the Deployment's
own status reaching `readyReplicas: N`. The floor: N `sleep` processes started one after
another with `subprocess.Popen` (each returns once its child has exec'd) from this process,
before the daemon runs, until all N exist; then they are killed and reaped.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import JSON, BenchmarkError, Daemon, write_manifest
from benchmarks.report import Figure
from benchmarks.scaled import CONFIG_MAP, SLEEPER, judged

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
# a local tool's controllers should add little to the processes' own start: a Deployment of
# 100 (or 1000) replicas all Ready within 3x the time it takes to merely start 100 processes
RATIO_TARGET = 3.0
RATIO_FROM = 100  # below this the floor is a few ms and fixed costs dominate


def floor(n: int) -> float:
    """Seconds to start `n` sleep processes one after another (all exist at the end)."""
    began = time.perf_counter()
    procs = []
    quiet = subprocess.DEVNULL
    try:
        for _ in range(n):
            procs.append(subprocess.Popen(SLEEPER, stdin=quiet, stdout=quiet, stderr=quiet))
        return time.perf_counter() - began
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def deployment(name: str, replicas: int) -> JSON:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "containers": [{"name": "c", "image": "local", "command": SLEEPER}],
                },
            },
        },
    }


def is_ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


async def _all_ready(resp: aiohttp.ClientResponse, n: int) -> tuple[float, float, float]:
    """Arrival of the event that makes the n-th pod exist, the first Ready, the n-th Ready."""
    created: set[str] = set()
    ready: set[str] = set()
    all_created = first_ready = 0.0
    while line := await resp.content.readline():
        arrived = time.perf_counter()
        event = json.loads(line)
        pod = event.get("object", {})
        name = pod.get("metadata", {}).get("name", "")
        created.add(name)
        if len(created) == n and not all_created:
            all_created = arrived
        if event.get("type") != "DELETED" and is_ready(pod):
            ready.add(name)
            first_ready = first_ready or arrived
        else:
            ready.discard(name)
        if len(ready) >= n:
            return all_created, first_ready, arrived
    raise BenchmarkError(f"the pod watch ended with {len(ready)} of {n} Ready")


async def _reported(resp: aiohttp.ClientResponse, n: int) -> float:
    while line := await resp.content.readline():
        arrived = time.perf_counter()
        status = json.loads(line).get("object", {}).get("status", {})
        if status.get("readyReplicas", 0) >= n:
            return arrived
    raise BenchmarkError("the Deployment watch ended before it was ready")


async def run_one(workdir: Path, n: int) -> dict[str, float]:
    floor_s = await asyncio.to_thread(floor, n)
    manifest = write_manifest(workdir / "deployment.json", [CONFIG_MAP])
    name = f"bench-{n}"
    within = 60 + n * 0.5
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    async with (
        Daemon(manifest, state_dir=workdir / f"state-deployment-{n}") as daemon,
        aiohttp.ClientSession(timeout=timeout, read_bufsize=1 << 22) as http,
    ):
        pods = await http.get(f"{daemon.url}{PODS}?watch=1&labelSelector=app%3D{name}")
        deps = await http.get(f"{daemon.url}{DEPLOYMENTS}?watch=1")
        try:
            if pods.status != 200 or deps.status != 200:
                raise BenchmarkError(f"watch: HTTP {pods.status} / {deps.status}")
            all_ready = asyncio.create_task(_all_ready(pods, n))
            status = asyncio.create_task(_reported(deps, n))
            began = time.perf_counter()
            async with http.post(daemon.url + DEPLOYMENTS, json=deployment(name, n)) as resp:
                if resp.status != 201:
                    raise BenchmarkError(f"POST deployment: {resp.status} {await resp.text()}")
            try:
                async with asyncio.timeout(within):
                    created, first, ready = await all_ready
                    reported = await status
            except TimeoutError:
                raise BenchmarkError(f"{n} replicas were not Ready within {within:g}s") from None
            finally:
                all_ready.cancel()
                status.cancel()
        finally:
            pods.close()
            deps.close()
    return {
        "floor_s": floor_s,
        "created_s": created - began,
        "first_ready_s": first - began,
        "ready_s": ready - began,
        "reported_s": reported - began,
    }


async def measure(workdir: Path, *, sizes: tuple[int, ...]) -> list[Figure]:
    section = "12. deployment"
    figs: list[Figure] = []
    for n in sizes:
        r = await run_one(workdir, n)
        ratio = r["ready_s"] / r["floor_s"]
        note = f"floor: {n} Popen of sleep in {r['floor_s'] * 1000:.0f} ms"
        figs += [
            Figure(section, f"POST to all Ready, N={n}", r["ready_s"] * 1000, "ms",
                   note=note, details=r),
            judged("<", section, f"all Ready / floor, N={n}", ratio, "x", RATIO_TARGET,
                   n >= RATIO_FROM),
            Figure(section, f"POST to all pods created, N={n}", r["created_s"] * 1000, "ms"),
            Figure(section, f"POST to first pod Ready, N={n}", r["first_ready_s"] * 1000, "ms"),
            Figure(section, f"POST to status readyReplicas=N, N={n}", r["reported_s"] * 1000, "ms"),
        ]  # fmt: skip
    return figs
