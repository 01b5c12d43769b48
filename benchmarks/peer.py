"""The peer (figure 8): supervisord doing the same work, measured the same way, in the same run.

supervisord (the PyPI package, from this virtualenv) runs from a generated config in a temp
directory, with its control socket a unix socket there and no TCP listener at all.

- Exit detection and restart: the same N `exiters.py` programs (`autorestart=true`,
  `startsecs=0`, logs to files as ours). An event listener subscribed to `PROCESS_STATE`
  stamps each event as it arrives; its protocol is how supervisord tells anyone of a state
  change without being polled, so it plays the part of our watch. Detection is the arrival of
  the instance's `EXITED` (or `BACKOFF`, if it died while still `STARTING`); restart is the
  next `STARTING` (the new process exists) and, beside it, the next `RUNNING` (supervisord's
  own running state, set on a later pass of its loop).
- Idle CPU and memory: the same N sleeping processes as our footprint run, read with the same
  `footprint.sample()` on the supervisord process.

Ratios are ours / the peer's: below 1 means minikubelet is faster or smaller.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path

import psutil

from benchmarks.exits import exiter_argv, read_exit_times, read_stamps, restarts
from benchmarks.footprint import Footprint, sample
from benchmarks.footprint import figures as footprint_figures
from benchmarks.harness import ROOT, BenchmarkError
from benchmarks.report import Figure
from benchmarks.stats import summary_ms

LISTENER = Path(__file__).resolve().parent / "peer_listener.py"
SETTLE = 3.0
SECTION = "8. peer: supervisord"


def _quote(argv: list[str]) -> str:
    """A command line as supervisord splits it (shlex), with its `%` expansion escaped."""
    import shlex

    return " ".join(shlex.quote(a) for a in argv).replace("%", "%%")


def config(workdir: Path, programs: dict[str, list[str]], listener_record: Path | None) -> str:
    lines = [
        "[unix_http_server]", f"file={workdir}/supervisor.sock", "chmod=0700", "",
        "[supervisord]", f"logfile={workdir}/supervisord.log", f"pidfile={workdir}/supervisord.pid",
        f"childlogdir={workdir}/logs", "nodaemon=true", "loglevel=warn", "minfds=4096", "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
        "[supervisorctl]", f"serverurl=unix://{workdir}/supervisor.sock", "",
    ]  # fmt: skip
    for name, argv in programs.items():
        lines += [
            f"[program:{name}]", f"command={_quote(argv)}", "autorestart=true", "startsecs=0",
            "startretries=1000000", "stopasgroup=true", "killasgroup=true", "stopwaitsecs=2",
            f"stdout_logfile={workdir}/logs/{name}.out",
            f"stderr_logfile={workdir}/logs/{name}.err",
            "",
        ]  # fmt: skip
    if listener_record is not None:
        argv = [sys.executable, "-S", str(LISTENER), str(listener_record)]
        lines += [
            "[eventlistener:observer]", f"command={_quote(argv)}", "events=PROCESS_STATE",
            "buffer_size=100000", f"stderr_logfile={workdir}/logs/observer.err", "",
        ]  # fmt: skip
    return "\n".join(lines) + "\n"


class Supervisord:
    """supervisord in the foreground, in its own session; always stopped on exit."""

    def __init__(self, workdir: Path, conf: str) -> None:
        self.workdir = workdir
        (workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "supervisord.conf"
        self.conf.write_text(conf)
        self.proc: asyncio.subprocess.Process | None = None
        self._seen: dict[int, float] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> Supervisord:
        out = os.open(self.workdir / "stdout.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf),
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
                start_new_session=True, cwd=ROOT,
            )  # fmt: skip
        finally:
            os.close(out)
        return self

    def children(self) -> list[psutil.Process]:
        try:
            kids = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []
        for kid in kids:
            with contextlib.suppress(psutil.Error):
                self._seen[kid.pid] = kid.create_time()
        return kids

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None:
            return
        self.children()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(30):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for pid, created in self._seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if abs(p.create_time() - created) < 0.05:
                    p.kill()


def read_events(record: Path) -> dict[str, list[tuple[float, str]]]:
    by_name: dict[str, list[tuple[float, str]]] = defaultdict(list)
    with contextlib.suppress(OSError):
        for line in record.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                by_name[parts[2]].append((float(parts[0]), parts[1]))
    return by_name


def peer_latencies(
    exit_times: dict[str, list[float]], events: dict[str, list[tuple[float, str]]]
) -> tuple[list[float], list[float], list[float], int]:
    """(detection, exit to STARTING, exit to RUNNING, BACKOFF count); first instance skipped."""
    detect: list[float] = []
    starting: list[float] = []
    running: list[float] = []
    backoffs = 0
    for name, times in exit_times.items():
        seq = events.get(name, [])
        ends = [
            i for i, (_, e) in enumerate(seq)
            if e in ("PROCESS_STATE_EXITED", "PROCESS_STATE_BACKOFF")
        ]  # fmt: skip
        for k, exited in enumerate(times):
            if k == 0 or k >= len(ends):
                continue
            i = ends[k]
            detect.append(seq[i][0] - exited)
            backoffs += seq[i][1] == "PROCESS_STATE_BACKOFF"
            later = seq[i + 1 :]
            nxt = next((t for t, e in later if e == "PROCESS_STATE_STARTING"), None)
            if nxt is not None:
                starting.append(nxt - exited)
            nxt = next((t for t, e in later if e == "PROCESS_STATE_RUNNING"), None)
            if nxt is not None:
                running.append(nxt - exited)
    return detect, starting, running, backoffs


async def exits(
    workdir: Path, *, containers: int, exits: int, within: float
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float], int]:
    work = workdir / "peer-exits"
    out = work / "records"
    out.mkdir(parents=True, exist_ok=True)
    names = [f"exit-{i:03d}" for i in range(containers)]
    record = work / "events.txt"
    conf = config(work, {n: exiter_argv(out / n) for n in names}, record)
    async with Supervisord(work, conf):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = sum(1 for n in names for _ in read_exit_times(out / n))
            if seen >= exits + containers:
                break
            await asyncio.sleep(0.5)
    detect, starting, running, backoffs = peer_latencies(
        {n: read_exit_times(out / n) for n in names}, read_events(record)
    )
    if not detect:
        raise BenchmarkError("the peer reported no exits")
    restart = summary_ms(restarts({n: read_stamps(out / n) for n in names}))
    return summary_ms(detect), summary_ms(starting), summary_ms(running), restart, backoffs


async def idle(workdir: Path, containers: int, seconds: float, settle: float) -> Footprint:
    work = workdir / f"peer-idle-{containers}"
    conf = config(work, {f"idle-{i:04d}": ["sleep", "100000"] for i in range(containers)}, None)
    work.mkdir(parents=True, exist_ok=True)
    async with Supervisord(work, conf) as sup:
        deadline = time.monotonic() + 60 + containers * 0.3
        while len(sup.children()) < containers:
            if time.monotonic() > deadline:
                raise BenchmarkError("the peer did not start its processes in time")
            await asyncio.sleep(0.25)
        await asyncio.sleep(settle)
        return await sample(sup.pid, containers, seconds)


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


async def measure(
    workdir: Path,
    *,
    containers: int,
    exit_count: int,
    within: float,
    ours_exits: list[Figure],
    ours_idle: Footprint,
    idle_seconds: float,
    settle: float = SETTLE,
) -> list[Figure]:
    detect, starting, running, restart, backoffs = await exits(
        workdir, containers=containers, exits=exit_count, within=within
    )
    fp = await idle(workdir, ours_idle.containers, idle_seconds, settle)
    mine = {f.name: f.value for f in ours_exits}
    note = f"{detect['count']:.0f} exits, {containers} processes, {backoffs} BACKOFF"
    figs = [
        Figure(SECTION, "exit detection p50", detect["p50_ms"], "ms", note=note, details=detect),
        Figure(SECTION, "exit detection p99", detect["p99_ms"], "ms"),
        Figure(SECTION, "exit to next start p50", restart["p50_ms"], "ms", details=restart),
        Figure(SECTION, "exit to next start p99", restart["p99_ms"], "ms"),
        Figure(SECTION, "exit to STARTING p50", starting["p50_ms"], "ms", details=starting),
        Figure(SECTION, "exit to STARTING p99", starting["p99_ms"], "ms"),
        Figure(SECTION, "exit to RUNNING p50", running["p50_ms"], "ms", details=running),
        Figure(SECTION, "exit to RUNNING p99", running["p99_ms"], "ms"),
    ]
    figs += footprint_figures(fp, section=SECTION)
    # the ratios compare one measure, read the same way for both tools: the programs' own
    # stamps (exit to the next instance's first instruction) and the processes' own CPU and
    # memory; detection through each tool's own channel (our watch, its event listener) is
    # shown above but is not the same measure, so it has no ratio
    ours_rate = ours_idle.cpu_s / ours_idle.window if ours_idle.window else float("nan")
    theirs_rate = fp.cpu_s / fp.window if fp.window else float("nan")
    ratios = [
        ("restart p50 (exit to next start)", mine.get("exit to next start p50"), restart["p50_ms"]),
        ("restart p99 (exit to next start)", mine.get("exit to next start p99"), restart["p99_ms"]),
        (f"RSS, {fp.containers} processes", ours_idle.rss_mib, fp.rss_mib),
        (f"idle CPU seconds, {fp.containers} processes", ours_rate, theirs_rate),
    ]
    for name, ours, theirs in ratios:
        value = _ratio(ours, theirs) if ours is not None else float("nan")
        figs.append(Figure("8. ratio ours/peer", name, value, "x"))
    return figs
