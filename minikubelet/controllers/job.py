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
"""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobpolicy as jp
from minikubelet.controllers import jobstatus as js
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
COMPONENT = "job-controller"
MAX_INT32 = 2**31 - 1


class _Sync:
    """One syncJob over a Job and the pods it controls."""

    def __init__(self, job: JSON, pods: list[JSON], now: float) -> None:
        self.job, self.pods, self.now = job, pods, now
        self.spec: JSON = job.get("spec") or {}
        self.status: JSON = copy.deepcopy(job.get("status") or {})
        self.actions: list[Action] = []
        self.events: list[Action] = []
        self.requeue: float | None = None
        self.indexed = self.spec.get("completionMode") == "Indexed"
        self.completions: int | None = self.spec.get("completions")
        self.per_index = self.indexed and self.spec.get("backoffLimitPerIndex") is not None
        self.policy: JSON | None = self.spec.get("podFailurePolicy")
        self.only_failed = (
            self.policy is not None or self.spec.get("podReplacementPolicy") == "Failed"
        )
        uncounted = self.status.get("uncountedTerminatedPods") or {}
        self.uncounted_succeeded = list(uncounted.get("succeeded") or [])
        self.uncounted_failed = list(uncounted.get("failed") or [])

    # --- the pieces of syncJob -----------------------------------------------------------

    def valid_index(self, pod: JSON) -> bool:
        index = ix.completion_index(pod)
        return not self.indexed or (index != ix.UNKNOWN and index < int(self.completions or 0))

    def failed_pod(self, pod: JSON) -> bool:
        return jp.is_failed(pod, self.only_failed)

    def counts(self, pod: JSON) -> bool:
        return jp.match_failure_policy(self.policy, pod)[1]

    def suspended(self) -> bool:
        return bool(self.spec.get("suspend"))

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(self.job, type_, reason, message, COMPONENT))  # type: ignore[arg-type]

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
