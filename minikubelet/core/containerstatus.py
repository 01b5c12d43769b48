"""What one container's status says, from what its supervisor observed: the state, the last
state, ready and started, and the default waiting reason. Pure; the supervisor gathers the
facts and shows the answer.

kubelet: kubelet_pods.go convertToAPIContainerStatuses (states and last state),
prober_manager.go isContainerStarted / UpdatePodStatus (started and ready).
"""

from __future__ import annotations

from dataclasses import dataclass

from minikubelet.core.model import ContainerStatus, Running, Terminated, Waiting
from minikubelet.core.restart import should_restart
from minikubelet.core.spec import Container, ProbeType, RestartPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class InstanceFacts:
    """One start of the container, as the status needs it."""

    container_id: str
    restart_count: int
    started_at: float | None
    running: bool  # started and its postStart hook returned
    terminated: Terminated | None


def is_started(container: Container, *, running: bool, startup_succeeded: bool | None) -> bool:
    """Started: running, and its startup probe (if any) has succeeded. `startup_succeeded`
    is None while the startup probe has no result."""
    if not running:
        return False
    if startup_succeeded is not None:
        return startup_succeeded
    return container.startup_probe is None


def makes_started(probe_type: ProbeType, *, succeeded: bool) -> bool:
    """A startup probe's success makes the container started: the readiness probe is then
    run at once, unless it already succeeded (prober_manager.go UpdatePodStatus triggers
    the readiness worker of a container that became started)."""
    return succeeded and probe_type == ProbeType.STARTUP


def is_ready(
    container: Container,
    *,
    init: bool,
    started: bool,
    exited_zero: bool,
    readiness_succeeded: bool | None,
) -> bool:
    """Ready: a regular init container once it exited 0; any other container once started
    and its readiness probe (if any) succeeded."""
    if init and not container.is_sidecar:
        return exited_zero
    if not started:
        return False
    if container.readiness_probe is None:
        return True
    return bool(readiness_succeeded)


def restarts(
    container: Container,
    *,
    init: bool,
    policy: RestartPolicy,
    exit_code: int,
    deleting: bool,
    ephemeral: bool = False,
) -> bool:
    """Start it again after this exit? Regular init containers restart only after a
    failure, unless the pod's policy is Never (kubelet: computeInitContainerActions);
    other containers by the restart policy, sidecars always (ShouldContainerBeRestarted);
    an ephemeral container never (computePodActions starts only one that has no status)."""
    if ephemeral:
        return False
    if init and not container.is_sidecar:
        return exit_code != 0 and policy != RestartPolicy.NEVER and not deleting
    return should_restart(
        policy=policy,
        last_exit_code=exit_code,
        deleting=deleting,
        is_sidecar=container.is_sidecar,
    )


def will_restart(
    container: Container,
    *,
    init: bool,
    policy: RestartPolicy,
    exit_code: int | None,
    deleting: bool,
    stopping: bool,
    definition_changed: bool,
    ephemeral: bool = False,
) -> bool:
    """Will another start follow the current instance? `exit_code` None: it has not exited
    (or there is none yet), so yes. A container killed for a new definition starts again
    whatever the policy; no container starts again once its pod stops it (`stopping`)."""
    if exit_code is None:
        return True
    if definition_changed:
        return not stopping
    return not stopping and restarts(
        container,
        init=init,
        policy=policy,
        exit_code=exit_code,
        deleting=deleting,
        ephemeral=ephemeral,
    )


def exit_reason(exit_code: int, *, killed_by: str | None) -> tuple[str, int]:
    """The terminated state's reason and exit code: `Completed` for 0, `Error` otherwise,
    `OOMKilled` (137, SIGKILL's code) when the memory limit killed it, as the runtime
    reports an OOM kill."""
    if killed_by == "OOMKilled":
        return "OOMKilled", 137
    return ("Completed" if exit_code == 0 else "Error"), exit_code


def container_status(
    container: Container,
    *,
    current: InstanceFacts | None,
    previous: Terminated | None,
    waiting: Waiting | None,
    ready: bool,
    started: bool,
    will_restart: bool,
    pod_has_init: bool,
) -> ContainerStatus:
    """The v1 ContainerStatus. Before any start: waiting with the reason last recorded, else
    `PodInitializing` in a pod with init containers and `ContainerCreating` otherwise. While
    a terminated instance waits for its restart (CrashLoopBackOff, a start error), the state
    is that waiting reason and the last state the termination."""
    name, image = container.name, container.image
    if current is None:
        default = "PodInitializing" if pod_has_init else "ContainerCreating"
        return ContainerStatus(
            name=name,
            image=image,
            ready=ready,
            state=waiting or Waiting(reason=default),
            started=False,
        )
    last = previous
    state: Waiting | Running | Terminated
    if current.running and current.started_at is not None and current.terminated is None:
        state = Running(started_at=current.started_at)
    elif current.terminated is None:
        state = Waiting(reason="ContainerCreating")
    elif waiting is not None and will_restart:
        state, last = waiting, current.terminated
    else:
        state = current.terminated
    return ContainerStatus(
        name=name,
        image=image,
        ready=ready,
        state=state,
        last_state=last,
        started=started,
        restart_count=current.restart_count,
        container_id=current.container_id,
    )
