"""One container's life: backoff wait, start, postStart, probes, exit or kill, restart decision.

A `ContainerSupervisor` is the only writer of its container's instances, waiting reason and
probe results, and `status()` turns them into the API's ContainerStatus. What to do next is
asked of the pure core (`restart.should_restart`, `Backoff`); this module only acts.

Kills come from outside through `request_kill()` (a liveness or startup failure, pod deletion,
the active deadline, a memory limit) and always go the kubelet's way: `Killing` event, preStop
within the grace period, the stop signal to the process group, the rest of the grace period,
SIGKILL (`kuberuntime_container.go: killContainer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

import structlog

from minikubelet.core import containerstatus as cs
from minikubelet.core import envsources, envvars
from minikubelet.core import events as ev
from minikubelet.core.envsources import Lookup, ResolvedEnv
from minikubelet.core.events import EventRecorder
from minikubelet.core.expand import expand
from minikubelet.core.images import Command, resolve
from minikubelet.core.model import ContainerStatus, Phase, Terminated, Waiting
from minikubelet.core.restart import (
    Backoff,
    back_off,
    backoff_event_message,
    crash_loop_message,
)
from minikubelet.core.settings import Settings
from minikubelet.core.spec import (
    Container,
    Handler,
    HTTPGetAction,
    Pod,
    Probe,
    ProbeType,
    RestartPolicy,
)
from minikubelet.node import termination
from minikubelet.node.mounts import Mount, MountError
from minikubelet.node.timeline import Recorder
from minikubelet.node.volumes import PodVolumes
from minikubelet.probe import hooks
from minikubelet.probe.goclient import go_errno
from minikubelet.probe.handlers import ProbeOutcome, run_probe
from minikubelet.probe.worker import ContainerView, ProbeWorker, Result
from minikubelet.runtime import memwatch, metrics
from minikubelet.runtime.aio import race, wait_event
from minikubelet.runtime.cgroups import CpuLimiter
from minikubelet.runtime.crilog import LogWriter, log_files, remove_logs
from minikubelet.runtime.process import (
    ContainerProcess,
    StartError,
    container_env,
    spawn,
)

log = structlog.get_logger("minikubelet.supervisor")

MIN_GRACE = 2  # kubelet: minimumGracePeriodInSeconds
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

    def log_dir(self, container: str) -> Path: ...


@dataclass(slots=True)
class Instance:
    """One start of the container: a new container ID each time."""

    container_id: str
    restart_count: int
    log_path: Path
    process: ContainerProcess | None = None
    started_at: float | None = None
    running: bool = False  # started and its postStart hook returned
    terminated: Terminated | None = None
    cgroup: Path | None = None  # its own cgroup v2, for a CPU limit


@dataclass(frozen=True, slots=True)
class KillRequest:
    message: str  # the Killing event's message
    grace: float
    reason: str = ""  # a terminated reason to report instead of the exit's (OOMKilled)
    run_pre_stop: bool = True


def signal_number(name: str | None) -> int:
    if not name:
        return int(signal.SIGTERM)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        return int(signal.SIGTERM)


class ContainerSupervisor:
    def __init__(self, pod: PodHandle, container: Container, *, init: bool = False) -> None:
        self.pod = pod
        self.container = container
        self.init = init
        self.field_path = ev.container_field_path(container.name, init=init)
        self.instances: list[Instance] = []  # the newest two
        self.waiting: Waiting | None = None  # kubelet's reasonCache entry
        s = pod.settings
        self.backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        # kubelet: images/image_manager.go, the pull backoff (10 s doubling to 300 s)
        self.pull_backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        self._command: Command | None = None  # what the image runs, once resolved
        self.results: dict[ProbeType, Result] = {}
        self.stopping = False  # terminating: no more restarts
        self._restart_changed = False  # killed for a new definition: start again at once
        self._kill: KillRequest | None = None
        self._kill_event = asyncio.Event()
        self._kill_timeout: asyncio.Timeout | None = None  # a kill under way, to shorten
        self._wake = asyncio.Event()
        self._launched = asyncio.Event()  # the first start returned (postStart included)
        self._workers: dict[ProbeType, ProbeWorker] = {}
        self._resolved: ResolvedEnv | None = None  # what the current start read
        self._service_env: dict[str, str] = {}  # the Services' variables at the current start
        self.volume_env: dict[str, str] = {}  # MINIKUBELET_VOLUME_* (host mode)
        self.mounts: list[Mount] = []  # what the current start mounts
        self._log = log.bind(pod=f"{pod.pod.namespace}/{pod.pod.name}", container=container.name)
        key = f"{pod.pod.namespace}/{pod.pod.name}"
        self._tl = functools.partial(pod.timeline.record, key, container=container.name)

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
        if cur is None or cur.terminated is None:
            return True
        if self._restart_changed:
            return not self.stopping
        return not self.stopping and self._should_restart(cur.terminated.exit_code)

    def _should_restart(self, exit_code: int) -> bool:
        return cs.restarts(
            self.container,
            init=self.init,
            policy=self.pod.pod.spec.restart_policy,
            exit_code=exit_code,
            deleting=self.pod.deleting,
        )

    def status(self, *, pod_has_init: bool) -> ContainerStatus:
        cur = self.current
        facts = None
        if cur is not None:
            facts = cs.InstanceFacts(
                container_id=cur.container_id,
                restart_count=cur.restart_count,
                started_at=cur.started_at,
                running=cur.running,
                terminated=cur.terminated,
            )
        return cs.container_status(
            self.container,
            current=facts,
            previous=self.instances[-2].terminated if len(self.instances) > 1 else None,
            waiting=self.waiting,
            ready=self.ready,
            started=self.started,
            will_restart=self.will_restart,
            pod_has_init=pod_has_init,
        )

    # --- control, from the pod -----------------------------------------------------------

    def request_kill(self, request: KillRequest) -> None:
        if self._kill is None:
            self._kill = request
        self._kill_event.set()

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
        self._command = None
        if self.waiting is not None and self.waiting.reason in PULL_REASONS:
            self._wake.set()  # a new image is pulled at the next sync
        s = self.pod.settings
        self.backoff = Backoff(initial=s.backoff_initial, max=s.backoff_max)
        cur = self.current
        running = cur is not None and cur.process is not None and cur.terminated is None
        if self.stopping or not running or (self.init and not container.is_sidecar):
            return
        message = f"Container {container.name} definition changed, will be restarted"
        if self.init:
            message = f"Init container {container.name} definition changed"
        self._restart_changed = True
        self.request_kill(KillRequest(message=message, grace=self._pod_grace()))

    def shorten_kill(self, grace: float) -> None:
        """A shorter grace period for a kill under way (a second DELETE with a shorter one):
        it ends within `grace` (at least the minimum) from now, by SIGKILL if need be, as
        the kubelet's kill with the shorter override does (pod_workers.go; kuberuntime
        killContainer)."""
        timeout = self._kill_timeout
        if timeout is None:
            return
        when = asyncio.get_running_loop().time() + max(grace, MIN_GRACE)
        current = timeout.when()
        if current is None or when < current:
            timeout.reschedule(when)

    def terminate(self, message: str, grace: float) -> None:
        """No more restarts; stop the running instance, if any, gracefully."""
        self.stopping = True
        self._wake.set()
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
                    if not await self._wait_backoff(cur.terminated):
                        break
                before = cur
                if not await self._ensure_image():
                    break
                try:
                    await self._run_instance()
                except Exception:  # supervising one container must not fail the pod
                    await self._instance_failed(before)
        finally:
            self._launched.set()
            await asyncio.shield(self._stop_now())
        cur = self.current
        return cur.terminated.exit_code if cur is not None and cur.terminated else None

    async def run_until_started(self) -> None:
        """For sidecars: returns once the container is running and, if it has a startup
        probe, started (kubelet: computeInitContainerActions)."""
        while not self.started and not self.stopping:
            self._wake.clear()
            await self._wake.wait()

    async def run_until_launched(self) -> None:
        """Returns once the first start has returned: the process spawned and its postStart
        hook finished (or the start or the hook failed, or the container was stopped first).
        kubelet: kuberuntime_manager.go SyncPod starts the containers one at a time, and
        kuberuntime_container.go startContainer runs postStart synchronously (killing the
        container with FailedPostStartHook when it fails) before it returns."""
        await self._launched.wait()

    async def _wait_backoff(self, last: Terminated) -> bool:
        """kubelet: kuberuntime_manager.go doBackOff. False if stopped while waiting."""
        finished = last.finished_at or time.time()
        wait = back_off(self.backoff, finished, time.time())
        if wait is not None:
            delay = self.backoff.get()
            full_name = self.pod.pod.full_name
            self.waiting = Waiting(
                reason="CrashLoopBackOff",
                message=crash_loop_message(
                    delay=delay, container=self.container.name, pod_full_name=full_name
                ),
            )
            self._event(
                "BackOff", backoff_event_message(self.container.name, full_name), ev.WARNING
            )
            self.pod.changed()
            self._wake.clear()
            self._tl("backoff", delay=delay, remaining=wait)
            await wait_event(self._wake, wait)
            if self.stopping:
                return False
        self.backoff = self.backoff.next(finished, time.time())
        return True

    async def _ensure_image(self) -> bool:
        """The image's local command (`core.images.resolve`); an image without one waits as
        one that cannot be pulled. False if stopped while waiting."""
        while not self.stopping:
            resolved = resolve(self.container, self.pod.settings.images)
            if isinstance(resolved, Command):
                self._command = resolved
                return True
            await self._pull_failed(resolved.message)
        return False

    async def _pull_failed(self, message: str) -> None:
        """kubelet: images/image_manager.go EnsureImageExists and kuberuntime_container.go
        startContainer: `Pulling`, `Failed to pull image`, `Error: ErrImagePull`; the pull
        backoff opens (`backOff.Next`). A sync inside the window gives `BackOff` (`Back-off
        pulling image`) and `Error: ImagePullBackOff`, the waiting message wrapping the last
        pull error; once it closes, the pull is tried again. The pod worker's resync after an
        error is taken as half the window. The pod's other containers go on starting."""
        image = self.container.image
        self._event("Pulling", f'Pulling image "{image}"')
        self._event("Failed", f'Failed to pull image "{image}": {message}', ev.WARNING)
        self._event("Failed", "Error: ErrImagePull", ev.WARNING)
        self._log.warning("no local command for the image", image=image)
        now = time.time()
        self.pull_backoff = self.pull_backoff.next(now, now)
        delay = self.pull_backoff.get()
        self.waiting = Waiting(reason="ErrImagePull", message=message)
        self._launched.set()
        self.pod.changed()
        if not await self._pause(delay / 2):
            return
        back = f'Back-off pulling image "{image}"'
        self._event("BackOff", back)
        self._event("Failed", "Error: ImagePullBackOff", ev.WARNING)
        self.waiting = Waiting(
            reason="ImagePullBackOff", message=f"{back}: ErrImagePull: {message}"
        )
        self.pod.changed()
        await self._pause(delay - delay / 2)

    async def _pause(self, seconds: float) -> bool:
        """Sleeps, cut short by a stop or a new definition; False if cut short."""
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return not self.stopping
        return False

    async def _run_instance(self) -> None:
        if not await self._configure():
            self._launched.set()
            return
        inst = self._new_instance()
        if not await self._start(inst):
            self._launched.set()
            return
        stop_probes = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            self._start_workers(tg, inst, stop_probes)
            if self.container.memory_limit_bytes is not None:
                tg.create_task(
                    self._watch_memory(inst, stop_probes), name=f"memory:{self.container.name}"
                )
            try:
                if await self._post_start(inst):
                    inst.running = True
                    self._wake.set()
                    self.pod.changed()
                    self._trigger_readiness()
                self._launched.set()
                await self._wait_exit_or_kill(inst)
            finally:
                stop_probes.set()
        self._workers = {}

    async def _instance_failed(self, before: Instance | None) -> None:
        """An unexpected error while the instance ran: it is killed and recorded as exited,
        and the restart policy goes on as for any exit. An error before a new instance
        existed waits one backoff period, so that a fault that repeats cannot spin."""
        self._log.exception("container supervision failed")
        self._event("Failed", "Error: the container's supervision failed", ev.WARNING)
        cur = self.current
        if cur is None or cur is before:
            self.pod.changed()
            self._wake.clear()
            await wait_event(
                self._wake, max(self.backoff.get(), self.pod.settings.backoff_initial, 0.1)
            )
            return
        if cur.terminated is not None:
            return
        if cur.process is None:
            self._start_failed(cur, "the container could not be started")
            return
        cur.process.kill()
        info = await cur.process.wait()
        self._record_exit(cur, info.exit_code, info.signal, info.finished_at)

    @property
    def resolved_env(self) -> ResolvedEnv | None:
        """What the current start read from ConfigMaps and Secrets (exec gets the same)."""
        return self._resolved

    async def _configure(self) -> bool:
        """The values of the container's ConfigMap and Secret references, read now (a later
        edit reaches the next start). A missing object or key leaves the container waiting
        with CreateContainerConfigError and the kubelet's message, and the start is tried
        again after the backoff (kuberuntime_container.go startContainer:
        generateContainerConfig fails before the container is created); False then."""
        self._service_env = self._services_env()
        lookup = self.pod.config_lookup
        if lookup is None or not (self.container.env_from or any(
            v.config_map_key_ref or v.secret_key_ref for v in self.container.env
        )):  # fmt: skip
            self._resolved = None
            return await self._mount()
        try:
            self._resolved = envsources.resolve(self.container, self.pod.pod.namespace, lookup)
        except envsources.EnvConfigError as e:
            await self._create_failed("CreateContainerConfigError", str(e))
            return False
        for text in self._resolved.invalid:
            self.pod.events.record(self.pod.pod, reason="InvalidEnvironmentVariableNames",
                                   message=text, type=ev.WARNING)  # fmt: skip
        return await self._mount()

    async def _mount(self) -> bool:
        """The container's mounts over its pod's volumes (node/volumes.py container_mounts);
        one that cannot be made leaves it waiting (CreateContainerConfigError where the
        kubelet's makeMounts fails, CreateContainerError where the runtime's mount would),
        tried again after the backoff; False then. Without a mount namespace (host mode, the
        only one here yet) the container gets MINIKUBELET_VOLUME_<NAME> for each volume."""
        volumes = self.pod.volumes
        if volumes is None or not self.container.volume_mounts:
            self.volume_env, self.mounts = {}, []
            return True
        self.volume_env = volumes.env(self.container)
        _env, own = self._env()
        try:
            self.mounts = await volumes.mounts(self.container, own)
        except MountError as e:
            await self._create_failed(e.reason, str(e))
            return False
        volumes.warn_host_mode(self.container, self.mounts)
        return True

    async def _create_failed(self, reason: str, message: str) -> None:
        """kuberuntime_container.go startContainer: the container is not created; it waits
        with `reason`, a `Failed` event says `Error: <message>`, and the start is tried again
        after the backoff."""
        self.waiting = Waiting(reason=reason, message=message)
        self._event("Failed", f"Error: {message}", ev.WARNING)
        self._log.warning("container not created", reason=reason, message=message)
        self.pod.changed()
        self.backoff = self.backoff.next(time.time(), time.time())
        delay = max(self.backoff.get(), 0.1)
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()

    def _new_instance(self) -> Instance:
        prev = self.current
        count = 0 if prev is None else prev.restart_count + 1
        cid = uuid.uuid4().hex
        path = self.pod.log_dir(self.container.name) / f"{count}.log"
        inst = Instance(container_id=f"minikubelet://{cid}", restart_count=count, log_path=path)
        for gone in self.instances[:-1]:  # kubelet: container GC keeps one dead instance
            remove_logs(gone.log_path, self.pod.settings.log_max_files)
        self.instances = [*self.instances[-1:], inst]
        self.results = {}
        self._kill = None
        self._kill_event.clear()
        if count > 0:
            metrics.CONTAINER_RESTARTS.labels(
                self.pod.pod.name, self.pod.pod.namespace, self.container.name
            ).inc()
        return inst

    async def _start(self, inst: Instance) -> bool:
        """kubelet: kuberuntime_container.go startContainer. Whatever fails here (the log
        file, the environment, the exec) is this container's start error, never the pod's
        or the daemon's: the instance ends as StartError / 128, the container waits with
        RunContainerError, and the restart policy and backoff decide the next try."""
        c = self.container
        command = self._command or Command(c.argv, c.working_dir)
        self._event("Created", f"Created container: {c.name}")
        try:
            env, own = self._env()
            writer = self._open_log(inst)
            inst.process = await spawn(
                [expand(part, own) for part in command.argv],
                env=env,
                cwd=command.working_dir or None,
                writer=writer,
                stdin=c.stdin,
            )
        except StartError as e:
            self._start_failed(inst, str(e))
            return False
        except Exception as e:  # a fault of one container's start stays with it
            self._log.exception("container start failed")
            self._start_failed(inst, f"{type(e).__name__}: {e}")
            return False
        inst.started_at = inst.process.started_at
        self._limit_cpu(inst, inst.process.pid)
        self.waiting = None
        metrics.CONTAINERS_RUNNING.inc()
        self._event("Started", f"Started container {c.name}")
        self._log.info("container started", pid=inst.process.pid, restart_count=inst.restart_count)
        return True

    def _open_log(self, inst: Instance) -> LogWriter:
        """containerd opens the container's log file when it starts the task (cri
        container_start.go createContainerLoggers); failing that fails the start."""
        s = self.pod.settings
        try:
            return LogWriter(
                inst.log_path,
                max_bytes=s.log_max_bytes,
                max_files=s.log_max_files,
                echo=self._echo,
                on_loss=functools.partial(self._log_lost, inst),
                on_loss_end=functools.partial(self._log_loss_ended, inst),
            )
        except OSError as e:
            op = "open" if e.filename in (None, str(inst.log_path)) else "mkdir"
            where = e.filename or inst.log_path
            raise StartError(
                "failed to create container loggers: failed to create and open log file: "
                f"{op} {where}: {go_errno(e)}"
            ) from e

    def _start_failed(self, inst: Instance, message: str) -> None:
        now = time.time()
        inst.terminated = Terminated(
            exit_code=128, reason="StartError", message=message, started_at=now,
            finished_at=now, container_id=inst.container_id,
        )  # fmt: skip
        self.waiting = Waiting(reason="RunContainerError", message=message)
        self._event("Failed", f"Error: {message}", ev.WARNING)
        self._log.warning("container start failed", message=message)
        self.pod.changed()

    def _log_lost(self, inst: Instance, lines: int, error: str, first: bool) -> None:
        """Counted always; said once per run of failed writes (disk full, read-only)."""
        p = self.pod.pod
        metrics.LOG_LINES_DROPPED.labels(p.name, p.namespace, self.container.name).inc(lines)
        if not first:
            return
        self._event(
            "LogLinesDropped",
            f"Cannot write the log of container {self.container.name} ({error}): its output "
            "is dropped until a write succeeds again",
            ev.WARNING,
        )
        self._log.warning("container log lines dropped", path=str(inst.log_path), error=error)

    def _log_loss_ended(self, inst: Instance, lines: int) -> None:
        self._log.info("container log lines were dropped", path=str(inst.log_path), lines=lines)

    async def _post_start(self, inst: Instance) -> bool:
        """kubelet: startContainer runs postStart synchronously; on failure the container is
        killed and waits with PostStartHookError."""
        lc = self.container.lifecycle
        if lc is None or lc.post_start is None:
            return True
        env, _own = self._env()
        assert inst.process is not None
        # a kill (pod deletion, daemon shutdown) must not wait for a hook that never returns
        first, error = await race(
            hook=self._hook_span(
                "postStart",
                hooks.run_hook(
                    lc.post_start,
                    pod=self.pod.pod,
                    container=self.container,
                    env=env,
                    cwd=self.cwd,
                ),
            ),
            exited=inst.process.wait(),
            killed=self._kill_event.wait(),
        )
        if first != "hook":
            return False
        if error is None:
            return True
        self._event("FailedPostStartHook", "PostStartHook failed", ev.WARNING)
        self._log.warning("postStart hook failed", message=error)
        self.waiting = Waiting(reason="PostStartHookError", message=error)
        self.request_kill(
            KillRequest(message="FailedPostStartHook", grace=self._pod_grace(), run_pre_stop=True)
        )
        return False

    async def _wait_exit_or_kill(self, inst: Instance) -> None:
        process = inst.process
        assert process is not None
        first, _ = await race(exited=process.wait(), killed=self._kill_event.wait())
        if first == "killed" and self._kill is not None:
            await self._kill_instance(inst, self._kill)
        info = await process.wait()
        self._record_exit(inst, info.exit_code, info.signal, info.finished_at)

    async def _kill_instance(self, inst: Instance, req: KillRequest) -> None:
        """kubelet: kuberuntime_container.go killContainer."""
        process = inst.process
        assert process is not None
        self._event("Killing", req.message)
        self._log.info("killing container", message=req.message, grace_s=req.grace)
        grace = req.grace
        lc = self.container.lifecycle
        stop_signal = signal_number(lc.stop_signal if lc is not None else None)
        self._tl("kill", message=req.message, grace=grace, signal=signal.Signals(stop_signal).name)
        try:
            async with asyncio.timeout(None) as self._kill_timeout:
                if req.run_pre_stop and lc is not None and lc.pre_stop is not None and grace > 0:
                    began = time.monotonic()
                    await self._pre_stop(lc.pre_stop, grace)
                    grace -= int(time.monotonic() - began)  # whole seconds, as the kubelet
                grace = max(grace, MIN_GRACE)
                if req.reason:
                    process.killed_by_us = req.reason
                info = await process.stop(grace, stop_signal)
                self._tl("killed", signal=_signal_name(info.signal))
        except TimeoutError:  # shortened (shorten_kill) and over
            process.kill()
            await process.wait()
            self._tl("killed", signal="SIGKILL")
        finally:
            self._kill_timeout = None

    async def _pre_stop(self, handler: Handler, grace: float) -> None:
        env, _own = self._env()
        error: str | None = None
        try:
            async with asyncio.timeout(grace):
                error = await self._hook_span(
                    "preStop",
                    hooks.run_hook(
                        handler,
                        pod=self.pod.pod,
                        container=self.container,
                        env=env,
                        cwd=self.cwd,
                    ),
                )
        except TimeoutError:
            return
        if error is not None:
            self._event("FailedPreStopHook", "PreStopHook failed", ev.WARNING)
            self._log.warning("preStop hook failed", message=error)

    async def _hook_span(self, name: str, hook: Awaitable[str | None]) -> str | None:
        """Runs a hook, recording its span (and its error) in the pod's timeline."""
        began, error = time.time(), cast(str | None, "did not finish")
        try:
            error = await hook
            return error
        finally:
            self._tl("hook", hook=name, began=began, seconds=time.time() - began, error=error)

    def _limit_cpu(self, inst: Instance, pid: int) -> None:
        limiter, cpu = self.pod.cpu_limiter, self.container.resources.limits.get("cpu")
        if limiter is not None and cpu is not None and cpu.value > 0:
            name = f"{self.pod.pod.uid}-{self.container.name}-{inst.restart_count}"
            inst.cgroup = limiter.limit(name, pid, cpu.value)

    def _record_exit(self, inst: Instance, exit_code: int, sig: int, finished: float) -> None:
        if inst.cgroup is not None:
            CpuLimiter.release(inst.cgroup)
            inst.cgroup = None
        process = inst.process
        killed_by = process.killed_by_us if process is not None else None
        reason, exit_code = cs.exit_reason(exit_code, killed_by=killed_by)
        inst.running = False
        inst.terminated = Terminated(
            exit_code=exit_code,
            reason=reason,
            message=self._termination_message(inst, exit_code),
            signal=sig,
            started_at=inst.started_at,
            finished_at=finished,
            container_id=inst.container_id,
        )
        metrics.CONTAINERS_RUNNING.dec()
        self._log.info("container exited", exit_code=exit_code, reason=reason)
        self._wake.set()
        self.pod.changed()

    def _termination_message(self, inst: Instance, exit_code: int) -> str:
        return termination.message(
            self.container,
            log_files(inst.log_path, self.pod.settings.log_max_files),
            exit_code=exit_code,
        )

    async def _stop_now(self) -> None:
        """On cancellation: nothing may outlive us. Kill at once and reap."""
        cur = self.current
        if cur is None or cur.process is None or cur.terminated is not None:
            return
        cur.process.kill()
        info = await cur.process.wait()
        self._record_exit(cur, info.exit_code, info.signal, info.finished_at)

    # --- probes --------------------------------------------------------------------------

    def _start_workers(self, tg: asyncio.TaskGroup, inst: Instance, stop: asyncio.Event) -> None:
        # kubelet: prober_manager.go AddPod creates startup, readiness, liveness in this order
        for ptype in (ProbeType.STARTUP, ProbeType.READINESS, ProbeType.LIVENESS):
            probe = self.container.probe(ptype)
            if probe is None:
                continue
            worker = ProbeWorker(
                pod=self.pod.pod,
                container=self.container,
                probe_type=ptype,
                run=self._probe_runner(probe),
                view=functools.partial(self._view, inst),
                on_result=self._on_result,
                on_probe=functools.partial(self._tl, "probe"),
                record_event=self._probe_event,
                daemon_started_at=self.pod.settings.daemon_started_at,
            )
            self._workers[ptype] = worker
            name = f"probe:{self.pod.pod.name}/{self.container.name}/{ptype.lower()}"
            tg.create_task(worker.run(stop), name=name)

    def _probe_runner(self, probe: Probe) -> Callable[[], Awaitable[ProbeOutcome]]:
        env, _own = self._env()
        cwd = self.cwd

        async def run() -> ProbeOutcome:
            return await run_probe(probe, container=self.container, env=env, cwd=cwd)

        return run

    def _view(self, inst: Instance) -> ContainerView:
        return ContainerView(
            pod_phase=self.pod.phase,
            deleting=self.pod.deleting,
            restart_policy=self.pod.pod.spec.restart_policy,
            is_sidecar=self.container.is_sidecar,
            container_id=inst.container_id,
            running=inst.running and inst.terminated is None,
            terminated=inst.terminated is not None,
            started_at=inst.started_at,
            started=self.started if inst is self.current else False,
        )

    def _on_result(self, ptype: ProbeType, container_id: str, result: Result) -> None:
        cur = self.current
        if cur is None or cur.container_id != container_id:
            return
        if self.results.get(ptype) == result:
            return
        self.results[ptype] = result
        if ptype == ProbeType.STARTUP and result == Result.SUCCESS:
            self._trigger_readiness()
            self._wake.set()
        if result == Result.FAILURE and ptype in (ProbeType.LIVENESS, ProbeType.STARTUP):
            self._kill_for_probe(ptype)
        self.pod.changed()

    def _kill_for_probe(self, ptype: ProbeType) -> None:
        """kubelet: computePodActions; the message becomes the Killing event."""
        what = "Init container" if self.init else "Container"
        kind = "liveness" if ptype == ProbeType.LIVENESS else "startup"
        message = f"{what} {self.container.name} failed {kind} probe"
        if self.container.is_sidecar or self.pod.pod.spec.restart_policy != RestartPolicy.NEVER:
            message += ", will be restarted"
        probe = self.container.probe(ptype)
        grace: float = self._pod_grace()
        if probe is not None and probe.termination_grace_period_seconds is not None:
            grace = probe.termination_grace_period_seconds  # kubelet: setTerminationGracePeriod
        self.request_kill(KillRequest(message=message, grace=grace))

    def _trigger_readiness(self) -> None:
        worker = self._workers.get(ProbeType.READINESS)
        if worker is not None and self.results.get(ProbeType.READINESS) != Result.SUCCESS:
            worker.trigger()

    def _probe_event(self, *, reason: str, message: str, type: str = ev.WARNING) -> None:
        self._event(reason, message, type)

    # --- memory limit ----------------------------------------------------------------------

    async def _watch_memory(self, inst: Instance, stop: asyncio.Event) -> None:
        """A local stand-in for the cgroup OOM killer: the resident set of the process tree
        is summed on the daemon's one memory timer (`memwatch`: cheap statm reads of a pid
        set refreshed every half second, no tree walk per tick) and the group is SIGKILLed
        past the limit, reported as OOMKilled / 137."""
        limit = self.container.memory_limit_bytes
        process = inst.process
        if limit is None or process is None or process.exited:
            return
        watch = memwatch.for_loop(self.pod.settings.memory_poll_interval)
        exceeded = asyncio.Event()

        def on_exceeded(rss: int) -> None:
            self._log.warning("memory limit exceeded", limit_bytes=limit, rss_bytes=rss)
            process.kill("OOMKilled")
            exceeded.set()

        key = watch.watch(process.pid, limit, on_exceeded)
        try:
            waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(exceeded.wait())]
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        finally:
            watch.unwatch(key)

    # --- helpers ---------------------------------------------------------------------------

    def _services_env(self) -> dict[str, str]:
        """The daemon's `kubernetes` variables and the stored Services' (core/envvars.py)."""
        services = self.pod.service_lookup() if self.pod.service_lookup is not None else []
        pod = self.pod.pod
        links = pod.manifest.get("spec", {}).get("enableServiceLinks") is not False
        return {**self.pod.settings.service_env, **envvars.for_pod(pod.namespace, links, services)}

    @property
    def service_env(self) -> Mapping[str, str]:
        return self._service_env or self.pod.settings.service_env

    def _env(self) -> tuple[dict[str, str], dict[str, str]]:
        s = self.pod.settings
        return container_env(
            self.pod.pod,
            self.container,
            base=s.base_env,
            service_env=self.service_env,
            resolved=self._resolved,
            volume_env=self.volume_env,
        )

    @property
    def cwd(self) -> str | None:
        """The container's workingDir, else its image's (the local file's)."""
        if self._command is not None:
            return self._command.working_dir or None
        return self.container.working_dir or None

    def _pod_grace(self) -> float:
        return float(self.pod.pod.spec.termination_grace_period_seconds)

    def _event(self, reason: str, message: str, type: str = ev.NORMAL) -> None:
        self.pod.events.record(
            self.pod.pod, reason=reason, message=message, type=type, field_path=self.field_path
        )

    def _echo(self, stream: str, line: bytes) -> None:
        if self.pod.settings.echo_logs:
            text = line.decode("utf-8", "replace")
            if not self.pod.settings.echo_probe_logs and _is_probe_request(self.container, text):
                return  # a probe's access-log line: in the container's log, not the console
            with contextlib.suppress(OSError, ValueError):  # a closed or full console
                print(f"[{self.pod.pod.name}/{self.container.name}] {text}", flush=False)


def probe_request_markers(container: Container) -> tuple[str, ...]:
    """What an access-log line of one of the container's HTTP probes holds: `GET /path `."""
    found = []
    for ptype in (ProbeType.STARTUP, ProbeType.READINESS, ProbeType.LIVENESS):
        probe = container.probe(ptype)
        action = probe.handler if probe is not None else None
        if isinstance(action, HTTPGetAction):
            found.append(f"GET {action.path or '/'} ")
    return tuple(dict.fromkeys(found))


def _is_probe_request(container: Container, text: str) -> bool:
    return any(marker in text for marker in probe_request_markers(container))


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig) if sig else ""
