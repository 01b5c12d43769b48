"""One Deployment's sync, the state and the pieces every path of syncDeployment uses: the
working copies of the deployment and its replica sets, the new and old sets (sync.go
getAllReplicaSetsAndSyncRevision, getNewReplicaSet), scaling (scale, scaleReplicaSet),
cleanupDeployment, the status syncs and the actions the sync turns into. Pure.

The strategies (rolling.go, recreate.go) and the paused or scaling sync are `deployment.py`'s
`_Sync`, built on this class.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from minikubelet.controllers import deployment_status as ds
from minikubelet.controllers import deployment_util as du
from minikubelet.controllers.base import Action, Create, Delete, Event, Update, UpdateStatus
from minikubelet.core import workloads as wl

JSON = dict[str, Any]
COMPONENT = "deployment-controller"


class DeploymentSync:
    """One deployment's sync: working copies of it and its replica sets, changed as the
    upstream sync changes them through its client, and turned into actions at the end."""

    def __init__(
        self,
        deployment: JSON,
        sets: list[JSON],
        stored: dict[str, JSON],
        pods: list[JSON],
        now: float,
    ) -> None:
        self.original = deployment
        self.d = copy.deepcopy(deployment)
        self.d.setdefault("status", {})
        self.now = now
        self.stored = stored  # every set of the namespace by name, as read
        self.sets = [copy.deepcopy(rs) for rs in sets]
        self.pods = pods
        self.created: list[JSON] = []
        self.deleted: list[JSON] = []
        self.events: list[Event] = []
        self.requeue_at: float | None = None

    # --- reads ---------------------------------------------------------------------------

    @property
    def status(self) -> JSON:
        result: JSON = self.d["status"]
        return result

    def event(self, reason: str, message: str) -> None:
        self.events.append(Event(self.original, "Normal", reason, message, COMPONENT))

    def progressing(self, reason: str, message: str) -> None:
        """A Progressing condition True with this reason, into the working status."""
        condition = ds.new_condition("Progressing", "True", reason, message, self.now)
        ds.set_condition(self.status, condition)

    # --- the new and old replica sets (sync.go) --------------------------------------------

    def all_sets(self, create: bool) -> tuple[JSON | None, list[JSON]]:
        """getAllReplicaSetsAndSyncRevision: the set of the current template (created if
        `create`) with its revision synced, and the others."""
        template = self.d["spec"]["template"]
        by_age = sorted(self.sets, key=du.by_creation)
        new = next(
            (rs for rs in by_age if du.equal_ignore_hash(rs["spec"]["template"], template)), None
        )
        old = [rs for rs in self.sets if rs is not new]
        new_revision = du.max_revision(old) + 1
        if new is not None:
            updated = du.set_new_rs_annotations(self.d, new, new_revision, True)
            min_ready = int(self.d["spec"].get("minReadySeconds") or 0)
            if int(new["spec"].get("minReadySeconds") or 0) != min_ready:
                new["spec"]["minReadySeconds"] = min_ready
                updated = True
            if updated:
                return new, old
            self.set_revision(str(du.revision(new)))
            if ds.has_progress_deadline(self.d) and not ds.get_condition(
                self.status, "Progressing"
            ):
                self.progressing(ds.FOUND_NEW_RS, f'Found new replica set "{du.name_of(new)}"')
            return new, old
        if not create:
            return None, old
        return self.create_new(template, old, new_revision), old

    def create_new(self, template: JSON, old: list[JSON], new_revision: int) -> JSON | None:
        meta = self.d["metadata"]
        collisions = self.status.get("collisionCount")
        hash_ = du.compute_hash(template, collisions)
        name = f"{meta['name']}-{hash_}"
        if name in self.stored:
            # a set of that name that is not this template's: hash again with one more
            self.status["collisionCount"] = int(collisions or 0) + 1
            return None
        rs = du.new_replica_set(self.d, self.original, template, hash_)
        spec = rs["spec"]
        spec["replicas"] = du.new_rs_new_replicas(self.d, [*old, rs], rs)
        du.set_new_rs_annotations(self.d, rs, new_revision, False)
        self.created.append(rs)
        self.sets.append(rs)
        if spec["replicas"] > 0:
            self.event(
                "ScalingReplicaSet", f"Scaled up replica set {name} from 0 to {spec['replicas']}"
            )
        self.set_revision(str(new_revision))
        if ds.has_progress_deadline(self.d):
            self.progressing(ds.NEW_RS_CREATED, f'Created new replica set "{name}"')
        return rs

    def set_revision(self, value: str) -> None:
        """SetDeploymentRevision."""
        notes = du.annotations_of(self.d)
        if notes.get(du.REVISION) != value:
            notes[du.REVISION] = value

    # --- scaling ---------------------------------------------------------------------------

    def scale_rs(self, rs: JSON, new_scale: int, operation: str | None = None) -> bool:
        """scaleReplicaSetAndRecordEvent / scaleReplicaSet: the size and the replica
        annotations; a `ScalingReplicaSet` event if the size changed."""
        old_scale = du.replicas(rs)
        if operation is None:
            if old_scale == new_scale:
                return False
            operation = "up" if old_scale < new_scale else "down"
        desired = du.replicas(self.d)
        max_replicas = desired + du.max_surge(self.d)
        if old_scale == new_scale and not du.replicas_annotations_need_update(
            rs, desired, max_replicas
        ):
            return False
        rs["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs, desired, max_replicas)
        if old_scale == new_scale:
            return False
        self.event(
            "ScalingReplicaSet",
            f"Scaled {operation} replica set {rs['metadata']['name']} "
            f"from {old_scale} to {new_scale}",
        )
        return True

    def scale(self, new: JSON | None, old: list[JSON]) -> None:
        """sync.go scale: the one active set (or the newest) to replicas; a saturated new set
        empties the old ones; else every active set by its proportion (RollingUpdate)."""
        desired = du.replicas(self.d)
        only = du.find_active_or_latest(new, old)
        if only is not None:
            if du.replicas(only) != desired:
                self.scale_rs(only, desired)
            return
        if du.is_saturated(self.d, new):
            for rs in du.active(old):
                self.scale_rs(rs, 0)
            return
        if not du.is_rolling_update(self.d):
            return
        live = du.active([*old, new])
        allowed = desired + du.max_surge(self.d) if desired > 0 else 0
        to_add = allowed - du.total_replicas(live)
        operation = ""
        if to_add > 0:
            live, operation = du.sorted_by_size(live, newer_first=True), "up"
        elif to_add < 0:
            live, operation = du.sorted_by_size(live, newer_first=False), "down"
        added, sizes = 0, []
        status_replicas = int(self.original.get("status", {}).get("replicas") or 0)
        for rs in live:
            share = du.rs_proportion(rs, self.d, to_add, added, status_replicas)
            sizes.append(du.replicas(rs) + share)
            added += share
        for i, rs in enumerate(live):
            if i == 0 and to_add != 0:
                sizes[0] = max(sizes[0] + to_add - added, 0)
            self.scale_rs(rs, sizes[i], operation)

    def cleanup(self, old: list[JSON]) -> None:
        """cleanupDeployment: the oldest empty sets beyond revisionHistoryLimit deleted."""
        limit = self.d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old if not wl.deleting(rs)]
        diff = len(alive) - int(limit)
        for rs in sorted(alive, key=lambda r: (du.revision(r), du.by_creation(r)))[: max(diff, 0)]:
            meta = rs["metadata"]
            observed = du.status_count(rs, "observedGeneration")
            if (
                du.status_count(rs, "replicas")
                or du.replicas(rs)
                or int(meta.get("generation") or 0) > observed
            ):
                continue
            self.deleted.append(rs)

    # --- status (sync.go, progress.go: deployment_status.py) -------------------------------

    def sync_status(self, all_: Sequence[JSON | None], new: JSON | None) -> None:
        """syncDeploymentStatus."""
        sets = [rs for rs in all_ if rs is not None]
        self.d["status"] = ds.calculate_status(self.d, sets, new, self.now)

    def sync_rollout_status(self, all_: Sequence[JSON | None], new: JSON | None) -> None:
        """syncRolloutStatus, and the requeue at the progress deadline."""
        sets = [rs for rs in all_ if rs is not None]
        self.d["status"], self.requeue_at = ds.rollout_status(self.d, sets, new, self.now)

    def check_paused(self) -> None:
        ds.check_paused(self.d, self.now)

    # --- the actions -----------------------------------------------------------------------

    def actions(self) -> list[Action]:
        out: list[Action] = [Create("replicasets", rs, owner=self.original) for rs in self.created]
        created = {id(rs) for rs in self.created}
        for rs in self.sets:
            stored = self.stored.get(rs["metadata"]["name"])
            if id(rs) not in created and stored is not None and rs != stored:
                out.append(Update("replicasets", rs))
        for rs in self.deleted:
            meta = rs["metadata"]
            out.append(Delete("replicasets", meta["namespace"], meta["name"], uid=meta.get("uid")))
        if self.d["status"] != (self.original.get("status") or {}):
            out.append(UpdateStatus("deployments", self.d))
        if self.d["metadata"] != self.original["metadata"]:
            out.append(Update("deployments", self.d))
        return [*out, *self.events]
