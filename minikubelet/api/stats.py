"""`/stats/summary` in the kubelet's Summary shape (`kubelet/pkg/apis/stats/v1alpha1`).

Containers are process trees here, not cgroups: a container's CPU and memory are the sums over
the process-group leader that `container_pids()` names and all its descendants. RSS stands in
for the working set. What the registry knows is read on the event loop; everything read from
/proc and the file system is read in a worker thread (`asyncio.to_thread`), one
`/proc/<pid>/stat` read per process (CPU times, faults, start time and RSS in one line), so
the loop keeps answering probes and `/healthz` however many containers there are.
`usageNanoCores` is a rate: the change since this endpoint's
previous sample of the same container, or the average since the process started on the first.
The node block is the machine's (psutil), the `kubelet` system container is this daemon.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psutil
from aiohttp import web

from minikubelet.api.appkeys import registry, settings
from minikubelet.api.registry import JSON
from minikubelet.runtime import proctree

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "m": Decimal("0.001"),
}  # fmt: skip


@dataclass
class CpuSampler:
    """The previous (wall ns, cpu ns) per key, to turn CPU time into a rate."""

    samples: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)  # summaries run in threads

    def rate(self, key: str, cpu_ns: int, since_ns: int) -> int:
        now = time.time_ns()
        with self._lock:
            wall, cpu = self.samples.get(key, (since_ns, 0))
            self.samples[key] = (now, cpu_ns)
        return max(0, (cpu_ns - cpu) * 1_000_000_000 // max(now - wall, 1))


SAMPLER = web.AppKey("stats_sampler", CpuSampler)


@functools.lru_cache(maxsize=16)  # one `now` per summary, used for every entry
def rfc3339(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def quantity(text: object) -> int | None:
    """A resource quantity (`128Mi`, `1G`, `500m`) as an integer, None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    return _quantity(text)


@functools.lru_cache(maxsize=256)
def _quantity(text: str) -> int | None:
    number, scale = text, Decimal(1)
    for suffix, factor in _SUFFIXES.items():
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], Decimal(factor)
            break
    try:
        return int(Decimal(number) * scale)
    except InvalidOperation:
        return None


GATHER_SLICE = 5  # pods gathered between two yields to the loop
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def process_tree(pid: int) -> list[int]:
    """The leader and every descendant, from the `children` files (no process-table walk)."""
    return proctree.tree(pid)


@dataclass(frozen=True, slots=True)
class ProcStat:
    cpu_ns: int
    rss: int
    faults: int
    major_faults: int
    started: float  # wall clock


def proc_stat(pid: int, boot: float) -> ProcStat | None:
    """One read of /proc/<pid>/stat; None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        fields = raw[raw.rfind(b")") + 2 :].split()
        minor, major = int(fields[7]), int(fields[9])
        ticks = int(fields[11]) + int(fields[12])
        return ProcStat(
            cpu_ns=ticks * 1_000_000_000 // _TICKS,
            rss=int(fields[21]) * _PAGE,
            faults=minor + major,
            major_faults=major,
            started=boot + int(fields[19]) / _TICKS,
        )
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Usage:
    cpu_ns: int = 0
    rss: int = 0
    faults: int = 0
    major_faults: int = 0
    processes: int = 0
    started: float | None = None

    def add(self, stats: Iterable[ProcStat]) -> None:
        for st in stats:
            self.cpu_ns += st.cpu_ns
            self.rss += st.rss
            self.faults, self.major_faults = (
                self.faults + st.faults,
                self.major_faults + st.major_faults,
            )
            self.processes += 1
            self.started = st.started if self.started is None else min(self.started, st.started)

    def cpu(self, sampler: CpuSampler, key: str, now: float) -> JSON:
        since = int((self.started or now) * 1e9)
        return {
            "time": rfc3339(now),
            "usageNanoCores": sampler.rate(key, self.cpu_ns, since),
            "usageCoreNanoSeconds": self.cpu_ns,
        }

    def memory(self, now: float, limit: int | None) -> JSON:
        stats: JSON = {"time": rfc3339(now)}
        if limit is not None:
            stats["availableBytes"] = max(limit - self.rss, 0)
        stats.update({
            "usageBytes": self.rss,
            "workingSetBytes": self.rss,
            "rssBytes": self.rss,
            "pageFaults": self.faults,
            "majorPageFaults": self.major_faults,
        })  # fmt: skip
        return stats


def fs_stats(path: str | Path, now: float, used: int | None = None) -> JSON:
    try:
        vfs = os.statvfs(path)
    except OSError:
        return {"time": rfc3339(now)}
    capacity, available = vfs.f_blocks * vfs.f_frsize, vfs.f_bavail * vfs.f_frsize
    return {
        "time": rfc3339(now),
        "availableBytes": available,
        "capacityBytes": capacity,
        "usedBytes": used if used is not None else capacity - vfs.f_bfree * vfs.f_frsize,
        "inodesFree": vfs.f_ffree,
        "inodes": vfs.f_files,
        "inodesUsed": vfs.f_files - vfs.f_ffree,
    }


def _container_limit(pod: JSON, name: str) -> int | None:
    for container in pod.get("spec", {}).get("containers") or []:
        if container.get("name") == name:
            return quantity(((container.get("resources") or {}).get("limits") or {}).get("memory"))
    return None


def _started_at(pod: JSON, name: str) -> str | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == name:
            running = (status.get("state") or {}).get("running") or {}
            return running.get("startedAt")
    return None


@dataclass(frozen=True, slots=True)
class PodInput:
    """What the registry knows of one pod, read on the loop."""

    pod: JSON
    pids: dict[str, int]
    logs: dict[str, tuple[Path, ...] | None]  # None: no log source


async def _gather(request: web.Request) -> list[PodInput]:
    """On the loop (the registry is the loop's), a few pods at a time: finding a container's
    log files costs a few stat calls."""
    reg = registry(request)
    inputs = []
    for i, pod in enumerate(reg.list_pods()):
        if i and i % GATHER_SLICE == 0:
            await asyncio.sleep(0)
        meta = pod.get("metadata", {})
        ns, name = meta.get("namespace", "default"), meta.get("name", "")
        pids = dict(reg.container_pids(ns, name))
        logs: dict[str, tuple[Path, ...] | None] = {}
        for container in pids:
            try:
                logs[container] = tuple(reg.log_source(ns, name, container).files)
            except LookupError:
                logs[container] = None
        inputs.append(PodInput(pod, pids, logs))
    return inputs


def _log_stats(files: tuple[Path, ...] | None, now: float) -> JSON:
    if files is None:
        return {"time": rfc3339(now)}
    used = 0
    for path in files:
        try:
            used += path.stat().st_size
        except OSError:
            continue
    return fs_stats(files[-1].parent if files else "/", now, used)


def _pod_stats(inp: PodInput, sampler: CpuSampler, now: float, boot: float) -> JSON:
    pod = inp.pod
    meta = pod.get("metadata", {})
    ns, name, uid = meta.get("namespace", "default"), meta.get("name", ""), meta.get("uid", "")
    total, containers = Usage(), []
    for container, pid in sorted(inp.pids.items()):
        stats = [st for p in process_tree(pid) if (st := proc_stat(p, boot)) is not None]
        usage = Usage()
        usage.add(stats)
        total.add(stats)
        entry: JSON = {"name": container}
        started = _started_at(pod, container)
        if started:
            entry["startTime"] = started
        entry["cpu"] = usage.cpu(sampler, f"{uid}/{container}", now)
        entry["memory"] = usage.memory(now, _container_limit(pod, container))
        entry["logs"] = _log_stats(inp.logs.get(container), now)
        containers.append(entry)
    stats_json: JSON = {"podRef": {"name": name, "namespace": ns, "uid": uid}}
    if pod.get("status", {}).get("startTime"):
        stats_json["startTime"] = pod["status"]["startTime"]
    stats_json.update({
        "containers": containers,
        "cpu": total.cpu(sampler, uid, now),
        "memory": total.memory(now, None),
        "volume": [],
        "process_stats": {"process_count": total.processes},
    })  # fmt: skip
    return stats_json


def _node_cpu(sampler: CpuSampler, now: float) -> JSON:
    times = psutil.cpu_times()
    busy = sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq",
                                                 "steal"))  # fmt: skip
    busy_ns = int(busy * 1e9)
    return {
        "time": rfc3339(now),
        "usageNanoCores": sampler.rate("node", busy_ns, int(psutil.boot_time() * 1e9)),
        "usageCoreNanoSeconds": busy_ns,
    }


def _node_memory(now: float) -> JSON:
    vm = psutil.virtual_memory()
    return {
        "time": rfc3339(now),
        "availableBytes": vm.available,
        "usageBytes": vm.total - vm.free,
        "workingSetBytes": vm.total - vm.available,
        "rssBytes": vm.used,
    }


def _network(now: float) -> JSON:
    counters = {n: c for n, c in psutil.net_io_counters(pernic=True).items() if n != "lo"}
    interfaces = [
        {"name": n, "rxBytes": c.bytes_recv, "rxErrors": c.errin, "txBytes": c.bytes_sent,
         "txErrors": c.errout}
        for n, c in sorted(counters.items())
    ]  # fmt: skip
    first = interfaces[0] if interfaces else {}
    return {"time": rfc3339(now), **first, "interfaces": interfaces}


def _rlimit(now: float) -> JSON:
    try:
        maxpid = int(Path("/proc/sys/kernel/pid_max").read_text())
    except (OSError, ValueError):
        maxpid = 0
    curproc = sum(1 for n in os.listdir("/proc") if n.isdigit())
    return {"time": rfc3339(now), "maxpid": maxpid, "curproc": curproc}


def _node(node_name: str, started: float, sampler: CpuSampler, now: float, boot: float) -> JSON:
    daemon = Usage()
    daemon.add([st for st in [proc_stat(os.getpid(), boot)] if st is not None])
    return {
        "nodeName": node_name,
        "systemContainers": [{
            "name": "kubelet",
            "startTime": rfc3339(started),
            "cpu": daemon.cpu(sampler, "kubelet", now),
            "memory": daemon.memory(now, None),
        }],
        "startTime": rfc3339(boot),
        "cpu": _node_cpu(sampler, now),
        "memory": _node_memory(now),
        "network": _network(now),
        "fs": fs_stats("/", now),
        "runtime": {"imageFs": fs_stats("/", now), "containerFs": fs_stats("/", now)},
        "rlimit": _rlimit(now),
    }  # fmt: skip


def _summary(
    inputs: list[PodInput], node_name: str, started: float, sampler: CpuSampler, now: float
) -> bytes:
    """In a worker thread: every /proc and file-system read, and the JSON encoding."""
    boot = psutil.boot_time()
    # encoded a pod at a time: one C call holds the GIL throughout; small ones let the loop's
    # thread in between
    pods = [json.dumps(_pod_stats(inp, sampler, now, boot)) for inp in inputs]
    node = json.dumps(_node(node_name, started, sampler, now, boot))
    return ('{"node": ' + node + ', "pods": [' + ", ".join(pods) + "]}").encode()


async def summary(request: web.Request) -> web.Response:
    sampler, now = request.app[SAMPLER], time.time()
    conf = settings(request)
    inputs = await _gather(request)
    body = await asyncio.to_thread(_summary, inputs, conf.node_name, conf.started_at, sampler, now)
    return web.Response(body=body, content_type="application/json")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/stats/summary", summary)
    router.add_get("/stats/summary/", summary)
