"""A pod's phase as the kubelet computes it (kubelet_pods.go getPhase): counted from the
container statuses and the restart policy, never assigned.

Pure: statuses in, a `Phase` out. `status.generate_pod_status` calls it on every change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from minikubelet.core.model import ContainerStatus, Phase, Running, Terminated, Waiting
from minikubelet.core.spec import PodSpec, RestartPolicy


def statuses_by_name(statuses: Iterable[ContainerStatus]) -> dict[str, ContainerStatus]:
    by_name: dict[str, ContainerStatus] = {}
    for status in statuses:
        by_name.setdefault(status.name, status)  # first wins, as podutil.GetContainerStatus
    return by_name


def last_termination(status: ContainerStatus) -> Terminated | None:
    return status.last_state if isinstance(status.last_state, Terminated) else None


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
        last = last_termination(status) if status is not None else None
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
        elif isinstance(status.state, Waiting) and last_termination(status) is None:
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
        elif last_termination(status) is not None:
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
    info = statuses_by_name([*init_statuses, *statuses])
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
    return isinstance(status.state, Waiting) and last_termination(status) is None


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
