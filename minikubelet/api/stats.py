"""`/stats/summary` in the kubelet's Summary shape (`kubelet/pkg/apis/stats/v1alpha1`).

Containers are process trees here, not cgroups: a container's CPU and memory are the sums over
the process-group leader that `container_pids()` names and all its descendants (psutil). RSS
stands in for the working set. `usageNanoCores` is a rate: the change since this endpoint's
previous sample of the same container, or the average since the process started on the first.
The node block is the machine's (psutil), the `kubelet` system container is this daemon.
The walk costs in proportion to the processes, so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import psutil
from aiohttp import web

from minikubelet.api.appkeys import registry, settings
from minikubelet.api.registry import JSON
from minikubelet.core.gotext import rfc3339

_SUFFIXES: dict[str, int | Decimal] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "m": Decimal("0.001"),
}  # fmt: skip


@dataclass
class CpuSampler:
    """The previous (wall ns, cpu ns) per key, to turn CPU time into a rate."""

    samples: dict[str, tuple[int, int]] = field(default_factory=dict)

    def rate(self, key: str, cpu_ns: int, since_ns: int) -> int:
        now = time.time_ns()
        wall, cpu = self.samples.get(key, (since_ns, 0))
        self.samples[key] = (now, cpu_ns)
        return max(0, (cpu_ns - cpu) * 1_000_000_000 // max(now - wall, 1))


SAMPLER = web.AppKey("stats_sampler", CpuSampler)


def quantity(text: object) -> int | None:
    """A resource quantity (`128Mi`, `1G`, `500m`) as an integer, None if unreadable."""
    if not isinstance(text, str) or not text:
        return None
    number, scale = text, Decimal(1)
    for suffix, factor in _SUFFIXES.items():
        if text.endswith(suffix):
            number, scale = text[: -len(suffix)], Decimal(factor)
            break
    try:
        return int(Decimal(number) * scale)
    except InvalidOperation:
        return None


def process_tree(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def _faults(pid: int) -> tuple[int, int]:
    """(minor + major, major) page faults from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0, 0
    minor, major = int(fields[7]), int(fields[9])
    return minor + major, major


@dataclass
class Usage:
    cpu_ns: int = 0
    rss: int = 0
    faults: int = 0
    major_faults: int = 0
    processes: int = 0
    started: float | None = None

    def add(self, processes: Iterable[psutil.Process]) -> None:
        for proc in processes:
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    self.cpu_ns += int((times.user + times.system) * 1e9)
                    self.rss += proc.memory_info().rss
                    created = proc.create_time()
            except psutil.Error:
                continue
            faults, major = _faults(proc.pid)
            self.faults, self.major_faults = self.faults + faults, self.major_faults + major
            self.processes += 1
            self.started = created if self.started is None else min(self.started, created)

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


def _log_stats(files: tuple[Path, ...] | None, now: float) -> JSON:
    if files is None:
        return {"time": rfc3339(now)}
    used = sum(p.stat().st_size for p in files if p.exists())
    return fs_stats(files[-1].parent if files else "/", now, used)


@dataclass(frozen=True, slots=True)
class PodInput:
    """What the registry says about one pod, read on the loop; the rest is read in a thread."""

    pod: JSON
    pids: dict[str, int]
    logs: dict[str, tuple[Path, ...] | None]


def pod_input(request: web.Request, pod: JSON) -> PodInput:
    meta = pod.get("metadata", {})
    ns, name = meta.get("namespace", "default"), meta.get("name", "")
    pids = dict(registry(request).container_pids(ns, name))
    logs: dict[str, tuple[Path, ...] | None] = {}
    for container in pids:
        try:
            logs[container] = registry(request).log_source(ns, name, container).files
        except LookupError:
            logs[container] = None
    return PodInput(pod, pids, logs)


def _pod_stats(source: PodInput, sampler: CpuSampler, now: float) -> JSON:
    """Blocking: walks the containers' process trees and stats their logs."""
    pod, meta = source.pod, source.pod.get("metadata", {})
    ns, name, uid = meta.get("namespace", "default"), meta.get("name", ""), meta.get("uid", "")
    total, containers = Usage(), []
    for container, pid in sorted(source.pids.items()):
        usage = Usage()
        usage.add(process_tree(pid))
        total.add(process_tree(pid))
        entry: JSON = {"name": container}
        started = _started_at(pod, container)
        if started:
            entry["startTime"] = started
        entry["cpu"] = usage.cpu(sampler, f"{uid}/{container}", now)
        entry["memory"] = usage.memory(now, _container_limit(pod, container))
        entry["logs"] = _log_stats(source.logs.get(container), now)
        containers.append(entry)
    stats: JSON = {"podRef": {"name": name, "namespace": ns, "uid": uid}}
    if pod.get("status", {}).get("startTime"):
        stats["startTime"] = pod["status"]["startTime"]
    stats.update({
        "containers": containers,
        "cpu": total.cpu(sampler, uid, now),
        "memory": total.memory(now, None),
        "volume": [],
        "process_stats": {"process_count": total.processes},
    })  # fmt: skip
    return stats


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
    return {"time": rfc3339(now), "maxpid": maxpid, "curproc": len(psutil.pids())}


def _node(node_name: str, started: float, sampler: CpuSampler, now: float) -> JSON:
    daemon = Usage()
    daemon.add([psutil.Process()])
    return {
        "nodeName": node_name,
        "systemContainers": [{
            "name": "kubelet",
            "startTime": rfc3339(started),
            "cpu": daemon.cpu(sampler, "kubelet", now),
            "memory": daemon.memory(now, None),
        }],
        "startTime": rfc3339(psutil.boot_time()),
        "cpu": _node_cpu(sampler, now),
        "memory": _node_memory(now),
        "network": _network(now),
        "fs": fs_stats("/", now),
        "runtime": {"imageFs": fs_stats("/", now), "containerFs": fs_stats("/", now)},
        "rlimit": _rlimit(now),
    }  # fmt: skip


async def summary(request: web.Request) -> web.Response:
    """The registry is read on the loop; process trees, /proc and the logs' sizes, whose cost
    grows with the processes and files, in a thread."""
    sampler, config = request.app[SAMPLER], settings(request)
    inputs = [pod_input(request, p) for p in registry(request).list_pods()]

    def compute() -> JSON:
        now = time.time()
        pods = [_pod_stats(source, sampler, now) for source in inputs]
        return {"node": _node(config.node_name, config.started_at, sampler, now), "pods": pods}

    return web.json_response(await asyncio.to_thread(compute))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/stats/summary", summary)
    router.add_get("/stats/summary/", summary)
