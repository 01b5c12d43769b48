"""One start of a container, from its spawn to its reaped exit.

`InstanceLifecycle` acts for one `ContainerSupervisor` (which keeps the state and decides
when to start): it spawns the process (the one `spawn` call of a container start), runs the
postStart hook, waits for the exit or a kill request, kills the kubelet's way (`Killing`
event, preStop within the grace period, the stop signal to the process group, the rest of
the grace period, SIGKILL: `kuberuntime_container.go killContainer`) and records the exit
with its reason and termination message.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from minikubelet.core import containerstatus as cs
from minikubelet.core import events as ev
from minikubelet.core.expand import expand
from minikubelet.core.images import Command
from minikubelet.core.kills import KillRequest, signal_number
from minikubelet.core.model import Terminated, Waiting
from minikubelet.core.spec import Container
from minikubelet.node import containerlog, lifecyclehooks, limits, termination
from minikubelet.runtime import metrics
from minikubelet.runtime.aio import race, wait_event
from minikubelet.runtime.containertty import ContainerTerminal
from minikubelet.runtime.crilog import log_files, remove_logs
from minikubelet.runtime.mountns import Mount
from minikubelet.runtime.process import ContainerProcess, StartError
from minikubelet.runtime.spawn import MountStartError, spawn

if TYPE_CHECKING:
    from minikubelet.node.supervisor import ContainerSupervisor, PodHandle

MIN_GRACE = 2  # kubelet: minimumGracePeriodInSeconds


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

    def facts(self) -> cs.InstanceFacts:
        """What the container's status needs of it."""
        return cs.InstanceFacts(
            container_id=self.container_id,
            restart_count=self.restart_count,
            started_at=self.started_at,
            running=self.running,
            terminated=self.terminated,
        )


class InstanceLifecycle:
    """Start, postStart, exit or kill, preStop, record the exit: for its supervisor's
    instances, one at a time."""

    def __init__(self, sup: ContainerSupervisor) -> None:
        self.sup = sup
        self._kill_timeout: asyncio.Timeout | None = None  # a kill under way, to shorten

    @property
    def pod(self) -> PodHandle:
        return self.sup.pod

    @property
    def container(self) -> Container:
        return self.sup.container

    def _event(self, reason: str, message: str, type: str = ev.NORMAL) -> None:
        self.sup.event(reason, message, type)

    def new_instance(self) -> Instance:
        """The next start's instance: a new container ID and log file, the restart count
        one up; the older dead instance's logs go, and the probe results and any kill
        request were the previous instance's."""
        sup = self.sup
        prev = sup.current
        count = 0 if prev is None else prev.restart_count + 1
        cid = uuid.uuid4().hex
        path = self.pod.log_dir(self.container.name) / f"{count}.log"
        inst = Instance(container_id=f"minikubelet://{cid}", restart_count=count, log_path=path)
        for gone in sup.instances[:-1]:  # kubelet: container GC keeps one dead instance
            remove_logs(gone.log_path, self.pod.settings.log_max_files)
        sup.instances = [*sup.instances[-1:], inst]
        sup.results = {}
        sup.kill_request = None
        sup.kill_event.clear()
        if count > 0:
            metrics.CONTAINER_RESTARTS.labels(
                self.pod.pod.name, self.pod.pod.namespace, self.container.name
            ).inc()
        return inst

    async def run(self, inst: Instance) -> None:
        """Starts the instance and supervises it until its exit is recorded: its probes and
        its memory limit in a TaskGroup of their own, postStart, then the exit or a kill.
        The supervisor's `launched` is set once the start (postStart included) returned."""
        sup = self.sup
        if not await self.start(inst):
            sup.launched.set()
            return
        async with asyncio.TaskGroup() as tg:
            workers = sup.probing.start_workers(tg, inst)
            if self.container.memory_limit_bytes is not None:
                memory = limits.watch_memory(self.pod, self.container, inst, sup.log)
                workers.append(tg.create_task(memory, name=f"memory:{self.container.name}"))
            try:
                if await lifecyclehooks.post_start(self.sup, inst):
                    inst.running = True
                    sup.wake.set()
                    self.pod.changed()
                    sup.probing.trigger_readiness()
                sup.launched.set()
                await self.wait_exit_or_kill(inst)
            finally:
                for worker in workers:
                    worker.cancel()  # the instance is over: stopping a worker is cancelling it
        sup.probing.workers = {}

    async def start(self, inst: Instance) -> bool:
        """kubelet: kuberuntime_container.go startContainer. Whatever fails here (the log
        file, the environment, the exec) is this container's start error, never the pod's
        or the daemon's: the instance ends as StartError / 128, the container waits with
        RunContainerError, and the restart policy and backoff decide the next try."""
        sup, c = self.sup, self.container
        command = sup.command or Command(c.argv, c.working_dir)
        self._event("Created", f"Created container: {c.name}")
        try:
            env, own = sup.env()
            enter = sup.enter_pid()
            writer = containerlog.open_log(sup, inst)
            terminal = ContainerTerminal() if c.tty else None
            try:
                inst.process = await spawn(
                    [expand(part, own) for part in command.argv],
                    env=env,
                    cwd=command.working_dir or None,
                    writer=writer,
                    stdin=c.stdin and terminal is None,
                    terminal=terminal.slave if terminal is not None else None,
                    mount_dir=str(self.pod.settings.mount_dir),
                    mounts=self._namespace_mounts() if enter is None else (),
                    enter=enter,
                )
            except BaseException:
                if terminal is not None:
                    terminal.close()
                raise
            if terminal is not None:
                inst.process.use_terminal(terminal)
        except MountStartError as e:
            await self.create_failed(inst, str(e))
            return False
        except StartError as e:
            self.start_failed(inst, str(e))
            return False
        except Exception as e:  # a fault of one container's start stays with it
            sup.log.exception("container start failed")
            self.start_failed(inst, f"{type(e).__name__}: {e}")
            return False
        inst.started_at = inst.process.started_at
        limits.limit_cpu(self.pod, c, inst, inst.process.pid)
        sup.waiting = None
        metrics.CONTAINERS_RUNNING.inc()
        self.pod.container_started()
        self._event("Started", f"Started container {c.name}")
        sup.log.info("container started", pid=inst.process.pid, restart_count=inst.restart_count)
        return True

    def _namespace_mounts(self) -> list[Mount]:
        """The current start's mounts, at their mountPath in a mount namespace of the
        container's own, in namespace mode (in host mode the volumes are directories named
        in the container's environment)."""
        if self.pod.settings.volume_mode != "namespace":
            return []
        return list(self.sup.mounts)

    async def create_failed(self, inst: Instance, message: str) -> None:
        """A volume that cannot be mounted: the runtime's CreateContainer fails, so no
        container exists (no instance, no restart counted); the container waits with
        CreateContainerError and the message, and the start is tried again after the backoff
        (kuberuntime_container.go startContainer: `CreateContainer` fails ->
        ErrCreateContainer, kubecontainer.ErrCreateContainer "CreateContainerError")."""
        sup = self.sup
        sup.instances = [i for i in sup.instances if i is not inst]
        with contextlib.suppress(OSError):
            inst.log_path.unlink()
        sup.waiting = Waiting(reason="CreateContainerError", message=message)
        self._event("Failed", f"Error: {message}", ev.WARNING)
        sup.log.warning("container create failed", message=message)
        self.pod.changed()
        sup.backoff = sup.backoff.next(time.time(), time.time())
        sup.wake.clear()
        await wait_event(sup.wake, max(sup.backoff.get(), 0.1))

    def start_failed(self, inst: Instance, message: str) -> None:
        now = time.time()
        inst.terminated = Terminated(
            exit_code=128, reason="StartError", message=message, started_at=now,
            finished_at=now, container_id=inst.container_id,
        )  # fmt: skip
        self.sup.waiting = Waiting(reason="RunContainerError", message=message)
        self._event("Failed", f"Error: {message}", ev.WARNING)
        self.sup.log.warning("container start failed", message=message)
        self.pod.changed()

    async def wait_exit_or_kill(self, inst: Instance) -> None:
        process = inst.process
        assert process is not None
        first, _ = await race(exited=process.wait(), killed=self.sup.kill_event.wait())
        if first == "killed" and self.sup.kill_request is not None:
            await self._kill_instance(inst, self.sup.kill_request)
        info = await process.wait()
        self.record_exit(inst, info.exit_code, info.signal, info.finished_at)

    def shorten_kill(self, grace: float) -> None:
        """See `ContainerSupervisor.shorten_kill`."""
        timeout = self._kill_timeout
        if timeout is None:
            return
        when = asyncio.get_running_loop().time() + max(grace, MIN_GRACE)
        current = timeout.when()
        if current is None or when < current:
            timeout.reschedule(when)

    async def _kill_instance(self, inst: Instance, req: KillRequest) -> None:
        """kubelet: kuberuntime_container.go killContainer."""
        process = inst.process
        assert process is not None
        self._event("Killing", req.message)
        self.sup.log.info("killing container", message=req.message, grace_s=req.grace)
        grace = req.grace
        lc = self.container.lifecycle
        stop_signal = signal_number(lc.stop_signal if lc is not None else None)
        self.sup.tl(
            "kill", message=req.message, grace=grace, signal=signal.Signals(stop_signal).name
        )
        try:
            async with asyncio.timeout(None) as self._kill_timeout:
                if req.run_pre_stop and lc is not None and lc.pre_stop is not None and grace > 0:
                    began = time.monotonic()
                    await lifecyclehooks.pre_stop(
                        self.sup, lc.pre_stop, grace, lifecyclehooks.enter_pid(inst)
                    )
                    grace -= int(time.monotonic() - began)  # whole seconds, as the kubelet
                grace = max(grace, MIN_GRACE)
                if req.reason:
                    process.killed_by_us = req.reason
                info = await process.stop(grace, stop_signal)
                self.sup.tl("killed", signal=_signal_name(info.signal))
        except TimeoutError:  # shortened (shorten_kill) and over
            process.kill()
            await process.wait()
            self.sup.tl("killed", signal="SIGKILL")
        finally:
            self._kill_timeout = None

    def record_exit(self, inst: Instance, exit_code: int, sig: int, finished: float) -> None:
        limits.release_cpu(inst)
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
        self.sup.log.info("container exited", exit_code=exit_code, reason=reason)
        self.sup.wake.set()
        self.pod.changed()

    def _termination_message(self, inst: Instance, exit_code: int) -> str:
        return termination.message(
            self.container,
            log_files(inst.log_path, self.pod.settings.log_max_files),
            exit_code=exit_code,
        )

    async def kill_now(self, inst: Instance) -> None:
        """Kills at once and reaps, recording the exit (nothing may outlive the daemon)."""
        assert inst.process is not None
        inst.process.kill()
        info = await inst.process.wait()
        self.record_exit(inst, info.exit_code, info.signal, info.finished_at)


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig) if sig else ""
