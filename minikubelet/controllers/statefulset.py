"""The StatefulSet controller's reconcile: ordinal pods made, replaced, scaled and rolled, as
pkg/controller/statefulset stateful_set_control.go does it. Pure.

Per set (UpdateStatefulSet, then updateStatefulSet):
- Revisions (getStatefulSetRevisions): the update revision is the set's template now, an
  existing equal revision reused (re-numbered when it is not the newest: a rollback), else a
  new one created (a name taken by another object bumps `collisionCount`); the current
  revision is the one `status.currentRevision` names, else the update revision.
- Pods (getPodsForStatefulSet, controller_ref_manager.go ClaimPods): orphans that match the
  selector and are named `<set>-<ordinal>` (isMemberOf) are adopted; its own pods that no
  longer match are released (not while the set is being deleted).
- Pods in the ordinal range are the replicas, the others are condemned. A missing replica is
  made at the revision newVersionedStatefulSetPod picks. Replicas are processed in ordinal
  order (processReplica): a Failed or Succeeded one is deleted to be made again; a missing one
  is created; with `OrderedReady` (monotonic) the pass stops at a pod created, terminating, or
  not Running and available (`minReadySeconds`), so pod N+1 waits for 0..N. `Parallel` goes
  on past all of these.
- Each replica that passed, and each condemned pod, gets its claims' owners set as
  `persistentVolumeClaimRetentionPolicy` says (statefulset_claims.py): with `whenScaled:
  Delete` a scaled-down pod owns its claims, which the garbage collector deletes with it.
- Then the condemned, highest ordinal first (processCondemned): monotonic, one deletion per
  pass, waiting for a terminating one to be gone and for an unhealthy predecessor.
- `OnDelete` stops there. `RollingUpdate` deletes the highest-ordinal pod at or above
  `partition` that is not at the update revision, one at a time, waiting for each to be
  healthy again; with `maxUnavailable` (the MaxUnavailableStatefulSet feature,
  updateStatefulSetAfterInvariantEstablished) up to that many at once.
- Status (computeReplicaStatus, completeRollingUpdate), then truncateHistory.
Events as StatefulPodControl records them: `SuccessfulCreate` "create Pod web-0 in
StatefulSet web successful", `SuccessfulDelete` "delete Pod web-2 in StatefulSet web
successful".
"""

from __future__ import annotations

import copy
import math
from typing import Any

from minikubelet.controllers import history as hist
from minikubelet.controllers import statefulset_claims as retention
from minikubelet.controllers import statefulset_pods as sp
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
from minikubelet.core.workloads import available_at, deleting, pod_ready

JSON = dict[str, Any]
COMPONENT = "statefulset-controller"
_MAX_COLLISIONS = 32


def _spec(sts: JSON) -> JSON:
    return sts.get("spec") or {}


def _min_ready(sts: JSON) -> int:
    return int(_spec(sts).get("minReadySeconds") or 0)


def _event(sts: JSON, verb: str, pod: JSON) -> Event:
    """StatefulPodControl.recordPodEvent."""
    name, set_name = pod["metadata"]["name"], sts["metadata"]["name"]
    return Event(sts, "Normal", f"Successful{verb.capitalize()}",
                 f"{verb} Pod {name} in StatefulSet {set_name} successful", COMPONENT)  # fmt: skip


def _claim_event(sts: JSON, claim: JSON, pod: JSON) -> Event:
    """StatefulPodControl.recordClaimEvent."""
    return Event(sts, "Normal", "SuccessfulCreate",
                 f"create Claim {claim['metadata']['name']} Pod {pod['metadata']['name']} in "
                 f"StatefulSet {sts['metadata']['name']} success", COMPONENT)  # fmt: skip


def revisions(sts: JSON, owned: list[JSON], store: Reader) -> tuple[JSON, JSON, int, list[Action]]:
    """getStatefulSetRevisions: (current, update, collisionCount, writes)."""
    namespace = sts["metadata"].get("namespace", "default")
    collisions = int((sts.get("status") or {}).get("collisionCount") or 0)
    actions: list[Action] = []
    for _ in range(_MAX_COLLISIONS):
        data = hist.template_patch(sts)
        hash_ = hist.revision_hash(data, collisions)
        candidate = hist.new_revision(sts, hist.next_revision(owned), hash_, hist.STS_HASH_LABEL)
        equal = [r for r in owned if hist.equal_revision(r, candidate)]
        if equal and owned[-1] is equal[-1]:
            update = owned[-1]
        elif equal:
            update = {**copy.deepcopy(equal[-1]), "revision": candidate["revision"]}
            actions.append(Update("controllerrevisions", update))
        else:
            taken = store.get("controllerrevisions", namespace, candidate["metadata"]["name"])
            if taken is not None and hist.canonical(taken.get("data")) != hist.canonical(data):
                collisions += 1
                continue
            update = taken if taken is not None else candidate
            if taken is None:
                actions.append(Create("controllerrevisions", candidate))
        break
    current_name = (sts.get("status") or {}).get("currentRevision")
    current = next((r for r in owned if r["metadata"]["name"] == current_name), update)
    return current, update, collisions, actions


def _max_unavailable(sts: JSON, count: int) -> int | None:
    """getStatefulSetMaxUnavailable: an int or a percentage of replicas (rounded down), at
    least 1; None where the set does not ask for it."""
    rolling = (_spec(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    value = rolling.get("maxUnavailable")
    if value is None:
        return None
    if isinstance(value, str) and value.endswith("%"):
        value = math.floor(int(value[:-1]) * count / 100)
    return max(1, int(value))


def status_of(sts: JSON, pods: list[JSON], created: set[str], current: str, update: str,
              now: float) -> JSON:  # fmt: skip
    """computeReplicaStatus over the replicas and condemned pods (made ones only)."""
    counts = {"replicas": 0, "readyReplicas": 0, "availableReplicas": 0,
              "currentReplicas": 0, "updatedReplicas": 0}  # fmt: skip
    for pod in pods:
        made = pod["metadata"]["name"] in created
        counts["replicas"] += made
        if sp.running_and_ready(pod):
            counts["readyReplicas"] += 1
            counts["availableReplicas"] += sp.running_and_available(pod, _min_ready(sts), now)
        if made and not sp.terminating(pod):
            counts["currentReplicas"] += sp.revision_of(pod) == current
            counts["updatedReplicas"] += sp.revision_of(pod) == update
    return counts


def reconcile_set(sts: JSON, store: Reader, now: float) -> Result:
    """One StatefulSet: its pods, revisions and status."""
    namespace, set_name = sts["metadata"].get("namespace", "default"), sts["metadata"]["name"]
    owned_revs = hist.owned_revisions(store.list("controllerrevisions", namespace), sts)
    current_rev, update_rev, collisions, actions = revisions(sts, owned_revs, store)
    if deleting(sts):
        # updateStatefulSet: a set being deleted gets its status and nothing else; a revision
        # made now would be a new dependent for the garbage collector to delete, again and
        # again while the set waits in the foreground for its pods
        actions = []
    current, update = current_rev["metadata"]["name"], update_rev["metadata"]["name"]
    current_set = hist.apply_revision(sts, current_rev)
    update_set = hist.apply_revision(sts, update_rev)
    status = dict(sts.get("status") or {})
    old_current_replicas = int(status.get("currentReplicas") or 0)

    # getPodsForStatefulSet: every pod of the namespace claimed (ClaimPods), matching being
    # the selector and isMemberOf (the name `<set>-<ordinal>`): orphans adopted, its own
    # pods whose labels or name no longer match released
    pods, claims = claim_pods(sts, _spec(sts).get("selector"), store.list("pods", namespace),
                              member=lambda p: sp.parent_and_ordinal(p)[0] == set_name)  # fmt: skip
    actions += claims
    created = {p["metadata"]["name"] for p in pods}
    start, count = sp.start_ordinal(sts), sp.replicas(sts)
    slots: list[JSON | None] = [None] * count
    condemned: list[JSON] = []
    for pod in pods:
        if sp.in_ordinal_range(pod, sts):
            slots[sp.ordinal(pod) - start] = pod
        elif sp.ordinal(pod) >= 0:
            condemned.append(pod)
    replicas: list[JSON] = [
        slot if slot is not None else sp.versioned_pod(
            current_set, update_set, current, update, start + i, old_current_replicas)
        for i, slot in enumerate(slots)
    ]  # fmt: skip
    condemned.sort(key=sp.ordinal, reverse=True)
    unhealthy = [p for p in replicas if not sp.healthy(p)]
    unhealthy += [p for p in reversed(condemned) if not sp.healthy(p)]
    first_unhealthy = unhealthy[0] if unhealthy else None

    monotonic = _spec(sts).get("podManagementPolicy", "OrderedReady") != "Parallel"
    min_ready = _min_ready(sts)
    requeue: float | None = None
    rolled = 0  # status.CurrentReplicas-- for each pod the update pass deletes

    def delete(pod: JSON) -> None:
        meta = pod["metadata"]
        actions.append(Delete("pods", namespace, meta["name"], uid=meta.get("uid")))
        actions.append(_event(sts, "delete", pod))

    def process_replica(pod: JSON) -> bool:
        """processReplica: True where a monotonic set stops here."""
        nonlocal requeue
        if pod["metadata"]["name"] in created and sp.finished(pod):
            if not deleting(pod):
                delete(pod)
            return True
        if pod["metadata"]["name"] not in created:
            for claim in sp.claims_for(sts, sp.ordinal(pod)):
                if store.get("persistentvolumeclaims", namespace, claim["metadata"]["name"]):
                    continue
                actions.append(Create("persistentvolumeclaims", claim, owner=sts))
                actions.append(_claim_event(sts, claim, pod))
            # the SuccessfulCreate event once the pod is made (a create the API refuses, such
            # as a name a released pod still holds, is a FailedCreate instead)
            actions.append(Create("pods", pod, owner=sts,
                                  created_message=_event(sts, "create", pod).message))  # fmt: skip
            return True
        stop = sp.terminating(pod) or not sp.running_and_available(pod, min_ready, now)
        if stop and not sp.terminating(pod) and pod_ready(pod):
            requeue = earliest(requeue, available_at(pod, min_ready))
        if not stop or not monotonic:  # the set's invariants: its claims' owners
            actions.extend(retention.retention_updates(sts, pod, store))
        return stop

    def process_condemned(pod: JSON) -> bool:
        """processCondemned."""
        if sp.terminating(pod):
            return True
        if (
            monotonic
            and pod is not first_unhealthy
            and (not sp.running_and_ready(pod) or not sp.running_and_available(pod, min_ready, now))
        ):
            return True
        delete(pod)
        return True

    def finish() -> Result:
        pods_now = replicas + condemned
        counts = status_of(sts, pods_now, created, current, update, now)
        counts["currentReplicas"] -= rolled
        new_status: JSON = {**status, "observedGeneration": sts["metadata"].get("generation", 1),
                            "currentRevision": current, "updateRevision": update,
                            "collisionCount": collisions, **counts}  # fmt: skip
        if (
            sp.strategy(sts) == "RollingUpdate"
            and counts["updatedReplicas"] == counts["replicas"]
            and counts["readyReplicas"] == counts["replicas"]
        ):
            new_status["currentReplicas"] = counts["updatedReplicas"]
            new_status["currentRevision"] = update
        for key in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not new_status[key]:
                new_status.pop(key)
        if new_status != (sts.get("status") or {}):
            actions.append(UpdateStatus("statefulsets", {**sts, "status": new_status}))
        live = {new_status["currentRevision"], update}
        live |= {sp.revision_of(p) for p in pods}
        limit = int(_spec(sts).get("revisionHistoryLimit", 10))
        for old in [] if deleting(sts) else hist.history_to_delete(owned_revs, live, limit):
            meta = old["metadata"]
            actions.append(
                Delete("controllerrevisions", namespace, meta["name"], uid=meta.get("uid"))
            )
        return Result(actions, requeue)

    if deleting(sts):
        return finish()
    for pod in replicas:
        if process_replica(pod) and monotonic:
            return finish()
    for pod in condemned:  # a claim the pod owns goes with it (whenScaled: Delete)
        actions.extend(retention.retention_updates(sts, pod, store))
    for pod in condemned:
        if process_condemned(pod) and monotonic:
            return finish()
    if sp.strategy(sts) == "OnDelete":
        return finish()
    rolled = _rolling_update(sts, replicas, update, count, delete)
    return finish()


def _rolling_update(sts: JSON, replicas: list[JSON], update: str, count: int, delete: Any) -> int:
    """The update pass: the highest pods at or above the partition not at the update revision
    are deleted (the pass above makes them again), one at a time (or `maxUnavailable`); how
    many it deleted."""
    cut = sp.partition(sts) or 0
    most = _max_unavailable(sts, count)
    if most is None:
        for target in range(len(replicas) - 1, cut - 1, -1):
            pod = replicas[target]
            if sp.revision_of(pod) != update and not sp.terminating(pod):
                delete(pod)
                return 1
            if not sp.healthy(pod):
                return 0
        return 0
    room = most - sum(not sp.healthy(p) for p in replicas)
    done = 0
    for target in range(len(replicas) - 1, cut - 1, -1):
        pod = replicas[target]
        if done < room and sp.revision_of(pod) != update and not sp.terminating(pod):
            delete(pod)
            done += 1
    return done


def reconcile(store: Reader, now: float) -> Result:
    """Every StatefulSet, each on its own."""
    actions: list[Action] = []
    requeue: float | None = None
    for sts in store.list("statefulsets"):
        result = reconcile_set(sts, store, now)
        actions += result.actions
        requeue = earliest(requeue, result.requeue_at)
    return Result(actions, requeue)


class StatefulSetController:
    name = COMPONENT
    wakes = frozenset({"statefulsets", "pods", "controllerrevisions"})

    def reconcile(self, store: Reader, now: float) -> Result:
        return reconcile(store, now)


CONTROLLER = StatefulSetController()
