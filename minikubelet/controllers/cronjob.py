"""The CronJob controller's reconcile (pure): from a CronJob and the Jobs it controls, the Job
to start for the schedule time that is due, the Jobs to delete (Replace, history limits), the
status (`active`, `lastScheduleTime`, `lastSuccessfulTime`), and when to look again (the next
schedule time), as pkg/controller/cronjob/cronjob_controllerv2.go sync / syncCronJob /
cleanupFinishedJobs / getJobFromTemplate2 do.

A Job is named `<cronjob>-<scheduled time in minutes>`, carries the
`batch.kubernetes.io/cronjob-scheduled-timestamp` annotation, the CronJob as its controller
and a uid derived from the CronJob's and the name (the store would draw one at random; the
controller names it so that its `status.active` reference is written with the create).
"""

from __future__ import annotations

import copy
import uuid
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from minikubelet.controllers import cronschedule as cs
from minikubelet.controllers.base import (
    Action,
    Create,
    Delete,
    Event,
    FunctionController,
    Reader,
    Result,
    UpdateStatus,
    earliest,
)
from minikubelet.controllers.jobstatus import finished
from minikubelet.core.gotext import parse_rfc3339, rfc3339
from minikubelet.core.workloads import deleting, is_controlled_by, owner_reference
from minikubelet.manifest import batch

JSON = dict[str, Any]
COMPONENT = "cronjob-controller"
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def _ref(job: JSON) -> JSON:
    meta = job["metadata"]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": meta["name"],
        "namespace": meta.get("namespace", "default"),
        "uid": meta.get("uid", ""),
    }


def _rfc1123z(t: float) -> str:
    """Go's time.RFC1123Z in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`."""
    return datetime.fromtimestamp(t, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def job_from_template(cronjob: JSON, scheduled: float, tz: Any) -> JSON:
    """getJobFromTemplate2, admitted as the API server would store it."""
    template = cronjob["spec"].get("jobTemplate") or {}
    meta = cronjob["metadata"]
    name = cs.job_name(meta["name"], scheduled)
    annotations = dict((template.get("metadata") or {}).get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = cs.scheduled_stamp(scheduled, tz)
    job_meta: JSON = {
        "name": name,
        "namespace": meta.get("namespace", "default"),
        "uid": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{meta.get('uid', '')}/{name}")),
        "annotations": annotations,
        "ownerReferences": [owner_reference(cronjob)],
    }
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        job_meta["labels"] = dict(labels)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
    return batch.admit_job(job)


def _start_time(job: JSON) -> tuple[float, str]:
    stamp = (job.get("status") or {}).get("startTime")
    return (parse_rfc3339(stamp) if stamp else float("inf"), job["metadata"]["name"])


class _Sync:
    def __init__(self, cronjob: JSON, jobs: list[JSON], now: float) -> None:
        self.cj, self.jobs, self.now = cronjob, jobs, now
        self.spec: JSON = cronjob.get("spec") or {}
        self.status: JSON = copy.deepcopy(cronjob.get("status") or {})
        self.actions: list[Action] = []
        self.events: list[Action] = []
        self.requeue: float | None = None

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(self.cj, type_, reason, message, COMPONENT))  # type: ignore[arg-type]

    def active(self) -> list[JSON]:
        return list(self.status.get("active") or [])

    def set_active(self, refs: list[JSON]) -> None:
        if refs:
            self.status["active"] = refs
        else:
            self.status.pop("active", None)

    def delete_job(self, job: JSON) -> None:
        """deleteJob: background propagation, out of the active list."""
        meta = job["metadata"]
        self.actions.append(
            Delete(
                "jobs",
                meta.get("namespace", "default"),
                meta["name"],
                uid=meta.get("uid"),
                propagation="Background",
            )
        )
        self.set_active([r for r in self.active() if r.get("uid") != meta.get("uid")])
        self.event("Normal", "SuccessfulDelete", f"Deleted job {meta['name']}")

    def run(self) -> Result:
        self.track_jobs()
        if not deleting(self.cj):
            self.schedule()
            self.cleanup()
        actions: list[Action] = [*self.actions]
        if self.status != (self.cj.get("status") or {}):
            actions.append(UpdateStatus("cronjobs", {**self.cj, "status": self.status}))
        return Result([*actions, *self.events], self.requeue)

    def track_jobs(self) -> None:
        children = {j["metadata"].get("uid") for j in self.jobs}
        for job in self.jobs:
            uid = job["metadata"].get("uid")
            listed = any(r.get("uid") == uid for r in self.active())
            done = finished(job)
            if not listed and not done:
                self.event(
                    "Warning",
                    "UnexpectedJob",
                    "Saw a job that the controller did not "
                    f"create or forgot: {job['metadata']['name']}",
                )
            elif listed and done:
                self.set_active([r for r in self.active() if r.get("uid") != uid])
                self.event(
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, condition: {done}",
                )
            if done == "Complete":
                completed = (job.get("status") or {}).get("completionTime")
                last = self.status.get("lastSuccessfulTime")
                if completed and (not last or parse_rfc3339(completed) > parse_rfc3339(last)):
                    self.status["lastSuccessfulTime"] = completed
        for ref in self.active():
            if ref.get("uid") not in children:
                self.event("Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                self.set_active([r for r in self.active() if r.get("uid") != ref.get("uid")])

    def schedule(self) -> None:
        spec, now = self.spec, self.now
        zone_name = spec.get("timeZone")
        try:
            tz = cs.zone(zone_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.event(
                "Warning",
                "UnknownTimeZone",
                f'invalid timeZone: "{zone_name}": unknown time zone {zone_name}',
            )
            return
        if spec.get("suspend"):
            return
        try:
            sched = cs.parse(str(spec.get("schedule") or ""), zone_name)
        except (ValueError, zoneinfo.ZoneInfoNotFoundError) as error:
            self.event(
                "Warning",
                "UnparseableSchedule",
                f'unparseable schedule: "{spec.get("schedule")}" : {error}',
            )
            return
        created = parse_rfc3339(self.cj["metadata"].get("creationTimestamp") or rfc3339(now))
        last_stamp = self.status.get("lastScheduleTime")
        last = parse_rfc3339(last_stamp) if last_stamp else None
        try:
            scheduled, missed = cs.next_unmet(
                sched, created, last, now, spec.get("startingDeadlineSeconds")
            )
        except ValueError as error:
            self.event(
                "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {error}"
            )
            return
        if missed == "many":
            self.event(
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or "
                "decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        self.requeue = cs.requeue_at(sched, created, last, now)
        if scheduled is None:
            return
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + int(deadline) < now:
            self.event(
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {_rfc1123z(scheduled)}",
            )
            return
        name = cs.job_name(self.cj["metadata"]["name"], scheduled)
        if any(r.get("name") == name for r in self.active()) or last == scheduled:
            return
        if spec.get("concurrencyPolicy") == "Forbid" and self.active():
            self.event(
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution "
                "is running and concurrency policy is Forbid",
            )
            return
        if spec.get("concurrencyPolicy") == "Replace":
            by_uid = {j["metadata"].get("uid"): j for j in self.jobs}
            for ref in self.active():
                if ref.get("uid") in by_uid:
                    self.delete_job(by_uid[ref["uid"]])
        if any(j["metadata"]["name"] == name for j in self.jobs):
            return  # IsAlreadyExists: made by another actor, which updates the status
        job = job_from_template(self.cj, scheduled, tz)
        self.actions.append(Create("jobs", job, owner=self.cj))
        self.event("Normal", "SuccessfulCreate", f"Created job {name}")
        self.set_active([*self.active(), _ref(job)])
        self.status["lastScheduleTime"] = rfc3339(scheduled)
        self.requeue = cs.requeue_at(sched, created, scheduled, now)

    def cleanup(self) -> None:
        """cleanupFinishedJobs / removeOldestJobs: the oldest finished Jobs past the history
        limits, by start time."""
        for kind, field in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = self.spec.get(field)
            if limit is None:
                continue
            done = sorted(
                (j for j in self.jobs if finished(j) == kind and not deleting(j)), key=_start_time
            )
            for job in done[: max(0, len(done) - int(limit))]:
                self.delete_job(job)


def sync_cronjob(cronjob: JSON, jobs: list[JSON], now: float) -> Result:
    return _Sync(cronjob, jobs, now).run()


def reconcile(store: Reader, now: float) -> Result:
    actions: list[Action] = []
    requeue: float | None = None
    jobs = store.list("jobs")
    for cronjob in store.list("cronjobs"):
        namespace = cronjob["metadata"].get("namespace", "default")
        owned = [
            j
            for j in jobs
            if j["metadata"].get("namespace", "default") == namespace
            and is_controlled_by(j, cronjob)
        ]
        result = sync_cronjob(cronjob, owned, now)
        actions += result.actions
        requeue = earliest(requeue, result.requeue_at)
    return Result(actions, requeue)


# the CronJob controller: woken by CronJobs and Jobs, and at the next schedule time
CRONJOB_CONTROLLER = FunctionController(COMPONENT, frozenset({"cronjobs", "jobs"}), reconcile)
