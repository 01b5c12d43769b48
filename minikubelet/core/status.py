"""Pod status as the kubelet computes it: phase, conditions, container statuses, QoS.

Owns the rules of kubelet_pods.go (getPhase, generateAPIPodStatus, the parts of
convertToAPIContainerStatuses that do not need a runtime) and status/generate.go (the
conditions), plus the probe manager's view of `ready`/`started`. Must not: look at processes,
read a clock or remember anything; the previous status and `now` are arguments, and the phase
is always recomputed from the container statuses, never assigned.

This module holds the container statuses and the whole status; the phase is `podphase.py`'s,
the conditions `podconditions.py`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from minikubelet.core.model import (
    ConditionType,
    ContainerStatus,
    Phase,
    PodCondition,
    PodStatus,
    Running,
    Terminated,
    Waiting,
)
from minikubelet.core.podconditions import FALSE, pod_conditions, stamped
from minikubelet.core.podphase import compute_phase, statuses_by_name
from minikubelet.core.qos import qos_class
from minikubelet.core.spec import Container, Pod

# Default waiting reasons (kubelet: kubelet_pods.go convertToAPIContainerStatuses)
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"  # kubecontainer.ContainerReasonStatusUnknown
CONTAINER_NOT_LOCATED = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)


# --- container statuses ------------------------------------------------------------------


def default_container_status(container: Container, *, pod_has_init: bool) -> ContainerStatus:
    """The status of a container the runtime knows nothing about yet."""
    reason = POD_INITIALIZING if pod_has_init else CONTAINER_CREATING
    return ContainerStatus(name=container.name, image=container.image, state=Waiting(reason=reason))


def unknown_container_status(
    previous: ContainerStatus, *, deleting: bool, pod_has_init: bool = False
) -> ContainerStatus:
    """The status of a container that vanished from the runtime, given its last known status."""
    # kubelet: kubelet_pods.go convertToAPIContainerStatuses, "if no container is found"
    if isinstance(previous.state, Terminated):
        return previous
    reason = POD_INITIALIZING if pod_has_init else CONTAINER_CREATING
    status = ContainerStatus(
        name=previous.name,
        image=previous.image,
        state=Waiting(reason=reason),
        last_state=previous.last_state,
        restart_count=previous.restart_count,
    )
    if not isinstance(previous.state, Running) or isinstance(status.last_state, Terminated):
        return status
    lost = Terminated(exit_code=137, reason=CONTAINER_STATUS_UNKNOWN, message=CONTAINER_NOT_LOCATED)
    # Not being deleted means the container is going to be started again: count that.
    return replace(
        status, last_state=lost, restart_count=status.restart_count + (0 if deleting else 1)
    )


def _published(
    container: Container, status: ContainerStatus, *, regular_init: bool
) -> ContainerStatus:
    """`started` and `ready` as the probe manager publishes them."""
    # kubelet: prober_manager.go UpdatePodStatus, isContainerStarted
    running = isinstance(status.state, Running)
    started = status.started if status.started is not None else container.startup_probe is None
    started = running and started
    if regular_init:
        ready = isinstance(status.state, Terminated) and status.state.exit_code == 0
    else:
        ready = started and status.ready
    return replace(status, started=started, ready=ready)


def _complete(
    containers: Sequence[Container],
    given: Sequence[ContainerStatus],
    *,
    pod_has_init: bool,
    init: bool,
) -> list[ContainerStatus]:
    """One published status per container, in spec order; defaults for the missing ones."""
    by_name = statuses_by_name(given)
    result = []
    for container in containers:
        status = by_name.get(container.name)
        if status is None:
            status = default_container_status(container, pod_has_init=pod_has_init)
        regular_init = init and not container.is_sidecar
        result.append(_published(container, status, regular_init=regular_init))
    return result


# --- the whole status --------------------------------------------------------------------


def generate_pod_status(
    pod: Pod,
    *,
    init_statuses: Sequence[ContainerStatus],
    statuses: Sequence[ContainerStatus],
    previous: PodStatus | None,
    pod_is_terminal: bool,
    sandbox_ready: bool,
    start_time: float | None,
    now: float,
    reason: str = "",
    message: str = "",
    external_conditions: Sequence[PodCondition] = (),
    api_reason: str = "",
    api_message: str = "",
    ephemeral_statuses: Sequence[ContainerStatus] = (),
) -> PodStatus:
    """The pod's v1 status. `reason`/`message` (e.g. DeadlineExceeded) fail the pod, as the
    kubelet's eviction handlers do; `start_time` is used only when `previous` has none (and
    `now` when neither has one). `external_conditions`, `api_reason` and `api_message` are
    what others wrote to the pod's status in the API (`pods/{name}/status`): the conditions
    the kubelet does not own are kept (and gate readiness), and a reason or message stands
    while the phase holds and the kubelet has none of its own."""
    # kubelet: kubelet_pods.go generateAPIPodStatus
    spec = pod.spec
    before = previous if previous is not None else PodStatus()
    has_init = bool(spec.init_containers)
    inits = _complete(spec.init_containers, init_statuses, pod_has_init=has_init, init=True)
    regular = _complete(spec.containers, statuses, pod_has_init=has_init, init=False)
    regular.sort(key=lambda s: s.name)
    phase = compute_phase(spec, inits, regular, pod_is_terminal=pod_is_terminal)
    phase, reason, message = _settle_phase(phase, before, reason, message)
    if phase == before.phase:
        # kubelet: generateAPIPodStatus, "preserve the reason and message which is associated
        # with the phase" (the status manager's, else the API's)
        reason, message = reason or api_reason, message or api_message
    conditions = pod_conditions(
        spec,
        inits,
        regular,
        phase=phase,
        sandbox_ready=sandbox_ready,
        previous=before.conditions,
        external=external_conditions,
        now=now,
    )
    return PodStatus(
        phase=phase,
        conditions=conditions,
        container_statuses=tuple(regular),
        init_container_statuses=tuple(inits),
        ephemeral_container_statuses=ephemeral_container_statuses(
            spec.ephemeral_containers, ephemeral_statuses, pod_has_init=has_init
        ),
        start_time=_first_of(before.start_time, start_time, now),
        qos_class=qos_class(spec),
        reason=reason,
        message=message,
    )


def ephemeral_container_statuses(
    containers: Sequence[Container], given: Sequence[ContainerStatus], *, pod_has_init: bool
) -> tuple[ContainerStatus, ...]:
    """kubelet: generateAPIPodStatus converts the ephemeral containers' statuses as any
    other's (convertToAPIContainerStatuses, sorted by name, a default waiting state for one
    not yet started), but the probe manager publishes `ready` and `started` only for the
    regular and init containers: an ephemeral one is never ready and has no `started`. They
    make neither the phase nor a condition."""
    by_name = statuses_by_name(given)
    result = []
    for container in containers:
        status = by_name.get(container.name)
        if status is None:
            status = default_container_status(container, pod_has_init=pod_has_init)
        result.append(replace(status, ready=False, started=None))
    return tuple(sorted(result, key=lambda s: s.name))


def _settle_phase(
    phase: Phase, before: PodStatus, reason: str, message: str
) -> tuple[Phase, str, str]:
    """Terminal phases are sticky; a phase keeps its reason and message; an eviction reason
    fails a pod that is not yet terminal."""
    if before.phase.terminal:
        # No way out of a terminal phase, not even into the other one.
        phase = before.phase
    if reason and not before.phase.terminal:
        # kubelet: generateAPIPodStatus, PodSyncHandlers ShouldEvict (active deadline)
        return Phase.FAILED, reason, message
    if phase == before.phase:
        return phase, before.reason, before.message
    return phase, "", ""


def _first_of(*times: float | None) -> float | None:
    return next((t for t in times if t is not None), None)


def unscheduled_pod_status(
    pod: Pod, *, reason: str, message: str, previous: PodStatus | None, now: float
) -> PodStatus:
    """A pod the scheduler could not place: Pending with `PodScheduled=False` (its reason
    and message, e.g. Unschedulable and the FitError), no IPs, start time or container
    statuses, as the scheduler leaves it (kube-scheduler: schedule_one.go handleSchedulingFailure
    and updatePod, `podutil.UpdatePodCondition`)."""
    condition = PodCondition(
        type=ConditionType.POD_SCHEDULED, status=FALSE, reason=reason, message=message
    )
    before = next(
        (c for c in (previous.conditions if previous else ()) if c.type == condition.type), None
    )
    return PodStatus(
        phase=Phase.PENDING,
        conditions=(stamped(condition, before, now),),
        host_ip="",
        pod_ip="",
        qos_class=qos_class(pod.spec),
    )
