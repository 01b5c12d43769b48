"""A pod's conditions as the kubelet generates them (status/generate.go:
GeneratePodInitializedCondition, GenerateContainersReadyCondition, GeneratePodReadyCondition,
and PodReadyToStartContainers), with their reasons and messages in the kubelet's words, and
the conditions the kubelet does not own (readiness gates', DisruptionTarget) kept as written.

Pure: the spec, the published container statuses, the previous conditions and `now` in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from minikubelet.core import gotext
from minikubelet.core.model import (
    ConditionType,
    ContainerStatus,
    Phase,
    PodCondition,
    Running,
    Terminated,
)
from minikubelet.core.podphase import statuses_by_name
from minikubelet.core.spec import Container, PodSpec

TRUE = "True"
FALSE = "False"

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
    info = statuses_by_name(statuses)
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
    info = statuses_by_name(statuses)
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
    return others + tuple(stamped(c, before.get(c.type), now) for c in owned)


def _replaced(conditions: tuple[PodCondition, ...], new: PodCondition) -> tuple[PodCondition, ...]:
    return tuple(new if c.type == new.type else c for c in conditions)


def stamped(condition: PodCondition, before: PodCondition | None, now: float) -> PodCondition:
    if before is not None and before.status == condition.status:
        since = before.last_transition_time
        return replace(condition, last_transition_time=now if since is None else since)
    return replace(condition, last_transition_time=now)
