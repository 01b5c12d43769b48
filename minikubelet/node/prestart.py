"""What a container start waits for, each wait with its waiting reason: the crash-loop
back-off after an exit (CrashLoopBackOff), the image's local command (ErrImagePull,
ImagePullBackOff), the environment's ConfigMaps and Secrets (CreateContainerConfigError).
Every wait is cut short by the supervisor's wake event (a stop, a new definition).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from minikubelet.core import envsources
from minikubelet.core import events as ev
from minikubelet.core.images import Command, resolve
from minikubelet.core.model import Terminated, Waiting
from minikubelet.core.restart import back_off, backoff_event_message, crash_loop_message
from minikubelet.node.mounts import MountError
from minikubelet.runtime.aio import wait_event

if TYPE_CHECKING:
    from minikubelet.node.supervisor import ContainerSupervisor


class StartGate:
    """The waits before each start of the supervisor's container."""

    def __init__(self, sup: ContainerSupervisor) -> None:
        self.sup = sup

    async def wait_backoff(self, last: Terminated) -> bool:
        """kubelet: kuberuntime_manager.go doBackOff. False if stopped while waiting."""
        sup = self.sup
        finished = last.finished_at or time.time()
        wait = back_off(sup.backoff, finished, time.time())
        if wait is not None:
            delay = sup.backoff.get()
            full_name = sup.pod.pod.full_name
            sup.waiting = Waiting(
                reason="CrashLoopBackOff",
                message=crash_loop_message(
                    delay=delay, container=sup.container.name, pod_full_name=full_name
                ),
            )
            sup.event("BackOff", backoff_event_message(sup.container.name, full_name), ev.WARNING)
            sup.pod.changed()
            sup.wake.clear()
            sup.tl("backoff", delay=delay, remaining=wait)
            await wait_event(sup.wake, wait)
            if sup.stopping:
                return False
        sup.backoff = sup.backoff.next(finished, time.time())
        return True

    async def ensure_image(self) -> bool:
        """The image's local command (`core.images.resolve`); an image without one waits as
        one that cannot be pulled. False if stopped while waiting."""
        sup = self.sup
        while not sup.stopping:
            resolved = resolve(sup.container, sup.pod.settings.images)
            if isinstance(resolved, Command):
                sup.command = resolved
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
        sup = self.sup
        image = sup.container.image
        sup.event("Pulling", f'Pulling image "{image}"')
        sup.event("Failed", f'Failed to pull image "{image}": {message}', ev.WARNING)
        sup.event("Failed", "Error: ErrImagePull", ev.WARNING)
        sup.log.warning("no local command for the image", image=image)
        now = time.time()
        sup.pull_backoff = sup.pull_backoff.next(now, now)
        delay = sup.pull_backoff.get()
        sup.waiting = Waiting(reason="ErrImagePull", message=message)
        sup.launched.set()
        sup.pod.changed()
        if not await self._pause(delay / 2):
            return
        back = f'Back-off pulling image "{image}"'
        sup.event("BackOff", back)
        sup.event("Failed", "Error: ImagePullBackOff", ev.WARNING)
        sup.waiting = Waiting(reason="ImagePullBackOff", message=f"{back}: ErrImagePull: {message}")
        sup.pod.changed()
        await self._pause(delay - delay / 2)

    async def _pause(self, seconds: float) -> bool:
        """Sleeps, cut short by a stop or a new definition; False if cut short."""
        sup = self.sup
        sup.wake.clear()
        if await wait_event(sup.wake, seconds):
            return False
        return not sup.stopping

    async def configure(self) -> bool:
        """The values of the container's ConfigMap and Secret references, read now (a later
        edit reaches the next start). A missing object or key leaves the container waiting
        with CreateContainerConfigError and the kubelet's message, and the start is tried
        again after the backoff (kuberuntime_container.go startContainer:
        generateContainerConfig fails before the container is created); False then."""
        sup = self.sup
        try:
            invalid = sup.environment.read(sup.container)
        except envsources.EnvConfigError as e:
            await self._not_created("CreateContainerConfigError", str(e))
            return False
        for text in invalid:
            sup.pod.events.record(sup.pod.pod, reason="InvalidEnvironmentVariableNames",
                                  message=text, type=ev.WARNING)  # fmt: skip
        return await self._mount()

    async def _mount(self) -> bool:
        """The container's mounts over its pod's volumes (node/mounts.py container_mounts);
        one that cannot be made leaves it waiting (CreateContainerConfigError where the
        kubelet's makeMounts fails, CreateContainerError where the runtime's mount would),
        tried again after the backoff; False then. In host mode the container gets
        MINIKUBELET_VOLUME_<NAME> for each volume; in namespace mode each mount is at its
        mountPath (runtime/mountns.py)."""
        sup = self.sup
        volumes = sup.pod.volumes
        if volumes is None or not sup.container.volume_mounts:
            sup.environment.volume_env, sup.mounts = {}, []
            return True
        host = sup.pod.settings.volume_mode != "namespace"
        sup.environment.volume_env = volumes.env(sup.container) if host else {}
        _env, own = sup.env()
        try:
            sup.mounts = await volumes.mounts(sup.container, own)
        except MountError as e:
            await self._not_created(e.reason, str(e))
            return False
        if host:
            volumes.warn_host_mode(sup.container, sup.mounts)
        return True

    async def _not_created(self, reason: str, message: str) -> None:
        """kuberuntime_container.go startContainer: the container is not created; it waits
        with `reason`, a `Failed` event says `Error: <message>`, and the start is tried again
        after the backoff."""
        sup = self.sup
        sup.waiting = Waiting(reason=reason, message=message)
        sup.event("Failed", f"Error: {message}", ev.WARNING)
        sup.log.warning("container not created", reason=reason, message=message)
        sup.pod.changed()
        sup.backoff = sup.backoff.next(time.time(), time.time())
        sup.wake.clear()
        await wait_event(sup.wake, max(sup.backoff.get(), 0.1))
