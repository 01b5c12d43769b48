"""The Job controller's reconcile (pure): from a Job and its pods, the pods to create or delete
and the status to write, as pkg/controller/job/job_controller.go syncJob, manageJob and
trackJobStatusAndRemoveFinalizers do in Kubernetes 1.34 (JobPodReplacementPolicy,
JobManagedBy, JobSuccessPolicy, JobBackoffLimitPerIndex, PodIndexLabel all on).

Counting is upstream's: every pod is created with the `batch.kubernetes.io/job-tracking`
finalizer; a finished pod's uid goes first into `status.uncountedTerminatedPods` (one status
write), then its finalizer is removed (a pod update), then it moves into `succeeded` or
`failed` (the next status write), so that a pod is counted exactly once whatever write is
lost in between, and a finished pod may be deleted once counted. (Here the finalizer does not
hold a pod's deletion back: a pod deleted before the controller saw it finish is lost from the
counts, as a pod without the finalizer is upstream.) An Indexed Job counts succeeded pods by
their index in `completedIndexes` instead of uids.

Conditions as 1.34 sets them: `FailureTarget` (BackoffLimitExceeded, DeadlineExceeded,
PodFailurePolicy, MaxFailedIndexesExceeded, FailedIndexes) or `SuccessCriteriaMet`
(CompletionsReached, SuccessPolicy) first, the active pods deleted, then `Failed` or
`Complete` with the same reason and message once no pod is terminating and none uncounted.
The controller's own back-off before re-creating failed pods (10 s doubling, capped) is a
requeue, next to the kubelet's CrashLoopBackOff for restarts inside a pod (OnFailure).

`_Sync.run` here decides the finished condition; manageJob is `jobmanage.py`'s, the counting
and the status write `jobtrack.py`'s, the state they share `jobsync.py`'s.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobpolicy as jp
from minikubelet.controllers import jobstatus as js
from minikubelet.controllers.base import Action, Reader, Result, Update, earliest
from minikubelet.controllers.jobmanage import ManageJob
from minikubelet.controllers.jobsync import COMPONENT
from minikubelet.controllers.jobtrack import TrackJob
from minikubelet.core.gotext import parse_rfc3339, rfc3339
from minikubelet.core.workloads import (
    controller_of,
    deleting,
    is_controlled_by,
    pod_active,
    pod_phase,
    pod_ready,
)

JSON = dict[str, Any]
MAX_INT32 = 2**31 - 1


class _Sync(ManageJob, TrackJob):
    """One syncJob over a Job and the pods it controls."""

    def run(self) -> Result:
        pods, now = self.pods, self.now
        active = [p for p in pods if pod_active(p)]
        self.terminating = sum(
            1 for p in pods if deleting(p) and pod_phase(p) not in ("Succeeded", "Failed")
        )
        self.ready = sum(1 for p in active if pod_ready(p))
        fresh = [p for p in pods if js.has_finalizer(p) and self.valid_index(p)]
        new_succeeded = [
            p
            for p in fresh
            if pod_phase(p) == "Succeeded"
            and p["metadata"].get("uid") not in self.uncounted_succeeded
        ]
        new_failed = [
            p
            for p in fresh
            if self.failed_pod(p) and p["metadata"].get("uid") not in self.uncounted_failed
        ]
        self.succeeded = (
            int(self.status.get("succeeded") or 0)
            + len(new_succeeded)
            + len(self.uncounted_succeeded)
        )
        self.failed = (
            int(self.status.get("failed") or 0)
            + sum(1 for p in new_failed if self.counts(p))
            + len(self.uncounted_failed)
        )
        if not self.status.get("startTime") and not self.suspended():
            self.status["startTime"] = rfc3339(now)
        failures, last_failure = jp.failures_after_last_success(
            [p for p in pods if pod_phase(p) == "Succeeded"],
            [p for p in pods if self.failed_pod(p)],
        )
        self.backoff_left = jp.remaining_backoff(failures, last_failure, now)

        backoff_limit = int(self.spec.get("backoffLimit", 6))
        finished_cond = js.condition(self.status, "SuccessCriteriaMet")
        if finished_cond is None:
            target = js.condition(self.status, "FailureTarget")
            if target is not None:
                finished_cond = js.new_condition("Failed", target["reason"], target["message"], now)
            else:
                message = next(
                    (
                        m
                        for p in pods
                        if self.failed_pod(p)
                        for m in [jp.match_failure_policy(self.policy, p)[0]]
                        if m
                    ),
                    None,
                )
                if message:
                    finished_cond = js.new_condition(
                        "FailureTarget", "PodFailurePolicy", message, now
                    )
        if finished_cond is None:
            if self.failed > backoff_limit or self.past_backoff_limit_on_failure(backoff_limit):
                finished_cond = js.new_condition(
                    "FailureTarget",
                    "BackoffLimitExceeded",
                    "Job has reached the specified backoff limit",
                    now,
                )
            elif self.past_deadline():
                finished_cond = js.new_condition(
                    "FailureTarget",
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    now,
                )
            elif self.spec.get("activeDeadlineSeconds") is not None and not self.suspended():
                start = parse_rfc3339(self.status["startTime"])
                self.requeue = start + int(self.spec["activeDeadlineSeconds"])

        self.prev_indexes: ix.Intervals = ()
        self.succeeded_indexes: ix.Intervals = ()
        self.failed_indexes: ix.Intervals | None = None
        self.delayed: dict[int, JSON] = {}
        if self.indexed:
            failed_indexes = self.index_bookkeeping(active)
            if finished_cond is None and failed_indexes is not None:
                max_failed = self.spec.get("maxFailedIndexes")
                failed_total = ix.total(failed_indexes)
                if max_failed is not None and failed_total > int(max_failed):
                    finished_cond = js.new_condition(
                        "FailureTarget",
                        "MaxFailedIndexesExceeded",
                        "Job has exceeded the specified maximal number of failed indexes",
                        now,
                    )
                elif failed_total and failed_total + ix.total(self.succeeded_indexes) >= int(
                    self.completions or 0
                ):
                    finished_cond = js.new_condition(
                        "FailureTarget", "FailedIndexes", "Job has failed indexes", now
                    )
            if finished_cond is None:
                message = jp.match_success_policy(
                    self.spec.get("successPolicy"),
                    int(self.completions or 0),
                    self.succeeded_indexes,
                )
                if message:
                    finished_cond = js.new_condition(
                        "SuccessCriteriaMet", "SuccessPolicy", message, now
                    )

        n_active = len(active)
        if finished_cond is not None:
            for pod in active:
                self.delete(pod, keep_finalizer=True)
            n_active = 0
            self.terminating += len(active)
            self.ready = 0
        else:
            if not deleting(self.job):
                n_active = self.manage(active)
            if self.completions is None:
                complete = self.succeeded > 0 and n_active == 0
            else:
                complete = self.succeeded >= int(self.completions) and n_active == 0
            if complete:
                finished_cond = js.new_condition(
                    "SuccessCriteriaMet",
                    "CompletionsReached",
                    "Reached expected number of succeeded pods",
                    now,
                )
            elif not deleting(self.job):
                self.suspend_condition()
        self.status["active"] = n_active
        self.status["ready"] = self.ready
        self.status["terminating"] = self.terminating
        self.track(finished_cond)
        return Result([*self.actions, *self.final_status(), *self.events], self.requeue)

    def past_backoff_limit_on_failure(self, limit: int) -> bool:
        template_spec = (self.spec.get("template") or {}).get("spec") or {}
        if template_spec.get("restartPolicy") != "OnFailure":
            return False
        restarts = jp.restarts_of_running(self.pods)
        return restarts > 0 if limit == 0 else restarts >= limit

    def past_deadline(self) -> bool:
        deadline = self.spec.get("activeDeadlineSeconds")
        start = self.status.get("startTime")
        if deadline is None or not start or self.suspended():
            return False
        return self.now - parse_rfc3339(start) >= int(deadline)

    def index_bookkeeping(self, active: list[JSON]) -> ix.Intervals | None:
        """calculateSucceededIndexes, calculateFailedIndexes, getPodsWithDelayedDeletionPerIndex."""
        completions = int(self.completions or 0)
        self.prev_indexes = ix.parse(self.status.get("completedIndexes"), completions)
        self.succeeded_indexes = ix.with_indexes(
            self.prev_indexes,
            (
                ix.completion_index(p)
                for p in self.pods
                if pod_phase(p) == "Succeeded" and js.has_finalizer(p) and self.valid_index(p)
            ),
        )
        self.succeeded = ix.total(self.succeeded_indexes)
        if not self.per_index:
            return None
        limit = int(self.spec["backoffLimitPerIndex"])
        prev_failed = ix.parse(self.status.get("failedIndexes"), completions)

        def index_failed(pod: JSON) -> bool:
            if not self.failed_pod(pod):
                return False
            _, counted, action = jp.match_failure_policy(self.policy, pod)
            return action == "FailIndex" or (counted and ix.failure_count(pod) >= limit)

        self.failed_indexes = ix.with_indexes(
            prev_failed,
            (
                ix.completion_index(p)
                for p in self.pods
                if js.has_finalizer(p) and self.valid_index(p) and index_failed(p)
            ),
        )
        active_indexes = {ix.completion_index(p) for p in active}
        for pod in self.pods:
            index = ix.completion_index(pod)
            if not (js.has_finalizer(pod) and self.valid_index(pod) and self.failed_pod(pod)):
                continue
            if (
                ix.has(self.succeeded_indexes, index)
                or ix.has(self.failed_indexes, index)
                or index in active_indexes
            ):
                continue
            last = self.delayed.get(index)
            if last is None or (
                ix.absolute_failure_count(last) <= ix.absolute_failure_count(pod)
                and jp.finished_at(pod) >= jp.finished_at(last)
            ):
                self.delayed[index] = pod
        return self.failed_indexes


def sync_job(job: JSON, pods: list[JSON], now: float) -> Result:
    """syncJob for one Job over the pods it controls."""
    if (
        js.finished(job)
        or (job.get("spec") or {}).get("managedBy", "kubernetes.io/job-controller")
        != "kubernetes.io/job-controller"
    ):
        return Result()
    return _Sync(job, pods, now).run()


def reconcile(store: Reader, now: float) -> Result:
    """Every Job, with the pods it controls."""
    actions: list[Action] = []
    requeue: float | None = None
    pods_by_ns: dict[str, list[JSON]] = {}
    for pod in store.list("pods"):
        pods_by_ns.setdefault(pod["metadata"].get("namespace", "default"), []).append(pod)
    jobs = store.list("jobs")
    for job in jobs:
        namespace = job["metadata"].get("namespace", "default")
        owned = [p for p in pods_by_ns.get(namespace, []) if is_controlled_by(p, job)]
        result = sync_job(job, owned, now)
        actions += result.actions
        requeue = earliest(requeue, result.requeue_at)
    actions += orphan_finalizers(pods_by_ns, jobs)
    return Result(actions, requeue)


def orphan_finalizers(pods_by_ns: dict[str, list[JSON]], jobs: list[JSON]) -> list[Action]:
    """job_controller.go deletePod / cleanupOrphanPods: a pod still carrying the tracking
    finalizer whose Job is gone (deleted, its pods left to the garbage collector) has the
    finalizer taken away, so that it can go; nothing will count it any more."""
    live = {j["metadata"].get("uid") for j in jobs if not j["metadata"].get("deletionTimestamp")}
    actions: list[Action] = []
    for pods in pods_by_ns.values():
        for pod in pods:
            ref = controller_of(pod)
            if not js.has_finalizer(pod) or ref is None or ref.get("kind") != "Job":
                continue
            if ref.get("uid") not in live:
                actions.append(Update("pods", js.without_finalizer(pod)))
    return actions


class JobController:
    """The Job controller: woken by Jobs and pods."""

    name = COMPONENT
    wakes = frozenset({"jobs", "pods"})

    def reconcile(self, store: Reader, now: float) -> Result:
        return reconcile(store, now)


JOB_CONTROLLER = JobController()
