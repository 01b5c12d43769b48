"""The daemon under test, started as a user starts it, and what the benchmarks read of it.

`Daemon` runs `python -m minikubelet run MANIFEST --port P` in its own session, with its
output drained so it never blocks on a full pipe, and stops it the way an operator would:
SIGTERM, a bounded wait, then SIGKILL to its process group and to every descendant ever seen.
`PodWatch` follows `GET /api/v1/namespaces/default/pods?watch=1` and stamps each line with the
wall clock the moment it arrives, before parsing it, so latencies are the daemon's and not a
poll interval's. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import psutil

from benchmarks.report import Figure
from benchmarks.stats import bucket_max, bucket_quantile

JSON = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PR_SET_CHILD_SUBREAPER = 36
STOP_TIMEOUT = 30.0
PYCACHE = Path(tempfile.gettempdir()) / "minikubelet-benchmarks-pycache"


class BenchmarkError(Exception):
    """The benchmark could not get the state it needs (the daemon died, a wait ran out)."""


def become_subreaper() -> None:
    """Orphans of anything we start are re-parented to us, so the final sweep finds them."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def kill_descendants() -> list[str]:
    """SIGKILLs and reaps every process below this one (orphans of what we started come to
    us as the subreaper); returns what was still alive (zombies are only reaped)."""
    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:
        return []
    alive = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{child.pid} {' '.join(child.cmdline())[:80]}")
            child.kill()
    psutil.wait_procs(children, timeout=5)
    return alive


def free_ports(count: int) -> list[int]:
    """`count` distinct loopback ports that were free a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def write_manifest(path: Path, pods: Iterable[JSON]) -> Path:
    """Concatenated JSON documents, which `minikubelet run` reads like multi-document YAML."""
    path.write_text("\n".join(json.dumps(p) for p in pods) + "\n")
    return path


def pod_doc(name: str, containers: Sequence[JSON], *, restart_policy: str = "Always") -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 2,
            "containers": list(containers),
        },
    }


def container_doc(name: str, command: Sequence[str], **fields: Any) -> JSON:
    return {"name": name, "image": "local", "command": list(command), **fields}


def daemon_env() -> dict[str, str]:
    """The daemon runs from compiled bytecode, as an installed package does: if the caller's
    environment forbids writing it, it is cached outside the tree instead (the first start
    compiles, the benchmarks warm up before timing a start)."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return list(proc.cmdline())
    except psutil.Error:
        return []


class Daemon:
    """One `minikubelet run`; an async context manager that always stops it."""

    def __init__(
        self,
        manifest: Path,
        *args: str,
        state_dir: Path,
        port: int | None = None,
        quiet_logs: bool = True,
    ) -> None:
        self.manifest = manifest
        self.quiet_logs = quiet_logs
        self.args = args
        self.state_dir = state_dir
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""
        self.launched_at = 0.0  # wall clock just before the exec
        self.output: deque[str] = deque(maxlen=40)
        self._url_ready: asyncio.Future[str] | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._seen: dict[int, float] = {}
        self._daemon_pid: int | None = None

    @property
    def pid(self) -> int:
        """The daemon's own pid: `minikubelet run` is its outer guard, which forks an inner
        guard, which forks the daemon (all three with the same command line); the figures
        are the daemon's."""
        assert self.proc is not None
        if self._daemon_pid is None:
            proc = psutil.Process(self.proc.pid)
            cmdline = proc.cmdline()
            for _ in range(2):
                forks = [c for c in proc.children() if _cmdline(c) == cmdline]
                if not forks:
                    break
                proc = forks[0]
            self._daemon_pid = proc.pid
        return self._daemon_pid

    def argv(self) -> list[str]:
        port = "0" if self.port is None else str(self.port)
        return [
            sys.executable, "-m", "minikubelet", "run", str(self.manifest), "--port", port,
            "--state-dir", str(self.state_dir), "--log-format", "json",
            *(["--quiet-logs"] if self.quiet_logs else []), *self.args,
        ]  # fmt: skip

    async def start(self, within: float = 60.0) -> str:
        loop = asyncio.get_running_loop()
        self._url_ready = loop.create_future()
        log_fd = self._log_file()
        self.launched_at = time.time()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_fd,
                start_new_session=True,
                cwd=ROOT,
                env=daemon_env(),
            )
        finally:
            os.close(log_fd)
        assert self.proc.stdout is not None
        self._readers = [asyncio.create_task(self._read(self.proc.stdout), name="daemon:stdout")]
        try:
            async with asyncio.timeout(within):
                self.url = await self._url_ready
        except TimeoutError:
            raise BenchmarkError(f"the daemon did not serve within {within:g}s") from None
        return self.url

    def _log_file(self) -> int:
        """The daemon's log goes to a file, as under a service manager; a pipe to us would
        make every log line wake this process, on the same two cores."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        return os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    @property
    def log_path(self) -> Path:
        return self.state_dir / "daemon.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", "replace").rstrip("\n")
            self.output.append(text)
            ready = self._url_ready
            if text.startswith("minikubelet: serving on ") and ready and not ready.done():
                ready.set_result(text.split()[-1])
        if self._url_ready is not None and not self._url_ready.done():
            tail = "\n".join(self.output) + "\n" + self.log_tail()
            self._url_ready.set_exception(BenchmarkError(f"the daemon exited:\n{tail}"))

    def process(self) -> psutil.Process:
        return psutil.Process(self.pid)

    def remember_tree(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self._seen[child.pid] = child.create_time()

    async def stop(self) -> None:
        """SIGTERM; after STOP_TIMEOUT, SIGKILL to the group; then any survivor."""
        proc = self.proc
        if proc is None:
            return
        self.remember_tree()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self._kill_survivors()

    def _kill_survivors(self) -> None:
        for pid, created in self._seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if abs(p.create_time() - created) < 0.05:
                    p.kill()

    async def __aenter__(self) -> Daemon:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # --- reading the daemon -----------------------------------------------------------------

    async def get_json(self, session: aiohttp.ClientSession, path: str) -> JSON:
        async with session.get(self.url + path) as resp:
            if resp.status != 200:
                raise BenchmarkError(f"GET {path}: {resp.status}")
            data: JSON = await resp.json()
            return data

    async def create_pod(self, session: aiohttp.ClientSession, pod: JSON) -> None:
        async with session.post(self.url + "/api/v1/namespaces/default/pods", json=pod) as resp:
            if resp.status != 201:
                raise BenchmarkError(f"POST pod: {resp.status} {await resp.text()}")

    async def pods(self, session: aiohttp.ClientSession) -> list[JSON]:
        data = await self.get_json(session, "/api/v1/namespaces/default/pods")
        return list(data["items"])

    async def wait_pods(
        self, check: Callable[[list[JSON]], bool], what: str, within: float = 120.0
    ) -> list[JSON]:
        """Polls the pod list (setup only, never while measuring) until `check` holds."""
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.returncode is not None:
                    raise BenchmarkError("the daemon exited:\n" + self.log_tail())
                pods = await self.pods(session)
                if check(pods):
                    return pods
                await asyncio.sleep(0.25)
        raise BenchmarkError(f"timed out after {within:g}s waiting for {what}")

    async def wait_running(self, count: int, within: float = 180.0) -> None:
        await self.wait_pods(
            lambda pods: running_containers(pods) >= count,
            f"{count} running containers",
            within,
        )

    async def gc_pauses(self, session: aiohttp.ClientSession) -> tuple[float, float]:
        """(count, total seconds) of the daemon's full collections so far
        (`minikubelet_gc_pause_seconds{generation="2"}`)."""
        async with session.get(self.url + "/metrics") as resp:
            text = await resp.text()
        count = total = 0.0
        for line in text.splitlines():
            if 'generation="2"' not in line:
                continue
            if line.startswith("minikubelet_gc_pause_seconds_count"):
                count = float(line.rsplit(" ", 1)[1])
            elif line.startswith("minikubelet_gc_pause_seconds_sum"):
                total = float(line.rsplit(" ", 1)[1])
        return count, total

    async def metrics(self, session: aiohttp.ClientSession) -> Metrics:
        """Every series of `/metrics`, by its name and labels as written."""
        async with session.get(self.url + "/metrics") as resp:
            return parse_metrics(await resp.text())

    def helpers(self) -> list[psutil.Process]:
        """The processes that run for the daemon and not for a container: the two guards
        above it (`minikubelet run` and its fork) and its watchdog (the sweeper)."""
        assert self.proc is not None
        found: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            outer = psutil.Process(self.proc.pid)
            found.append(outer)
            found += [c for c in outer.children() if c.pid != self.pid]
            found += [
                c for c in psutil.Process(self.pid).children()
                if "minikubelet.runtime.watchdog" in _cmdline(c)
            ]  # fmt: skip
        return found

    async def probe_count(self, session: aiohttp.ClientSession) -> float:
        """Probes run so far: the sum of the daemon's prober_probe_total series."""
        async with session.get(self.url + "/metrics/probes") as resp:
            text = await resp.text()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("prober_probe_total{")
        )


Metrics = dict[str, float]


def parse_metrics(text: str) -> Metrics:
    out: Metrics = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                out[key] = float(value)
    return out


def buckets(metrics: Metrics, name: str, match: str = "") -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of histogram `name`'s series whose labels hold
    `match`, in order of the bound."""
    out = []
    for key, value in metrics.items():
        if key.startswith(name + "_bucket{") and match in key:
            le = key.split('le="', 1)[1].split('"', 1)[0]
            out.append((float(le), value))
    return sorted(out)


def bucket_delta(
    before: Metrics, after: Metrics, name: str, match: str = ""
) -> list[tuple[float, float]]:
    """The histogram's observations between two reads."""
    was = dict(buckets(before, name, match))
    return [(le, count - was.get(le, 0.0)) for le, count in buckets(after, name, match)]


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What the daemon's own metrics say of a window: the event loop's lag (the
    `minikubelet_event_loop_lag_seconds` histogram: quantiles interpolated in its buckets, the
    maximum as its bucket's bound) and its full garbage collections (count, total, the
    longest's bucket bound)."""

    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: float
    gc_count: float
    gc_total_ms: float
    gc_max_ms: float

    def lag_text(self) -> str:
        return (
            f"loop lag p50 {self.lag_p50_ms:.2g} / p99 {self.lag_p99_ms:.2g} / max <= "
            f"{self.lag_max_ms:.3g} ms"
        )

    def gc_text(self) -> str:
        if not self.gc_count:
            return "no full GC"
        return (
            f"{self.gc_count:.0f} full GCs, {self.gc_total_ms:.1f} ms in all, "
            f"longest <= {self.gc_max_ms:.3g} ms"
        )


def window_stats(before: Metrics, after: Metrics) -> WindowStats:
    lag = bucket_delta(before, after, "minikubelet_event_loop_lag_seconds")
    gc = bucket_delta(before, after, "minikubelet_gc_pause_seconds", 'generation="2"')
    gc_key = 'minikubelet_gc_pause_seconds_sum{generation="2"}'
    return WindowStats(
        lag_p50_ms=bucket_quantile(lag, 50) * 1000,
        lag_p99_ms=bucket_quantile(lag, 99) * 1000,
        lag_max_ms=bucket_max(lag) * 1000,
        lag_samples=lag[-1][1] if lag else 0.0,
        gc_count=gc[-1][1] if gc else 0.0,
        gc_total_ms=(after.get(gc_key, 0.0) - before.get(gc_key, 0.0)) * 1000,
        gc_max_ms=bucket_max(gc) * 1000 if gc and gc[-1][1] else 0.0,
    )


def helpers_cpu(procs: Iterable[psutil.Process]) -> float:
    """CPU seconds (user + system) of the processes still alive."""
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def running_containers(pods: Iterable[JSON]) -> int:
    return sum(
        1
        for pod in pods
        for c in pod.get("status", {}).get("containerStatuses", [])
        if "running" in c.get("state", {})
    )


class PodWatch:
    """`?watch=1` on the pods of `default`, yielding (arrival time, event) pairs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None
        self._resp: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> PodWatch:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        self._session = aiohttp.ClientSession(timeout=timeout, read_bufsize=1 << 22)
        self._resp = await self._session.get(
            self.url + "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=900"
        )
        if self._resp.status != 200:
            raise BenchmarkError(f"watch: HTTP {self._resp.status}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._resp is not None:
            self._resp.close()
        if self._session is not None:
            await self._session.close()

    async def events(self) -> AsyncIterator[tuple[float, JSON]]:
        assert self._resp is not None
        content = self._resp.content
        while line := await content.readline():
            arrived = time.time()
            yield arrived, json.loads(line)


class ProcessSampler:
    """CPU seconds, resident memory and open descriptors of one process, read with psutil."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)

    def cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.user + t.system)

    def children_cpu(self) -> float:
        t = self.proc.cpu_times()
        return float(t.children_user + t.children_system)

    def rss(self) -> int:
        return int(self.proc.memory_info().rss)

    def fds(self) -> int:
        return int(self.proc.num_fds())


async def idle_cpu(sampler: ProcessSampler, seconds: float) -> float:
    """The process's CPU use over `seconds`, as a fraction of one core."""
    before, began = sampler.cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    return (sampler.cpu() - before) / (time.monotonic() - began)


def window_figures(section: str, stats: WindowStats, suffix: str = "") -> list[Figure]:
    """The event loop's lag and the full GC pauses of a window, as figures of `section`."""
    details = asdict(stats)
    return [
        Figure(section, f"event loop lag p50{suffix}", stats.lag_p50_ms, "ms", details=details),
        Figure(section, f"event loop lag p99{suffix}", stats.lag_p99_ms, "ms",
               note=f"{stats.lag_samples:.0f} ticks, max <= {stats.lag_max_ms:.3g} ms"),
        Figure(section, f"full GC pauses, total{suffix}", stats.gc_total_ms, "ms",
               note=f"{stats.gc_count:.0f} collections, longest <= {stats.gc_max_ms:.3g} ms"),
    ]  # fmt: skip
