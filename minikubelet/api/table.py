"""The `meta.k8s.io/v1` Table that kubectl prints for `get`: columns and row cells.

A port of kubectl's server-side printers (`pkg/printers/internalversion/printers.go`:
`printPod`, `printEvent`, `printNamespace`) and of `duration.HumanDuration`, so STATUS,
RESTARTS and AGE read exactly as against a cluster. Cells are always generated in wide form, as
the API server does; kubectl hides the columns of priority 1 unless `-o wide`.

Pure: objects are v1 JSON dicts, `now` is passed in. No aiohttp here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from minikubelet.core.gotext import human_duration

JSON = dict[str, Any]
Cell = str | int
Column = tuple[str, str, int, str]  # name, type, priority, description

_NAME_DOC = "Name must be unique within a namespace."
_AGE_DOC = "CreationTimestamp is the time this object was created, in UTC."

POD_COLUMNS: tuple[Column, ...] = (
    ("Name", "string", 0, _NAME_DOC),
    ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "The aggregate status of the containers in this pod."),
    (
        "Restarts",
        "string",
        0,
        "The number of times the containers in this pod have been restarted and when the "
        "last container in this pod has restarted.",
    ),
    ("Age", "string", 0, _AGE_DOC),
    ("IP", "string", 1, "podIP address allocated to the pod."),
    ("Node", "string", 1, "NodeName is the node this pod is scheduled to."),
    ("Nominated Node", "string", 1, "nominatedNodeName is set only when preempting."),
    ("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated."),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    ("Last Seen", "string", 0, "The time at which the most recent occurrence was recorded."),
    ("Type", "string", 0, "Type of this event (Normal, Warning)."),
    ("Reason", "string", 0, "A short, machine understandable string for the transition."),
    ("Object", "string", 0, "The object that this event is about."),
    ("Subobject", "string", 1, "The field of the object the event is about."),
    ("Source", "string", 1, "The component reporting this event."),
    ("Message", "string", 0, "A human-readable description of the status of this operation."),
    ("First Seen", "string", 1, "The time at which the event was first recorded."),
    ("Count", "string", 1, "The number of times this event has occurred."),
    ("Name", "string", 1, _NAME_DOC),
)

NAMESPACE_COLUMNS: tuple[Column, ...] = (
    ("Name", "string", 0, _NAME_DOC),
    ("Status", "string", 0, "The status of the namespace"),
    ("Age", "string", 0, _AGE_DOC),
)

_POD_SUCCEEDED = {
    "type": "Completed",
    "status": "True",
    "reason": "Succeeded",
    "message": "The pod has completed successfully.",
}
_POD_FAILED = {
    "type": "Completed",
    "status": "True",
    "reason": "Failed",
    "message": "The pod failed.",
}


def parse_time(text: object) -> float | None:
    """RFC 3339 (`metav1.Time`, `MicroTime`) -> epoch seconds; None when unset or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def since(text: object, now: float) -> str:
    """`translateTimestampSince`."""
    ts = parse_time(text)
    return "<unknown>" if ts is None else human_duration(now - ts)


def table(
    columns: Sequence[Column],
    rows: list[JSON],
    *,
    resource_version: str | None = None,
    api_version: str = "meta.k8s.io/v1",
) -> JSON:
    metadata: JSON = {} if resource_version is None else {"resourceVersion": resource_version}
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": metadata,
        "columnDefinitions": [column_definition(c) for c in columns],
        "rows": rows,
    }


def column_definition(column: Column) -> JSON:
    name, type_, priority, description = column
    definition: JSON = {"name": name, "type": type_, "format": "", "description": description}
    if name == "Name":
        definition["format"] = "name"
    definition["priority"] = priority
    return definition


def row(obj: JSON, cells: list[Cell], include_object: str = "Metadata") -> JSON:
    """One Table row; `includeObject` None, Object or Metadata (the default)."""
    result: JSON = {"cells": cells}
    if include_object == "Object":
        result["object"] = obj
    elif include_object != "None":
        result["object"] = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {}),
        }
    return result


def pod_row(pod: JSON, now: float, include_object: str = "Metadata") -> JSON:
    result = row(pod, pod_cells(pod, now), include_object)
    phase = pod.get("status", {}).get("phase")
    if phase == "Succeeded":
        result["conditions"] = [_POD_SUCCEEDED]
    elif phase == "Failed":
        result["conditions"] = [_POD_FAILED]
    return result


def event_row(event: JSON, now: float, include_object: str = "Metadata") -> JSON:
    return row(event, event_cells(event, now), include_object)


def namespace_row(namespace: JSON, now: float, include_object: str = "Metadata") -> JSON:
    cells: list[Cell] = [
        namespace["metadata"]["name"],
        namespace.get("status", {}).get("phase", ""),
        since(namespace["metadata"].get("creationTimestamp"), now),
    ]
    return row(namespace, cells, include_object)


def pod_cells(pod: JSON, now: float) -> list[Cell]:
    """printPod's cells: NAME, READY, STATUS, RESTARTS, AGE, IP, NODE, NOMINATED NODE,
    READINESS GATES."""
    summary = pod_summary(pod)
    restarts = str(summary.restarts)
    if summary.restarts != 0 and summary.last_restart is not None:
        restarts = f"{summary.restarts} ({human_duration(now - summary.last_restart)} ago)"
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    return [
        meta.get("name", ""),
        f"{summary.ready}/{summary.total}",
        summary.reason,
        restarts,
        since(meta.get("creationTimestamp"), now),
        _pod_ip(status) or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        _readiness_gates(spec, status),
    ]


def _pod_ip(status: JSON) -> str:
    ips = status.get("podIPs") or []
    if ips:
        return str(ips[0].get("ip", ""))
    return str(status.get("podIP", ""))


def _readiness_gates(spec: JSON, status: JSON) -> str:
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


def event_cells(event: JSON, now: float) -> list[Cell]:
    """printEvent (wide)."""
    first = since(event.get("firstTimestamp"), now)
    if parse_time(event.get("firstTimestamp")) is None:
        first = since(event.get("eventTime"), now)
    last = since(event.get("lastTimestamp"), now)
    if parse_time(event.get("lastTimestamp")) is None:
        last = first
    count = int(event.get("count") or 0)
    series = event.get("series")
    if series:
        last = since(series.get("lastObservedTime"), now)
        count = int(series.get("count") or 0)
    elif count == 0:
        count = 1
    involved = event.get("involvedObject", {})
    kind = str(involved.get("kind", "")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last,
        event.get("type", ""),
        event.get("reason", ""),
        target,
        involved.get("fieldPath", ""),
        _event_source(event),
        str(event.get("message", "")).strip(),
        first,
        count,
        event.get("metadata", {}).get("name", ""),
    ]


def _event_source(event: JSON) -> str:
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    instance = source.get("host") or event.get("reportingInstance") or ""
    if not component:
        return "<unknown>"
    return f"{component}, {instance}" if instance else component


RowMaker = Callable[[JSON, float, str], JSON]


@dataclass(slots=True)
class PodSummary:
    """What printPod derives from a pod: READY as ready/total, STATUS, RESTARTS and the time of
    the most recent restart (epoch seconds)."""

    reason: str
    ready: int = 0
    total: int = 0
    restarts: int = 0
    last_restart: float | None = None

    def count_restart(self, status: JSON) -> None:
        self.restarts += int(status.get("restartCount") or 0)
        finished = _last_finished(status)
        if finished is not None and (self.last_restart is None or finished > self.last_restart):
            self.last_restart = finished


def pod_summary(pod: JSON) -> PodSummary:
    """printPod's STATUS/READY/RESTARTS logic, step for step."""
    spec, status = pod.get("spec", {}), pod.get("status", {})
    phase = status.get("phase", "")
    summary = PodSummary(reason=status.get("reason") or phase)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            summary.reason = "SchedulingGated"
    sidecars = {c["name"] for c in spec.get("initContainers") or [] if _is_sidecar(c)}
    summary.total = len(spec.get("containers") or []) + len(sidecars)
    sidecar_part = PodSummary(reason="")
    initializing = _walk_init_containers(pod, sidecars, summary, sidecar_part)
    if not initializing or _condition_true(status, "Initialized"):
        summary.restarts, summary.last_restart = sidecar_part.restarts, sidecar_part.last_restart
        _walk_containers(status, summary)
    if pod.get("metadata", {}).get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            summary.reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            summary.reason = "Terminating"
    return summary


def _walk_init_containers(
    pod: JSON, sidecars: set[str], summary: PodSummary, sidecar_part: PodSummary
) -> bool:
    """Returns whether the pod is still initializing; sets Init:... reasons."""
    statuses = pod.get("status", {}).get("initContainerStatuses") or []
    n_init = len(pod.get("spec", {}).get("initContainers") or [])
    for i, container in enumerate(statuses):
        summary.count_restart(container)
        is_sidecar = container.get("name") in sidecars
        if is_sidecar:
            sidecar_part.count_restart(container)
        state = container.get("state") or {}
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and container.get("started") is True:
            summary.ready += 1 if container.get("ready") else 0
            continue
        if terminated is not None:
            summary.reason = "Init:" + _terminated_reason(terminated)
        elif waiting is not None and waiting.get("reason") not in (None, "", "PodInitializing"):
            summary.reason = "Init:" + waiting["reason"]
        else:
            summary.reason = f"Init:{i}/{n_init}"
        return True
    return False


def _walk_containers(status: JSON, summary: PodSummary) -> None:
    has_running = False
    for container in reversed(status.get("containerStatuses") or []):
        summary.count_restart(container)
        state = container.get("state") or {}
        waiting, terminated = state.get("waiting"), state.get("terminated")
        if waiting is not None and waiting.get("reason"):
            summary.reason = waiting["reason"]
        elif terminated is not None:
            summary.reason = _terminated_reason(terminated)
        elif container.get("ready") and state.get("running") is not None:
            has_running = True
            summary.ready += 1
    if summary.reason == "Completed" and has_running:
        summary.reason = "Running" if _condition_true(status, "Ready") else "NotReady"


def _terminated_reason(terminated: JSON) -> str:
    if terminated.get("reason"):
        return str(terminated["reason"])
    if terminated.get("signal"):
        return f"Signal:{terminated['signal']}"
    return f"ExitCode:{int(terminated.get('exitCode') or 0)}"


def _last_finished(status: JSON) -> float | None:
    terminated = (status.get("lastState") or {}).get("terminated")
    return None if terminated is None else parse_time(terminated.get("finishedAt"))


def _is_sidecar(container: JSON) -> bool:
    return container.get("restartPolicy") == "Always"


def _condition_true(status: JSON, type_: str) -> bool:
    return any(
        c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or []
    )
