"""The second peer (figure 8b): `podman kube play` running the same pods, measured the same way.

It runs only in the full run, and only where podman can run (as root, with runc and conmon);
anywhere else the section reports why it skipped. Everything podman keeps lives in a short
temp directory of its own (`short_tmp`): a `containers.conf` and a `storage.conf` passed through
`CONTAINERS_CONF` / `CONTAINERS_STORAGE_CONF` (runc, `cgroupfs`, the `file` events logger, the
`vfs` storage driver, graph root, run root and tmp dir all in that directory), so nothing
global is changed and the whole directory goes at the end. There is no image registry here:
the image is imported from a tarball made on the spot (the directories of a root file system,
with `/bin` and the others pointing into `/usr`), and every pod mounts the host's `/usr`
read-only through a `hostPath` volume, so the containers run the host's `bash`, `sleep` and
`sh`, the same programs as ours. Pods use `hostNetwork: true`, so no container network is set
up.

- Exit detection and restart: the same N programs as ours (`exits.exiter_argv`), in
  single-container pods under `restartPolicy: Always`. A `podman events --format json` stream
  (podman's own way of telling of a change) is stamped as each line arrives. The k-th `died`
  event of a container is the exit of its k-th instance: detection = its arrival - the `E`
  stamp (its own recorded time is given beside it); restart = the next instance's `S` stamp -
  the `E` stamp, the measure used for ours and supervisord; exit to running = arrival of the
  next `start` event. podman has no daemon: a restart is conmon running `podman container
  cleanup` when the container exits, which starts it again; the CPU of those processes, reaped
  as orphans by the benchmark (the subreaper), is given per restart.
- CPU per probe: podman runs health checks from systemd timers, and this machine has no
  systemd, so the pods' exec liveness probe (`true`, made a `CMD-SHELL` health check by kube
  play) is triggered by hand, `podman healthcheck run CONTAINER`, one after another, over a
  window. The figure is the CPU of those commands and of every process they left behind (from
  `wait4`), with the CPU the running conmons used meanwhile, per probe.
- RSS and idle CPU: podman keeps no process of its own beside the containers: each container
  has its conmon, and each pod an infra container (its conmon and the `catatonit` pause
  process). They are read with psutil for P sleeping single-container pods; as nothing is
  shared between pods, the total for our N containers is the per-pod cost times N when P < N
  (said in the note).

Ratios are ours / podman's, from our own sections of the same round: below 1 means
minikubelet is faster or smaller.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from benchmarks.exits import exiter_argv, read_exit_times, read_stamps, restarts
from benchmarks.footprint import Footprint
from benchmarks.harness import JSON, BenchmarkError
from benchmarks.report import Figure
from benchmarks.stats import summary_ms

SECTION = "8b. peer: podman kube play"
RATIO = "8b. ratio ours/podman"
IMAGE = "localhost/minikubelet-bench:latest"
PREFIX = "mkbench"
SETTLE = 3.0
HOST_DIRS = ("bin", "lib", "lib64", "sbin")
# podman lowers its own RLIMIT_NPROC to this before it starts runc, so a container may not
# ask for more (its default asks for far more, and runc cannot set it unless it is allowed to
# raise limits)
NPROC = 32768
RUNROOT_MAX = 50


def unavailable() -> str | None:
    """Why podman cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "podman runs on Linux only"
    for tool in ("podman", "runc", "conmon"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (`apt-get install podman runc`)"
    if os.geteuid() != 0:
        return "podman is measured as root only (rootless podman needs user namespaces set up)"
    return None


def skipped(reason: str) -> list[Figure]:
    return [Figure(SECTION, "skipped", float("nan"), "", note=reason)]


# --- what is read of podman: pure, tested without it ---------------------------------------


def event_time(text: str) -> float:
    """`2026-12-02T05:17:15.423637519Z` (podman's event time, UTC, nanoseconds) as epoch s."""
    base, _, rest = text.rstrip("Z").partition(".")
    whole = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    digits = "".join(c for c in rest if c.isdigit())
    return whole + (int(digits) / 10 ** len(digits) if digits else 0.0)


@dataclass(slots=True)
class Events:
    """Container events by container name: (arrival, recorded time, status), in order."""

    by_name: dict[str, list[tuple[float, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, arrived: float, line: str | bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        if not isinstance(event, dict) or event.get("Type") != "container":
            return
        try:
            recorded = event_time(str(event.get("Time", "")))
        except ValueError:
            recorded = float("nan")
        self.by_name[str(event.get("Name", ""))].append(
            (arrived, recorded, str(event.get("Status", "")))
        )


def podman_latencies(
    exit_times: Mapping[str, list[float]], events: Events, skip_first: int = 1
) -> tuple[list[float], list[float], list[float]]:
    """(detection by arrival, detection by the event's own time, exit to next `start`
    arrival), in seconds; the k-th `died` event is the exit the k-th `E` stamp noted."""
    arrival: list[float] = []
    recorded: list[float] = []
    running: list[float] = []
    for name, times in exit_times.items():
        seq = events.by_name.get(name, [])
        died = [i for i, (_, _, status) in enumerate(seq) if status == "died"]
        for k, exited in enumerate(times):
            if k < skip_first or k >= len(died):
                continue
            i = died[k]
            arrival.append(seq[i][0] - exited)
            recorded.append(seq[i][1] - exited)
            nxt = next((a for a, _, s in seq[i + 1 :] if s == "start"), None)
            if nxt is not None:
                running.append(nxt - exited)
    return arrival, recorded, running


def conmon_name(cmdline: Sequence[str]) -> str:
    """The container name a conmon supervises (its `-n` argument), or ''."""
    for flag in ("-n", "--name"):
        if flag in cmdline:
            i = list(cmdline).index(flag)
            if i + 1 < len(cmdline):
                return cmdline[i + 1]
    return ""


def pod_doc(name: str, command: Sequence[str], mounts: Iterable[str], **container: Any) -> JSON:
    """A single-container pod for kube play: host network, the host's directories mounted."""
    volumes = [{"name": f"host{i}", "hostPath": {"path": p}} for i, p in enumerate(mounts)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "hostNetwork": True,
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {
                    "name": "c",
                    "image": IMAGE,
                    "command": list(command),
                    "volumeMounts": [
                        {"name": v["name"], "mountPath": v["hostPath"]["path"]} for v in volumes
                    ],
                    **container,
                }
            ],
            "volumes": volumes,
        },
    }


def write_pods(path: Path, pods: Iterable[JSON]) -> Path:
    """Multi-document YAML (each document JSON, which is YAML)."""
    path.write_text("\n---\n".join(json.dumps(p) for p in pods) + "\n")
    return path


def rootfs_tar() -> bytes:
    """An image's root file system: empty directories, and the host's merged-/usr links."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("usr", "etc", "tmp", "proc", "sys", "dev", "run", "var", "root"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for d in HOST_DIRS:
            host = Path("/") / d
            if host.is_symlink():
                info = tarfile.TarInfo(d)
                info.type, info.linkname = tarfile.SYMTYPE, os.readlink(host)
                tar.addfile(info)
    return buf.getvalue()


def host_mounts() -> list[str]:
    """What every pod mounts of the host: /usr, and the top directories not linked into it."""
    return ["/usr"] + [
        f"/{d}" for d in HOST_DIRS if not Path(f"/{d}").is_symlink() and Path(f"/{d}").is_dir()
    ]


# --- podman, in a directory of its own ------------------------------------------------------


class Podman:
    """podman with its configuration, storage and state in one temp directory; an async
    context manager that removes what it created, ends every conmon left and deletes it."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mkb-podman-", dir=short_tmp()))
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(self.dir / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(self.dir / "storage.conf"),
            "TMPDIR": str(self.dir / "tmp"),
        }
        self.pod_files: list[Path] = []
        self.pod_names: list[str] = []
        # podman's commands and the sweep of orphans never overlap, so the sweep cannot reap
        # a process whose parent is about to wait for it
        self._lock = asyncio.Lock()
        self._keep: set[int] = set()

    def _configure(self) -> None:
        d = self.dir
        if len(f"{d}/run") > RUNROOT_MAX:
            raise BenchmarkError(f"podman's run root {d}/run is over {RUNROOT_MAX} characters")
        for sub in ("root", "run", "tmp", "volumes", "networks"):
            (d / sub).mkdir()
        limits = f'["nofile={_nofile()}", "nproc={NPROC}:{NPROC}"]'
        (d / "containers.conf").write_text(
            "[containers]\n"
            f"default_ulimits = {limits}\n"
            'netns = "host"\nlog_driver = "k8s-file"\n'
            "[engine]\n"
            'runtime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
            f'events_logfile_path = "{d}/events.log"\ntmp_dir = "{d}/tmp"\n'
            f'volume_path = "{d}/volumes"\nstatic_dir = "{d}/root/libpod"\n'
            "[network]\n"
            f'network_config_dir = "{d}/networks"\n'
        )
        (d / "storage.conf").write_text(
            f'[storage]\ndriver = "vfs"\ngraphroot = "{d}/root"\nrunroot = "{d}/run"\n'
        )
        (d / "rootfs.tar").write_bytes(rootfs_tar())

    async def __aenter__(self) -> Podman:
        self._configure()
        await self.run(
            "import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            str(self.dir / "rootfs.tar"), IMAGE, limit=120,
        )  # fmt: skip
        return self

    async def run(self, *args: str, check: bool = True, limit: float = 120.0) -> str:
        async with self._lock:
            proc = await asyncio.create_subprocess_exec(
                "podman", *args, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                async with asyncio.timeout(limit):
                    out, err = await proc.communicate()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
                what = " ".join(args[:2])
                raise BenchmarkError(f"`podman {what}` took over {limit:.0f} s") from None
        if check and proc.returncode:
            text = err.decode(errors="replace").strip()
            raise BenchmarkError(f"`podman {' '.join(args[:2])}` failed: {text[-800:]}")
        return out.decode(errors="replace")

    async def play(self, path: Path, names: Sequence[str]) -> None:
        self.pod_files.append(path)
        self.pod_names.extend(names)
        await self.run("kube", "play", str(path), limit=120 + 5 * len(names))

    async def down(self, path: Path) -> None:
        await self.run("kube", "down", str(path), check=False, limit=120 + 3 * len(self.pod_names))

    def _reap(self) -> float:
        """Reaps the orphans that came to us (conmon double-forks) and returns their CPU."""
        cpu = 0.0
        try:
            kids = psutil.Process().children()
        except psutil.Error:
            return 0.0
        for kid in kids:
            if kid.pid in self._keep:
                continue
            with contextlib.suppress(psutil.Error, ChildProcessError):
                if kid.status() != psutil.STATUS_ZOMBIE:
                    continue
                pid, _status, usage = os.wait4(kid.pid, os.WNOHANG)
                if pid:
                    cpu += usage.ru_utime + usage.ru_stime
        return cpu

    async def sweep(self) -> float:
        async with self._lock:
            return await asyncio.to_thread(self._reap)

    def processes(self) -> list[psutil.Process]:
        """conmon and podman processes working for this directory (a /proc walk)."""
        mine = str(self.dir)
        out = []
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if any(mine in arg for arg in cmdline):
                out.append(proc)
        return out

    def _end_all(self) -> list[str]:
        """SIGKILLs what this directory's podman left running, with its children."""
        left = self.processes()
        trees: list[psutil.Process] = []
        for proc in left:
            with contextlib.suppress(psutil.Error):
                trees += [proc, *proc.children(recursive=True)]
        names = []
        for proc in trees:
            with contextlib.suppress(psutil.Error):
                names.append(f"{proc.pid} {proc.name()}")
                proc.send_signal(signal.SIGKILL)
        psutil.wait_procs(trees, timeout=5)
        self._reap()
        return names

    def _unmount_and_remove(self) -> None:
        mine = str(self.dir)
        points = []
        with contextlib.suppress(OSError):
            for line in Path("/proc/self/mountinfo").read_text().splitlines():
                parts = line.split()
                if len(parts) > 4 and parts[4].startswith(mine):
                    points.append(parts[4])
        for point in sorted(points, key=len, reverse=True):
            subprocess.run(["umount", "-l", point], check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    async def __aexit__(self, *exc: object) -> None:
        try:
            for path in reversed(self.pod_files):
                with contextlib.suppress(BenchmarkError):
                    await self.down(path)
            if self.pod_names:
                with contextlib.suppress(BenchmarkError):
                    await self.run("pod", "rm", "--force", "--ignore", "--time", "0",
                                   *self.pod_names, check=False, limit=300)  # fmt: skip
                    await self.run("rm", "--force", "--ignore", "--time", "0",
                                   *[f"{n}-c" for n in self.pod_names], check=False,
                                   limit=300)  # fmt: skip
        finally:
            left = await asyncio.to_thread(self._end_all)
            await asyncio.to_thread(self._unmount_and_remove)
            if left:
                print(f"   podman left {len(left)} processes, ended: {left[:5]}", flush=True)


def short_tmp() -> str:
    """A temp directory short enough for podman's run root: `podman container cleanup`, the
    command conmon runs when a container exits (and which restarts it), refuses a run root of
    over 50 characters, so with a longer one nothing is ever restarted."""
    base = tempfile.gettempdir()
    return base if len(base) + len("/mkb-podman-xxxxxxxx/run") <= RUNROOT_MAX else "/tmp"


def _nofile() -> str:
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = hard if hard != resource.RLIM_INFINITY else 1048576
    return f"{min(hard, 1048576)}:{min(hard, 1048576)}"


class EventStream:
    """`podman events --format json`, each line stamped with the wall clock on arrival."""

    def __init__(self, podman: Podman) -> None:
        self.podman = podman
        self.events = Events()
        self.proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self.returncode: int | None = None  # the stream's, if it ended by itself

    async def __aenter__(self) -> EventStream:
        self.proc = await asyncio.create_subprocess_exec(
            "podman", "events", "--format", "json", env=self.podman.env,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self.podman._keep.add(self.proc.pid)
        self._task = asyncio.create_task(self._read())
        await asyncio.sleep(0.5)  # it has opened the events file
        return self

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.events.add(time.time(), line)
        self.returncode = await self.proc.wait()

    async def __aexit__(self, *exc: object) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
            self.podman._keep.discard(self.proc.pid)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


# --- the three measurements -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExitFigures:
    detect: dict[str, float]
    recorded: dict[str, float]
    running: dict[str, float]
    restart: dict[str, float]
    cpu_per_restart_ms: float
    exits: int


async def exits(pm: Podman, *, containers: int, exit_count: int, within: float) -> ExitFigures:
    out = pm.dir / "records"
    out.mkdir()
    names = [f"{PREFIX}-exit-{i:03d}" for i in range(containers)]
    mounts = [*host_mounts(), str(out)]
    path = write_pods(
        pm.dir / "exits.yaml", [pod_doc(n, exiter_argv(out / n), mounts) for n in names]
    )
    reaped = await pm.sweep()
    async with EventStream(pm) as stream:
        await pm.play(path, names)
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            seen = sum(len(read_exit_times(out / n)) for n in names)
            if seen >= exit_count + containers:
                break
            await asyncio.sleep(0.5)
            reaped += await pm.sweep()
        await asyncio.sleep(1.0)  # the last exits' events
        stamps = {n: read_stamps(out / n) for n in names}
        reaped += await pm.sweep()
    await pm.down(path)
    exit_times = {f"{n}-c": stamps[n][1] for n in names}
    arrival, recorded, running = podman_latencies(exit_times, stream.events)
    if not arrival:
        died = sum(1 for seq in stream.events.by_name.values() for e in seq if e[2] == "died")
        stamped = sum(len(t) for t in exit_times.values())
        raise BenchmarkError(
            f"podman reported no exits: {stamped} exits stamped, {died} `died` events of "
            f"{sum(map(len, stream.events.by_name.values()))} container events, the events "
            f"stream ended with {stream.returncode}"
        )
    starts = sum(max(len(s) - 1, 0) for s, _ in stamps.values())
    return ExitFigures(
        detect=summary_ms(arrival),
        recorded=summary_ms(recorded),
        running=summary_ms(running),
        restart=summary_ms(restarts(stamps)),
        cpu_per_restart_ms=reaped / starts * 1000 if starts else float("nan"),
        exits=len(arrival),
    )


@dataclass(frozen=True, slots=True)
class IdleFigures:
    pods: int
    conmon_rss_mib: float  # median, one container's conmon
    infra_rss_mib: float  # median, one pod's infra conmon + catatonit
    total_rss_mib: float  # every conmon and catatonit
    total_pss_mib: float
    idle_cpu: float  # fraction of one core, all of them together
    window: float


def _read_tree(pm: Podman) -> dict[int, tuple[str, str, psutil.Process]]:
    """pid -> (kind, container name, process) for every conmon of this directory and the
    catatonit below an infra conmon."""
    out: dict[int, tuple[str, str, psutil.Process]] = {}
    for proc in pm.processes():
        with contextlib.suppress(psutil.Error):
            if proc.name() != "conmon":
                continue
            name = conmon_name(proc.cmdline())
            infra = name.endswith("-infra")
            out[proc.pid] = ("infra-conmon" if infra else "conmon", name, proc)
            if infra:
                for kid in proc.children():
                    if kid.name() == "catatonit":
                        out[kid.pid] = ("catatonit", name, kid)
    return out


def _cpu(procs: Iterable[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def _memory(tree: Mapping[int, tuple[str, str, psutil.Process]]) -> dict[str, list[float]]:
    by_kind: dict[str, list[float]] = defaultdict(list)
    per_pod: dict[str, float] = defaultdict(float)
    for kind, name, proc in tree.values():
        with contextlib.suppress(psutil.Error):
            mem = proc.memory_full_info()
            by_kind[kind].append(mem.rss / 2**20)
            by_kind["pss"].append(getattr(mem, "pss", mem.rss) / 2**20)
            if kind != "conmon":
                per_pod[name] += mem.rss / 2**20
    by_kind["infra"] = list(per_pod.values())
    return by_kind


async def idle_and_probes(
    pm: Podman, *, pods: int, seconds: float, settle: float, probe_seconds: float
) -> tuple[IdleFigures, dict[str, float]]:
    names = [f"{PREFIX}-idle-{i:04d}" for i in range(pods)]
    probe = {"exec": {"command": ["true"]}, "periodSeconds": 1}
    path = write_pods(
        pm.dir / "idle.yaml",
        [pod_doc(n, ["sleep", "100000"], host_mounts(), livenessProbe=probe) for n in names],
    )
    await pm.play(path, names)
    await asyncio.sleep(settle)
    tree = await asyncio.to_thread(_read_tree, pm)
    containers = sum(1 for kind, _, _ in tree.values() if kind == "conmon")
    if containers < pods:
        raise BenchmarkError(f"podman runs {containers} of {pods} containers")
    procs = [p for _, _, p in tree.values()]
    loop = asyncio.get_running_loop()
    before, began = await asyncio.to_thread(_cpu, procs), loop.time()
    await asyncio.sleep(seconds)
    after, window = await asyncio.to_thread(_cpu, procs), loop.time() - began
    mem = await asyncio.to_thread(_memory, tree)
    total_rss = sum(mem["conmon"]) + sum(mem["infra-conmon"]) + sum(mem["catatonit"])
    idle = IdleFigures(
        pods=pods,
        conmon_rss_mib=statistics.median(mem["conmon"]),
        infra_rss_mib=statistics.median(mem["infra"]) if mem["infra"] else float("nan"),
        total_rss_mib=total_rss,
        total_pss_mib=sum(mem["pss"]),
        idle_cpu=(after - before) / window,
        window=window,
    )
    probes = await probe_by_hand(pm, [f"{n}-c" for n in names], procs, probe_seconds)
    await pm.down(path)
    return idle, probes


def _healthcheck(env: Mapping[str, str], name: str) -> tuple[int, float]:
    """`podman healthcheck run NAME`: (exit status, CPU of it and the children it waited
    for)."""
    proc = subprocess.Popen(
        ["podman", "healthcheck", "run", name], env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime


async def probe_by_hand(
    pm: Podman, containers: Sequence[str], conmons: Sequence[psutil.Process], seconds: float
) -> dict[str, float]:
    """Health checks run one after another over `seconds`, round the containers."""
    await pm.sweep()
    live0 = await asyncio.to_thread(_cpu, conmons)
    own = 0.0
    probes = failed = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds or probes == 0:
        name = containers[probes % len(containers)]
        async with pm._lock:
            rc, cpu = await asyncio.to_thread(_healthcheck, pm.env, name)
        own += cpu
        probes += 1
        failed += rc != 0
    wall = time.monotonic() - began
    await asyncio.sleep(0.5)  # the exec sessions' conmons exit
    orphans = await pm.sweep()
    live = await asyncio.to_thread(_cpu, conmons) - live0
    total = own + orphans + live
    return {
        "probes": float(probes),
        "failed": float(failed),
        "window_s": wall,
        "command_cpu_s": own,
        "orphans_cpu_s": orphans,
        "conmons_cpu_s": live,
        "per_probe_ms": total / probes * 1000,
        "wall_per_probe_ms": wall / probes * 1000,
    }


# --- the section ----------------------------------------------------------------------------


def _ratio(ours: float | None, theirs: float) -> float:
    if ours is None or not theirs or theirs != theirs:
        return float("nan")
    return ours / theirs


def ours_exec_probe_ms(probe_cost: Sequence[Figure]) -> float | None:
    """Our CPU per exec probe with the probe command's own, as podman's figure counts it."""
    for fig in probe_cost:
        if fig.name == "daemon + helpers CPU per probe, exec" and fig.details.get("probes"):
            d = fig.details
            net = d["daemon_cpu_s"] + d["helpers_cpu_s"] - d["idle_cpu_s"] + d["children_cpu_s"]
            return float(net / d["probes"] * 1000)
    return None


async def measure(
    workdir: Path,
    *,
    containers: int,
    exit_count: int,
    within: float,
    ours_exits: Sequence[Figure],
    ours_idle: Footprint | None,
    ours_probes: Sequence[Figure],
    idle_pods: int,
    idle_seconds: float,
    probe_seconds: float,
    settle: float = SETTLE,
) -> list[Figure]:
    """The section's figures; podman's files are in a short temp directory of its own (see
    `short_tmp`), not under `workdir`."""
    del workdir
    reason = unavailable()
    if reason is not None:
        return skipped(reason)
    async with Podman() as pm:
        ex = await exits(pm, containers=containers, exit_count=exit_count, within=within)
        n = ours_idle.containers if ours_idle is not None else idle_pods
        pods = min(n, idle_pods)
        idle, probes = await idle_and_probes(
            pm, pods=pods, seconds=idle_seconds, settle=settle, probe_seconds=probe_seconds
        )
    note = f"{ex.exits} exits, {containers} containers, by `podman events` arrival"
    figs = [
        Figure(SECTION, "exit detection p50", ex.detect["p50_ms"], "ms", note=note,
               details=ex.detect),
        Figure(SECTION, "exit detection p99", ex.detect["p99_ms"], "ms"),
        Figure(SECTION, "exit recorded p50", ex.recorded["p50_ms"], "ms",
               note="the `died` event's own time", details=ex.recorded),
        Figure(SECTION, "exit recorded p99", ex.recorded["p99_ms"], "ms"),
        Figure(SECTION, "exit to next start p50", ex.restart["p50_ms"], "ms", details=ex.restart),
        Figure(SECTION, "exit to next start p99", ex.restart["p99_ms"], "ms"),
        Figure(SECTION, "exit to running p50", ex.running["p50_ms"], "ms", details=ex.running),
        Figure(SECTION, "exit to running p99", ex.running["p99_ms"], "ms"),
        Figure(SECTION, "CPU per restart", ex.cpu_per_restart_ms, "ms",
               note="conmon, runc and `podman container cleanup`, reaped"),
    ]  # fmt: skip
    failed = f", {probes['failed']:.0f} failed" if probes["failed"] else ""
    figs.append(
        Figure(
            SECTION, "CPU per probe, exec (by hand)", probes["per_probe_ms"], "ms",
            note=f"{probes['probes']:.0f} `podman healthcheck run`{failed}; no systemd "
            f"timers here; {probes['wall_per_probe_ms']:.0f} ms wall each",
            details=probes,
        )
    )  # fmt: skip
    scale = n / pods
    total_rss = idle.total_rss_mib * scale
    total_note = f"{pods} pods read" + (f", times {scale:g} for {n}" if scale != 1 else "")
    details = {
        "pods_read": float(pods),
        "total_rss_read_mib": idle.total_rss_mib,
        "total_pss_read_mib": idle.total_pss_mib,
    }
    figs += [
        Figure(SECTION, "RSS, conmon of one container", idle.conmon_rss_mib, "MiB"),
        Figure(SECTION, "RSS, infra of one pod", idle.infra_rss_mib, "MiB",
               note="its conmon and catatonit"),
        Figure(SECTION, f"RSS, {n} containers", total_rss, "MiB", note=total_note,
               details=details),
        Figure(SECTION, f"PSS, {n} containers", idle.total_pss_mib * scale, "MiB",
               note="shared pages counted once"),
        Figure(SECTION, f"idle CPU, {n} containers", idle.idle_cpu * scale * 100, "% of a core",
               note=f"over {idle.window:.0f} s"),
    ]  # fmt: skip
    mine = {f.name: f.value for f in ours_exits}
    ratios = [
        ("exit detection p50", mine.get("exit detection p50"), ex.detect["p50_ms"]),
        ("exit detection p99", mine.get("exit detection p99"), ex.detect["p99_ms"]),
        ("restart p50 (exit to next start)", mine.get("exit to next start p50"),
         ex.restart["p50_ms"]),
        ("restart p99 (exit to next start)", mine.get("exit to next start p99"),
         ex.restart["p99_ms"]),
        ("CPU per exec probe", ours_exec_probe_ms(ours_probes), probes["per_probe_ms"]),
        (f"RSS, {n} containers", ours_idle.rss_mib if ours_idle else None, total_rss),
        (f"RSS (ours) / PSS (podman), {n} containers", ours_idle.rss_mib if ours_idle else None,
         idle.total_pss_mib * scale),
        (f"idle CPU, {n} containers", ours_idle.idle_cpu if ours_idle else None,
         idle.idle_cpu * scale),
    ]  # fmt: skip
    for name, ours, theirs in ratios:
        figs.append(Figure(RATIO, name, _ratio(ours, theirs), "x"))
    return figs
