"""What every workload controller asks of objects, in one place (pure): label selectors,
owner references, and a pod's standing (active, ready, available), as
k8s.io/apimachinery/pkg/apis/meta/v1 (LabelSelectorAsSelector, GetControllerOf,
NewControllerRef) and pkg/controller/controller_utils.go / pkg/api/v1/pod/util.go
(IsPodActive, IsPodReady, IsPodAvailable) define them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.core.gotext import parse_rfc3339

JSON = dict[str, Any]


# --- label selectors -------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector against labels: every matchLabels pair and every
    matchExpressions requirement (In, NotIn, Exists, DoesNotExist) holds. An empty selector
    matches everything; a missing (None) one matches nothing (LabelSelectorAsSelector)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: Mapping[str, Any] | None) -> bool:
    if not selector:
        return True
    return not selector.get("matchLabels") and not selector.get("matchExpressions")


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """The selector as kubectl prints it (`app=web,tier in (a,b)`)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(sorted(values))})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# --- owner references ------------------------------------------------------------------------


def owner_reference(owner: JSON, *, controller: bool = True) -> JSON:
    """metav1.NewControllerRef: the owner's apiVersion, kind, name, uid, controller and
    blockOwnerDeletion both true."""
    meta = owner["metadata"]
    ref: JSON = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
    }
    if controller:
        ref["controller"] = True
        ref["blockOwnerDeletion"] = True
    return ref


def controller_of(obj: JSON) -> JSON | None:
    """metav1.GetControllerOf: the owner reference with `controller: true`, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def is_controlled_by(obj: JSON, owner: JSON) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"].get("uid")


def deleting(obj: JSON) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


# --- a pod's standing ------------------------------------------------------------------------


def pod_phase(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def pod_active(pod: JSON) -> bool:
    """controller_utils.go IsPodActive: not Succeeded, not Failed, not being deleted."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def pod_condition(pod: JSON, type_: str) -> JSON | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None


def pod_ready(pod: JSON) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    ready = pod_condition(pod, "Ready")
    return ready is not None and ready.get("status") == "True"


def pod_ready_since(pod: JSON) -> float | None:
    """When the pod's Ready condition last became True (None if not ready)."""
    ready = pod_condition(pod, "Ready")
    if ready is None or ready.get("status") != "True":
        return None
    stamp = ready.get("lastTransitionTime")
    return parse_rfc3339(stamp) if stamp else None


def pod_available(pod: JSON, min_ready_seconds: int, now: float) -> bool:
    """podutil.IsPodAvailable: ready, and ready for at least minReadySeconds."""
    since = pod_ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds == 0 or since + min_ready_seconds <= now


def available_at(pod: JSON, min_ready_seconds: int) -> float | None:
    """When a ready pod becomes available (for a requeue), or None if it is not ready."""
    since = pod_ready_since(pod)
    return None if since is None else since + min_ready_seconds


def restart_count(pod: JSON) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)
