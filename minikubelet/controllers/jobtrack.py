"""trackJobStatusAndRemoveFinalizers and enactJobFinished, for one syncJob
(pkg/controller/job/job_controller.go): the finished pods counted exactly once through
`uncountedTerminatedPods` and their finalizers, the finished conditions, and the one status
write with its events, as `job.py`'s docstring describes. Pure.
"""

from __future__ import annotations

from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobstatus as js
from minikubelet.controllers.base import Action, Update, UpdateStatus
from minikubelet.controllers.jobsync import JSON, SyncState
from minikubelet.core.gotext import rfc3339
from minikubelet.core.workloads import deleting, pod_phase


class TrackJob(SyncState):
    """A syncJob's counting and its status write."""

    def track(self, finished_cond: JSON | None) -> None:
        """trackJobStatusAndRemoveFinalizers in the three steps described above."""
        stored = self.job.get("status") or {}
        stored_uncounted = stored.get("uncountedTerminatedPods") or {}
        stored_s = set(stored_uncounted.get("succeeded") or [])
        stored_f = set(stored_uncounted.get("failed") or [])
        stored_indexes = ix.parse(stored.get("completedIndexes"), int(self.completions or 0))
        with_finalizer = {p["metadata"].get("uid") for p in self.pods if js.has_finalizer(p)}
        finishing = finished_cond is not None and finished_cond["type"] != "SuccessCriteriaMet"
        new_indexes: list[int] = []
        for pod in sorted(self.pods, key=ix.completion_index):
            if not js.has_finalizer(pod):
                continue
            uid = pod["metadata"].get("uid")
            failed = self.failed_pod(pod)
            if not self.can_remove_finalizer(pod, failed, finished_cond):
                continue
            index = ix.completion_index(pod)
            if (
                uid in stored_s
                or uid in stored_f
                or (
                    self.indexed and pod_phase(pod) == "Succeeded" and ix.has(stored_indexes, index)
                )
            ):
                self.actions.append(Update("pods", js.without_finalizer(pod)))
            elif pod_phase(pod) == "Succeeded" and uid not in self.uncounted_failed:
                if self.indexed:
                    if self.valid_index(pod) and not ix.has(self.prev_indexes, index):
                        new_indexes.append(index)
                elif uid not in self.uncounted_succeeded:
                    self.uncounted_succeeded.append(uid)
            elif (
                (failed or finishing) and uid not in self.uncounted_failed and self.valid_index(pod)
            ):
                if self.counts(pod):
                    self.uncounted_failed.append(uid)
                else:
                    self.actions.append(Update("pods", js.without_finalizer(pod)))
        # cleanUncountedPodsWithoutFinalizers: what the stored status held and whose
        # finalizer is gone is now in the counters
        for key, uncounted, stored_set in (
            ("succeeded", self.uncounted_succeeded, stored_s),
            ("failed", self.uncounted_failed, stored_f),
        ):
            done = [u for u in uncounted if u in stored_set and u not in with_finalizer]
            if done:
                self.status[key] = int(self.status.get(key) or 0) + len(done)
                uncounted[:] = [u for u in uncounted if u not in done]
        if self.indexed:
            self.succeeded_indexes = ix.with_indexes(self.succeeded_indexes, new_indexes)
            self.status["completedIndexes"] = ix.to_string(self.succeeded_indexes)
            self.status["succeeded"] = ix.total(self.succeeded_indexes)
            if self.failed_indexes is not None:
                self.status["failedIndexes"] = ix.to_string(self.failed_indexes)
        self.status["uncountedTerminatedPods"] = {
            k: v
            for k, v in (("succeeded", self.uncounted_succeeded), ("failed", self.uncounted_failed))
            if v
        }
        self.finished_cond = finished_cond
        if finished_cond is None:
            return
        conditions = self.status.setdefault("conditions", [])
        if finished_cond["type"] == "FailureTarget":
            conditions.append(finished_cond)
            self.finished_cond = js.new_condition(
                "Failed", finished_cond["reason"], finished_cond["message"], self.now
            )
        elif finished_cond["type"] == "SuccessCriteriaMet":
            if js.condition(self.status, "SuccessCriteriaMet") is None:
                conditions.append(finished_cond)
            self.finished_cond = js.new_condition(
                "Complete", finished_cond["reason"], finished_cond["message"], self.now
            )

    def can_remove_finalizer(self, pod: JSON, failed: bool, finished_cond: JSON | None) -> bool:
        if deleting(self.job) or finished_cond is not None or pod_phase(pod) == "Succeeded":
            return True
        if not failed:
            return False
        index = ix.completion_index(pod)
        return not (self.per_index and self.delayed.get(index) is pod)

    def final_status(self) -> list[Action]:
        """enactJobFinished and the one status write, with the finished events."""
        cond = self.finished_cond
        if (
            cond is not None
            and not self.status["uncountedTerminatedPods"]
            and self.terminating == 0
        ):
            conditions = self.status.setdefault("conditions", [])
            js.ensure_condition(
                conditions, cond["type"], "True", cond["reason"], cond["message"], self.now
            )
            if cond["type"] == "Complete":
                self.status["completionTime"] = rfc3339(self.now)
                if self.completions is not None and self.status.get("succeeded", 0) > int(
                    self.completions
                ):
                    self.event(
                        "Warning",
                        "TooManySucceededPods",
                        "Too many succeeded pods running after completion count reached",
                    )
                self.event("Normal", "Completed", "Job completed")
            else:
                self.event("Warning", cond["reason"], cond["message"])
        for key in ("succeeded", "failed", "active"):
            if not self.status.get(key):
                self.status.pop(key, None)
        if self.status == (self.job.get("status") or {}):
            return []
        return [UpdateStatus("jobs", {**self.job, "status": self.status})]
