"""Restart decisions and CrashLoopBackOff arithmetic, as pure values.

Owns: whether an exited container is started again (`should_restart`), the per-container
backoff value (`Backoff`), Go's duration spelling and the CrashLoopBackOff texts. Must not:
sleep, read a clock or touch a process. Every time is an argument; the supervisor keeps one
`Backoff` per (pod uid, container name, spec) and replaces it with the value a method returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minikubelet.core.gotext import duration as format_duration
from minikubelet.core.spec import RestartPolicy

# kubelet: kubelet.go initialCrashLoopBackOff, MaxContainerBackOff; the reset window is the
# kubelet's HasExpiredFunc override (600 s, which is also 2 x the default max).
INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0
BACKOFF_EXPIRY = 600.0
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"  # kubecontainer.ErrCrashLoopBackOff


def should_restart(
    *,
    policy: RestartPolicy,
    last_exit_code: int | None,
    deleting: bool = False,
    is_sidecar: bool = False,
) -> bool:
    """Start the container (again)? `last_exit_code` None: there was no previous instance."""
    # kubelet: kubecontainer.ShouldContainerBeRestarted (and sidecars: always, while not deleting)
    if deleting:
        return False
    if last_exit_code is None or is_sidecar:
        return True
    if policy is RestartPolicy.NEVER:
        return False
    return not (policy is RestartPolicy.ON_FAILURE and last_exit_code == 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """client-go flowcontrol.Backoff for one key. `entry` is the current window in seconds
    (0 when there is none); `last_update` is when `next` last ran (None: no entry)."""

    initial: float = INITIAL_BACKOFF
    max: float = MAX_BACKOFF
    expire_after: float = BACKOFF_EXPIRY
    entry: float = 0.0
    last_update: float | None = None

    def __post_init__(self) -> None:
        # kubelet: newCrashLoopBackOff - a max below the initial lowers the initial to it.
        initial = max(0.0, min(self.initial, self.max))
        object.__setattr__(self, "initial", initial)

    def _expired_at(self, event_time: float) -> bool:
        # flowcontrol: hasExpired(eventTime, lastUpdate) - a window that old starts over.
        return self.last_update is None or event_time - self.last_update > self.expire_after

    def expired(self, now: float) -> bool:
        """True when there is no entry, or it was last updated more than `expire_after` ago
        (what `GC()` drops)."""
        return self._expired_at(now)

    def next(self, event_time: float, now: float | None = None) -> Backoff:
        """flowcontrol `Next`: a fresh or expired entry becomes `initial`, a live one doubles
        up to `max`. `last_update` is `now` (the kubelet's clock), `event_time` when omitted."""
        entry = self.initial if self._expired_at(event_time) else min(2 * self.entry, self.max)
        return replace(self, entry=entry, last_update=event_time if now is None else now)

    def in_backoff_since(self, event_time: float, now: float) -> bool:
        """flowcontrol `IsInBackOffSince`: is `now` still inside the window that opened at
        `event_time` (for the kubelet: the last instance's finishedAt)?"""
        if self._expired_at(event_time):
            return False
        return now - event_time < self.entry

    def in_backoff_since_update(self, event_time: float) -> bool:
        """flowcontrol `IsInBackOffSinceUpdate`: is `event_time` inside the window that opened
        at the last update?"""
        if self._expired_at(event_time) or self.last_update is None:
            return False
        return event_time - self.last_update < self.entry

    def remaining(self, event_time: float, now: float) -> float:
        """Seconds left before a start is allowed; 0 when not in backoff."""
        if not self.in_backoff_since(event_time, now):
            return 0.0
        return self.entry - (now - event_time)

    def get(self) -> float:
        return self.entry

    def reset(self) -> Backoff:
        return replace(self, entry=0.0, last_update=None)


def back_off(backoff: Backoff, finished: float, now: float) -> float | None:
    """kubelet: kuberuntime_manager.go doBackOff. The seconds a start must still wait after
    an exit that finished at `finished`, or None when it may start now. After the wait (or at
    once), the start is recorded with `backoff.next(finished, start_time)`."""
    if not backoff.in_backoff_since(finished, now):
        return None
    return backoff.remaining(finished, now)


def crash_loop_message(*, delay: float, container: str, pod_full_name: str) -> str:
    """The waiting message while a start is refused (kubelet: kuberuntime_manager.go doBackOff)."""
    return (
        f"back-off {format_duration(delay)} restarting failed container={container} "
        f"pod={pod_full_name}"
    )


def backoff_event_message(container: str, pod_full_name: str) -> str:
    """The `BackOff` event's message (kubelet: kuberuntime_manager.go doBackOff)."""
    return f"Back-off restarting failed container {container} in pod {pod_full_name}"
