"""A container instance's resource limits, enforced locally: the CPU limit through its own
cgroup v2 where the daemon may make one, the memory limit by watching its process tree's
resident set (a stand-in for the cgroup OOM killer)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import structlog

from minikubelet.core.spec import Container
from minikubelet.runtime import memwatch
from minikubelet.runtime.cgroups import CpuLimiter

if TYPE_CHECKING:
    from minikubelet.node.instance import Instance
    from minikubelet.node.supervisor import PodHandle


def limit_cpu(pod: PodHandle, container: Container, inst: Instance, pid: int) -> None:
    limiter, cpu = pod.cpu_limiter, container.resources.limits.get("cpu")
    if limiter is not None and cpu is not None and cpu.value > 0:
        name = f"{pod.pod.uid}-{container.name}-{inst.restart_count}"
        inst.cgroup = limiter.limit(name, pid, cpu.value)


def release_cpu(inst: Instance) -> None:
    if inst.cgroup is not None:
        CpuLimiter.release(inst.cgroup)
        inst.cgroup = None


async def watch_memory(
    pod: PodHandle,
    container: Container,
    inst: Instance,
    log: structlog.typing.FilteringBoundLogger,
) -> None:
    """A local stand-in for the cgroup OOM killer: the resident set of the process tree
    is summed on the daemon's one memory timer (`memwatch`: cheap statm reads of a pid
    set refreshed every half second, no tree walk per tick) and the group is SIGKILLed
    past the limit, reported as OOMKilled / 137. Runs until then or until cancelled (the
    instance's end stops it so)."""
    limit = container.memory_limit_bytes
    process = inst.process
    if limit is None or process is None or process.exited:
        return
    watch = memwatch.for_loop(pod.settings.memory_poll_interval)
    exceeded = asyncio.Event()

    def on_exceeded(rss: int) -> None:
        log.warning("memory limit exceeded", limit_bytes=limit, rss_bytes=rss)
        process.kill("OOMKilled")
        exceeded.set()

    key = watch.watch(process.pid, limit, on_exceeded)
    try:
        await exceeded.wait()
    finally:
        watch.unwatch(key)
