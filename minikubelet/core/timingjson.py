"""The probe timing windows as JSON (`minikubelet explain --format json`, and the timeline's
`created` record, from which the /ui page shows them beside each probe): one object per
probe, each window in seconds as `[min, max]`. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from minikubelet.core.timing import PodTiming, Window, handler_summary


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _win(window: Window | None) -> list[float | int] | None:
    return None if window is None else [_num(window[0]), _num(window[1])]


def to_json(timings: Sequence[PodTiming]) -> list[dict[str, Any]]:
    """One object per probe, in pod, container, probe order."""
    out: list[dict[str, Any]] = []
    for pod in timings:
        for container in pod.containers:
            for t in container.probes:
                p = t.probe
                out.append(
                    {
                        "pod": pod.name,
                        "namespace": pod.namespace,
                        "container": container.name,
                        "containerKind": container.kind.value,
                        "probe": t.probe_type.value.lower(),
                        "handler": handler_summary(p.handler),
                        "initialDelaySeconds": p.initial_delay_seconds,
                        "periodSeconds": p.period_seconds,
                        "timeoutSeconds": p.timeout_seconds,
                        "successThreshold": p.success_threshold,
                        "failureThreshold": p.failure_threshold,
                        "firstProbe": _win(t.first_probe),
                        "firstProbeFrom": t.first_probe_from.value,
                        "firstProbeTriggered": t.triggered,
                        "startupBudget": _win(t.startup_budget),
                        "readyAfterHealthy": _win(t.ready_after_healthy),
                        "unreadyAfterUnhealthy": _win(t.unready_after_unhealthy),
                        "killAfterUnhealthy": _win(t.kill_after_unhealthy),
                        "tolerance": _win(t.tolerance),
                        "terminationGracePeriodSeconds": (
                            None if t.grace is None else _num(t.grace)
                        ),
                        "killToGone": _win(t.kill_to_gone),
                        "restartDelays": [_num(d) for d in container.restart_delays],
                        "probesPerHour": _num(round(t.probes_per_hour, 3)),
                        "warnings": list(t.warnings),
                    }
                )
    return out
