"""One pod: init containers in order, then the containers; termination; live status.

`PodRunner.run()` owns a TaskGroup with one supervisor task per started container, started
and stopped by `node/sequence.py` in the kubelet's SyncPod order: regular init containers
one at a time, each to exit 0 (restarted with backoff, or failing the pod under `Never`);
sidecars started in order, each waited on until running and started; then the regular
containers one at a time, each once the previous one's postStart hook has returned. When no
regular container will run again the pod is terminal and its sidecars are stopped.
Termination (deletion, daemon shutdown, the active deadline) stops regular containers first,
then sidecars in reverse order, all within one grace period.

The status is recomputed by the pure `status.generate_pod_status` on every change a
supervisor reports, and handed to `on_change` only when it differs. The work is O(containers)
(every container's status, the pod's object written to the store), so for a big pod, whose
recomputation costs more than `STATUS_THROTTLE_ABOVE`, changes that come sooner than
`STATUS_SPACING` times the last cost after it are gathered into one recomputation: status
work then takes at most about a fifth of the loop however fast containers change (a pod of
1000 containers starting, or stopping). The kubelet gathers changes too: its status manager
writes the latest status of a pod, not every step (status_manager.go updateStatusInternal,
syncPod). A small pod is recomputed at once, every time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from minikubelet.core import deletion
from minikubelet.core import events as ev
from minikubelet.core.envsources import Lookup
from minikubelet.core.events import EventRecorder
from minikubelet.core.model import Phase, PodCondition, PodStatus
from minikubelet.core.settings import Settings
from minikubelet.core.spec import Pod
from minikubelet.core.status import generate_pod_status, unscheduled_pod_status
from minikubelet.node import sandbox
from minikubelet.node.sequence import ContainerSequence
from minikubelet.node.supervisor import ContainerSupervisor
from minikubelet.node.timeline import Recorder
from minikubelet.node.volumes import EVICTED, PodVolumes
from minikubelet.runtime.aio import wait_event
from minikubelet.runtime.cgroups import CpuLimiter

log = structlog.get_logger("minikubelet.pod")

DEADLINE_REASON = "DeadlineExceeded"
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
STATUS_THROTTLE_ABOVE = 0.002  # seconds a recomputation may cost before changes are gathered
# only a pod of this many containers has its changes gathered: a smaller one, however slow
# the machine, is recomputed at every change, as the kubelet's status manager does
GATHER_FROM_CONTAINERS = 50
STATUS_SPACING = 4.0  # the next recomputation waits this many times the last one's cost


class PodRunner:
    """One pod's worker (the kubelet's pod worker): its volumes, its containers' order
    (node/sequence.py), its status, deletion and termination. (A little over ~250 lines:
    status gathering for big pods and the deletion marks share its state.)"""

    def __init__(
        self,
        pod: Pod,
        *,
        settings: Settings,
        events: EventRecorder,
        on_change: Callable[[PodRunner], None] = lambda runner: None,
        cpu_limiter: CpuLimiter | None = None,
        timeline: Recorder | None = None,
        config_lookup: Lookup | None = None,
        service_lookup: Callable[[], list[dict[str, Any]]] | None = None,
        on_container_started: Callable[[], None] = lambda: None,
    ) -> None:
        self.pod = pod
        # each container process started (the agent refreezes the heap once starts settle)
        self.container_started = on_container_started
        self.timeline = timeline if timeline is not None else Recorder(per_pod=1, max_pods=1)
        # the store's ConfigMaps and Secrets, read at each container start (None: there are none)
        self.config_lookup = config_lookup
        # the store's Services, read at each container start for their variables
        self.service_lookup = service_lookup
        self.settings = settings
        # the pod's volumes (None: it has none), set up before any container starts
        self.volumes = (
            PodVolumes(lambda: self.pod, settings=settings, events=events, lookup=config_lookup)
            if pod.spec.volumes else None
        )  # fmt: skip
        self.cpu_limiter = cpu_limiter  # where cgroup v2 lets the daemon limit CPU
        self.events = events
        self._on_change = on_change
        self.init_supervisors = [
            ContainerSupervisor(self, c, init=True) for c in pod.spec.init_containers
        ]
        self.supervisors = [ContainerSupervisor(self, c) for c in pod.spec.containers]
        # pods/ephemeralcontainers: each started once, while the pod runs (ephemeral_start)
        self.ephemeral_supervisors = [
            ContainerSupervisor(self, c, ephemeral=True) for c in pod.spec.ephemeral_containers
        ]
        self._group: asyncio.TaskGroup | None = None  # the running pod's, for ephemeral ones
        self.sandbox_ready = False
        self.start_time: float | None = None
        self.terminal = False  # kubelet: podIsTerminal
        self.deletion_timestamp: float | None = None
        self.deletion_grace: int | None = None
        self.reason = ""
        self.message = ""
        # what others wrote to the pod's status in the API (pods/{name}/status)
        self.external_conditions: tuple[PodCondition, ...] = ()
        self._api_reason = ""
        self._api_message = ""
        self.status = PodStatus()
        # (reason, message) while the pod cannot be placed (its ports are taken): it waits
        # Pending, unscheduled, until `schedule()`
        self.unschedulable: tuple[str, str] | None = None
        self._scheduled = asyncio.Event()
        self.finished = asyncio.Event()  # every container stopped and reaped
        self.terminating = asyncio.Event()
        self._deadline_changed = asyncio.Event()
        self.grace: float = float(pod.spec.termination_grace_period_seconds)
        self.sequence = ContainerSequence(self)
        self.log = log.bind(pod=f"{pod.namespace}/{pod.name}")
        self._volume_tasks: list[asyncio.Task[None]] = []
        self._next_status = 0.0  # perf_counter() before which a change is gathered
        self._status_pending: asyncio.TimerHandle | None = None
        self.changed()

    # --- what supervisors read ------------------------------------------------------------

    @property
    def phase(self) -> Phase:
        return self.status.phase

    @property
    def deleting(self) -> bool:
        return self.deletion_timestamp is not None

    @property
    def pod_dir(self) -> Path:
        """kubelet: /var/log/pods/<namespace>_<name>_<uid>; the UID, derived from the manifest,
        is the same on each run of it."""
        p = self.pod
        return self.settings.state_dir / "pods" / f"{p.namespace}_{p.name}_{p.uid}"

    def log_dir(self, container: str) -> Path:
        return self.pod_dir / container

    def supervisor(self, name: str) -> ContainerSupervisor | None:
        return next(
            (s for s in self.all_supervisors if s.container.name == name),
            None,
        )

    @property
    def all_supervisors(self) -> list[ContainerSupervisor]:
        return self.init_supervisors + self.supervisors + self.ephemeral_supervisors

    def changed(self) -> None:
        """Something the status is made of changed: recomputed now, or (a big pod changing
        fast) soon, once, with every change made meanwhile."""
        if self._status_pending is not None:
            return  # gathered into the recomputation already due
        wait = self._next_status - time.perf_counter()
        if wait > 0:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                wait = 0.0
            else:
                self._status_pending = loop.call_later(wait, self._gathered)
                return
        self._recompute()

    def flush_status(self) -> None:
        """The status recomputed now, with any change still gathered."""
        if self._status_pending is not None:
            self._status_pending.cancel()
            self._status_pending = None
        self._recompute()

    def _gathered(self) -> None:
        self._status_pending = None
        self._recompute()

    def _recompute(self) -> None:
        began = time.perf_counter()
        try:
            self._recompute_status()
        finally:
            ended = time.perf_counter()
            cost = ended - began
            many = len(self.init_supervisors) + len(self.supervisors) >= GATHER_FROM_CONTAINERS
            big = many and cost > STATUS_THROTTLE_ABOVE
            self._next_status = ended + cost * STATUS_SPACING if big else 0.0

    def _recompute_status(self) -> None:
        if self.unschedulable is not None:
            reason, message = self.unschedulable
            held = unscheduled_pod_status(
                self.pod, reason=reason, message=message, previous=self.status, now=time.time()
            )
            if held != self.status:
                self.status = held
                self._on_change(self)
            return
        has_init = bool(self.init_supervisors)
        new = generate_pod_status(
            self.pod,
            init_statuses=[s.status(pod_has_init=has_init) for s in self.init_supervisors],
            statuses=[s.status(pod_has_init=has_init) for s in self.supervisors],
            previous=self.status if self.start_time is not None else None,
            pod_is_terminal=self.terminal,
            sandbox_ready=self.sandbox_ready,
            start_time=self.start_time,
            now=time.time(),
            reason=self.reason,
            message=self.message,
            external_conditions=self.external_conditions,
            api_reason=self._api_reason,
            api_message=self._api_message,
            ephemeral_statuses=[
                s.status(pod_has_init=has_init) for s in self.ephemeral_supervisors
            ],
        )
        self._api_reason = self._api_message = ""  # taken over (or dropped with the phase)
        if new != self.status:
            self.status = new
            self._on_change(self)

    def update_spec(self, pod: Pod) -> None:
        """An update the API server allowed (ValidatePodUpdate): new images, a set or lowered
        activeDeadlineSeconds, added tolerations. kubelet: computePodActions restarts a
        running container whose definition changed; the active deadline is read again
        (active_deadline.go pastActiveDeadline, against the pod's start time)."""
        deadline_changed = pod.spec.active_deadline_seconds != self.pod.spec.active_deadline_seconds
        self.pod = pod
        for sups, containers in (
            (self.init_supervisors, pod.spec.init_containers),
            (self.supervisors, pod.spec.containers),
        ):
            for sup, container in zip(sups, containers, strict=True):
                sup.update_container(container)
        known = {s.container.name for s in self.ephemeral_supervisors}
        for container in pod.spec.ephemeral_containers:
            if container.name not in known:  # only additions pass the API's validation
                sup = ContainerSupervisor(self, container, ephemeral=True)
                self.ephemeral_supervisors.append(sup)
                self._start_ephemeral(sup)
        if deadline_changed:
            self._deadline_changed.set()
        self.flush_status()  # the API's answer shows the update

    # --- control ----------------------------------------------------------------------------

    def set_api_status(
        self, conditions: tuple[PodCondition, ...], reason: str, message: str
    ) -> None:
        """A status written through the API: the conditions the kubelet does not own are
        kept (a readiness gate's among them) and the status is computed again over them."""
        self.external_conditions = conditions
        self._api_reason, self._api_message = reason, message
        self.flush_status()  # the API's answer is the status computed over what it wrote

    def mark_deleted(self, timestamp: float, grace_period_seconds: int) -> None:
        """The API server's deletion mark (`metadata.deletionTimestamp`, the delete time plus
        the grace period, and `deletionGracePeriodSeconds`), set by the daemon on DELETE."""
        self.deletion_timestamp = timestamp
        self.deletion_grace = grace_period_seconds

    def terminate(self, grace: float | None = None, *, deleting: bool = False) -> None:
        """Graceful stop of the whole pod; `run()` returns once everything is reaped."""
        if deleting and self.deletion_timestamp is None:
            self.deletion_timestamp = time.time()
            self.deletion_grace = int(grace if grace is not None else self.grace)
        self.grace, shorten = deletion.stop_grace(
            self.grace, grace, terminating=self.terminating.is_set()
        )
        if shorten and grace is not None:
            for sup in self.all_supervisors:
                sup.shorten_kill(grace)  # a shorter second DELETE shortens kills under way
        self.terminating.set()
        self.changed()

    @property
    def placed(self) -> bool:
        return self.unschedulable is None

    def hold(self, reason: str, message: str) -> None:
        """Not placed: the pod waits unscheduled (before `run()` starts anything)."""
        self.unschedulable = (reason, message)
        self.changed()

    def schedule(self) -> None:
        """Placed: `run()` goes on to start the pod."""
        self.unschedulable = None
        self._scheduled.set()
        self.changed()

    async def run(self) -> None:
        if self.unschedulable is not None:
            await self.sequence.until_terminate(self._scheduled.wait())
            if not self.placed or self.terminating.is_set():
                self.finished.set()  # deleted (or the daemon stopped) before it was placed
                return
        self.start_time = time.time()
        self.sandbox_ready = True
        try:
            dirs = [
                self.log_dir(s.container.name) for s in self.init_supervisors + self.supervisors
            ]
            error = await asyncio.to_thread(sandbox.fresh_pod_dir, self.pod_dir, dirs, self.log)
            if error is not None:
                sandbox.sandbox_failed(self.events, self.pod, error, self.log)
            self.changed()
            async with asyncio.TaskGroup() as tg:
                deadline = tg.create_task(self._deadline(), name=f"deadline:{self.pod.name}")
                seq = self.sequence
                mounted = await self._mount_volumes(tg)
                if mounted:
                    self._group = tg
                    for sup in self.ephemeral_supervisors:
                        self._start_ephemeral(sup)
                if mounted and await seq.run_init_containers(tg) and not self.terminating.is_set():
                    await seq.run_containers(tg)
                self._group = None  # stopping: no ephemeral container starts now
                await seq.stop_all()
                deadline.cancel()
                for task in self._volume_tasks:
                    task.cancel()
        finally:
            if self.volumes is not None:  # volume manager: a terminated pod's volumes go
                await asyncio.shield(self.volumes.teardown())
            self.terminal = True
            self.sandbox_ready = False
            self.flush_status()
            self.finished.set()
            self.log.info("pod finished", phase=str(self.status.phase))

    def _start_ephemeral(self, sup: ContainerSupervisor) -> None:
        """kubelet: computePodActions starts an ephemeral container that has no status yet,
        whether or not the pod is initialized, once its sandbox (here: its volumes) is up;
        a pod that has stopped (or not yet started) leaves it waiting."""
        group = self._group
        if group is None or self.terminating.is_set() or sup.container.name in self.sequence.tasks:
            return
        _ = self.sequence.start(group, sup)

    async def _mount_volumes(self, tg: asyncio.TaskGroup) -> bool:
        """kubelet: volume_manager.go WaitForAttachAndMount before the pod's containers: the
        containers wait (ContainerCreating) until every volume they mount is set up; then
        the volumes are kept up to date while the pod runs. False if stopped first."""
        if self.volumes is None:
            return True
        # kubelet.go SyncPod waits for the volumes before the sandbox is made: until they
        # are, PodReadyToStartContainers is False
        self.sandbox_ready = False
        self.changed()
        mounted = await self.sequence.until_terminate(self.volumes.mount_all())
        if mounted is None or self.terminating.is_set():
            return False
        self.sandbox_ready = True
        self.changed()
        self._volume_tasks.append(
            tg.create_task(self.volumes.maintain(self.evict), name=f"volumes:{self.pod.name}")
        )
        return True

    def evict(self, message: str) -> None:
        """kubelet: eviction_manager.go emptyDirLimitEviction -> evictPod: the pod fails with
        reason `Evicted` and an `Evicted` event, its containers killed with
        immediateEvictionGracePeriodSeconds (1 s, raised to the minimum by killContainer)."""
        self.reason, self.message = EVICTED, message
        self.events.record(self.pod, reason=EVICTED, message=message, type=ev.WARNING)
        self.log.warning("pod evicted", message=message)
        self.terminate(1)

    async def _deadline(self) -> None:
        """kubelet: active_deadline.go pastActiveDeadline: the pod fails once it has been
        active `activeDeadlineSeconds` since it started; an update may set or lower the
        deadline later, which is then measured from the same start."""
        loop = asyncio.get_running_loop()
        began = loop.time()
        while True:
            self._deadline_changed.clear()
            seconds = self.pod.spec.active_deadline_seconds
            within = None if seconds is None else began + seconds - loop.time()
            if not await wait_event(self._deadline_changed, within):
                break
        self.reason, self.message = DEADLINE_REASON, DEADLINE_MESSAGE
        self.events.record(self.pod, reason=DEADLINE_REASON, message=DEADLINE_MESSAGE,
                           type=ev.WARNING)  # fmt: skip
        self.log.info("active deadline exceeded", seconds=seconds)
        self.terminate()
