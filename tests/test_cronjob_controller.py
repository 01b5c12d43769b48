"""The CronJob controller (controllers/cronjob.py, cronschedule.py) on an injected `now`: the
schedule arithmetic ported from pkg/controller/cronjob/utils_test.go (TestMostRecentScheduleTime,
TestNextScheduleTimeDuration, TestByJobStartTime) and syncCronJob's decisions from
cronjob_controllerv2_test.go (TestControllerV2SyncCronJob: on schedule, Forbid, Replace,
suspended, missed deadline, history limits)."""

from __future__ import annotations

from typing import Any

import pytest
from job_sim import Sim

from minikubelet.controllers import cronjob as cc
from minikubelet.controllers import cronschedule as cs
from minikubelet.core.gotext import parse_rfc3339, rfc3339
from minikubelet.manifest.cronjobs import admit_cronjob

JSON = dict[str, Any]
TOP = parse_rfc3339("2016-05-19T10:00:00Z")  # a Thursday
M, H, D = 60.0, 3600.0, 86400.0


@pytest.mark.parametrize(
    ("schedule", "created", "last", "now", "deadline", "earliest", "recent", "missed"),
    [
        ("0 * * * *", TOP, None, TOP + 30, None, TOP, None, "none"),  # now before next
        ("0 * * * *", TOP, None, TOP + 61 * M, None, TOP, TOP + 60 * M, "none"),
        ("0 * * * *", TOP + 10, None, TOP + 301 * M, None, TOP + 10, TOP + 300 * M, "few"),
        ("30 6-16/4 * * 1-5", TOP, TOP + 30 * M, TOP + D + 31 * M, None, TOP + 30 * M,
         TOP + D + 30 * M, "few"),  # complex schedule
        ("30 10,11,12 * * 1-5", TOP, TOP + 30 * M, TOP + 30 * H + 30 * M, None, TOP + 30 * M,
         None, "few"),  # another complex schedule
        ("30 6-16/4 * * 1-5", TOP, TOP + 30 * M, TOP + 96 * H + 31 * M, None, TOP + 30 * M,
         TOP + 96 * H + 30 * M, "few"),  # longer diff between executions
        ("30 6-16/4 * * 1-5", TOP, None, TOP + D + 31 * M, None, TOP, TOP + D + 30 * M, "few"),
        ("@every 1h", TOP - 59 * M, TOP + M, TOP + 7 * D, None, TOP + M,
         TOP + 6 * D + 23 * H + M, "many"),  # @every
        ("0 * * * *", TOP, TOP, TOP + 30, None, TOP, None, "none"),
        ("*/5 * * * *", TOP, TOP + 30 * M, TOP + 31 * M, None, TOP + 30 * M, None, "none"),
        ("*/5 * * * *", TOP, TOP + 30 * M, TOP + 32 * M, 60, TOP + 31 * M, None, "none"),
    ],
)  # fmt: skip
def test_most_recent_schedule_time(schedule: str, created: float, last: float | None,
                                   now: float, deadline: int | None, earliest: float,
                                   recent: float | None, missed: str) -> None:  # fmt: skip
    sched = cs.parse(schedule, None)
    got = cs.most_recent(sched, created, last, now, deadline)
    assert got == (earliest, recent, missed)


def test_a_schedule_that_never_fires_is_an_error() -> None:
    """The "rogue cronjob": 59 23 31 2 * has no date."""
    with pytest.raises(ValueError, match="less than 1 second"):
        cs.most_recent(cs.parse("59 23 31 2 *", None), TOP + 10, None, TOP + H, None)


@pytest.mark.parametrize(
    ("schedule", "last", "now", "wait"),
    [
        ("30 6-16/4 * * 1-5", TOP + 30 * M, TOP + D + 31 * M, 3 * H + 59 * M),
        ("30 10,11,12 * * 1-5", TOP + 30 * M, TOP + 30 * H + 30 * M, 66 * H),
        ("0 12 * * 4", TOP + 2 * H, TOP + 19 * D + H + 30 * M, 48 * H + 30 * M),
        ("0 12 * * 5", None, TOP + 6 * H, 20 * H),  # no previous run
    ],
)
def test_next_schedule_time_duration(schedule: str, last: float | None, now: float,
                                     wait: float) -> None:  # fmt: skip
    at = cs.requeue_at(cs.parse(schedule, None), TOP, last, now)
    assert at - now == pytest.approx(wait + cs.NEXT_SCHEDULE_DELTA)


def test_macros_and_time_zones() -> None:
    assert cs.parse("@hourly", None).next(TOP + 1) == TOP + H
    assert cs.parse("@daily", None).next(TOP) == parse_rfc3339("2016-05-20T00:00:00Z")
    paris = cs.parse("0 9 * * *", "Europe/Paris")
    assert paris.next(TOP) == parse_rfc3339("2016-05-20T07:00:00Z")  # 09:00 CEST
    assert cs.scheduled_stamp(paris.next(TOP), paris.tz) == "2016-05-20T09:00:00+02:00"
    assert cs.scheduled_stamp(TOP, cs.zone(None)) == "2016-05-19T10:00:00Z"
    assert cs.job_name("hello", TOP) == f"hello-{int(TOP // 60)}"


# --- syncCronJob -----------------------------------------------------------------------------


def make_cronjob(sim: Sim, schedule: str = "*/1 * * * *", **spec: Any) -> JSON:
    obj = {"apiVersion": "batch/v1", "kind": "CronJob",
           "metadata": {"name": "hello", "namespace": "default", "uid": "cj-uid",
                        "creationTimestamp": rfc3339(TOP)},
           "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
               "restartPolicy": "OnFailure",
               "containers": [{"name": "c", "image": "busybox"}]}}}}, **spec}}  # fmt: skip
    return sim.add("cronjobs", admit_cronjob(obj))


def cj_status(sim: Sim) -> JSON:
    found = sim.get("cronjobs", "default", "hello")
    assert found is not None
    return dict(found.get("status") or {})


def jobs(sim: Sim) -> list[str]:
    return [j["metadata"]["name"] for j in sim.list("jobs")]


def finish(sim: Sim, name: str, kind: str = "Complete") -> None:
    job = sim.objects[("jobs", "default", name)]
    stamp = rfc3339(sim.now)
    job["status"] = {"startTime": stamp, "conditions": [{"type": kind, "status": "True",
                     "lastTransitionTime": stamp}]}  # fmt: skip
    if kind == "Complete":
        job["status"]["completionTime"] = stamp


def test_a_due_schedule_creates_the_job_named_by_its_minute() -> None:
    sim = Sim(now=TOP + 30)
    make_cronjob(sim)
    result = sim.run(cc.reconcile)
    assert jobs(sim) == []  # not yet due
    assert result.requeue_at == TOP + M + cs.NEXT_SCHEDULE_DELTA
    sim.now = TOP + M + 0.1
    result = sim.run(cc.reconcile)
    name = f"hello-{int((TOP + M) // 60)}"
    assert jobs(sim) == [name]
    job = sim.get("jobs", "default", name)
    assert job is not None
    assert job["metadata"]["annotations"][cc.SCHEDULED_TIMESTAMP] == rfc3339(TOP + M)
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["backoffLimit"] == 6  # admitted as the API server stores a Job
    assert job["spec"]["selector"]["matchLabels"] == {
        "batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}  # fmt: skip
    st = cj_status(sim)
    assert st["lastScheduleTime"] == rfc3339(TOP + M)
    assert [r["name"] for r in st["active"]] == [name]
    assert result.requeue_at == TOP + 2 * M + cs.NEXT_SCHEDULE_DELTA
    assert [(e.reason, e.message) for e in sim.events] == [
        ("SuccessfulCreate", f"Created job {name}")]  # fmt: skip
    finish(sim, name)
    sim.run(cc.reconcile)
    st = cj_status(sim)
    assert "active" not in st
    assert st["lastSuccessfulTime"] == rfc3339(sim.now)
    assert sim.events[-1].message == f"Saw completed job: {name}, condition: Complete"


@pytest.mark.parametrize(
    ("policy", "want_jobs", "reason"),
    [("Allow", 2, None), ("Forbid", 1, "JobAlreadyActive"), ("Replace", 1, "SuccessfulDelete")],
)
def test_concurrency_policy(policy: str, want_jobs: int, reason: str | None) -> None:
    sim = Sim(now=TOP + M + 1)
    make_cronjob(sim, concurrencyPolicy=policy)
    sim.run(cc.reconcile)
    first = jobs(sim)
    sim.now = TOP + 2 * M + 1
    sim.run(cc.reconcile)
    assert len(jobs(sim)) == want_jobs
    if policy == "Replace":
        assert jobs(sim) != first
    if reason:
        assert reason in [e.reason for e in sim.events]
    assert len(cj_status(sim)["active"]) == want_jobs


def test_suspended_cronjob_starts_nothing() -> None:
    sim = Sim(now=TOP + 5 * M)
    make_cronjob(sim, suspend=True)
    result = sim.run(cc.reconcile)
    assert jobs(sim) == []
    assert result.requeue_at is None


def test_a_start_missed_past_its_deadline_is_skipped() -> None:
    """With startingDeadlineSeconds, schedules older than the deadline are not counted
    (mostRecentScheduleTime from now - deadline): the 10:01 start is not made at 10:01:30; the
    10:02 one is, on time."""
    sim = Sim(now=TOP + M + 30)
    make_cronjob(sim, schedule="*/1 * * * *", startingDeadlineSeconds=10)
    result = sim.run(cc.reconcile)
    assert jobs(sim) == []
    assert result.requeue_at == TOP + 2 * M + cs.NEXT_SCHEDULE_DELTA
    sim.now = TOP + 2 * M + 5
    sim.run(cc.reconcile)
    assert jobs(sim) == [cs.job_name("hello", TOP + 2 * M)]


def test_history_limits_delete_the_oldest_finished_jobs() -> None:
    sim = Sim(now=TOP + M + 1)
    make_cronjob(sim, successfulJobsHistoryLimit=1, failedJobsHistoryLimit=0)
    made = []
    for minute in range(1, 4):
        sim.now = TOP + minute * M + 1
        sim.run(cc.reconcile)
        made.append(jobs(sim)[-1])
        finish(sim, made[-1], "Complete" if minute < 3 else "Failed")
        sim.now += 1
    sim.run(cc.reconcile)
    assert jobs(sim) == [made[1]]  # one successful kept; no failed one
    assert [e.message for e in sim.events if e.reason == "SuccessfulDelete"] == [
        f"Deleted job {made[0]}", f"Deleted job {made[2]}"]  # fmt: skip


def test_a_job_from_cronjob_made_by_hand_is_not_adopted_into_active() -> None:
    """kubectl create job --from=cronjob/x: the Job names the CronJob as its owner, the
    controller sees it, warns it did not make it, and schedules on."""
    sim = Sim(now=TOP + 30)
    cronjob = make_cronjob(sim)
    sim.add("jobs", {"apiVersion": "batch/v1", "kind": "Job",
                     "metadata": {"name": "manual", "namespace": "default",
                                  "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                                  "ownerReferences": [{"apiVersion": "batch/v1",
                                                       "kind": "CronJob", "name": "hello",
                                                       "uid": cronjob["metadata"]["uid"],
                                                       "controller": True}]},
                     "spec": {}})  # fmt: skip
    sim.run(cc.reconcile)
    assert [e.reason for e in sim.events] == ["UnexpectedJob"]
    assert "active" not in cj_status(sim)
