"""Exit detection and restart latency (figures 1 and 2).

N single-container pods under `restartPolicy: Always`, with the CrashLoopBackOff delay set to
zero (`--backoff-initial 0`). Each container notes the wall clock when it starts (`S`), sleeps
0.2-0.5 s, notes it again (`E`, `$EPOCHREALTIME`, no fork) and exits 1 at once. A watch on
the pods stamps every event as it arrives. The k-th `E` line of a container's file is the exit
of the instance with `restartCount` k, so:

- exit detection = arrival of the event showing that instance `terminated` - its `E` line;
- restart = the next instance's `S` line - the same `E` line: the same measure for every
  tool, read from the programs' own stamps, whatever channel the tool reports through;
- exit to running = arrival of the event showing instance k+1 `running` - the `E` line.

Each container's first instance is left out: it starts while the others are still starting.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks.bigpod import big_pod
from benchmarks.harness import (
    Daemon,
    PodWatch,
    container_doc,
    free_ports,
    pod_doc,
    window_figures,
    window_stats,
    write_manifest,
)
from benchmarks.report import Figure, below
from benchmarks.stats import summary_ms

EXIT_TARGET_MS = 5.0  # p99; issue 18
EXIT_P50_TARGET_MS = 1.0
SETTLE = 3.0
PATH_SERVER = Path(__file__).resolve().parent / "path_server.py"


def exiter_argv(record: Path) -> list[str]:
    """Note the start, sleep a little, note the time, exit 1; the same program for the peer."""
    script = (
        'echo "S $EPOCHREALTIME" >> "$0"; sleep 0.$((RANDOM % 4 + 2)); '
        'echo "E $EPOCHREALTIME" >> "$0"; exit 1'
    )
    return ["bash", "-c", script, str(record)]


def read_stamps(path: Path) -> tuple[list[float], list[float]]:
    """(starts, exits) noted by one program's instances, in order."""
    starts: list[float] = []
    ends: list[float] = []
    try:
        for line in path.read_text().splitlines():
            tag, _, value = line.partition(" ")
            (starts if tag == "S" else ends).append(float(value))
    except (OSError, ValueError):
        pass
    return starts, ends


def read_exit_times(path: Path) -> list[float]:
    return read_stamps(path)[1]


def restarts(
    stamps: Mapping[str, tuple[list[float], list[float]]],
    skip_first: int = 1,
    since: float = 0.0,
) -> list[float]:
    """Exit of instance k to the first instruction of instance k+1, in seconds (instances
    that exited before `since` left out)."""
    out: list[float] = []
    for starts, ends in stamps.values():
        for k, exited in enumerate(ends):
            if k >= skip_first and exited >= since and k + 1 < len(starts):
                out.append(starts[k + 1] - exited)
    return out


@dataclass(slots=True)
class Observed:
    """When a watcher first saw each (name, restart count) terminated or running."""

    terminated: dict[tuple[str, int], float] = field(default_factory=dict)
    running: dict[tuple[str, int], float] = field(default_factory=dict)

    def exits(self) -> int:
        return len(self.terminated)


def latencies(
    exit_times: Mapping[str, list[float]],
    seen: Observed,
    skip_first: int = 1,
    since: float = 0.0,
) -> tuple[list[float], list[float]]:
    """(exit detection, restart latency) samples in seconds (instances that exited before
    `since` left out)."""
    detect: list[float] = []
    restart: list[float] = []
    for name, times in exit_times.items():
        for k, exited in enumerate(times):
            if k < skip_first or exited < since:
                continue
            t = seen.terminated.get((name, k))
            if t is not None:
                detect.append(t - exited)
            t = seen.running.get((name, k + 1))
            if t is not None:
                restart.append(t - exited)
    return detect, restart


def observe_pod(obj: dict[str, object], arrived: float, seen: Observed) -> None:
    meta = obj.get("metadata", {})
    status = obj.get("status", {})
    assert isinstance(meta, dict)
    assert isinstance(status, dict)
    name = str(meta.get("name", ""))
    for cs in status.get("containerStatuses", []):
        rc = int(cs.get("restartCount", 0))
        state = cs.get("state", {})
        if "terminated" in state:
            seen.terminated.setdefault((name, rc), arrived)
        elif "running" in state:
            seen.running.setdefault((name, rc), arrived)


async def follow(watch: PodWatch, seen: Observed, want: int, within: float) -> None:
    """Reads the watch until `want` exits were seen, or `within` seconds passed."""
    try:
        async with asyncio.timeout(within):
            async for arrived, event in watch.events():
                if event.get("type") in ("ADDED", "MODIFIED"):
                    observe_pod(event["object"], arrived, seen)
                if seen.exits() >= want:
                    return
    except TimeoutError:
        pass


async def measure(
    workdir: Path, *, containers: int, exits: int, within: float, probes: int = 0
) -> list[Figure]:
    """`probes` > 0: the daemon starts with one pod of that many `sleep` containers, each
    with an httpGet liveness probe every second (on its own path of one shared server
    process); once they all run, the exiting pods are created through the API beside it."""
    tag = f"exits-probes-{probes}" if probes else "exits"
    out = workdir / tag
    out.mkdir(parents=True, exist_ok=True)
    names = [f"exit-{i:03d}" for i in range(containers)]
    pods = [pod_doc(n, [container_doc("c", exiter_argv(out / n))]) for n in names]
    server = None
    if probes:
        (port,) = free_ports(1)
        record = out / "probes.txt"
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-S", str(PATH_SERVER), str(port), str(record),
            start_new_session=True,
        )  # fmt: skip
    manifest = write_manifest(workdir / f"{tag}.json", [big_pod(probes, port)] if probes else pods)
    seen = Observed()
    try:
        async with Daemon(
            manifest, "--backoff-initial", "0", state_dir=workdir / f"state-{tag}"
        ) as daemon:
            if probes:
                await daemon.wait_running(probes, within=60 + probes * 0.3)
                await asyncio.sleep(SETTLE)
            async with aiohttp.ClientSession() as session, PodWatch(daemon.url) as watch:
                before = await daemon.metrics(session)
                if probes:  # the watch is open: it sees them from their creation
                    for pod in pods:
                        await daemon.create_pod(session, pod)
                await follow(watch, seen, want=exits + containers, within=within)
                after = await daemon.metrics(session)
    finally:
        if server is not None:
            server.terminate()
            await server.wait()
    detect, running = latencies({n: read_exit_times(out / n) for n in names}, seen)
    restart = restarts({n: read_stamps(out / n) for n in names})
    figs = figures("minikubelet", detect, running, containers, restart=restart, probes=probes)
    return figs + window_figures(figs[0].section, window_stats(before, after))


def figures(
    who: str,
    detect: list[float],
    running: list[float],
    containers: int,
    *,
    restart: list[float],
    probes: int = 0,
) -> list[Figure]:
    d, r, n = summary_ms(detect), summary_ms(running), summary_ms(restart)
    note = f"{len(detect)} exits, {containers} containers"
    beside = f", {probes} probes beside" if probes else ""
    if probes:
        note += f", beside {probes} containers with an httpGet probe each every 1 s"
    section = f"1. exit detection{beside}" if who == "minikubelet" else f"8. peer: {who}"
    out = []
    if who == "minikubelet":
        out.append(below(section, "exit detection p50", d["p50_ms"], "ms", EXIT_P50_TARGET_MS,
                         note=note, details=d))  # fmt: skip
        out.append(below(section, "exit detection p99", d["p99_ms"], "ms", EXIT_TARGET_MS,
                         note=note))  # fmt: skip
        section = f"2. restart (backoff 0){beside}"
        out.append(Figure(section, "exit to next start p50", n["p50_ms"], "ms", details=n))
        out.append(Figure(section, "exit to next start p99", n["p99_ms"], "ms", note=note))
        out.append(Figure(section, "exit to running p50", r["p50_ms"], "ms", details=r))
        out.append(Figure(section, "exit to running p99", r["p99_ms"], "ms", note=note))
    else:
        out.append(Figure(section, "exit detection p50", d["p50_ms"], "ms", note=note, details=d))
        out.append(Figure(section, "exit detection p99", d["p99_ms"], "ms"))
        out.append(Figure(section, "exit to running p50", r["p50_ms"], "ms", details=r))
        out.append(Figure(section, "exit to running p99", r["p99_ms"], "ms"))
    return out
