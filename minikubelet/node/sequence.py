"""In what order a pod's containers start and stop: the kubelet's SyncPod order.

Regular init containers one at a time, each to exit 0 (restarted with backoff, or failing
the pod under `Never`); sidecars started in order, each waited on until running and
started; then the regular containers one at a time, each once the previous one's postStart
hook has returned. Stopping: regular containers (and a running init container) first, all
at once, then sidecars in reverse order, all within one grace period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from minikubelet.node.supervisor import MIN_GRACE, ContainerSupervisor
from minikubelet.runtime.aio import race

if TYPE_CHECKING:
    from minikubelet.node.pod import PodRunner


class ContainerSequence:
    """The supervisor tasks of one run of a pod, in the pod's TaskGroup."""

    def __init__(self, runner: PodRunner) -> None:
        self.runner = runner
        self.tasks: dict[str, asyncio.Task[int | None]] = {}

    def start(self, tg: asyncio.TaskGroup, sup: ContainerSupervisor) -> asyncio.Task[int | None]:
        name = f"container:{self.runner.pod.name}/{sup.container.name}"
        task = tg.create_task(sup.run(), name=name)
        self.tasks[sup.container.name] = task
        return task

    async def run_init_containers(self, tg: asyncio.TaskGroup) -> bool:
        """kubelet: computeInitContainerActions. False if the pod failed or is stopping."""
        terminating = self.runner.terminating
        for sup in self.runner.init_supervisors:
            if sup.container.is_sidecar:
                _ = self.start(tg, sup)  # a sidecar runs until the pod stops it
                await self.until_terminate(sup.run_until_started())
            else:
                exit_code = await self.until_terminate(self.start(tg, sup))
                if terminating.is_set():
                    return False
                if exit_code != 0:
                    self.runner.log.info("init container failed", container=sup.container.name)
                    return False
            if terminating.is_set():
                return False
        return True

    async def run_containers(self, tg: asyncio.TaskGroup) -> None:
        """kubelet: kuberuntime_manager.go SyncPod, step 7: the containers are started one at
        a time in spec order, each start returning only once its postStart hook has
        (kuberuntime_container.go startContainer); a failed start or hook does not stop the
        next one."""
        tasks = []
        for sup in self.runner.supervisors:
            tasks.append(self.start(tg, sup))
            await self.until_terminate(sup.run_until_launched())
            if self.runner.terminating.is_set():
                break
        await self.until_terminate(asyncio.gather(*tasks))

    async def until_terminate(self, aw: Awaitable[int | None] | Awaitable[object]) -> object:
        """Awaits `aw`, or returns None early once termination is requested. A wait (a
        coroutine) loses the race and is cancelled; a task or future is the pod's (the
        supervisors' tasks live in its TaskGroup), so it is raced through a shield: only
        the waiting for it stops, not it."""
        owned = aw if isinstance(aw, asyncio.Future) else None
        try:
            first, result = await race(
                done=aw if owned is None else asyncio.shield(owned),
                stop=self.runner.terminating.wait(),
            )
        except Exception:
            return None  # the supervisor's task failed; the TaskGroup has its error
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if owned is not None and owned.cancelled() and me is not None and not me.cancelling():
                return None  # the supervisor's task was cancelled, not this one
            raise
        return result if first == "done" else None

    async def stop_all(self) -> None:
        """Regular containers (and a running init container) first, all at once; then
        sidecars in reverse order; one grace period for all of it."""
        runner = self.runner
        began = time.monotonic()
        runner.terminal = not runner.terminating.is_set() and self._tasks_done()
        inits = runner.init_supervisors
        first = [s for s in inits if not s.container.is_sidecar] + runner.supervisors
        first += runner.ephemeral_supervisors
        await self._stop_group(first, runner.grace)
        for sup in reversed([s for s in inits if s.container.is_sidecar]):
            remaining = max(runner.grace - (time.monotonic() - began), MIN_GRACE)
            await self._stop_group([sup], remaining)

    def _tasks_done(self) -> bool:
        regular = [self.tasks.get(s.container.name) for s in self.runner.supervisors]
        return all(t is not None and t.done() for t in regular)

    async def _stop_group(self, sups: list[ContainerSupervisor], grace: float) -> None:
        waits = []
        for sup in sups:
            sup.terminate(f"Stopping container {sup.container.name}", grace)
            task = self.tasks.get(sup.container.name)
            if task is not None:
                waits.append(task)
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)
