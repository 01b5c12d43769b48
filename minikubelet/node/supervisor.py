"""One container's life: backoff wait, start, postStart, probes, exit or kill, restart decision.

A `ContainerSupervisor` is the only writer of its container's instances, waiting reason and
probe results, and `status()` turns them into the API's ContainerStatus. What to do next is
asked of the pure core (`restart.should_restart`, `Backoff`, `core/containerstatus.py`);
this module only acts, with its helpers: the waits before a start (`node/prestart.py`), the
environment (`node/environment.py`), one instance's start, hooks, exit and kill
(`node/instance.py`), its probes (`node/probing.py`) and limits (`node/limits.py`).

Kills come from outside through `request_kill()` (a liveness or startup failure, pod deletion,
the active deadline, a memory limit) and always go the kubelet's way: `Killing` event, preStop
within the grace period, the stop signal to the process group, the rest of the grace period,
SIGKILL (`kuberuntime_container.go: killContainer`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import structlog

from minikubelet.core import containerstatus as cs
from minikubelet.core import events as ev
from minikubelet.core import kills
from minikubelet.core.envsources import Lookup, ResolvedEnv
from minikubelet.core.events import EventRecorder
from minikubelet.core.images import Command
from minikubelet.core.kills import KillRequest, signal_number
from minikubelet.core.model import ContainerStatus, Phase, Waiting
from minikubelet.core.restart import Backoff
from minikubelet.core.settings import Settings
from minikubelet.core.spec import Container, Pod, ProbeType
from minikubelet.node.containerlog import probe_request_markers
from minikubelet.node.environment import ContainerEnv
from minikubelet.node.instance import MIN_GRACE, Instance, InstanceLifecycle
from minikubelet.node.mounts import Mount
from minikubelet.node.prestart import StartGate
from minikubelet.node.probing import Probing
from minikubelet.node.timeline import Recorder
from minikubelet.node.volumes import PodVolumes
from minikubelet.probe.worker import Result
from minikubelet.runtime.aio import wait_event
from minikubelet.runtime.cgroups import CpuLimiter

__all__ = [
    "MIN_GRACE",
    "PULL_REASONS",
    "ContainerSupervisor",
    "Instance",
    "KillRequest",
    "PodHandle",
    "probe_request_markers",
    "signal_number",
]

log = structlog.get_logger("minikubelet.supervisor")

PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")


class PodHandle(Protocol):
    """What a supervisor needs of its pod."""

    pod: Pod
    settings: Settings
    events: EventRecorder
    cpu_limiter: CpuLimiter | None
    timeline: Recorder
    config_lookup: Lookup | None  # ConfigMaps and Secrets, for the environment
    service_lookup: Callable[[], list[dict[str, Any]]] | None  # Services, for the environment
    volumes: PodVolumes | None  # the pod's volumes, set up before its containers start

    @property
    def phase(self) -> Phase: ...

    @property
    def deleting(self) -> bool: ...

    def changed(self) -> None: ...

    def container_started(self) -> None: ...

    def log_dir(self, container: str) -> Path: ...

    def supervisor(self, name: str) -> ContainerSupervisor | None: ...


class ContainerSupervisor:
    def __init__(
        self, pod: PodHandle, container: Container, *, init: bool = False, ephemeral: bool = False
    ) -> None:
        self.pod = pod
        self.container = container
        self.init = init
        # an ephemeral container (pods/ephemeralcontainers): run once, never restarted
        self.ephemeral = ephemeral
        self.field_path = ev.container_field_path(container.name, init=init, ephemeral=ephemeral)
        self.instances: list[Instance] = []  # the newest two
        self.waiting: Waiting | None = None  # kubelet's reasonCache entry
        s = pod.settings
        self.backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        # kubelet: images/image_manager.go, the pull backoff (10 s doubling to 300 s)
        self.pull_backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        self.command: Command | None = None  # what the image runs, once resolved
        self.results: dict[ProbeType, Result] = {}
        self.stopping = False  # terminating: no more restarts
        self._restart_changed = False  # killed for a new definition: start again at once
        self.kill_request: KillRequest | None = None
        self.kill_event = asyncio.Event()
        self.wake = asyncio.Event()
        self.launched = asyncio.Event()  # the first start returned (postStart included)
        self.environment = ContainerEnv(pod)
        self.mounts: list[Mount] = []  # what the current start mounts
        self.gate = StartGate(self)
        self.lifecycle = InstanceLifecycle(self)
        self.probing = Probing(self)
        self.log = log.bind(pod=f"{pod.pod.namespace}/{pod.pod.name}", container=container.name)
        key = f"{pod.pod.namespace}/{pod.pod.name}"
        self.tl = functools.partial(pod.timeline.record, key, container=container.name)

    # --- state, read by the pod --------------------------------------------------------

    @property
    def current(self) -> Instance | None:
        return self.instances[-1] if self.instances else None

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.running

    @property
    def started(self) -> bool:
        return cs.is_started(
            self.container,
            running=self.running,
            startup_succeeded=self._result_succeeded(ProbeType.STARTUP),
        )

    @property
    def ready(self) -> bool:
        cur = self.current
        return cs.is_ready(
            self.container,
            init=self.init,
            started=self.started,
            exited_zero=bool(cur and cur.terminated and cur.terminated.exit_code == 0),
            readiness_succeeded=self._result_succeeded(ProbeType.READINESS),
        )

    def _result_succeeded(self, ptype: ProbeType) -> bool | None:
        result = self.results.get(ptype)
        return None if result is None else result == Result.SUCCESS

    @property
    def will_restart(self) -> bool:
        cur = self.current
        return cs.will_restart(
            self.container,
            init=self.init,
            policy=self.pod.pod.spec.restart_policy,
            exit_code=cur.terminated.exit_code if cur and cur.terminated else None,
            deleting=self.pod.deleting,
            stopping=self.stopping,
            definition_changed=self._restart_changed,
            ephemeral=self.ephemeral,
        )

    def _should_restart(self, exit_code: int) -> bool:
        return cs.restarts(
            self.container,
            init=self.init,
            policy=self.pod.pod.spec.restart_policy,
            exit_code=exit_code,
            deleting=self.pod.deleting,
            ephemeral=self.ephemeral,
        )

    def enter_pid(self) -> int | None:
        """An ephemeral container with a target joins the target's mount namespace, as an
        exec in it does (kubelet: the runtime shares the target's namespaces); None for any
        other start, and while the target runs without a namespace of its own."""
        target = self.container.target_container_name
        sup = self.pod.supervisor(target) if self.ephemeral and target else None
        cur = sup.current if sup is not None else None
        process = cur.process if cur is not None and cur.terminated is None else None
        return process.pid if process is not None and process.mount_namespace else None

    def status(self, *, pod_has_init: bool) -> ContainerStatus:
        cur = self.current
        return cs.container_status(
            self.container,
            current=cur.facts() if cur is not None else None,
            previous=self.instances[-2].terminated if len(self.instances) > 1 else None,
            waiting=self.waiting,
            ready=self.ready,
            started=self.started,
            will_restart=self.will_restart,
            pod_has_init=pod_has_init,
        )

    # --- control, from the pod -----------------------------------------------------------

    def request_kill(self, request: KillRequest) -> None:
        if self.kill_request is None:
            self.kill_request = request
        self.kill_event.set()

    def update_container(self, container: Container) -> None:
        """A new definition (an image change the API server allowed). kubelet:
        kuberuntime_manager.go computePodActions kills a running container whose hash changed
        ("Container X definition changed, will be restarted") and starts it again whatever
        the restart policy, at once (the backoff key includes the hash); computeInitContainer-
        Actions does the same for a running sidecar ("Init container X definition changed").
        A container that is not running takes the new definition when it next starts."""
        if container == self.container:
            return
        self.container = container
        self.command = None
        if self.waiting is not None and self.waiting.reason in PULL_REASONS:
            self.wake.set()  # a new image is pulled at the next sync
        s = self.pod.settings
        self.backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        cur = self.current
        running = cur is not None and cur.process is not None and cur.terminated is None
        message = kills.definition_changed(container, init=self.init)
        if self.stopping or not running or message is None:
            return
        self._restart_changed = True
        self.request_kill(KillRequest(message=message, grace=self.pod_grace()))

    def shorten_kill(self, grace: float) -> None:
        """A shorter grace period for a kill under way (a second DELETE with a shorter one):
        it ends within `grace` (at least the minimum) from now, by SIGKILL if need be, as
        the kubelet's kill with the shorter override does (pod_workers.go; kuberuntime
        killContainer)."""
        self.lifecycle.shorten_kill(grace)

    def terminate(self, message: str, grace: float) -> None:
        """No more restarts; stop the running instance, if any, gracefully."""
        self.stopping = True
        self.wake.set()
        if self.current is not None and self.current.terminated is None:
            self.request_kill(KillRequest(message=message, grace=grace))

    # --- the loop --------------------------------------------------------------------------

    async def run(self) -> int | None:
        """Runs until the container will not be started again; returns the last exit code
        (None if it never ran). A sidecar returns only when stopped."""
        try:
            while not self.stopping:
                cur = self.current
                if self._restart_changed and cur is not None and cur.terminated is not None:
                    self._restart_changed = False
                elif cur is not None and cur.terminated is not None:
                    if not self._should_restart(cur.terminated.exit_code):
                        break
                    if not await self.gate.wait_backoff(cur.terminated):
                        break
                before = cur
                if not await self.gate.ensure_image():
                    break
                try:
                    await self._run_instance()
                except Exception:  # supervising one container must not fail the pod
                    await self._instance_failed(before)
        finally:
            self.launched.set()
            await asyncio.shield(self._stop_now())
        cur = self.current
        return cur.terminated.exit_code if cur is not None and cur.terminated else None

    async def run_until_started(self) -> None:
        """For sidecars: returns once the container is running and, if it has a startup
        probe, started (kubelet: computeInitContainerActions)."""
        while not self.started and not self.stopping:
            self.wake.clear()
            await self.wake.wait()

    async def run_until_launched(self) -> None:
        """Returns once the first start has returned: the process spawned and its postStart
        hook finished (or the start or the hook failed, or the container was stopped first).
        kubelet: kuberuntime_manager.go SyncPod starts the containers one at a time, and
        kuberuntime_container.go startContainer runs postStart synchronously (killing the
        container with FailedPostStartHook when it fails) before it returns."""
        await self.launched.wait()

    async def _run_instance(self) -> None:
        if not await self.gate.configure():
            self.launched.set()
            return
        await self.lifecycle.run(self.lifecycle.new_instance())

    async def _instance_failed(self, before: Instance | None) -> None:
        """An unexpected error while the instance ran: it is killed and recorded as exited,
        and the restart policy goes on as for any exit. An error before a new instance
        existed waits one backoff period, so that a fault that repeats cannot spin."""
        self.log.exception("container supervision failed")
        self.event("Failed", "Error: the container's supervision failed", ev.WARNING)
        cur = self.current
        if cur is None or cur is before:
            self.pod.changed()
            self.wake.clear()
            await wait_event(
                self.wake, max(self.backoff.get(), self.pod.settings.backoff_initial, 0.1)
            )
            return
        if cur.terminated is not None:
            return
        if cur.process is None:
            self.lifecycle.start_failed(cur, "the container could not be started")
            return
        await self.lifecycle.kill_now(cur)

    async def _stop_now(self) -> None:
        """On cancellation: nothing may outlive us. Kill at once and reap."""
        cur = self.current
        if cur is None or cur.process is None or cur.terminated is not None:
            return
        await self.lifecycle.kill_now(cur)

    # --- helpers ---------------------------------------------------------------------------

    @property
    def resolved_env(self) -> ResolvedEnv | None:
        """What the current start read from ConfigMaps and Secrets (exec gets the same)."""
        return self.environment.resolved

    @property
    def service_env(self) -> Mapping[str, str]:
        return self.environment.service_env

    def env(self) -> tuple[dict[str, str], dict[str, str]]:
        return self.environment.env(self.container)

    @property
    def cwd(self) -> str | None:
        """The container's workingDir, else its image's (the local file's)."""
        if self.command is not None:
            return self.command.working_dir or None
        return self.container.working_dir or None

    def pod_grace(self) -> float:
        return float(self.pod.pod.spec.termination_grace_period_seconds)

    def event(self, reason: str, message: str, type: str = ev.NORMAL) -> None:
        self.pod.events.record(
            self.pod.pod, reason=reason, message=message, type=type, field_path=self.field_path
        )
