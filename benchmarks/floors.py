"""The floors (figure 10): what the same work costs a tiny program of the benchmark's own,
measured in the same run, and each of our figures beside its floor as a ratio.

- Start-up: `python -c pass` and `python -c 'import asyncio'`, from exec to exit, with the
  daemon's interpreter and environment (the median of a few runs after a warm-up).
- Spawn: `posix_spawn` of `sleep` in a new session, per process (N of them, then killed),
  beside our time per container to run one pod of many (figure 9).
- Exit detection and restart: the same exiting programs as figure 1, watched by a pidfd in a
  bare asyncio loop in this process; detection = the pidfd readable - the program's exit
  stamp, restart = the next instance (spawned at once) writing its start stamp - the exit
  stamp.
- Probe timing: `floor_prober.py`, a bare asyncio loop in its own process, doing the same N x
  2 probes (httpGet + tcpSocket) every second against N `probe_server.py` processes, timed by
  the servers as figure 3 is.
- CPU per probe: the same loop's own CPU per probe, for each handler against M targets, as
  figure 4 (for exec, without the command's own CPU, which is its reaped children's), with
  every target due at the same instant: the fewest wake-ups of the loop (spread phases, as
  the daemon's jittered probes have, cost this VM about twice as much per probe).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.exits import exiter_argv, read_stamps, restarts
from benchmarks.harness import ROOT, BenchmarkError, daemon_env, free_ports
from benchmarks.probe_timing import PERIOD, SERVER, intervals
from benchmarks.report import Figure, ratio
from benchmarks.stats import summary_ms

SECTION = "15. floors"
RATIOS = "15. ours / floor"
PROBER = Path(__file__).resolve().parent / "floor_prober.py"
CPU_RATIO_TARGET = 1.5  # issue 18: CPU per probe within 1.5x of the floor


async def _exec_ms(argv: Sequence[str], runs: int) -> float:
    env = daemon_env()
    seen = []
    for run in range(runs + 1):
        began = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(*argv, env=env, cwd=ROOT)
        await proc.wait()
        if run:  # the first is a warm-up
            seen.append((time.perf_counter() - began) * 1000)
    return statistics.median(seen)


async def startup(runs: int) -> dict[str, float]:
    return {
        "pass_ms": await _exec_ms([sys.executable, "-c", "pass"], runs),
        "asyncio_ms": await _exec_ms([sys.executable, "-c", "import asyncio"], runs),
    }


def spawn(n: int) -> float:
    """ms per `posix_spawn` of `sleep` in a new session."""
    sleep = shutil.which("sleep") or "/bin/sleep"
    pids = []
    began = time.perf_counter()
    try:
        for _ in range(n):
            pids.append(os.posix_spawn(sleep, [sleep, "100000"], os.environ, setsid=True))
        return (time.perf_counter() - began) * 1000 / n
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)


async def exits(
    workdir: Path, containers: int, exits: int, within: float
) -> tuple[list[float], list[float]]:
    """(detection, restart) samples in seconds: pidfd-watched exiters, restarted at once."""
    out = workdir / "floor-exits"
    out.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    seen: dict[str, list[float]] = {}  # name -> when each instance's exit was seen
    done = asyncio.Event()
    total = 0
    live: dict[int, int] = {}  # pidfd -> pid

    def start(name: str) -> None:
        argv = exiter_argv(out / name)
        pid = os.posix_spawn(shutil.which(argv[0]) or argv[0], argv, os.environ)
        fd = os.pidfd_open(pid)
        live[fd] = pid
        loop.add_reader(fd, exited, name, fd)

    def exited(name: str, fd: int) -> None:
        nonlocal total
        stamp = time.time()
        loop.remove_reader(fd)
        os.waitpid(live.pop(fd), 0)
        os.close(fd)
        seen.setdefault(name, []).append(stamp)
        total += 1
        if total >= exits + containers:
            done.set()
        if not done.is_set():
            start(name)

    names = [f"exit-{i:03d}" for i in range(containers)]
    try:
        for name in names:
            start(name)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await done.wait()
    finally:
        for fd, pid in live.items():
            loop.remove_reader(fd)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)  # noqa: ASYNC222 (SIGKILLed: at once)
            os.close(fd)
    stamps = {n: read_stamps(out / n) for n in names}
    detect = [
        t - e
        for n in names
        for k, (e, t) in enumerate(zip(stamps[n][1], seen.get(n, []), strict=False))
        if k >= 1
    ]
    if not detect:
        raise BenchmarkError("the floor saw no exits")
    return detect, restarts(stamps)


async def _servers(
    workdir: Path, tag: str, n: int
) -> tuple[list[asyncio.subprocess.Process], list[int], list[Path]]:
    out = workdir / f"floor-{tag}"
    out.mkdir(parents=True, exist_ok=True)
    ports = free_ports(2 * n)
    records = [out / f"{i}" for i in range(n)]
    procs = []
    for i in range(n):
        procs.append(await asyncio.create_subprocess_exec(
            sys.executable, "-S", str(SERVER), str(ports[2 * i]), str(ports[2 * i + 1]),
            str(records[i]), start_new_session=True,
        ))  # fmt: skip
    deadline = time.monotonic() + 60 + n * 0.2
    for i in range(n):
        while not await _listening(ports[2 * i + 1]):
            if time.monotonic() > deadline:
                raise BenchmarkError("the floor's probe servers did not start")
            await asyncio.sleep(0.05)
    return procs, ports, records


async def _listening(port: int) -> bool:
    try:
        _r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    w.close()
    return True


async def _stop(procs: Sequence[asyncio.subprocess.Process]) -> None:
    for p in procs:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
    for p in procs:
        await p.wait()


async def _prober(
    targets: Sequence[str], seconds: float, settle: float, *, spread: bool
) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-S", str(PROBER), str(seconds), str(settle), str(PERIOD),
        "1" if spread else "0", *targets,
        stdout=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise BenchmarkError(f"the floor prober exited {proc.returncode}")
    result: dict[str, float] = json.loads(out)
    return result


async def probe_timing(
    workdir: Path, n: int, seconds: float, settle: float
) -> tuple[dict[str, float], dict[str, float]]:
    """(|interval - period| summary, the prober's counts) for N servers x 2 probes."""
    procs, ports, records = await _servers(workdir, f"timing-{n}", n)
    try:
        targets = [f"{k}:{ports[2 * i + (k == 't')]}" for i in range(n) for k in ("h", "t")]
        since = time.time() + settle
        counts = await _prober(targets, seconds, settle, spread=True)
        until = time.time()
    finally:
        await _stop(procs)
    gaps = [g for r in records for per in intervals(r, since, until).values() for g in per]
    return summary_ms([abs(g - PERIOD) for g in gaps]), counts


async def probe_cost(
    workdir: Path, m: int, seconds: float, settle: float
) -> dict[str, dict[str, dict[str, float]]]:
    """The prober's counts per handler, M targets each: all due at once (`aligned`, the
    floor) and with their phases spread over the period (`spread`, for comparison)."""
    procs, ports, _records = await _servers(workdir, "cost", m)
    try:
        out: dict[str, dict[str, dict[str, float]]] = {}
        for handler, kind in (("exec", "x"), ("httpGet", "h"), ("tcpSocket", "t")):
            if kind == "x":
                targets = ["x:"] * m
            else:
                targets = [f"{kind}:{ports[2 * i + (kind == 't')]}" for i in range(m)]
            out[handler] = {
                "aligned": await _prober(targets, seconds, settle, spread=False),
                "spread": await _prober(targets, seconds / 2, settle, spread=True),
            }
    finally:
        await _stop(procs)
    return out


def _per_probe_ms(counts: dict[str, float]) -> float:
    return counts["cpu_s"] / counts["probes"] * 1000 if counts["probes"] else float("nan")


def _find(figures: Sequence[Figure], section: str, name: str) -> float:
    for f in figures:
        if f.section == section and f.name == name:
            return f.value
    return float("nan")


async def measure(
    workdir: Path,
    *,
    ours: Sequence[Figure],
    startup_runs: int,
    spawn_count: int,
    exit_containers: int,
    exit_count: int,
    exit_within: float,
    probe_n: int,
    probe_seconds: float,
    cost_containers: int,
    cost_seconds: float,
    settle: float,
    bigpod_n: int,
) -> list[Figure]:
    """The floors, and `ours` (this round's figures so far) beside them."""
    figs: list[Figure] = []
    ratios: list[Figure] = []

    def beside(name: str, our: float, floor: float, limit: float | None = None) -> None:
        if our == our:  # not NaN: that section ran in this round
            ratios.append(ratio(RATIOS, name, our, floor, limit))

    s = await startup(startup_runs)
    figs.append(Figure(SECTION, "python -c pass", s["pass_ms"], "ms", details=s))
    figs.append(Figure(SECTION, "python -c 'import asyncio'", s["asyncio_ms"], "ms"))
    beside("run to /healthz ok / import asyncio",
           _find(ours, "6. start-up", "run to /healthz ok"), s["asyncio_ms"])  # fmt: skip
    beside("run to first container running / import asyncio",
           _find(ours, "6. start-up", "run to first container running"),
           s["asyncio_ms"])  # fmt: skip

    per_spawn = spawn(spawn_count)
    figs.append(Figure(SECTION, "posix_spawn per process", per_spawn, "ms",
                       note=f"{spawn_count} `sleep` processes, each in a new session"))  # fmt: skip
    running_s = _find(ours, "9. one big pod", f"run to all containers running, N={bigpod_n}")
    beside(f"run to {bigpod_n} running, per container / posix_spawn",
           running_s * 1000 / bigpod_n, per_spawn)  # fmt: skip

    detect, restart = await exits(workdir, exit_containers, exit_count, exit_within)
    d, r = summary_ms(detect), summary_ms(restart)
    note = f"{d['count']:.0f} exits, {exit_containers} programs, pidfd in a bare loop"
    figs += [
        Figure(SECTION, "exit detection p50", d["p50_ms"], "ms", note=note, details=d),
        Figure(SECTION, "exit detection p99", d["p99_ms"], "ms"),
        Figure(SECTION, "exit to next start p50", r["p50_ms"], "ms", details=r),
        Figure(SECTION, "exit to next start p99", r["p99_ms"], "ms"),
    ]
    for q in ("p50", "p99"):
        beside(f"exit detection {q}", _find(ours, "1. exit detection", f"exit detection {q}"),
               d[f"{q}_ms"])  # fmt: skip
        beside(f"exit to next start {q}",
               _find(ours, "2. restart (backoff 0)", f"exit to next start {q}"),
               r[f"{q}_ms"])  # fmt: skip

    timing, counts = await probe_timing(workdir, probe_n, probe_seconds, settle)
    figs.append(Figure(
        SECTION, f"probe |interval - period| p99, N={probe_n}", timing["p99_ms"], "ms",
        note=(f"{probe_n} x 2 probes, {timing['count']:.0f} intervals, prober CPU "
              f"{counts['cpu_s'] / counts['wall_s'] * 100:.0f}% of a core"),
        details={**timing, **counts},
    ))  # fmt: skip
    beside(f"probe |interval - period| p99, N={probe_n}",
           _find(ours, "3. probe timing", f"|interval - period| p99, N={probe_n}"),
           timing["p99_ms"])  # fmt: skip

    cost = await probe_cost(workdir, cost_containers, cost_seconds, settle)
    for handler, both in cost.items():
        per, spread = _per_probe_ms(both["aligned"]), _per_probe_ms(both["spread"])
        c = both["aligned"]
        figs.append(Figure(SECTION, f"CPU per probe, {handler}", per, "ms",
                           note=(f"{c['probes']:.0f} probes, {c['failures']:.0f} failed, all "
                                 f"due at once; phases spread: {spread:.3g} ms"),
                           details={"aligned": c, "spread": both["spread"]}))  # fmt: skip
        our = _find(ours, "4. probe cost", f"daemon + helpers CPU per probe, {handler}")
        beside(f"CPU per probe, {handler}", our, per, CPU_RATIO_TARGET)
        beside(f"CPU per probe, {handler}, against the floor with phases spread", our, spread)
    return figs + ratios
