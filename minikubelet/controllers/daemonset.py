"""The DaemonSet controller's reconcile for the one node the daemon serves, as
pkg/controller/daemon does it (daemon_controller.go syncDaemonSet, manage,
podsShouldBeOnNode, updateDaemonSetStatus; update.go constructHistory, rollingUpdate,
cleanupHistory). Pure; the Node is given (the daemon's own, api/nodes.py).

- History (constructHistory): the revision whose patch is the DaemonSet's template now is the
  current one (re-numbered above the others if it is older: a rollback), else one is made,
  named `<ds>-<hash>` (a name taken by a different revision bumps `collisionCount`); its hash
  is the pods' `controller-revision-hash`.
- Pods (getDaemonPods, controller_ref_manager.go ClaimPods): orphans that match the selector
  are adopted, its own pods that no longer match released.
- manage: a pod is created where the node should run one and has none; a Failed one is
  deleted (`FailedDaemonPod` "Found failed daemon pod default/x on node n, will try to kill
  it") unless the set is in its failed-pods back-off on the node (the controller's
  `failedPodsBackoff`, flowcontrol.NewBackOff(1s, 15min): the first failed pod goes at once,
  each next one only once the delay since the last deletion has passed, the delay doubling
  up to 15 minutes and starting again after twice that without a failure), a Succeeded one
  too; beyond one running pod, all but the oldest go (with `maxSurge`,
  an old and a new one may both run while the new one is not yet available); where the node
  should no longer run it (its nodeSelector or affinity does not match), every pod goes.
- rollingUpdate, once manage has nothing to do: without surge, old pods are deleted while
  fewer than `maxUnavailable` are unavailable (an unavailable old pod at once); with surge, a
  new pod is made beside an available old one, which is deleted once the new one is available.
  `OnDelete` leaves old pods until they are deleted.
- Status (updateDaemonSetStatus): desired, current, ready, available (`minReadySeconds`),
  updated, misscheduled, unavailable, observedGeneration; then cleanupHistory.
Pods are made with `generateName: <ds>-`; deletions are recorded as RealPodControl records
them (`SuccessfulDelete` "Deleted pod: x").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.controllers import daemonset_node as dn
from minikubelet.controllers import history as hist
from minikubelet.controllers.base import (
    Action,
    Create,
    Delete,
    Event,
    Reader,
    Result,
    Update,
    UpdateStatus,
    earliest,
)
from minikubelet.controllers.replicaset import claim_pods
from minikubelet.core.workloads import (
    available_at,
    deleting,
    pod_available,
    pod_phase,
    pod_ready,
)

JSON = dict[str, Any]
COMPONENT = "daemonset-controller"
_MAX_COLLISIONS = 32
# daemon_controller.go NewDaemonSetsController: failedPodsBackoff, flowcontrol.NewBackOff
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 15 * 60.0
# the failed-pods back-off per failedPodsBackoffKey: (delay, when it was last moved on)
Backoff = Mapping[str, tuple[float, float]]


def backoff_key(ds: JSON, node_name: str) -> str:
    """failedPodsBackoffKey: the set's uid, its observed generation and the node."""
    generation = int((ds.get("status") or {}).get("observedGeneration") or 0)
    return f"{ds['metadata'].get('uid', '')}/{generation}/{node_name}"


def _expired(now: float, last: float) -> bool:
    """flowcontrol's hasExpired: stable after twice the longest delay without a failure."""
    return now - last > 2 * BACKOFF_MAX


def in_backoff(backoff: Backoff, key: str, now: float) -> float | None:
    """IsInBackOffSinceUpdate: when the back-off ends, or None if it is not holding."""
    entry = backoff.get(key)
    if entry is None or _expired(now, entry[1]):
        return None
    delay, last = entry
    return last + delay if now - last < delay else None


def next_backoff(backoff: Backoff, key: str, now: float) -> tuple[float, float]:
    """Backoff.Next: the initial delay for a new (or expired) entry, else twice the last, at
    most the maximum (this back-off has no jitter)."""
    entry = backoff.get(key)
    if entry is None or _expired(now, entry[1]):
        return BACKOFF_INITIAL, now
    return min(entry[0] * 2, BACKOFF_MAX), now


def _spec(ds: JSON) -> JSON:
    return ds.get("spec") or {}


def _created(pod: JSON) -> tuple[str, str]:
    """podByCreationTimestampAndPhase: oldest first (then by name)."""
    return pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"]


def history(ds: JSON, store: Reader) -> tuple[JSON, list[JSON], int, list[Action]]:
    """constructHistory: (current revision, old revisions, collisionCount, writes)."""
    namespace = ds["metadata"].get("namespace", "default")
    owned = hist.owned_revisions(store.list("controllerrevisions", namespace), ds)
    patch = hist.canonical(hist.template_patch(ds))
    current = [r for r in owned if hist.canonical(r.get("data")) == patch]
    old = [r for r in owned if r not in current]
    number = hist.next_revision(old)
    collisions = int((ds.get("status") or {}).get("collisionCount") or 0)
    actions: list[Action] = []
    if current:
        cur = current[-1]  # dedupCurHistories keeps the newest, the others go
        for extra in current[:-1]:
            meta = extra["metadata"]
            actions.append(
                Delete("controllerrevisions", namespace, meta["name"], uid=meta.get("uid"))
            )
        if int(cur.get("revision") or 0) < number:
            cur = {**cur, "revision": number}
            actions.append(Update("controllerrevisions", cur))
        return cur, old, collisions, actions
    template = _spec(ds).get("template") or {}
    for _ in range(_MAX_COLLISIONS):
        hash_ = hist.template_hash(template, collisions)
        snapshot = hist.new_revision(ds, number, hash_, hist.REVISION_HASH_LABEL)
        taken = store.get("controllerrevisions", namespace, snapshot["metadata"]["name"])
        if taken is None:
            actions.append(Create("controllerrevisions", snapshot))
            return snapshot, old, collisions, actions
        if hist.canonical(taken.get("data")) == patch:
            return taken, old, collisions, actions
        collisions += 1
    raise RuntimeError("no free ControllerRevision name")  # pragma: no cover


def _revision_hash(revision: JSON) -> str:
    labels = revision["metadata"].get("labels") or {}
    return str(labels.get(hist.REVISION_HASH_LABEL) or revision["metadata"]["name"])


def _counts(ds: JSON, desired: int) -> tuple[int, int]:
    """updatedDesiredNodeCounts: (maxSurge, maxUnavailable), 1 unavailable if both are 0."""
    strategy = _spec(ds).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        surge, unavailable = 0, 0
    else:
        surge = dn.scaled(rolling.get("maxSurge"), desired, True)
        unavailable = dn.scaled(rolling.get("maxUnavailable"), desired, True)
    if desired > 0 and surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def reconcile_daemonset(
    ds: JSON, store: Reader, node: JSON, now: float, backoff: dict[str, tuple[float, float]]
) -> Result:
    """One DaemonSet on the node. One being deleted is left alone, status and all
    (syncDaemonSet: its history may already be deleted or orphaned, and a revision made now
    would be a new dependent for the garbage collector to delete, again and again)."""
    if deleting(ds):
        return Result([])
    namespace = ds["metadata"].get("namespace", "default")
    node_name = node["metadata"]["name"]
    cur, old, collisions, actions = history(ds, store)
    hash_ = _revision_hash(cur)
    generation = dn.template_generation(ds)
    min_ready = int(_spec(ds).get("minReadySeconds") or 0)
    # getDaemonPods: every pod of the namespace claimed (ClaimPods: orphans that match the
    # selector adopted, its own that no longer match released); a terminal pod being deleted
    # is no longer the controller's concern (getNodesToDaemonPods)
    claimed, claims = claim_pods(ds, _spec(ds).get("selector"), store.list("pods", namespace))
    actions += claims
    pods = [p for p in claimed if not (deleting(p) and pod_phase(p) in ("Succeeded", "Failed"))]
    on_node = (None, "", node_name)
    here = sorted(
        (p for p in pods if (p.get("spec") or {}).get("nodeName") in on_node), key=_created
    )
    elsewhere = [p for p in pods if p not in here]
    run, keep = dn.should_run(ds, node)
    surge, unavailable = _counts(ds, 1 if run else 0)
    pod_actions: list[Action] = []
    held_until: float | None = None  # the failed-pods back-off

    def delete(pod: JSON) -> None:
        meta = pod["metadata"]
        pod_actions.append(Delete("pods", namespace, meta["name"], uid=meta.get("uid")))
        pod_actions.append(Event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}",
                                 COMPONENT))  # fmt: skip

    def create() -> None:
        pod_actions.append(Create("pods", dn.daemon_pod(ds, node, hash_), owner=ds))

    # manage / podsShouldBeOnNode
    if not deleting(ds):
        for pod in elsewhere:
            if not deleting(pod):
                delete(pod)
        if run and not here:
            create()
        elif keep:
            running = []
            for pod in here:
                if deleting(pod):
                    continue
                if pod_phase(pod) == "Failed":
                    # "a critical place where DS is often fighting with kubelet that rejects
                    # pods": avoid hot looping and back off
                    key = backoff_key(ds, node_name)
                    until = in_backoff(backoff, key, now)
                    if until is not None:
                        held_until = earliest(held_until, until)
                        continue
                    backoff[key] = next_backoff(backoff, key, now)
                    pod_actions.append(Event(ds, "Warning", "FailedDaemonPod",
                        f"Found failed daemon pod {namespace}/{pod['metadata']['name']} on node "
                        f"{node_name}, will try to kill it", COMPONENT))  # fmt: skip
                    delete(pod)
                elif pod_phase(pod) == "Succeeded":
                    delete(pod)
                else:
                    running.append(pod)
            _prune(running, surge, hash_, generation, min_ready, now, delete)
        elif here:
            for pod in here:
                if not deleting(pod):
                    delete(pod)
        strategy = (_spec(ds).get("updateStrategy") or {}).get("type", "RollingUpdate")
        if not pod_actions and strategy == "RollingUpdate":
            _rolling_update(here, run, surge, unavailable, hash_, generation, min_ready, now,
                            delete, create)  # fmt: skip
    actions += pod_actions

    status, requeue = _status(ds, here, run, hash_, generation, min_ready, now, collisions)
    if status != (ds.get("status") or {}):
        actions.append(UpdateStatus("daemonsets", {**ds, "status": status}))
    actions += _cleanup(ds, old, pods, hash_)
    return Result(actions, earliest(requeue, held_until))


def _prune(running: list[JSON], surge: int, hash_: str, generation: str | None,
           min_ready: int, now: float, delete: Any) -> None:  # fmt: skip
    """More than one running pod: all but the oldest go; with surge, the oldest new and the
    oldest old one stay while the new one is not yet available and the old one is ready."""
    if len(running) <= 1:
        return
    if not surge:
        for pod in running[1:]:
            delete(pod)
        return
    oldest_new = oldest_old = None
    for pod in running:
        if dn.pod_updated(pod, hash_, generation):
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        delete(pod)
    if (
        oldest_new is not None
        and oldest_old is not None
        and (not pod_ready(oldest_old) or pod_available(oldest_new, min_ready, now))
    ):
        delete(oldest_old)


def _rolling_update(here: list[JSON], run: bool, surge: int, unavailable: int, hash_: str,
                    generation: str | None, min_ready: int, now: float, delete: Any,
                    create: Any) -> None:  # fmt: skip
    """rollingUpdate for the one node (findUpdatedPodsOnNode, then the two branches)."""
    live = [p for p in here if not deleting(p)]
    if not here:
        return
    new = [p for p in live if dn.pod_updated(p, hash_, generation)]
    old = [p for p in live if p not in new]
    if len(new) > 1 or len(old) > 1:
        return  # the manage loop cleans the node up first
    new_pod: JSON | None = new[0] if new else None
    old_pod: JSON | None = old[0] if old else None
    if surge == 0:
        if old_pod is None or new_pod is not None:
            return
        if not pod_available(old_pod, min_ready, now) or unavailable > 0:
            delete(old_pod)
        return
    if old_pod is None:
        return
    if new_pod is None:
        if not pod_available(old_pod, min_ready, now) or (run and surge > 0):
            create()
        return
    if pod_available(new_pod, min_ready, now):
        delete(old_pod)


def _status(ds: JSON, here: list[JSON], run: bool, hash_: str, generation: str | None,
            min_ready: int, now: float, collisions: int) -> tuple[JSON, float | None]:  # fmt: skip
    """updateDaemonSetStatus for one node."""
    counts = {"desired": 0, "current": 0, "ready": 0, "available": 0, "updated": 0, "mis": 0}
    requeue = None
    if run:
        counts["desired"] = 1
        if here:
            counts["current"] = 1
            pod = here[0]
            if pod_ready(pod):
                counts["ready"] = 1
                if pod_available(pod, min_ready, now):
                    counts["available"] = 1
                else:
                    requeue = available_at(pod, min_ready)
            counts["updated"] = int(dn.pod_updated(pod, hash_, generation))
    elif here:
        counts["mis"] = 1
    status: JSON = {
        "currentNumberScheduled": counts["current"],
        "numberMisscheduled": counts["mis"],
        "desiredNumberScheduled": counts["desired"],
        "numberReady": counts["ready"],
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    optional = {
        "updatedNumberScheduled": counts["updated"],
        "numberAvailable": counts["available"],
        "numberUnavailable": counts["desired"] - counts["available"],
        "collisionCount": collisions,
    }
    status.update({k: v for k, v in optional.items() if v})
    old_conditions = (ds.get("status") or {}).get("conditions")
    if old_conditions:
        status["conditions"] = old_conditions
    return status, requeue


def _cleanup(ds: JSON, old: list[JSON], pods: list[JSON], hash_: str) -> list[Action]:
    """cleanupHistory: the oldest old revisions no pod runs, beyond revisionHistoryLimit."""
    limit = int(_spec(ds).get("revisionHistoryLimit", 10))
    to_kill = len(old) - limit
    live = {hash_} | {
        (p["metadata"].get("labels") or {}).get(hist.REVISION_HASH_LABEL) for p in pods
    }
    actions: list[Action] = []
    for revision in old:
        if to_kill <= 0:
            break
        if _revision_hash(revision) in live:
            continue
        meta = revision["metadata"]
        actions.append(Delete("controllerrevisions", meta.get("namespace", "default"), meta["name"],
                              uid=meta.get("uid")))  # fmt: skip
        to_kill -= 1
    return actions


def reconcile_with_backoff(
    store: Reader, now: float, node: JSON, backoff: Backoff
) -> tuple[Result, dict[str, tuple[float, float]]]:
    """Every DaemonSet on the node, given the failed-pods back-off so far; the result and
    the back-off after it (entries stable for twice the longest delay dropped, as the
    controller's BackoffGCInterval does)."""
    state = {k: v for k, v in backoff.items() if not _expired(now, v[1])}
    actions: list[Action] = []
    requeue: float | None = None
    for ds in store.list("daemonsets"):
        result = reconcile_daemonset(ds, store, node, now, state)
        actions += result.actions
        requeue = earliest(requeue, result.requeue_at)
    return Result(actions, requeue), state


def reconcile(store: Reader, now: float, node: JSON, backoff: Backoff | None = None) -> Result:
    """Every DaemonSet on the node (a fresh back-off unless given)."""
    return reconcile_with_backoff(store, now, node, backoff or {})[0]


class DaemonSetController:
    """The controller for the daemon's node."""

    name = COMPONENT
    wakes = frozenset({"daemonsets", "pods", "controllerrevisions"})

    def __init__(self, node: JSON) -> None:
        self.node = node
        # the failed-pods back-off, kept between passes as the controller keeps it in memory
        self.backoff: dict[str, tuple[float, float]] = {}

    def reconcile(self, store: Reader, now: float) -> Result:
        result, self.backoff = reconcile_with_backoff(store, now, self.node, self.backoff)
        return result


def controller(node: JSON) -> DaemonSetController:
    return DaemonSetController(node)
