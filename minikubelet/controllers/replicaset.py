"""The ReplicaSet controller, which also runs ReplicationControllers: keep `spec.replicas`
active pods that match the selector, made from the template. Pure.

Upstream: pkg/controller/replicaset/replica_set.go. `syncReplicaSet`: the namespace's active
pods (controller.FilterActivePods: not Succeeded, not Failed, not being deleted) are claimed
(`claimPods`, controller_ref_manager.go ClaimObject: an orphan the selector matches is
adopted, a pod it owns whose labels no longer match is released, a pod another controller
owns is left alone; a ReplicaSet being deleted adopts and releases nothing); unless it is
being deleted, `manageReplicas` creates the missing pods or deletes the surplus, at most
`burstReplicas` (500) at a time, the least valuable first (`getPodsToDelete`,
core/workloads.py rank_for_deletion); then the status (replica_set_utils.go calculateStatus):
`replicas`, `fullyLabeledReplicas` (pods with every template label), `readyReplicas`,
`availableReplicas` (ready for `minReadySeconds`), `observedGeneration`, and the
`ReplicaFailure` condition while a create fails (tried again, one at a time, after the
work queue's back-off). A pod deleted or failed is no longer active, so the next pass
replaces it. Where a pod becomes available later, the controller looks again then.

The pods are made as controller_utils.go GetPodFromTemplate makes them: the template's
labels, annotations, finalizers and spec, `generateName: <name>-`, the controller owner
reference. Events as RealPodControl records them: `SuccessfulDelete` `Deleted pod: x`;
`SuccessfulCreate` `Created pod: x` and `FailedCreate` `Error creating: ...` are recorded by
the loop (controllers/apply.py), which makes the pod and learns its name or its refusal.

A ReplicationController is run by the same code (pkg/controller/replication: the
ReplicaSet controller over the RC converted, its map selector as `matchLabels`), with its
own kind in the owner references, events from `replication-controller`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from minikubelet.controllers.base import (
    Action,
    Create,
    Delete,
    Event,
    FunctionController,
    Reader,
    Result,
    Update,
    UpdateStatus,
    earliest,
)
from minikubelet.core import workloads as wl
from minikubelet.core.gotext import parse_rfc3339, rfc3339

JSON = dict[str, Any]
BURST_REPLICAS = 500  # replicaset.BurstReplicas
REPLICA_FAILURE = "ReplicaFailure"
FAILED_CREATE = "FailedCreate"


@dataclass(frozen=True, slots=True)
class Flavor:
    """What differs between the ReplicaSet and the ReplicationController runs."""

    resource: str
    component: str  # the event source
    map_selector: bool  # spec.selector is a map (v1 ReplicationController)


REPLICA_SETS = Flavor("replicasets", "replicaset-controller", False)
REPLICATION_CONTROLLERS = Flavor("replicationcontrollers", "replication-controller", True)


def selector_of(obj: JSON, flavor: Flavor) -> JSON | None:
    """The label selector; an RC's map as `matchLabels` (replication/conversion.go), None
    (matching nothing) for an RC without one."""
    selector = (obj.get("spec") or {}).get("selector")
    if flavor.map_selector:
        return {"matchLabels": dict(selector)} if selector else None
    return dict(selector) if selector is not None else None


def replicas_of(obj: JSON) -> int:
    replicas = (obj.get("spec") or {}).get("replicas")
    return 1 if replicas is None else int(replicas)


def _labels(obj: JSON) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def _uid(obj: JSON) -> str:
    return str(obj["metadata"].get("uid", ""))


# --- claiming --------------------------------------------------------------------------------


def _adopted(pod: JSON, owner: JSON) -> JSON:
    """The adoption patch: the owner's controller reference added."""
    pod = copy.deepcopy(pod)
    refs = pod["metadata"].setdefault("ownerReferences", [])
    refs.append(wl.owner_reference(owner))
    return pod


def _released(pod: JSON, owner: JSON) -> JSON:
    """The release patch: the owner's reference removed (`$patch: delete` by uid)."""
    pod = copy.deepcopy(pod)
    refs = [r for r in pod["metadata"].get("ownerReferences") or [] if r.get("uid") != _uid(owner)]
    if refs:
        pod["metadata"]["ownerReferences"] = refs
    else:
        pod["metadata"].pop("ownerReferences", None)
    return pod


def claim_pods(
    owner: JSON,
    selector: JSON | None,
    active: list[JSON],
    member: Callable[[JSON], bool] | None = None,
) -> tuple[list[JSON], list[Action]]:
    """controller_ref_manager.go ClaimPods / ClaimObject: the pods the owner keeps (its own
    that still match, and orphans it adopts) and the Updates that adopt and release. `member`:
    ClaimPods' filters, which a pod must pass besides the selector to match (a StatefulSet's
    isMemberOf)."""
    claimed: list[JSON] = []
    actions: list[Action] = []
    owner_deleting = wl.deleting(owner)
    namespace = owner["metadata"].get("namespace", "default")
    for pod in active:
        matches = wl.selector_matches(selector, _labels(pod)) and (member is None or member(pod))
        ref = wl.controller_of(pod)
        if ref is not None:
            if ref.get("uid") != _uid(owner):
                continue  # another controller's
            if matches:
                claimed.append(pod)
            elif not owner_deleting:
                actions.append(Update("pods", _released(pod, owner)))
            continue
        if owner_deleting or not matches or wl.deleting(pod):
            continue
        if pod["metadata"].get("namespace", "default") != namespace:
            continue
        adopted = _adopted(pod, owner)
        actions.append(Update("pods", adopted))
        claimed.append(adopted)
    return claimed, actions


# --- managing the replicas -------------------------------------------------------------------


def pod_from_template(owner: JSON) -> JSON:
    """controller_utils.go GetPodFromTemplate, with getPodsPrefix's `<name>-`."""
    template = (owner.get("spec") or {}).get("template") or {}
    tmeta = template.get("metadata") or {}
    meta: JSON = {
        "generateName": f"{owner['metadata']['name']}-",
        "namespace": owner["metadata"].get("namespace", "default"),
    }
    for field in ("labels", "annotations"):
        if tmeta.get(field):
            meta[field] = dict(tmeta[field])
    if tmeta.get("finalizers"):
        meta["finalizers"] = list(tmeta["finalizers"])
    meta["ownerReferences"] = [wl.owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def _involved(owner: JSON) -> JSON:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "metadata": owner["metadata"]}  # fmt: skip


def pods_to_delete(pods: list[JSON], related: list[JSON], diff: int, now: float) -> list[JSON]:
    """getPodsToDelete: the first `diff` pods by rank (no ranking when all of them go)."""
    ranked = wl.rank_for_deletion(pods, related, now) if diff < len(pods) else pods
    return ranked[:diff]


def manage_replicas(
    owner: JSON,
    claimed: list[JSON],
    related: list[JSON],
    now: float,
    flavor: Flavor,
    failing: bool = False,
) -> list[Action]:
    """manageReplicas: create the missing pods or delete the surplus, at most BURST_REPLICAS
    of either in one pass. While creates fail, one is tried at a time (slowStartBatch's first
    batch of one, which stops the rest when it fails)."""
    diff = len(claimed) - replicas_of(owner)
    if diff < 0:
        count = 1 if failing else min(-diff, BURST_REPLICAS)
        return [
            Create(
                "pods", pod_from_template(owner), owner=owner, created_message="Created pod: {name}"
            )
            for _ in range(count)
        ]
    if diff == 0:
        return []
    actions: list[Action] = []
    for pod in pods_to_delete(claimed, related, min(diff, BURST_REPLICAS), now):
        meta = pod["metadata"]
        actions.append(Delete("pods", meta.get("namespace", "default"), meta["name"],
                              uid=meta.get("uid")))  # fmt: skip
        actions.append(Event(_involved(owner), "Normal", "SuccessfulDelete",
                             f"Deleted pod: {meta['name']}", flavor.component))  # fmt: skip
    return actions


# --- status ----------------------------------------------------------------------------------


def calculate_status(
    owner: JSON, claimed: list[JSON], now: float, create_error: str | None = None
) -> JSON:
    """replica_set_utils.go calculateStatus (and updateReplicaSetStatus's
    observedGeneration), with the fields the API leaves out when zero left out."""
    spec = owner.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    old = owner.get("status") or {}
    fully_labeled = sum(
        1 for p in claimed if all(_labels(p).get(k) == v for k, v in template_labels.items())
    )
    ready = sum(1 for p in claimed if wl.pod_ready(p))
    available = sum(1 for p in claimed if wl.pod_available(p, min_ready, now))
    status: JSON = {"replicas": len(claimed)}
    generation = owner["metadata"].get("generation", 0)
    counts = (("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready),
              ("availableReplicas", available), ("observedGeneration", generation))  # fmt: skip
    for field, value in counts:
        if value:
            status[field] = value
    conditions = [dict(c) for c in old.get("conditions") or []]
    failure = next((c for c in conditions if c.get("type") == REPLICA_FAILURE), None)
    if create_error is not None and failure is None:
        conditions.append({
            "type": REPLICA_FAILURE, "status": "True", "lastTransitionTime": rfc3339(now),
            "reason": FAILED_CREATE, "message": create_error,
        })  # fmt: skip
    elif create_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != REPLICA_FAILURE]
    if conditions:
        status["conditions"] = conditions
    return status


def next_available(claimed: list[JSON], min_ready_seconds: int, now: float) -> float | None:
    """The first time after now at which a ready pod becomes available."""
    if min_ready_seconds <= 0:
        return None
    times = (wl.available_at(p, min_ready_seconds) for p in claimed)
    return earliest(*(t for t in times if t is not None and t > now))


# --- one object, and all of them -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateFailure:
    message: str  # the API's error, as the ReplicaFailure condition carries it
    count: int  # how many creates have failed since the last that worked


def create_failure(owner: JSON, claimed: list[JSON], events: list[JSON]) -> CreateFailure | None:
    """The pod creates that failed while pods are still missing: the loop's `FailedCreate`
    events on this owner newer than every pod it has (so the failure is over once a create
    works and nothing is missing)."""
    if len(claimed) >= replicas_of(owner) or wl.deleting(owner):
        return None
    newest_pod = max((_stamp(p["metadata"].get("creationTimestamp")) for p in claimed),
                     default=0.0)  # fmt: skip
    since = max(newest_pod, _stamp(owner["metadata"].get("creationTimestamp")))
    failures = [
        e for e in events
        if e.get("reason") == FAILED_CREATE
        and (e.get("involvedObject") or {}).get("uid") == _uid(owner)
        and _stamp(e.get("lastTimestamp") or e.get("eventTime")) >= since
    ]  # fmt: skip
    if not failures:
        return None
    last = max(failures, key=lambda e: _stamp(e.get("lastTimestamp") or e.get("eventTime")))
    message = str(last.get("message") or "").removeprefix("Error creating: ")
    return CreateFailure(message, sum(int(e.get("count") or 1) for e in failures))


def retry_delay(failures: int) -> float:
    """workqueue.DefaultControllerRateLimiter's per-item back-off: 5 ms doubling, at most
    1000 s, after each failed sync."""
    return min(0.005 * float(2 ** min(failures, 30)), 1000.0)


def _stamp(text: Any) -> float:
    if not text:
        return 0.0
    try:
        return parse_rfc3339(str(text))
    except ValueError:
        return 0.0


def sync(
    owner: JSON,
    pods: list[JSON],
    now: float,
    flavor: Flavor,
    related: list[JSON] | None = None,
    events: list[JSON] | None = None,
) -> Result:
    """syncReplicaSet for one ReplicaSet (or RC) and the pods of its namespace."""
    selector = selector_of(owner, flavor)
    active = [p for p in pods if wl.pod_active(p)]
    claimed, actions = claim_pods(owner, selector, active)
    failure = create_failure(owner, claimed, events or [])
    if not wl.deleting(owner):
        actions += manage_replicas(owner, claimed, related or [], now, flavor, failure is not None)
    status = calculate_status(owner, claimed, now, failure.message if failure else None)
    if status != (owner.get("status") or {}):
        actions.append(UpdateStatus(flavor.resource, {**owner, "status": status}))
    min_ready = int((owner.get("spec") or {}).get("minReadySeconds") or 0)
    retry = now + retry_delay(failure.count) if failure is not None else None
    return Result(actions, earliest(next_available(claimed, min_ready, now), retry))


def _related_pods(
    owner: JSON, siblings: list[JSON], pods: list[JSON], flavor: Flavor
) -> list[JSON]:
    """getIndirectlyRelatedPods: the pods of every ReplicaSet with the same controller."""
    ref = wl.controller_of(owner)
    if ref is None:
        return []
    seen: dict[str, JSON] = {}
    for sibling in siblings:
        if (wl.controller_of(sibling) or {}).get("uid") != ref.get("uid"):
            continue
        selector = selector_of(sibling, flavor)
        for pod in pods:
            if wl.selector_matches(selector, _labels(pod)):
                seen.setdefault(_uid(pod) or pod["metadata"]["name"], pod)
    return list(seen.values())


def reconcile_all(store: Reader, now: float, flavor: Flavor) -> Result:
    actions: list[Action] = []
    requeue: float | None = None
    owners = store.list(flavor.resource)
    listed: dict[str, tuple[list[JSON], list[JSON]]] = {}
    for owner in owners:
        namespace = owner["metadata"].get("namespace", "default")
        if namespace not in listed:
            failures = [e for e in store.list("events", namespace)
                        if e.get("reason") == FAILED_CREATE]  # fmt: skip
            listed[namespace] = (store.list("pods", namespace), failures)
        pods, events = listed[namespace]
        siblings = [o for o in owners if o["metadata"].get("namespace") == namespace]
        related = _related_pods(owner, siblings, pods, flavor)
        result = sync(owner, pods, now, flavor, related, events)
        actions += result.actions
        requeue = earliest(requeue, result.requeue_at)
    return Result(actions, requeue)


def reconcile_replicasets(store: Reader, now: float) -> Result:
    return reconcile_all(store, now, REPLICA_SETS)


def reconcile_replication_controllers(store: Reader, now: float) -> Result:
    return reconcile_all(store, now, REPLICATION_CONTROLLERS)


def controller(flavor: Flavor) -> FunctionController:
    """The controller of one flavour, woken by its own kind and by pods."""
    return FunctionController(flavor.component, frozenset({flavor.resource, "pods"}),
                              functools.partial(_reconcile_flavor, flavor=flavor))  # fmt: skip


def _reconcile_flavor(store: Reader, now: float, *, flavor: Flavor) -> Result:
    return reconcile_all(store, now, flavor)


CONTROLLERS = (controller(REPLICA_SETS), controller(REPLICATION_CONTROLLERS))
