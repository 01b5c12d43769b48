"""A container instance's probes, wired to its supervisor: one worker per probe in the
instance's TaskGroup (stopped by cancelling its task when the instance ends), the
results that make it started and ready, the kill a failed liveness or startup probe asks
for, and the readiness probe run at once when the container becomes started.

kubelet: prober_manager.go (AddPod, UpdatePodStatus), kuberuntime_manager.go
computePodActions (the kill).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from minikubelet.core import containerstatus as cs
from minikubelet.core import events as ev
from minikubelet.core import kills
from minikubelet.core.spec import Probe, ProbeType
from minikubelet.node import lifecyclehooks
from minikubelet.node.instance import Instance
from minikubelet.probe.handlers import ProbeOutcome, run_probe
from minikubelet.probe.worker import ContainerView, ProbeWorker, Result

if TYPE_CHECKING:
    from minikubelet.node.supervisor import ContainerSupervisor


class Probing:
    """The probe workers of the supervisor's current instance and what their results do."""

    def __init__(self, sup: ContainerSupervisor) -> None:
        self.sup = sup
        self.workers: dict[ProbeType, ProbeWorker] = {}

    def start_workers(self, tg: asyncio.TaskGroup, inst: Instance) -> list[asyncio.Task[None]]:
        """One task per probe in `tg`, in the kubelet's order; cancelling one stops it."""
        sup = self.sup
        tasks = []
        # kubelet: prober_manager.go AddPod creates startup, readiness, liveness in this order
        for ptype in (ProbeType.STARTUP, ProbeType.READINESS, ProbeType.LIVENESS):
            probe = sup.container.probe(ptype)
            if probe is None:
                continue
            worker = ProbeWorker(
                pod=sup.pod.pod,
                container=sup.container,
                probe_type=ptype,
                run=self._probe_runner(probe, lifecyclehooks.enter_pid(inst)),
                view=functools.partial(self._view, inst),
                on_result=self._on_result,
                on_probe=functools.partial(sup.tl, "probe"),
                record_event=self._probe_event,
                daemon_started_at=sup.pod.settings.daemon_started_at,
            )
            self.workers[ptype] = worker
            name = f"probe:{sup.pod.pod.name}/{sup.container.name}/{ptype.lower()}"
            tasks.append(tg.create_task(worker.run(), name=name))
        return tasks

    def _probe_runner(
        self, probe: Probe, enter: int | None
    ) -> Callable[[], Awaitable[ProbeOutcome]]:
        sup = self.sup
        env, _own = sup.env()
        cwd = sup.cwd

        async def run() -> ProbeOutcome:
            return await run_probe(probe, container=sup.container, env=env, cwd=cwd, enter=enter)

        return run

    def _view(self, inst: Instance) -> ContainerView:
        sup = self.sup
        return ContainerView(
            pod_phase=sup.pod.phase,
            deleting=sup.pod.deleting,
            restart_policy=sup.pod.pod.spec.restart_policy,
            is_sidecar=sup.container.is_sidecar,
            container_id=inst.container_id,
            running=inst.running and inst.terminated is None,
            terminated=inst.terminated is not None,
            started_at=inst.started_at,
            started=sup.started if inst is sup.current else False,
        )

    def _on_result(self, ptype: ProbeType, container_id: str, result: Result) -> None:
        sup = self.sup
        cur = sup.current
        if cur is None or cur.container_id != container_id:
            return
        if sup.results.get(ptype) == result:
            return
        sup.results[ptype] = result
        if cs.makes_started(ptype, succeeded=result == Result.SUCCESS):
            self.trigger_readiness()
            sup.wake.set()
        if kills.kills_for(ptype, failed=result == Result.FAILURE):
            self._kill_for_probe(ptype)
        sup.pod.changed()

    def _kill_for_probe(self, ptype: ProbeType) -> None:
        """kubelet: computePodActions; the message becomes the Killing event."""
        sup = self.sup
        sup.request_kill(
            kills.probe_failure(sup.pod.pod, sup.container, init=sup.init, probe_type=ptype)
        )

    def trigger_readiness(self) -> None:
        worker = self.workers.get(ProbeType.READINESS)
        if worker is not None and self.sup.results.get(ProbeType.READINESS) != Result.SUCCESS:
            worker.trigger()

    def _probe_event(self, *, reason: str, message: str, type: str = ev.WARNING) -> None:
        self.sup.event(reason, message, type)
