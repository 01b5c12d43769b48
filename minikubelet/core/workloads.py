"""What every workload controller asks of objects, in one place (pure): label selectors,
owner references, and a pod's standing (active, ready, available), as
k8s.io/apimachinery/pkg/apis/meta/v1 (LabelSelectorAsSelector, GetControllerOf,
NewControllerRef) and pkg/controller/controller_utils.go / pkg/api/v1/pod/util.go
(IsPodActive, IsPodReady, IsPodAvailable) define them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
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
    """The selector as kubectl prints it (`app=web,tier in (a,b)`): labels.Selector's String,
    its requirements sorted by key (internalSelector.Add sorts them ByKey)."""
    if not selector:
        return ""
    parts = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for req in selector.get("matchExpressions") or []:
        key, op, values = req.get("key", ""), req.get("operator", ""), req.get("values") or []
        if op == "In":
            parts.append((key, f"{key} in ({','.join(sorted(values))})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(sorted(values))})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(parts, key=lambda part: part[0]))


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
    """podutil.IsPodAvailable: ready, and ready for at least minReadySeconds (with none, a
    ready pod is available even without a transition time)."""
    if not pod_ready(pod):
        return False
    if min_ready_seconds == 0:
        return True
    since = pod_ready_since(pod)
    return since is not None and since + min_ready_seconds <= now


def available_at(pod: JSON, min_ready_seconds: int) -> float | None:
    """When a ready pod becomes available (for a requeue), or None if it is not ready."""
    since = pod_ready_since(pod)
    return None if since is None else since + min_ready_seconds


def restart_count(pod: JSON) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return sum(int(s.get("restartCount") or 0) for s in statuses)


# --- which pods go first when scaling down ---------------------------------------------------

DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def deletion_cost(pod: JSON) -> int:
    """helper.GetDeletionCostFromPodAnnotations: the `controller.kubernetes.io/pod-deletion-cost`
    annotation as an int32 (0 when missing or not a number)."""
    text = (pod.get("metadata", {}).get("annotations") or {}).get(DELETION_COST_ANNOTATION)
    try:
        cost = int(str(text).strip()) if text is not None else 0
    except ValueError:
        return 0
    return cost if -(2**31) <= cost < 2**31 else 0


def max_container_restarts(pod: JSON) -> int:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return max((int(s.get("restartCount") or 0) for s in statuses), default=0)


def _created(pod: JSON) -> float | None:
    stamp = pod.get("metadata", {}).get("creationTimestamp")
    return parse_rfc3339(stamp) if stamp else None


def _after_or_zero(t1: float | None, t2: float | None) -> bool:
    """afterOrZero: a zero time first, then the later one."""
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _log_rank(t: float, now: float) -> int:
    """logarithmicRankDiff's rank of one time: log2 of its age in nanoseconds (-1 if none)."""
    age = round((now - t) * 1e9)
    return int(math.log2(age)) if age > 0 else -1


def _log_less(i: JSON, j: JSON, t1: float | None, t2: float | None, now: float | None) -> bool:
    """LogarithmicScaleDown: ages compared by their power of two; the same power of two is
    ordered by uid (a pseudorandom order)."""
    if now is None or t1 is None or t2 is None:
        return _after_or_zero(t1, t2)
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return str(i["metadata"].get("uid", "")) < str(j["metadata"].get("uid", ""))
    return diff < 0


def deletion_less(i: JSON, rank_i: int, j: JSON, rank_j: int, now: float | None) -> bool:
    """controller_utils.go ActivePodsWithRanks.Less (with PodDeletionCost and
    LogarithmicScaleDown on, as they are by default): whether pod `i` is to be deleted before
    pod `j`. 1. unassigned < assigned; 2. Pending < Unknown < Running; 3. not ready < ready;
    4. lower pod-deletion-cost < higher; 5. higher rank (more related pods on its node) <
    lower; 6. both ready: ready for less time < longer; 7. more restarts (of its most
    restarted container) < fewer; 8. newer < older. `now` None compares times unscaled."""
    node_i = (i.get("spec") or {}).get("nodeName") or ""
    node_j = (j.get("spec") or {}).get("nodeName") or ""
    if node_i != node_j and (not node_i or not node_j):
        return not node_i
    phase_i = _PHASE_ORDINAL.get(pod_phase(i), 0)
    phase_j = _PHASE_ORDINAL.get(pod_phase(j), 0)
    if phase_i != phase_j:
        return phase_i < phase_j
    if pod_ready(i) != pod_ready(j):
        return not pod_ready(i)
    if deletion_cost(i) != deletion_cost(j):
        return deletion_cost(i) < deletion_cost(j)
    if rank_i != rank_j:
        return rank_i > rank_j
    if pod_ready(i) and pod_ready(j):
        ready_i, ready_j = pod_ready_since(i), pod_ready_since(j)
        if ready_i != ready_j:
            return _log_less(i, j, ready_i, ready_j, now)
    if max_container_restarts(i) != max_container_restarts(j):
        return max_container_restarts(i) > max_container_restarts(j)
    created_i, created_j = _created(i), _created(j)
    if created_i != created_j:
        return _log_less(i, j, created_i, created_j, now)
    return False


def rank_for_deletion(
    pods: Sequence[JSON], related: Sequence[JSON] = (), now: float | None = None
) -> list[JSON]:
    """The pods, those to delete first first: replica_set.go getPodsToDelete ranks each pod by
    the active pods of `related` (the pods of every ReplicaSet with the same controller) on
    its node (getPodsRankedByRelatedPodsOnSameNode) and sorts by `deletion_less`."""
    on_node: dict[str, int] = {}
    for pod in related:
        if pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in pods]

    def compare(a: tuple[JSON, int], b: tuple[JSON, int]) -> int:
        if deletion_less(a[0], a[1], b[0], b[1], now):
            return -1
        return 1 if deletion_less(b[0], b[1], a[0], a[1], now) else 0

    return [pod for pod, _ in sorted(ranked, key=functools.cmp_to_key(compare))]
