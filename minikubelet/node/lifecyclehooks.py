"""A container instance's lifecycle hooks as its start and its kill run them: postStart
right after the spawn, raced against the exit and a kill request (a failure kills the
container, which waits with PostStartHookError); preStop inside the kill's grace period.
Each run is a span in the pod's timeline.

kubelet: kuberuntime_container.go startContainer (postStart) and killContainer (preStop),
lifecycle/handlers.go for the handlers themselves (`probe/hooks.py` here).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from minikubelet.core import events as ev
from minikubelet.core.kills import KillRequest
from minikubelet.core.model import Waiting
from minikubelet.core.spec import Handler
from minikubelet.probe import hooks
from minikubelet.runtime.aio import race

if TYPE_CHECKING:
    from minikubelet.node.instance import Instance
    from minikubelet.node.supervisor import ContainerSupervisor


async def post_start(sup: ContainerSupervisor, inst: Instance) -> bool:
    """kubelet: startContainer runs postStart synchronously; on failure the container is
    killed and waits with PostStartHookError."""
    lc = sup.container.lifecycle
    if lc is None or lc.post_start is None:
        return True
    env, _own = sup.env()
    assert inst.process is not None
    # a kill (pod deletion, daemon shutdown) must not wait for a hook that never returns
    first, error = await race(
        hook=_hook_span(
            sup,
            "postStart",
            hooks.run_hook(
                lc.post_start,
                pod=sup.pod.pod,
                container=sup.container,
                env=env,
                cwd=sup.cwd,
                enter=enter_pid(inst),
            ),
        ),
        exited=inst.process.wait(),
        killed=sup.kill_event.wait(),
    )
    if first != "hook":
        return False
    if error is None:
        return True
    sup.event("FailedPostStartHook", "PostStartHook failed", ev.WARNING)
    sup.log.warning("postStart hook failed", message=error)
    sup.waiting = Waiting(reason="PostStartHookError", message=error)
    sup.request_kill(
        KillRequest(message="FailedPostStartHook", grace=sup.pod_grace(), run_pre_stop=True)
    )
    return False


async def pre_stop(
    sup: ContainerSupervisor, handler: Handler, grace: float, enter: int | None = None
) -> None:
    env, _own = sup.env()
    error: str | None = None
    try:
        async with asyncio.timeout(grace):
            error = await _hook_span(
                sup,
                "preStop",
                hooks.run_hook(
                    handler,
                    pod=sup.pod.pod,
                    container=sup.container,
                    env=env,
                    cwd=sup.cwd,
                    enter=enter,
                ),
            )
    except TimeoutError:
        return
    if error is not None:
        sup.event("FailedPreStopHook", "PreStopHook failed", ev.WARNING)
        sup.log.warning("preStop hook failed", message=error)


async def _hook_span(
    sup: ContainerSupervisor, name: str, hook: Awaitable[str | None]
) -> str | None:
    """Runs a hook, recording its span (and its error) in the pod's timeline."""
    began, error = time.time(), cast(str | None, "did not finish")
    try:
        error = await hook
        return error
    finally:
        sup.tl("hook", hook=name, began=began, seconds=time.time() - began, error=error)


def enter_pid(inst: Instance) -> int | None:
    """The pid whose namespaces an exec in this instance joins: its main process, when it
    runs in a mount namespace of its own (its volumes); else None, a plain process."""
    process = inst.process
    return process.pid if process is not None and process.mount_namespace else None
