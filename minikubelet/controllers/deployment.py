"""The Deployment controller's reconcile: from a Deployment, the ReplicaSets it owns (their
status kept by the ReplicaSet controller) and their pods, the replica sets to create, scale
and delete and the Deployment's revision and status. Pure.

Upstream: pkg/controller/deployment. deployment_controller.go syncDeployment (an empty
selector only warned, `SelectingAll`; a deployment being deleted only has its status synced;
paused or a scaling event -> sync; else the strategy), sync.go (getReplicaSetsForDeployment's
adoption and release, getAllReplicaSetsAndSyncRevision/getNewReplicaSet: the new set
`<deployment>-<pod-template-hash>` with the hash added to its selector, labels and template,
a hash collision counted in status.collisionCount; scale's proportional scaling;
scaleReplicaSet's `ScalingReplicaSet` events; cleanupDeployment's revisionHistoryLimit;
calculateStatus; checkPausedConditions), rolling.go (rolloutRolling, reconcileNewReplicaSet,
reconcileOldReplicaSets, cleanupUnhealthyReplicas, scaleDownOldReplicaSetsForRollingUpdate),
recreate.go (rolloutRecreate, oldPodsRunning) and progress.go (syncRolloutStatus,
requeueStuckDeployment: a requeue at the progress deadline). A rollback (`kubectl rollout
undo`) is kubectl's own patch of the template back to an old set's: the set is found again
by its template and takes the next revision (SetNewReplicaSetAnnotations).

The strategies are here; the sync's state, the new and old sets, scaling, cleanup and the
status syncs are `deployment_sync.py`'s.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import deployment_status as ds
from minikubelet.controllers import deployment_util as du
from minikubelet.controllers.base import (
    Action,
    Event,
    FunctionController,
    Reader,
    Result,
    Update,
    UpdateStatus,
    earliest,
)
from minikubelet.controllers.deployment_sync import COMPONENT, DeploymentSync
from minikubelet.core import workloads as wl

JSON = dict[str, Any]


class _Sync(DeploymentSync):
    """One deployment's sync: the strategies and the paused or scaling sync over the state
    and pieces of `DeploymentSync`."""

    # --- the strategies (rolling.go, recreate.go) ------------------------------------------

    def rolling(self) -> None:
        new, old = self.all_sets(create=True)
        if new is None:
            return self.sync_status([*old], None)
        all_ = [*old, new]
        if self.reconcile_new(all_, new) or self.reconcile_old(all_, du.active(old), new):
            return self.sync_rollout_status(all_, new)
        if ds.deployment_complete(self.d, self.status):
            self.cleanup(old)
        return self.sync_rollout_status(all_, new)

    def reconcile_new(self, all_: list[JSON], new: JSON) -> bool:
        desired = du.replicas(self.d)
        if du.replicas(new) == desired:
            return False
        if du.replicas(new) > desired:
            return self.scale_rs(new, desired)
        return self.scale_rs(new, du.new_rs_new_replicas(self.d, all_, new))

    def reconcile_old(self, all_: list[JSON], old: list[JSON], new: JSON) -> bool:
        if du.total_replicas(old) == 0:
            return False
        min_available = du.replicas(self.d) - du.max_unavailable(self.d)
        new_unavailable = du.replicas(new) - du.status_count(new, "availableReplicas")
        max_scaled_down = du.total_replicas(all_) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self.cleanup_unhealthy(old, max_scaled_down)
        return cleaned + self.scale_down_old(all_, old) > 0

    def cleanup_unhealthy(self, old: list[JSON], max_cleanup: int) -> int:
        """cleanupUnhealthyReplicas: the old sets' unavailable replicas go first, oldest set
        first, as they cost no availability."""
        total = 0
        for rs in sorted(old, key=du.by_creation):
            if total >= max_cleanup:
                break
            available = du.status_count(rs, "availableReplicas")
            if du.replicas(rs) == 0 or du.replicas(rs) == available:
                continue
            count = min(max_cleanup - total, du.replicas(rs) - available)
            self.scale_rs(rs, du.replicas(rs) - count)
            total += count
        return total

    def scale_down_old(self, all_: list[JSON], old: list[JSON]) -> int:
        """scaleDownOldReplicaSetsForRollingUpdate: as far as keeps replicas - maxUnavailable
        available."""
        min_available = du.replicas(self.d) - du.max_unavailable(self.d)
        available = du.total_status(all_, "availableReplicas")
        if available <= min_available:
            return 0
        total, wanted = 0, available - min_available
        for rs in sorted(old, key=du.by_creation):
            if total >= wanted:
                break
            if du.replicas(rs) == 0:
                continue
            count = min(du.replicas(rs), wanted - total)
            self.scale_rs(rs, du.replicas(rs) - count)
            total += count
        return total

    def recreate(self) -> None:
        new, old = self.all_sets(create=False)
        scaled = False
        for rs in du.active(old):
            scaled = self.scale_rs(rs, 0) or scaled
        if scaled or du.old_pods_running(self.pods, new, old):
            return self.sync_rollout_status([*old, new], new)
        if new is None:
            new, old = self.all_sets(create=True)
            if new is None:
                return self.sync_status(old, None)
        self.scale_rs(new, du.replicas(self.d))
        if ds.deployment_complete(self.d, self.status):
            self.cleanup(old)
        return self.sync_rollout_status([*old, new], new)

    def sync(self) -> None:
        """sync.go sync: a scaling event or a paused deployment: sizes, no rollout."""
        new, old = self.all_sets(create=False)
        self.scale(new, old)
        if self.d["spec"].get("paused"):
            self.cleanup(old)
        self.sync_status([*old, new], new)

    def scaling_event(self) -> bool:
        """isScalingEvent: an active set annotated for another replica count."""
        new, old = self.all_sets(create=False)
        desired = du.replicas(self.d)
        return any(
            du.desired_annotation(rs) not in (None, desired) for rs in du.active([*old, new])
        )


def sync_deployment(deployment: JSON, store: Reader, now: float) -> Result:
    """syncDeployment for one deployment (one admission never let in, without a pod
    template, is left alone)."""
    meta, spec = deployment["metadata"], deployment.get("spec") or {}
    namespace = meta.get("namespace", "")
    if not isinstance(spec.get("template"), dict):
        return Result()
    if wl.selector_is_empty(spec.get("selector")):
        msg = "This deployment is selecting all pods. A non-empty selector is required."
        actions: list[Action] = [Event(deployment, "Warning", "SelectingAll", msg, COMPONENT)]
        status = deployment.get("status") or {}
        if int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
            wanted = {
                **deployment,
                "status": {**status, "observedGeneration": meta.get("generation")},
            }
            actions.append(UpdateStatus("deployments", wanted))
        return Result(actions)
    all_sets = store.list("replicasets", namespace)
    sets, released = du.claim(deployment, all_sets)
    uids = {rs["metadata"].get("uid") for rs in sets}
    pods = [
        p
        for p in store.list("pods", namespace)
        if wl.selector_matches(spec["selector"], p["metadata"].get("labels") or {})
        and (wl.controller_of(p) or {}).get("uid") in uids
    ]
    stored = {rs["metadata"]["name"]: rs for rs in all_sets}
    sync = _Sync(deployment, sets, stored, pods, now)
    if wl.deleting(deployment):
        new, old = sync.all_sets(create=False)
        sync.sync_status([*old, new], new)
    else:
        sync.check_paused()
        if spec.get("paused") or sync.scaling_event():
            sync.sync()
        elif (spec.get("strategy") or {}).get("type") == "Recreate":
            sync.recreate()
        else:
            sync.rolling()
    writes: list[Action] = [Update("replicasets", rs) for rs in released]
    return Result([*writes, *sync.actions()], sync.requeue_at)


def reconcile(store: Reader, now: float) -> Result:
    """Every Deployment synced; the earliest progress deadline as the requeue."""
    actions: list[Action] = []
    requeue: float | None = None
    for deployment in store.list("deployments"):
        result = sync_deployment(deployment, store, now)
        actions.extend(result.actions)
        requeue = earliest(requeue, result.requeue_at)
    return Result(actions, requeue)


# the Deployment controller: woken by its deployments, their replica sets and pods
CONTROLLER = FunctionController(COMPONENT, frozenset({"deployments", "replicasets", "pods"}),
                                reconcile)  # fmt: skip
