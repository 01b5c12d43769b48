"""The API server's rules for deleting a pod: the grace period a DELETE gets and the
`metadata.deletionTimestamp` / `deletionGracePeriodSeconds` it leaves on the pod.

Pure: the pod's phase, its spec's grace period, the mark it already carries and `now` in; the
new mark (or "leave it") out. The daemon applies the answer (publishes the marked pod, tells
the pod to stop, removes a pod that has nothing left to stop).
"""

from __future__ import annotations

from dataclasses import dataclass

from minikubelet.core.model import Phase


@dataclass(frozen=True, slots=True)
class DeletionMark:
    """`metadata.deletionTimestamp` (wall-clock seconds) and `deletionGracePeriodSeconds`."""

    timestamp: float
    grace_period_seconds: int


def graceful_delete_period(phase: Phase, requested: int | None, spec_grace: int | None) -> int:
    """The grace period a DELETE gets: the request's, else the spec's, 0 for a pod that has
    already finished (nothing to stop), 1 for a negative one."""
    # apiserver: pkg/registry/core/pod/strategy.go podStrategy.CheckGracefulDelete
    period = requested if requested is not None else (spec_grace or 0)
    if phase.terminal:
        period = 0
    return 1 if period < 0 else period


def stop_grace(current: float, requested: float | None, *, terminating: bool) -> tuple[float, bool]:
    """The grace period a pod's stop gets, and whether kills under way are shortened: the
    first stop takes the requested period (else keeps the spec's); a later one may only
    shorten it, and a shorter one also shortens the kills already running (kubelet:
    pod_workers.go, a kill with a shorter grace-period override)."""
    if requested is None:
        return current, False
    if not terminating:
        return requested, False
    return min(current, requested), requested < current


def before_delete(
    current: DeletionMark | None, requested: int | None, period: int, now: float
) -> tuple[DeletionMark, bool]:
    """The mark after a DELETE, and whether the DELETE changed it.

    A first DELETE marks the pod with `now + period`. A pod already marked may only have
    its grace period shortened: a shorter `requested` period moves the timestamp back by the
    difference; an equal or longer one, or none, leaves the mark as it is."""
    # apiserver: staging/src/k8s.io/apiserver/pkg/registry/rest/delete.go BeforeDelete
    if current is None:
        return DeletionMark(now + period, period), True
    if current.grace_period_seconds == 0 or requested is None:
        return current, False
    shorter = 1 if requested < 0 else requested  # negative periods count as 1
    if shorter >= current.grace_period_seconds:
        return current, False
    moved = current.timestamp - current.grace_period_seconds + shorter
    return DeletionMark(moved, shorter), True
