"""Observed state and events -> JSON dicts spelled as the v1 API spells them.

Owns the one place camelCase is written: pod status, pods, pod lists, events, and the
timestamps in them (RFC 3339, UTC; seconds for metav1.Time, nanoseconds where the kubelet
uses RFC3339Nano). Keys follow the Go structs' field order and their `omitempty` rules, so
kubectl and `/pods` readers see what a kubelet would serve. Must not decide anything (the
status is computed in `status.py`) and must not do I/O: it returns plain dicts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from minikubelet.core import gotext
from minikubelet.core.events import Event
from minikubelet.core.gotext import rfc3339_nano as rfc3339_nano
from minikubelet.core.model import (
    ContainerState,
    ContainerStatus,
    PodCondition,
    PodStatus,
    Running,
    Terminated,
    Waiting,
)
from minikubelet.core.spec import Pod

Json = dict[str, Any]

KUBELET = "kubelet"


def rfc3339(ts: float | None) -> str | None:
    """metav1.Time: `2024-05-01T12:00:00Z` (truncated to the second), None for no time."""
    if ts is None:
        return None
    return gotext.rfc3339(ts)


def _omit_empty(obj: Json) -> Json:
    """Go's `omitempty` for the string, number and list fields it marks."""
    return {key: value for key, value in obj.items() if value not in ("", 0, None, [], {})}


# --- pod status ----------------------------------------------------------------------------


def container_state_json(state: ContainerState | None) -> Json:
    """v1.ContainerState: one of waiting/running/terminated, `{}` for none."""
    if state is None:
        return {}
    if isinstance(state, Waiting):
        return {"waiting": _omit_empty({"reason": state.reason, "message": state.message})}
    if isinstance(state, Running):
        return {"running": {"startedAt": rfc3339(state.started_at)}}
    return {"terminated": _terminated_json(state)}


def _terminated_json(state: Terminated) -> Json:
    # startedAt/finishedAt are structs, which omitempty never drops: absent ones print null.
    optional = _omit_empty(
        {"signal": state.signal, "reason": state.reason, "message": state.message}
    )
    obj: Json = {"exitCode": state.exit_code, **optional}
    obj["startedAt"] = rfc3339(state.started_at)
    obj["finishedAt"] = rfc3339(state.finished_at)
    if state.container_id:
        obj["containerID"] = state.container_id
    return obj


def container_status_json(status: ContainerStatus) -> Json:
    obj: Json = {
        "name": status.name,
        "state": container_state_json(status.state),
        "lastState": container_state_json(status.last_state),
        "ready": status.ready,
        "restartCount": status.restart_count,
        "image": status.image,
        "imageID": status.image_id,
    }
    if status.container_id:
        obj["containerID"] = status.container_id
    if status.started is not None:
        obj["started"] = status.started
    return obj


def condition_json(condition: PodCondition) -> Json:
    obj: Json = {
        "type": condition.type,
        "status": condition.status,
        "lastProbeTime": None,
        "lastTransitionTime": rfc3339(condition.last_transition_time),
    }
    return obj | _omit_empty({"reason": condition.reason, "message": condition.message})


def pod_status_json(status: PodStatus) -> Json:
    obj: Json = {"phase": str(status.phase)}
    obj["conditions"] = [condition_json(c) for c in status.conditions]
    obj |= _omit_empty({"message": status.message, "reason": status.reason})
    if status.host_ip:  # none before the pod is scheduled
        obj |= {"hostIP": status.host_ip, "hostIPs": [{"ip": status.host_ip}]}
    if status.pod_ip:
        obj |= {"podIP": status.pod_ip, "podIPs": [{"ip": status.pod_ip}]}
    obj["startTime"] = rfc3339(status.start_time)
    if status.init_container_statuses:
        obj["initContainerStatuses"] = [
            container_status_json(s) for s in status.init_container_statuses
        ]
    obj["containerStatuses"] = [container_status_json(s) for s in status.container_statuses]
    obj["qosClass"] = status.qos_class
    if status.ephemeral_container_statuses:
        obj["ephemeralContainerStatuses"] = [
            container_status_json(s) for s in status.ephemeral_container_statuses
        ]
    return _omit_empty(obj)  # every PodStatus field is omitempty


# --- pods ----------------------------------------------------------------------------------


def pod_json(
    pod: Pod,
    status: PodStatus,
    *,
    resource_version: int,
    deletion_timestamp: float | None = None,
    deletion_grace_period_seconds: int | None = None,
    creation_timestamp: float | None = None,
    scheduled: bool = True,
    spec: Json | None = None,
) -> Json:
    """The Pod as the API serves it: the defaulted manifest's metadata and spec, the
    server-set metadata, and the computed status. `creation_timestamp` defaults to the
    manifest's, then to the status's startTime. A pod not `scheduled` (its ports are taken)
    has no `spec.nodeName` yet, as a pod the scheduler has not bound. `spec`: the one
    `served_spec` made of this manifest before (a copy read-only from then on, shared by the
    pod's versions: a pod of 1000 containers is not copied again at each status change)."""
    manifest = pod.manifest
    if spec is None:
        spec = served_spec(pod, scheduled=scheduled)
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": _pod_metadata(
            pod,
            resource_version=resource_version,
            created=_creation(manifest, creation_timestamp, status),
            deletion_timestamp=deletion_timestamp,
            deletion_grace_period_seconds=deletion_grace_period_seconds,
        ),
        "spec": spec,
        "status": pod_status_json(status),
    }


def served_spec(pod: Pod, *, scheduled: bool = True) -> Json:
    """A copy of the manifest's spec as the API serves it (see `pod_json`)."""
    spec: Json = copy.deepcopy(pod.manifest.get("spec", {}))
    if not scheduled:
        spec.pop("nodeName", None)
    return spec


def _creation(manifest: Mapping[str, Any], given: float | None, status: PodStatus) -> str | None:
    if given is not None:
        return rfc3339(given)
    written = manifest.get("metadata", {}).get("creationTimestamp")
    return written if isinstance(written, str) and written else rfc3339(status.start_time)


# ObjectMeta's field order; keys the manifest has beyond these follow them.
_METADATA_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
)


def _pod_metadata(
    pod: Pod,
    *,
    resource_version: int,
    created: str | None,
    deletion_timestamp: float | None,
    deletion_grace_period_seconds: int | None,
) -> Json:
    meta: Json = copy.deepcopy(dict(pod.manifest.get("metadata", {})))
    meta |= {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid}
    meta |= {"resourceVersion": str(resource_version), "generation": 1}
    meta["creationTimestamp"] = created
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    if deletion_timestamp is not None:
        meta["deletionTimestamp"] = rfc3339(deletion_timestamp)
    if deletion_grace_period_seconds is not None:
        meta["deletionGracePeriodSeconds"] = deletion_grace_period_seconds
    if pod.labels:
        meta["labels"] = dict(pod.labels)
    if pod.annotations:
        meta["annotations"] = dict(pod.annotations)
    return _ordered(meta, _METADATA_ORDER)


def _ordered(obj: Json, order: Iterable[str]) -> Json:
    ranked = {key: i for i, key in enumerate(order)}
    return dict(sorted(obj.items(), key=lambda item: ranked.get(item[0], len(ranked))))


def _list_json(kind: str, items: Iterable[Json], resource_version: int) -> Json:
    """A v1 list. Its items carry no kind/apiVersion of their own, as the API server
    encodes typed lists."""
    return {
        "kind": kind,
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "items": [_without_type(item) for item in items],
    }


def _without_type(item: Json) -> Json:
    return {key: value for key, value in item.items() if key not in ("kind", "apiVersion")}


def pod_list_json(items: Iterable[Json], resource_version: int) -> Json:
    """A v1 PodList of already serialised pods (`pod_json`)."""
    return _list_json("PodList", items, resource_version)


# --- events --------------------------------------------------------------------------------


def event_json(event: Event) -> Json:
    """A core/v1 Event, as `kubectl get events` and `describe` read it (with its kind and
    apiVersion, as a single object or watch event carries them)."""
    involved: Json = {
        "kind": "Pod",
        "namespace": event.namespace,
        "name": event.pod_name,
        "uid": event.pod_uid,
        "apiVersion": "v1",
    }
    if event.field_path:
        involved["fieldPath"] = event.field_path
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": event.name,
            "namespace": event.namespace,
            "resourceVersion": str(event.resource_version),
            "creationTimestamp": rfc3339(event.first_timestamp),
        },
        "involvedObject": involved,
        "reason": event.reason,
        "message": event.message,
        "source": _omit_empty({"component": event.component, "host": event.source_host}),
        "firstTimestamp": rfc3339(event.first_timestamp),
        "lastTimestamp": rfc3339(event.last_timestamp),
        "count": event.count,
        "type": event.type,
        "eventTime": None,
        "reportingComponent": event.component,
        "reportingInstance": event.source_host if event.component == KUBELET else event.component,
    }


def event_list_json(events: Iterable[Event], resource_version: int) -> Json:
    return _list_json("EventList", [event_json(e) for e in events], resource_version)
