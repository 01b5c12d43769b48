"""Pod status as the kubelet computes it: phase, conditions, container statuses, QoS.

Owns the rules of kubelet_pods.go (getPhase, generateAPIPodStatus, the parts of
convertToAPIContainerStatuses that do not need a runtime) and status/generate.go (the
conditions), plus the probe manager's view of `ready`/`started`. Must not: look at processes,
read a clock or remember anything; the previous status and `now` are arguments, and the phase
is always recomputed from the container statuses, never assigned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from minikubelet.core import gotext
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
from minikubelet.core.qos import qos_class
from minikubelet.core.spec import Container, Pod, PodSpec, RestartPolicy

TRUE = "True"
FALSE = "False"

# Default waiting reasons (kubelet: kubelet_pods.go convertToAPIContainerStatuses)
CONTAINER_CREATING = "ContainerCreating"
POD_INITIALIZING = "PodInitializing"
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"  # kubecontainer.ContainerReasonStatusUnknown
CONTAINER_NOT_LOCATED = (
    "The container could not be located when the pod was deleted.  The container used to be Running"
)

# Condition reasons (kubelet: status/generate.go)
UNKNOWN_CONTAINER_STATUSES = "UnknownContainerStatuses"
POD_COMPLETED = "PodCompleted"
POD_FAILED = "PodFailed"
CONTAINERS_NOT_READY = "ContainersNotReady"
CONTAINERS_NOT_INITIALIZED = "ContainersNotInitialized"
READINESS_GATES_NOT_READY = "ReadinessGatesNotReady"
DISRUPTION_TARGET = (
    "DisruptionTarget"  # shared by the kubelet (kubetypes.PodConditionSharedByKubelet)
)

_KUBELET_CONDITIONS = frozenset(ConditionType)


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
    by_name = _by_name(given)
    result = []
    for container in containers:
        status = by_name.get(container.name)
        if status is None:
            status = default_container_status(container, pod_has_init=pod_has_init)
        regular_init = init and not container.is_sidecar
        result.append(_published(container, status, regular_init=regular_init))
    return result


def _by_name(statuses: Iterable[ContainerStatus]) -> dict[str, ContainerStatus]:
    by_name: dict[str, ContainerStatus] = {}
    for status in statuses:
        by_name.setdefault(status.name, status)  # first wins, as podutil.GetContainerStatus
    return by_name


def _last_termination(status: ContainerStatus) -> Terminated | None:
    return status.last_state if isinstance(status.last_state, Terminated) else None


# --- phase -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """getPhase's counters."""

    pending_regular_init: int = 0
    pending_sidecar: int = 0
    failed_init: int = 0
    unknown: int = 0
    running: int = 0
    waiting: int = 0
    stopped: int = 0
    succeeded: int = 0

    def regular_init(self, status: ContainerStatus | None) -> None:
        last = _last_termination(status) if status is not None else None
        if status is None or isinstance(status.state, Running):
            self.pending_regular_init += 1
        elif isinstance(status.state, Terminated):
            self.failed_init += int(status.state.exit_code != 0)
        elif last is not None:
            self.failed_init += int(last.exit_code != 0)
        else:
            self.pending_regular_init += 1

    def sidecar(self, status: ContainerStatus | None) -> None:
        # Terminated sidecars, and sidecars waiting to restart, do not count.
        if status is None:
            self.unknown += 1
        elif isinstance(status.state, Running):
            self.running += 1
            self.pending_sidecar += int(status.started is not True)
        elif isinstance(status.state, Waiting) and _last_termination(status) is None:
            self.waiting += 1
            self.pending_sidecar += 1

    def regular(self, status: ContainerStatus | None) -> None:
        if status is None:
            self.unknown += 1
        elif isinstance(status.state, Running):
            self.running += 1
        elif isinstance(status.state, Terminated):
            self.stopped += 1
            self.succeeded += int(status.state.exit_code == 0)
        elif _last_termination(status) is not None:
            self.stopped += 1
        else:
            self.waiting += 1


def compute_phase(
    spec: PodSpec,
    init_statuses: Sequence[ContainerStatus],
    statuses: Sequence[ContainerStatus],
    *,
    pod_is_terminal: bool,
) -> Phase:
    # kubelet: kubelet_pods.go getPhase (podHasInitialized: HasAnyActiveRegularContainerStarted)
    info = _by_name([*init_statuses, *statuses])
    tally = _Tally()
    for container in spec.init_containers:
        if container.is_sidecar:
            tally.sidecar(info.get(container.name))
        else:
            tally.regular_init(info.get(container.name))
    for container in spec.containers:
        tally.regular(info.get(container.name))
    return _decide(tally, spec.restart_policy, pod_is_terminal, _has_run(spec, info))


def _has_run(spec: PodSpec, info: Mapping[str, ContainerStatus]) -> bool:
    """Has any regular container of this pod been created (so initialisation is over)?"""
    for container in spec.containers:
        status = info.get(container.name)
        if status is not None and not _never_ran(status):
            return True
    return False


def _never_ran(status: ContainerStatus) -> bool:
    return isinstance(status.state, Waiting) and _last_termination(status) is None


def _decide(
    tally: _Tally, policy: RestartPolicy, pod_is_terminal: bool, initialized: bool
) -> Phase:
    if tally.failed_init and policy is RestartPolicy.NEVER:
        return Phase.FAILED
    if tally.pending_regular_init or (tally.pending_sidecar and not initialized) or tally.waiting:
        return Phase.PENDING
    if tally.running and not tally.unknown:
        return Phase.RUNNING
    if not tally.running and tally.stopped and not tally.unknown:
        return _all_stopped(tally, policy, pod_is_terminal)
    return Phase.PENDING


def _all_stopped(tally: _Tally, policy: RestartPolicy, pod_is_terminal: bool) -> Phase:
    all_succeeded = tally.stopped == tally.succeeded
    if pod_is_terminal:
        # Nothing will be restarted whatever the policy says.
        return Phase.SUCCEEDED if all_succeeded else Phase.FAILED
    if policy is RestartPolicy.ALWAYS:
        return Phase.RUNNING
    if all_succeeded:
        return Phase.SUCCEEDED
    return Phase.FAILED if policy is RestartPolicy.NEVER else Phase.RUNNING


# --- conditions --------------------------------------------------------------------------


def _go_list(names: Sequence[str]) -> str:
    """Go's `%s` of a []string: `[a b]`."""
    return "[" + " ".join(names) + "]"


def _status_message(unknown: Sequence[str], other_label: str, other: Sequence[str]) -> str:
    parts = []
    if unknown:
        parts.append(f"containers with unknown status: {_go_list(unknown)}")
    if other:
        parts.append(f"containers with {other_label} status: {_go_list(other)}")
    return ", ".join(parts)


def _init_complete(container: Container, status: ContainerStatus) -> bool:
    # kubelet: generate.go isInitContainerInitialized
    return status.started is True if container.is_sidecar else status.ready


def _any_regular_started(spec: PodSpec, info: Mapping[str, ContainerStatus]) -> bool:
    # kubelet: kubecontainer.HasAnyRegularContainerStarted
    states = (info[c.name].state for c in spec.containers if c.name in info)
    return any(isinstance(state, Running | Terminated) for state in states)


def initialized_condition(
    spec: PodSpec, statuses: Sequence[ContainerStatus], phase: Phase
) -> PodCondition:
    # kubelet: generate.go GeneratePodInitializedCondition
    kind = ConditionType.INITIALIZED
    if not statuses and spec.init_containers:
        return PodCondition(type=kind, status=FALSE, reason=UNKNOWN_CONTAINER_STATUSES)
    info = _by_name(statuses)
    unknown = [c.name for c in spec.init_containers if c.name not in info]
    incomplete = [
        c.name
        for c in spec.init_containers
        if c.name in info and not _init_complete(c, info[c.name])
    ]
    if phase is Phase.SUCCEEDED and not unknown:
        return PodCondition(type=kind, status=TRUE, reason=POD_COMPLETED)
    if _any_regular_started(spec, info):
        return PodCondition(type=kind, status=TRUE)
    message = _status_message(unknown, "incomplete", incomplete)
    if message:
        return PodCondition(
            type=kind, status=FALSE, reason=CONTAINERS_NOT_INITIALIZED, message=message
        )
    return PodCondition(type=kind, status=TRUE)


def containers_ready_condition(
    spec: PodSpec, statuses: Sequence[ContainerStatus], phase: Phase
) -> PodCondition:
    # kubelet: generate.go GenerateContainersReadyCondition (sidecars count, init do not)
    kind = ConditionType.CONTAINERS_READY
    if not statuses:
        return PodCondition(type=kind, status=FALSE, reason=UNKNOWN_CONTAINER_STATUSES)
    info = _by_name(statuses)
    names = [c.name for c in spec.init_containers if c.is_sidecar]
    names += [c.name for c in spec.containers]
    unknown = [name for name in names if name not in info]
    unready = [name for name in names if name in info and not info[name].ready]
    if phase is Phase.SUCCEEDED and not unknown:
        return PodCondition(type=kind, status=FALSE, reason=POD_COMPLETED)
    if phase is Phase.FAILED:
        return PodCondition(type=kind, status=FALSE, reason=POD_FAILED)
    message = _status_message(unknown, "unready", unready)
    if message:
        return PodCondition(type=kind, status=FALSE, reason=CONTAINERS_NOT_READY, message=message)
    return PodCondition(type=kind, status=TRUE)


def ready_condition(
    spec: PodSpec, containers_ready: PodCondition, conditions: Sequence[PodCondition]
) -> PodCondition:
    """Ready: ContainersReady, then every readiness gate's condition True."""
    # kubelet: generate.go GeneratePodReadyCondition
    if containers_ready.status != TRUE:
        return replace(containers_ready, type=ConditionType.READY)
    by_type = {c.type: c for c in conditions}
    messages = []
    for gate in spec.readiness_gates:
        condition = by_type.get(gate)
        if condition is None:
            messages.append(
                f"corresponding condition of pod readiness gate {_go_quote(gate)} does not exist."
            )
        elif condition.status != TRUE:
            messages.append(
                f"the status of pod readiness gate {_go_quote(gate)} is not "
                f'"True", but {condition.status}'
            )
    if messages:
        return PodCondition(
            type=ConditionType.READY,
            status=FALSE,
            reason=READINESS_GATES_NOT_READY,
            message=", ".join(messages),
        )
    return PodCondition(type=ConditionType.READY, status=TRUE)


def _go_quote(text: str) -> str:
    return gotext.quote(text)


def pod_conditions(
    spec: PodSpec,
    init_statuses: Sequence[ContainerStatus],
    statuses: Sequence[ContainerStatus],
    *,
    phase: Phase,
    sandbox_ready: bool,
    previous: Sequence[PodCondition] = (),
    external: Sequence[PodCondition] = (),
    now: float,
) -> tuple[PodCondition, ...]:
    """The conditions not owned by the kubelet, as others wrote them to the API (`external`:
    readiness gates' conditions, DisruptionTarget, ... through `pods/{name}/status`), then the
    kubelet's five in its order, each with its lastTransitionTime carried over from
    `previous` while its status holds. Ready counts `spec.readinessGates` against the
    external conditions."""
    # kubelet: kubelet_pods.go generateAPIPodStatus ("preserve all conditions not owned by
    # the kubelet": pod.Status.Conditions without kubetypes.PodConditionByKubelet ones, and
    # GeneratePodReadyCondition over them); status_manager.go updateLastTransitionTime
    all_statuses = [*init_statuses, *statuses]
    others = tuple(c for c in external if c.type not in _KUBELET_CONDITIONS)
    disruption = next((c for c in previous if c.type == DISRUPTION_TARGET), None)
    if disruption is not None:
        # kubelet: "copy pod disruption conditions from state which is already updated
        # during the eviction" (the status manager's, over the API's)
        written = any(c.type == DISRUPTION_TARGET for c in others)
        others = _replaced(others, disruption) if written else (*others, disruption)
    containers_ready = containers_ready_condition(spec, all_statuses, phase)
    owned = (
        PodCondition(
            type=ConditionType.POD_READY_TO_START_CONTAINERS,
            status=TRUE if sandbox_ready else FALSE,
        ),
        initialized_condition(spec, all_statuses, phase),
        ready_condition(spec, containers_ready, others),
        containers_ready,
        PodCondition(type=ConditionType.POD_SCHEDULED, status=TRUE),
    )
    before = {c.type: c for c in previous}
    return others + tuple(_stamped(c, before.get(c.type), now) for c in owned)


def _replaced(conditions: tuple[PodCondition, ...], new: PodCondition) -> tuple[PodCondition, ...]:
    return tuple(new if c.type == new.type else c for c in conditions)


def _stamped(condition: PodCondition, before: PodCondition | None, now: float) -> PodCondition:
    if before is not None and before.status == condition.status:
        since = before.last_transition_time
        return replace(condition, last_transition_time=now if since is None else since)
    return replace(condition, last_transition_time=now)


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
        start_time=_first_of(before.start_time, start_time, now),
        qos_class=qos_class(spec),
        reason=reason,
        message=message,
    )


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
        conditions=(_stamped(condition, before, now),),
        host_ip="",
        pod_ip="",
        qos_class=qos_class(pod.spec),
    )
