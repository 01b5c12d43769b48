"""The node agent (the kubelet): runs the pods it is given and writes them back to the store.

`NodeAgent` holds one `PodRunner` per pod (its pod worker) and writes each pod's object, spec
and live status, into the object store whenever it changes, as the kubelet writes
`pods/{name}/status`; events go to the store through the recorder. It knows the store only
through `put`, `get` and `remove`. The pods run as tasks of the task group the daemon hands
it (`attach`), so stopping the daemon stops them.

What the API reads of its running containers (logs, exec and attach targets, pids) is
`containeraccess.py`'s, following the pods' volume sources `volumesources.py`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Literal

import structlog

from minikubelet.core import deletion, ports, serialize
from minikubelet.core import events as ev
from minikubelet.core.events import Event, EventRecorder
from minikubelet.core.settings import Settings
from minikubelet.core.spec import Pod
from minikubelet.node.containeraccess import ContainerAccess
from minikubelet.node.pod import PodRunner
from minikubelet.node.timeline import Recorder
from minikubelet.node.volumesources import VolumeSourceFollower
from minikubelet.runtime import metrics
from minikubelet.runtime.cgroups import CpuLimiter
from minikubelet.runtime.gcpolicy import Freezer
from minikubelet.store.objects import JSON, ObjectStore

log = structlog.get_logger("minikubelet.daemon")


class NodeAgent(ContainerAccess, VolumeSourceFollower):
    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        *,
        on_change: Callable[[], None] = lambda: None,
        freezer: Freezer | None = None,
        timeline: Recorder | None = None,
    ) -> None:
        self.settings = settings
        self.timeline = timeline if timeline is not None else Recorder()
        self._freezer = freezer
        self.store = store
        self.runners: dict[tuple[str, str], PodRunner] = {}
        self.events = EventRecorder(
            node_name=settings.node_name,
            on_change=self._event_changed,
            on_evict=self._event_evicted,
        )
        self._on_change = on_change
        self._tg: asyncio.TaskGroup | None = None
        self._cpu_checked = False
        self.cpu_limiter: CpuLimiter | None = None
        self._detect_cpu_limiter: Callable[[], CpuLimiter | None] = CpuLimiter.detect
        self._unplaced: list[PodRunner] = []  # waiting for their ports, in arrival order
        self._unreclaimed: set[tuple[str, str]] = set()  # deleted claims a pod still mounts
        # each pod's served spec, made again only when its manifest or placement changes
        self._specs: dict[tuple[str, str], tuple[object, bool, JSON]] = {}

    def attach(self, tg: asyncio.TaskGroup | None) -> None:
        """The task group pods run in (None once it is gone: nothing more starts)."""
        self._tg = tg

    @property
    def running(self) -> bool:
        return self._tg is not None

    async def terminate_all(self) -> None:
        for runner in list(self.runners.values()):
            runner.terminate()
        await asyncio.gather(*(r.finished.wait() for r in list(self.runners.values())))

    def start_pod(self, pod: Pod) -> PodRunner:
        assert self._tg is not None
        self._prepare_cpu_limits(pod)
        runner = PodRunner(
            pod,
            settings=self.settings,
            events=self.events,
            on_change=self.pod_changed,
            cpu_limiter=self.cpu_limiter,
            timeline=self.timeline,
            config_lookup=self.store.get,
            service_lookup=lambda: self.store.list("services"),
            # a pod's containers make most of the heap as they start (a pod of 1000 takes
            # seconds): it is frozen again once they have, not only when pods come and go
            on_container_started=self._freezer.changed if self._freezer is not None else _none,
        )
        held = self._held_ports()
        self.runners[pod.key] = runner
        if not ports.fits(pod, held):
            self._unplaced.append(runner)
            runner.hold(ports.UNSCHEDULABLE, ports.NO_FREE_PORTS)
            self._scheduler_event(runner, "FailedScheduling", ports.NO_FREE_PORTS, ev.WARNING)
        if self._freezer is not None:
            self._freezer.changed()
        self.pod_changed(runner, kind="ADDED")
        self._tg.create_task(self._run_pod(runner), name=f"pod:{pod.namespace}/{pod.name}")
        return runner

    # --- ports on the one shared network (the scheduler's NodePorts fit) ---------------------

    def _held_ports(self) -> set[ports.Port]:
        """The ports of the placed pods that are not finished (kube-scheduler drops a
        terminal pod from its cache: eventhandlers.go updatePodInCache)."""
        held: set[ports.Port] = set()
        for r in self.runners.values():
            if r.unschedulable is None and not r.status.phase.terminal and not r.finished.is_set():
                held |= ports.pod_ports(r.pod)
        return held

    def _place_waiting(self) -> None:
        """Pods whose ports were taken start once they are free (another pod went away or
        finished), in the order they came; of two wanting the same port the first gets it."""
        if not self._unplaced or self._tg is None:
            return
        waiting = [r for r in self._unplaced if self.runners.get(r.pod.key) is r]
        placed = ports.schedule([r.pod for r in waiting], self._held_ports())
        keys = {p.key for p in placed}
        self._unplaced = [r for r in waiting if r.pod.key not in keys]
        for runner in waiting:
            if runner.pod.key in keys:
                p = runner.pod
                node = self.settings.node_name
                message = f"Successfully assigned {p.namespace}/{p.name} to {node}"
                self._scheduler_event(runner, "Scheduled", message, ev.NORMAL)
                runner.schedule()

    def _scheduler_event(self, runner: PodRunner, reason: str, message: str, type: str) -> None:
        self.events.record(
            runner.pod, reason=reason, message=message, type=type, component="default-scheduler"
        )

    def _prepare_cpu_limits(self, pod: Pod) -> None:
        """At the first pod with a CPU limit: use cgroup v2 `cpu.max` where the daemon may
        write one, else say once that CPU limits are not enforced (memory limits are, by the
        daemon's own watchdog)."""
        if self._cpu_checked:
            return
        field = _first_cpu_limit(pod)
        if field is None:
            return
        self._cpu_checked = True
        self.cpu_limiter = self._detect_cpu_limiter()
        if self.cpu_limiter is None:
            log.warning(
                "cpu limits are not enforced",
                pod=f"{pod.namespace}/{pod.name}",
                field=field,
                message="minikubelet has no writable cgroup v2 with the cpu controller here; "
                "the limit only sets the QoS class and resourceFieldRef values",
            )
        else:
            log.info("cpu limits enforced", cgroup=str(self.cpu_limiter.base))

    async def _run_pod(self, runner: PodRunner) -> None:
        try:
            await runner.run()
        except Exception:  # one pod's fault never cancels the others (DESIGN: faults stay)
            log.exception("pod failed", pod=f"{runner.pod.namespace}/{runner.pod.name}")
        if runner.deleting and not finalizers_of(runner.pod):
            self.remove(runner)  # one with finalizers stays until they are taken off

    def remove(self, runner: PodRunner) -> JSON | None:
        """Takes the pod out of the store (a DELETED event); returns its last object."""
        key = runner.pod.key
        if self.runners.get(key) is not runner:
            return None
        del self.runners[key]
        self._specs.pop(key, None)
        metrics.forget_pod(runner.pod.namespace, runner.pod.name)
        if self._freezer is not None:
            self._freezer.changed(removed=True)
        removed = self.store.remove("pods", *key)
        self._place_waiting()
        return removed

    def pod_object(
        self, runner: PodRunner, mark: deletion.DeletionMark | None, resource_version: int
    ) -> JSON:
        key, manifest, placed = runner.pod.key, runner.pod.manifest, runner.placed
        cached = self._specs.get(key)
        if cached is None or cached[0] is not manifest or cached[1] != placed:
            cached = (manifest, placed, serialize.served_spec(runner.pod, scheduled=placed))
            if self.runners.get(key) is runner:
                self._specs[key] = cached
        return serialize.pod_json(
            runner.pod,
            runner.status,
            resource_version=resource_version,
            deletion_timestamp=mark.timestamp if mark is not None else None,
            deletion_grace_period_seconds=mark.grace_period_seconds if mark else None,
            scheduled=placed,
            spec=cached[2],
        )

    def pod_changed(
        self, runner: PodRunner, kind: Literal["ADDED", "MODIFIED"] = "MODIFIED"
    ) -> None:
        if self.runners.get(runner.pod.key) is not runner:
            return
        self.store.put("pods", self.pod_object(runner, deletion_mark(runner), 0))
        self._on_change()
        if self._unplaced and runner.status.phase.terminal:
            self._place_waiting()

    def _event_changed(self, event: Event) -> Event:
        stored = self.store.put("events", serialize.event_json(event))
        return replace(event, resource_version=int(stored["metadata"]["resourceVersion"]))

    def _event_evicted(self, event: Event) -> None:
        self.store.remove("events", event.namespace, event.name)

    def stored(self, key: tuple[str, str]) -> JSON:
        """The stored object of a pod the agent runs (there is always one)."""
        obj = self.store.get("pods", *key)
        assert obj is not None, key
        return obj

    def set_metadata(
        self, runner: PodRunner, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> bool:
        pod = runner.pod
        if dict(labels) == dict(pod.labels) and dict(annotations) == dict(pod.annotations):
            return False
        meta = {**pod.manifest.get("metadata", {})}
        for key, value in (("labels", labels), ("annotations", annotations)):
            if value:
                meta[key] = dict(value)
            else:
                meta.pop(key, None)
        runner.pod = replace(
            pod,
            labels=dict(labels),
            annotations=dict(annotations),
            manifest={**pod.manifest, "metadata": meta},
        )
        return True


def _none() -> None:
    pass


def finalizers_of(pod: Pod) -> list[str]:
    return list(pod.manifest.get("metadata", {}).get("finalizers") or [])


def deletion_mark(runner: PodRunner) -> deletion.DeletionMark | None:
    if runner.deletion_timestamp is None or runner.deletion_grace is None:
        return None
    return deletion.DeletionMark(runner.deletion_timestamp, runner.deletion_grace)


def _first_cpu_limit(pod: Pod) -> str | None:
    """The path of the first container CPU limit in the pod, if any."""
    for kind, containers in (
        ("initContainers", pod.spec.init_containers),
        ("containers", pod.spec.containers),
    ):
        for i, c in enumerate(containers):
            if "cpu" in c.resources.limits:
                return f"spec.{kind}[{i}].resources.limits.cpu"
    return None
