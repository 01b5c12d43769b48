"""What `minikubelet top` shows, pure: the pods (a `/api/v1/pods` list) and the timeline's
records (`/debug/timeline`) at a time `now` -> one row per container.

A row has the container's state (the reason when it waits or ended, as kubectl shows it),
ready, restarts, the last probe run (its type, result and count against the threshold), the
time to the next probe run (the probe's `periodSeconds` from the last run's time:
prober/worker.go runs a probe every period), and while the container waits in
CrashLoopBackOff the time left of the back-off (the `backoff` record's `remaining` from its
time, the wait kuberuntime_manager.go doBackOff computed). Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_PROBE_FIELDS = {
    "startup": "startupProbe",
    "readiness": "readinessProbe",
    "liveness": "livenessProbe",
}


@dataclass(frozen=True)
class Row:
    pod: str  # namespace/name
    phase: str
    container: str
    init: bool
    state: str  # as kubectl's STATUS: Running, CrashLoopBackOff, Error (exit 1)
    ready: bool
    restarts: int
    last_probe: str | None = None  # "readiness success", "liveness failure (2/3)"
    next_probe: float | None = None  # seconds to the next run (0 when due)
    next_probe_type: str | None = None
    backoff_left: float | None = None  # seconds left of a CrashLoopBackOff wait
    backoff_delay: float | None = None  # the wait's length


def _state_text(status: Mapping[str, Any]) -> str:
    state = status.get("state") or {}
    if "running" in state:
        return "Running"
    if "terminated" in state:
        t = state["terminated"] or {}
        return f"{t.get('reason') or 'Error'} (exit {t.get('exitCode')})"
    if "waiting" in state:
        return str((state["waiting"] or {}).get("reason") or "Waiting")
    return "Unknown"


def _key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', 'default')}/{meta.get('name', '')}"


def build_rows(
    pods: Mapping[str, Any], records: Iterable[Mapping[str, Any]], now: float
) -> list[Row]:
    """Rows for every container of every pod in the list, init containers first, pods in
    the list's order. Records of pods not in the list are ignored."""
    by_container: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for rec in sorted(records, key=lambda r: r.get("seq", 0)):
        if rec.get("container"):
            by_container.setdefault((str(rec.get("pod")), str(rec["container"])), []).append(rec)
    rows: list[Row] = []
    for pod in pods.get("items") or ():
        key = _key(pod)
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        phase = str(status.get("phase") or "Pending")
        for spec_key, status_key, init in (
            ("initContainers", "initContainerStatuses", True),
            ("containers", "containerStatuses", False),
        ):
            statuses = {c.get("name"): c for c in status.get(status_key) or ()}
            for c in spec.get(spec_key) or ():
                name = str(c.get("name", ""))
                cs = statuses.get(name) or {}
                recs = by_container.get((key, name), [])
                rows.append(_row(key, phase, c, cs, init, recs, now))
    return rows


def _row(
    pod: str,
    phase: str,
    spec: Mapping[str, Any],
    status: Mapping[str, Any],
    init: bool,
    recs: list[Mapping[str, Any]],
    now: float,
) -> Row:
    name = str(spec.get("name", ""))
    state = _state_text(status) if status else "Waiting"
    last_probe = None
    next_probe: float | None = None
    next_type: str | None = None
    last_by_type: dict[str, Mapping[str, Any]] = {}
    for rec in recs:
        if rec.get("kind") == "probe":
            last_by_type[str(rec.get("probe"))] = rec
    probes = [r for r in recs if r.get("kind") == "probe"]
    running = "running" in (status.get("state") or {})
    if probes:
        last = probes[-1]
        last_probe = f"{last.get('probe')} {last.get('result')}"
        if last.get("result") == "failure" and last.get("threshold"):
            last_probe += f" ({last.get('run')}/{last.get('threshold')})"
    if running:
        for ptype, rec in last_by_type.items():
            if ptype == "startup" and status.get("started"):
                continue  # a startup probe stops once it has succeeded
            probe = spec.get(_PROBE_FIELDS.get(ptype, "")) or {}
            if not probe:
                continue
            period = float(probe.get("periodSeconds", 10))
            due = max(0.0, float(rec.get("t", 0)) + period - now)
            if next_probe is None or due < next_probe:
                next_probe, next_type = due, ptype
    backoff_left = backoff_delay = None
    waiting = (status.get("state") or {}).get("waiting") or {}
    if waiting.get("reason") == "CrashLoopBackOff":
        backoffs = [r for r in recs if r.get("kind") == "backoff"]
        if backoffs:
            b = backoffs[-1]
            backoff_delay = float(b.get("delay", 0))
            end = float(b.get("t", 0)) + float(b.get("remaining", backoff_delay))
            backoff_left = max(0.0, end - now)
    return Row(
        pod=pod,
        phase=phase,
        container=name,
        init=init,
        state=state,
        ready=bool(status.get("ready", False)),
        restarts=int(status.get("restartCount", 0)),
        last_probe=last_probe,
        next_probe=next_probe,
        next_probe_type=next_type,
        backoff_left=backoff_left,
        backoff_delay=backoff_delay,
    )
