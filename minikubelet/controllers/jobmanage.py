"""manageJob, for one syncJob (pkg/controller/job/job_controller.go manageJob,
getPodCreationInfoForIndependentIndexes, deleteActivePods, deleteJobPods): the pods to create
or delete, the back-off before creating, and the Suspended condition. Pure.
"""

from __future__ import annotations

from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobpolicy as jp
from minikubelet.controllers import jobstatus as js
from minikubelet.controllers.base import Create, Delete, Update, earliest
from minikubelet.controllers.jobsync import JSON, SyncState
from minikubelet.core.gotext import rfc3339
from minikubelet.core.workloads import deleting, pod_phase, pod_ready


class ManageJob(SyncState):
    """The pods a syncJob creates and deletes."""

    def manage(self, active: list[JSON]) -> int:
        """manageJob: delete all when suspended, the excess otherwise, or create what is
        missing once the back-off allows."""
        n_active = len(active)
        parallelism = int(self.spec.get("parallelism", 1))
        if self.suspended():
            for pod in sorted(active, key=jp.removal_rank):
                self.delete(pod, keep_finalizer=False)
            self.terminating += n_active
            self.ready -= sum(1 for p in active if pod_ready(p))
            return 0
        if self.completions is None:
            want = n_active if self.succeeded > 0 else parallelism
        else:
            want = max(0, min(int(self.completions) - self.succeeded, parallelism))
        remove_at_least = max(0, n_active - want)
        remove: list[JSON] = []
        left = active
        if self.indexed:
            remove, left = ix.duplicated_for_removal(
                active, int(self.completions or 0), jp.removal_rank
            )
        if len(remove) < remove_at_least:
            left = sorted(left, key=jp.removal_rank)
            remove += left[: remove_at_least - len(remove)]
        if remove:
            for pod in remove:
                self.delete(pod, keep_finalizer=False)
            self.terminating += len(remove)
            self.ready -= sum(1 for p in remove if pod_ready(p))
            return n_active - len(remove)
        terminating = self.terminating if self.only_failed else 0
        diff = want - terminating - n_active
        if diff <= 0:
            return n_active
        if not self.per_index and self.backoff_left > 0:
            self.requeue = earliest(self.requeue, self.now + self.backoff_left)
            return n_active
        indexes: list[int] = []
        if self.indexed:
            non_pending = ix.with_indexes(
                self.succeeded_indexes, (ix.completion_index(p) for p in active)
            )
            if self.only_failed:
                non_pending = ix.with_indexes(
                    non_pending,
                    (
                        ix.completion_index(p)
                        for p in self.pods
                        if deleting(p) and pod_phase(p) not in ("Succeeded", "Failed")
                    ),
                )
            if self.failed_indexes is not None:
                non_pending = ix.merge(non_pending, self.failed_indexes)
            indexes = ix.first_pending(diff, int(self.completions or 0), non_pending)
            if self.per_index:
                indexes = self.indexes_past_backoff(indexes)
            diff = len(indexes)
        for i in range(diff):
            self.actions.append(
                Create("pods", self.pod_for(indexes[i] if indexes else None), owner=self.job)
            )
        return n_active + diff

    def indexes_past_backoff(self, indexes: list[int]) -> list[int]:
        """getPodCreationInfoForIndependentIndexes: the indexes whose own back-off is over,
        or none and a requeue at the first one to come."""
        now_ok: list[int] = []
        waits: list[float] = []
        for index in indexes:
            last = self.delayed.get(index)
            left = (
                0.0
                if last is None
                else jp.remaining_backoff(
                    ix.absolute_failure_count(last) + 1, jp.finished_at(last), self.now
                )
            )
            if left == 0:
                now_ok.append(index)
            else:
                waits.append(left)
        if not now_ok and waits:
            self.requeue = earliest(self.requeue, self.now + min(waits))
        return now_ok

    def pod_for(self, index: int | None) -> JSON:
        replaced = self.delayed.get(index) if index is not None else None
        return js.pod_from_template(
            self.job,
            index,
            per_index=self.per_index,
            replaced=replaced,
            replaced_counts=replaced is not None and self.counts(replaced),
        )

    def delete(self, pod: JSON, *, keep_finalizer: bool) -> None:
        """deleteActivePods (the finalizer kept: the pod is counted failed) or deleteJobPods
        (the finalizer removed first: the pod is not counted)."""
        meta = pod["metadata"]
        if not keep_finalizer and js.has_finalizer(pod):
            self.actions.append(Update("pods", js.without_finalizer(pod)))
        self.actions.append(
            Delete("pods", meta.get("namespace", "default"), meta["name"], uid=meta.get("uid"))
        )
        self.event("Normal", "SuccessfulDelete", f"Deleted pod: {meta['name']}")

    def suspend_condition(self) -> None:
        conditions = self.status.setdefault("conditions", [])
        if self.suspended():
            if js.ensure_condition(
                conditions, "Suspended", "True", "JobSuspended", "Job suspended", self.now
            ):
                self.event("Normal", "Suspended", "Job suspended")
        elif js.ensure_condition(
            conditions, "Suspended", "False", "JobResumed", "Job resumed", self.now
        ):
            self.event("Normal", "Resumed", "Job resumed")
            self.status["startTime"] = rfc3339(self.now)
        if not conditions:
            del self.status["conditions"]
