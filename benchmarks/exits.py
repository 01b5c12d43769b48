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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Daemon, PodWatch, container_doc, pod_doc, write_manifest
from benchmarks.report import Figure, below
from benchmarks.stats import summary_ms

EXIT_TARGET_MS = 20.0


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
    stamps: Mapping[str, tuple[list[float], list[float]]], skip_first: int = 1
) -> list[float]:
    """Exit of instance k to the first instruction of instance k+1, in seconds."""
    out: list[float] = []
    for starts, ends in stamps.values():
        for k, exited in enumerate(ends):
            if k >= skip_first and k + 1 < len(starts):
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
    exit_times: Mapping[str, list[float]], seen: Observed, skip_first: int = 1
) -> tuple[list[float], list[float]]:
    """(exit detection, restart latency) samples in seconds."""
    detect: list[float] = []
    restart: list[float] = []
    for name, times in exit_times.items():
        for k, exited in enumerate(times):
            if k < skip_first:
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


async def measure(workdir: Path, *, containers: int, exits: int, within: float) -> list[Figure]:
    out = workdir / "exits"
    out.mkdir(parents=True, exist_ok=True)
    names = [f"exit-{i:03d}" for i in range(containers)]
    manifest = write_manifest(
        workdir / "exits.json",
        [pod_doc(n, [container_doc("c", exiter_argv(out / n))]) for n in names],
    )
    seen = Observed()
    async with (
        Daemon(manifest, "--backoff-initial", "0", state_dir=workdir / "state-exits") as daemon,
        PodWatch(daemon.url) as watch,
    ):
        await follow(watch, seen, want=exits + containers, within=within)
    detect, running = latencies({n: read_exit_times(out / n) for n in names}, seen)
    restart = restarts({n: read_stamps(out / n) for n in names})
    return figures("minikubelet", detect, running, containers, restart=restart)


def figures(
    who: str,
    detect: list[float],
    running: list[float],
    containers: int,
    *,
    restart: list[float],
) -> list[Figure]:
    d, r, n = summary_ms(detect), summary_ms(running), summary_ms(restart)
    note = f"{len(detect)} exits, {containers} containers"
    section = "1. exit detection" if who == "minikubelet" else f"8. peer: {who}"
    out = []
    if who == "minikubelet":
        out.append(Figure(section, "exit detection p50", d["p50_ms"], "ms", note=note, details=d))
        out.append(below(section, "exit detection p99", d["p99_ms"], "ms", EXIT_TARGET_MS,
                         note=note))  # fmt: skip
        section = "2. restart (backoff 0)"
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
