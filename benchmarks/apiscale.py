"""The pod list at scale (figures 10 and 11): `kubectl get pods` and the Table GET it makes
with N pods, and one pod's change fanned out to W watchers.

N single-container `sleep` pods from one manifest, all running before anything is timed.
Table: `GET /api/v1/namespaces/default/pods` asking for `application/json;as=Table;v=v1;
g=meta.k8s.io` (what `kubectl get` asks for) on one keep-alive connection, back to back, after
a warm-up, the whole body read; and the real kubectl's `get pods` wall time, from its exec to
its exit, its discovery cache warm (one unmeasured run first), output discarded.
Watch fan-out: W `?watch=1&resourceVersion=<the list's>` streams of the pods, on W
connections of this process; one pod's label is changed by a merge PATCH, and the figure is
from just before the PATCH is sent to the arrival of the event carrying the new label on the
last of the W watchers (stamped before the line is parsed). One warm-up change first; each
change waits for the previous one to reach every watcher.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from benchmarks.harness import BenchmarkError, Daemon, write_manifest
from benchmarks.report import Figure
from benchmarks.scaled import (
    NO_KUBECTL,
    find_kubectl,
    judged,
    kubectl,
    p50_p99_ms,
    skipped,
    sleepers,
)

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"
PODS = "/api/v1/namespaces/default/pods"
# what a good local tool should meet at any N up to 1000: a list of 1000 pods is ~1 MB of
# JSON rows; kubectl itself (a Go binary, its discovery cached) starts in ~50-100 ms
TABLE_P50_TARGET_MS = 100.0
KUBECTL_P50_TARGET_MS = 500.0
# one change to 100 open watches of the pods: a write and 100 copies of one event
FANOUT_P99_TARGET_MS = 50.0
FANOUT_TARGET_WATCHERS = 100


async def table_gets(url: str, repeats: int) -> tuple[list[float], int]:
    """Wall times of `repeats` Table GETs on one connection, and the body's size."""
    times: list[float] = []
    size = 0
    async with aiohttp.ClientSession(headers={"Accept": TABLE}) as http:
        for i in range(repeats + 3):
            began = time.perf_counter()
            async with http.get(url + PODS) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise BenchmarkError(f"Table GET: {resp.status} {body[:200]!r}")
            if i >= 3:  # three warm-ups
                times.append(time.perf_counter() - began)
            size = len(body)
    if b'"kind": "Table"' not in body[:200] and b'"kind":"Table"' not in body[:200]:
        raise BenchmarkError(f"the answer is not a Table: {body[:200]!r}")
    return times, size


class _Fanout:
    """What the watchers share: the marker of the change in flight and who has seen it."""

    def __init__(self, watchers: int) -> None:
        self.watchers = watchers
        self.marker = b""
        self.arrivals: list[float] = []
        self.done = asyncio.Event()

    def expect(self, marker: str) -> None:
        self.marker = f'"{marker}"'.encode()
        self.arrivals = []
        self.done.clear()


async def _follow(resp: aiohttp.ClientResponse, state: _Fanout) -> None:
    seen = b""
    while line := await resp.content.readline():
        arrived = time.perf_counter()
        marker = state.marker
        if marker and marker != seen and marker in line:
            seen = marker
            state.arrivals.append(arrived)
            if len(state.arrivals) == state.watchers:
                state.done.set()


async def fanout(url: str, pod: str, watchers: int, changes: int) -> list[float]:
    """Seconds from each change's PATCH to its event at the last of `watchers` watches."""
    timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
    connector = aiohttp.TCPConnector(limit=0)
    state = _Fanout(watchers)
    patch_headers = {"Content-Type": "application/merge-patch+json"}
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, read_bufsize=1 << 20
    ) as http:
        async with http.get(url + PODS) as resp:
            version = (await resp.json())["metadata"]["resourceVersion"]
        query = f"?watch=1&resourceVersion={version}&timeoutSeconds=900"
        streams = [await http.get(url + PODS + query) for _ in range(watchers)]
        followers = [asyncio.create_task(_follow(r, state)) for r in streams]
        took: list[float] = []
        try:
            for i in range(changes + 1):
                marker = f"bench-mark-{i:05d}"
                state.expect(marker)
                body = json.dumps({"metadata": {"labels": {"bench": marker}}})
                began = time.perf_counter()
                async with http.patch(
                    f"{url}{PODS}/{pod}", data=body, headers=patch_headers
                ) as resp:
                    if resp.status != 200:
                        raise BenchmarkError(f"PATCH: {resp.status} {await resp.text()}")
                try:
                    async with asyncio.timeout(30):
                        await state.done.wait()
                except TimeoutError:
                    raise BenchmarkError(
                        f"change {i} reached {len(state.arrivals)} of {watchers} watchers"
                    ) from None
                if i > 0:  # the first is the warm-up
                    took.append(max(state.arrivals) - began)
                await asyncio.sleep(0.02)
        finally:
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
            for r in streams:
                r.close()
    return took


async def measure(
    workdir: Path,
    *,
    sizes: tuple[int, ...],
    repeats: int,
    watchers: tuple[int, ...],
) -> list[Figure]:
    exe = find_kubectl()
    table_section, watch_section = "10. kubectl get pods", "11. watch fan-out"
    table_figs: list[Figure] = []
    watch_figs: list[Figure] = []
    for n in sizes:
        manifest = write_manifest(workdir / f"apiscale-{n}.json", sleepers(n))
        async with Daemon(manifest, state_dir=workdir / f"state-apiscale-{n}") as daemon:
            await daemon.wait_running(n, within=60 + n * 0.3)
            times, size = await table_gets(daemon.url, repeats)
            p50, p99 = p50_p99_ms(times)
            note = f"{len(times)} GETs of {size / 1024:.0f} KiB on one connection"
            table_figs += [
                judged("<", table_section, f"Table GET p50, N={n}", p50, "ms",
                       TABLE_P50_TARGET_MS, True, note=note, details={"bytes": size}),
                judged("<", table_section, f"Table GET p99, N={n}", p99, "ms",
                       TABLE_P50_TARGET_MS * 2, True),
            ]  # fmt: skip
            name = f"kubectl get pods p50, N={n}"
            if exe is None:
                table_figs.append(skipped(table_section, name, "ms", NO_KUBECTL))
            else:
                home = workdir / f"kubectl-home-{n}"
                await kubectl(exe, daemon.url, home, "get", "pods")  # discovery cached
                runs = [
                    await kubectl(exe, daemon.url, home, "get", "pods")
                    for _ in range(max(repeats // 5, 3))
                ]
                k50, k99 = p50_p99_ms(runs)
                table_figs += [
                    judged("<", table_section, name, k50, "ms", KUBECTL_P50_TARGET_MS, True,
                           note=f"{len(runs)} runs, {exe}"),
                    Figure(table_section, f"kubectl get pods p99, N={n}", k99, "ms"),
                ]  # fmt: skip
            for w in watchers:
                took = await fanout(daemon.url, "p-0000", w, repeats)
                f50, f99 = p50_p99_ms(took)
                at = w == FANOUT_TARGET_WATCHERS
                watch_figs += [
                    Figure(watch_section, f"change to last of {w} watchers p50, N={n}",
                           f50, "ms", note=f"{len(took)} changes"),
                    judged("<", watch_section, f"change to last of {w} watchers p99, N={n}",
                           f99, "ms", FANOUT_P99_TARGET_MS, at),
                ]  # fmt: skip
    return table_figs + watch_figs
