"""The Job controller's reconcile (controllers/job.py) as tables on an injected `now`, ported
from pkg/controller/job/job_controller_test.go (TestControllerSyncJob, TestSyncJobPastDeadline,
TestJobPodFailurePolicy, TestJobBackoff / TestJobBackoffForOnFailure, TestSyncJobWithJobSuccessPolicy,
TestBackoffLimitPerIndex) and indexed_job_utils_test.go, run on a small in-memory API
(tests/job_sim.py) until the controller settles."""

from __future__ import annotations

from typing import Any

import pytest
from job_sim import Sim

from minikubelet.controllers import job as jc
from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobpolicy as jp
from minikubelet.controllers import jobstatus, ttlafterfinished
from minikubelet.manifest.batch import admit_job

JSON = dict[str, Any]


def make_job(sim: Sim, name: str = "pi", restart: str = "Never", **spec: Any) -> JSON:
    obj = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": "default", "uid": f"{name}-uid"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": restart, "containers": [{"name": "c", "image": "x"}]}
            },
            **spec,
        },
    }
    return sim.add("jobs", admit_job(obj))


def job(sim: Sim, name: str = "pi") -> JSON:
    found = sim.get("jobs", "default", name)
    assert found is not None
    return found


def status(sim: Sim, name: str = "pi") -> JSON:
    return dict(job(sim, name).get("status") or {})


def conditions(sim: Sim, name: str = "pi") -> list[tuple[str, str, str]]:
    return [
        (c["type"], c["status"], c.get("reason", ""))
        for c in status(sim, name).get("conditions") or []
    ]


def names(sim: Sim, phase: str | None = None) -> list[str]:
    return [
        p["metadata"]["name"] for p in sim.pods() if phase is None or p["status"]["phase"] == phase
    ]


def active(sim: Sim) -> list[str]:
    return [
        p["metadata"]["name"]
        for p in sim.pods()
        if p["status"]["phase"] in ("Pending", "Running")
        and not p["metadata"].get("deletionTimestamp")
    ]


# --- creating pods -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ({"parallelism": 2, "completions": 5}, 2),  # "job start"
        ({"parallelism": 2}, 2),  # "WQ job start": completions unset
        ({"parallelism": 5, "completions": 3}, 3),  # never more than completions left
        ({"parallelism": 0, "completions": 3}, 0),
        ({}, 1),  # both unset: both 1
    ],
)
def test_job_start_creates_parallelism_pods(spec: JSON, want: int) -> None:
    sim = Sim()
    make_job(sim, **spec)
    sim.run(jc.reconcile)
    assert len(active(sim)) == want
    assert status(sim)["active"] == want if want else "active" not in status(sim)
    assert status(sim)["startTime"]


def test_pods_carry_labels_owner_and_the_tracking_finalizer() -> None:
    sim = Sim()
    make_job(sim)
    sim.run(jc.reconcile)
    (pod,) = sim.pods()
    meta = pod["metadata"]
    assert meta["name"].startswith("pi-")
    assert meta["labels"] == {
        "batch.kubernetes.io/controller-uid": "pi-uid",
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": "pi-uid",
        "job-name": "pi",
    }
    assert meta["finalizers"] == [jobstatus.FINALIZER]
    (owner,) = meta["ownerReferences"]
    assert owner == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": "pi",
        "uid": "pi-uid",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_a_job_that_completes_counts_once_then_is_complete() -> None:
    sim = Sim()
    make_job(sim, completions=2, parallelism=1)
    sim.run(jc.reconcile)
    (first,) = active(sim)
    sim.set_pod(first, "Succeeded")
    sim.run(jc.reconcile)
    assert status(sim)["succeeded"] == 1
    assert status(sim)["uncountedTerminatedPods"] == {}
    assert not sim.get("pods", "default", first)["metadata"].get("finalizers")  # type: ignore[index]
    assert "Complete" not in [c[0] for c in conditions(sim)]
    (second,) = active(sim)
    sim.now += 5
    sim.set_pod(second, "Succeeded")
    sim.run(jc.reconcile)
    st = status(sim)
    assert st["succeeded"] == 2
    assert conditions(sim) == [
        ("SuccessCriteriaMet", "True", "CompletionsReached"),
        ("Complete", "True", "CompletionsReached"),
    ]
    assert st["completionTime"] == st["conditions"][1]["lastTransitionTime"]
    assert st["conditions"][1]["message"] == "Reached expected number of succeeded pods"
    assert (st["ready"], st["terminating"], "active" in st) == (0, 0, False)
    assert sim.reasons().count("Completed") == 1
    assert jc.reconcile(sim, sim.now + 100).actions == []  # finished: nothing more


def test_uncounted_pods_are_kept_until_their_finalizer_is_gone() -> None:
    """trackJobStatusAndRemoveFinalizers' steps, one write at a time."""
    sim = Sim()
    make_job(sim)
    sim.run(jc.reconcile)
    (pod,) = active(sim)
    sim.set_pod(pod, "Succeeded")
    sim.apply(jc.reconcile(sim, sim.now))  # step 1: the uid into uncountedTerminatedPods
    assert status(sim)["uncountedTerminatedPods"] == {"succeeded": [f"uid-{pod}"]}
    assert "succeeded" not in status(sim)
    sim.apply(jc.reconcile(sim, sim.now))  # step 2: the finalizer removed
    assert not sim.get("pods", "default", pod)["metadata"].get("finalizers")  # type: ignore[index]
    sim.apply(jc.reconcile(sim, sim.now))  # step 3: counted
    assert status(sim)["succeeded"] == 1
    assert status(sim)["uncountedTerminatedPods"] == {}


def test_work_queue_job_finishes_when_one_succeeded_and_none_active() -> None:
    sim = Sim()
    make_job(sim, parallelism=2)
    sim.run(jc.reconcile)
    a, b = active(sim)
    sim.set_pod(a, "Succeeded")
    sim.run(jc.reconcile)
    assert active(sim) == [b]  # "WQ job finishing": no new pod once one succeeded
    assert "Complete" not in [c[0] for c in conditions(sim)]
    sim.set_pod(b, "Succeeded")
    sim.run(jc.reconcile)
    assert ("Complete", "True", "CompletionsReached") in conditions(sim)


def test_too_many_active_pods_are_deleted_unready_first() -> None:
    sim = Sim()
    make_job(sim, parallelism=3, completions=10)
    sim.run(jc.reconcile)
    a, b, c = active(sim)
    sim.set_pod(a, "Running", ready=True)
    sim.set_pod(b, "Running", ready=False)
    sim.set_pod(c, "Running", ready=True)
    sim.add("jobs", {**job(sim), "spec": {**job(sim)["spec"], "parallelism": 2}})
    sim.run(jc.reconcile)
    assert active(sim) == [a, c]
    assert status(sim)["terminating"] == 1
    deleted = sim.get("pods", "default", b)
    assert deleted is not None
    assert not deleted["metadata"].get("finalizers")
    sim.gone(b)
    sim.run(jc.reconcile)
    assert "failed" not in status(sim)


# --- failures: backoffLimit and the re-creation back-off -----------------------------------


def test_backoff_limit_exceeded_fails_the_job_after_the_controllers_backoff() -> None:
    sim = Sim()
    make_job(sim, backoffLimit=2)
    delays = []
    for _ in range(3):
        result = sim.run(jc.reconcile)
        (pod,) = active(sim)
        sim.now += 1
        sim.set_pod(pod, "Failed")
        result = sim.run(jc.reconcile)
        if result.requeue_at is not None:
            delays.append(result.requeue_at - sim.now)
            assert active(sim) == []  # held back
            sim.now = result.requeue_at
    assert delays == [10.0, 20.0]  # DefaultJobPodFailureBackOff, doubling
    st = status(sim)
    assert st["failed"] == 3
    assert conditions(sim) == [
        ("FailureTarget", "True", "BackoffLimitExceeded"),
        ("Failed", "True", "BackoffLimitExceeded"),
    ]
    assert st["conditions"][1]["message"] == "Job has reached the specified backoff limit"
    assert "completionTime" not in st
    event = [e for e in sim.events if e.reason == "BackoffLimitExceeded"]
    assert [(e.type, e.message) for e in event] == [
        ("Warning", "Job has reached the specified backoff limit")
    ]


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0), (7, 600.0), (20, 600.0)],
)
def test_backoff_delay_doubles_and_is_capped(failures: int, delay: float) -> None:
    assert jp.backoff_delay(failures) == delay
    assert jp.remaining_backoff(failures, 100.0, 105.0) == delay - 5
    assert jp.remaining_backoff(0, 100.0, 105.0) == 0.0


def test_a_success_resets_the_backoff() -> None:
    """newBackoffRecord: only failures after the last success count."""
    ok = {
        "metadata": {"name": "a"},
        "status": {
            "phase": "Succeeded",
            "containerStatuses": [
                {"state": {"terminated": {"finishedAt": "2026-01-01T00:00:10Z"}}}
            ],
        },
    }
    bad = [
        {
            "metadata": {"name": f"f{i}"},
            "status": {
                "phase": "Failed",
                "containerStatuses": [
                    {"state": {"terminated": {"finishedAt": f"2026-01-01T00:00:{t:02d}Z"}}}
                ],
            },
        }
        for i, t in enumerate((5, 20, 30))
    ]
    count, last = jp.failures_after_last_success([ok], bad)
    assert count == 2
    assert last == jp.finished_at(bad[2])


def test_on_failure_restarts_count_towards_the_backoff_limit() -> None:
    """pastBackoffLimitOnFailure: the restarts of running pods under OnFailure."""
    sim = Sim()
    make_job(sim, restart="OnFailure", backoffLimit=2)
    sim.run(jc.reconcile)
    (pod,) = active(sim)
    sim.set_pod(pod, "Running", restarts=1)
    sim.run(jc.reconcile)
    assert conditions(sim) == []
    sim.set_pod(pod, "Running", restarts=2)
    sim.run(jc.reconcile)
    assert ("FailureTarget", "True", "BackoffLimitExceeded") in conditions(sim)
    assert status(sim)["terminating"] == 1  # its pod deleted; Failed waits for it
    assert "Failed" not in [c[0] for c in conditions(sim)]
    sim.gone(pod)
    sim.run(jc.reconcile)
    assert ("Failed", "True", "BackoffLimitExceeded") in conditions(sim)
    assert status(sim)["failed"] == 1  # the deleted pod counted as failed


def test_past_active_deadline_deletes_pods_and_fails() -> None:
    sim = Sim()
    make_job(sim, activeDeadlineSeconds=10, parallelism=2, completions=4)
    result = sim.run(jc.reconcile)
    start = sim.now
    assert result.requeue_at == start + 10
    sim.now = start + 10
    sim.run(jc.reconcile)
    assert conditions(sim) == [("FailureTarget", "True", "DeadlineExceeded")]
    for name in names(sim):
        sim.gone(name)
    sim.run(jc.reconcile)
    assert conditions(sim)[-1] == ("Failed", "True", "DeadlineExceeded")
    assert (
        status(sim)["conditions"][-1]["message"] == "Job was active longer than specified deadline"
    )
    assert status(sim)["failed"] == 2
    assert "DeadlineExceeded" in sim.reasons()


# --- podFailurePolicy ------------------------------------------------------------------------


def _policy(*rules: JSON) -> JSON:
    return {"rules": list(rules)}


def test_pod_failure_policy_fail_job_on_exit_code() -> None:
    sim = Sim()
    make_job(
        sim,
        podFailurePolicy=_policy(
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]},
            }
        ),
    )
    sim.run(jc.reconcile)
    (pod,) = active(sim)
    sim.set_pod(pod, "Failed", exit_code=42)
    sim.run(jc.reconcile)
    want = (
        f"Container c for pod default/{pod} failed with exit code 42 matching FailJob "
        "rule at index 0"
    )
    st = status(sim)
    assert [(c["type"], c["reason"], c["message"]) for c in st["conditions"]] == [
        ("FailureTarget", "PodFailurePolicy", want),
        ("Failed", "PodFailurePolicy", want),
    ]
    assert st["failed"] == 1


def test_pod_failure_policy_ignore_does_not_count_and_not_in_is_matched() -> None:
    sim = Sim()
    make_job(
        sim,
        backoffLimit=0,
        podFailurePolicy=_policy(
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
        ),
    )
    assert job(sim)["spec"]["podReplacementPolicy"] == "Failed"
    sim.run(jc.reconcile)
    (pod,) = active(sim)
    sim.set_pod(
        pod, "Failed", exit_code=137, conditions=[{"type": "DisruptionTarget", "status": "True"}]
    )
    result = sim.run(jc.reconcile)
    assert "failed" not in status(sim)  # ignored: not a failure of the Job
    assert conditions(sim) == []
    assert result.requeue_at == sim.now + 10  # the re-creation back-off counts it still
    sim.now += 10
    sim.run(jc.reconcile)
    (replacement,) = active(sim)
    sim.set_pod(replacement, "Failed", exit_code=3)  # NotIn [1, 2]: Count
    sim.run(jc.reconcile)
    assert status(sim)["failed"] == 1
    assert conditions(sim)[-1] == ("Failed", "True", "BackoffLimitExceeded")


def test_match_failure_policy_on_conditions_message() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "ns"},
        "status": {
            "phase": "Failed",
            "conditions": [{"type": "DisruptionTarget", "status": "True"}],
        },
    }
    policy = _policy(
        {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    )
    assert jp.match_failure_policy(policy, pod) == (
        "Pod ns/p has condition DisruptionTarget matching FailJob rule at index 0",
        True,
        "FailJob",
    )
    assert jp.match_failure_policy(None, pod) == (None, True, None)


# --- suspend ---------------------------------------------------------------------------------


def test_suspend_deletes_pods_and_resume_restarts_the_clock() -> None:
    sim = Sim()
    make_job(sim, parallelism=2, completions=4)
    sim.run(jc.reconcile)
    sim.add("jobs", {**job(sim), "spec": {**job(sim)["spec"], "suspend": True}})
    sim.run(jc.reconcile)
    assert conditions(sim) == [("Suspended", "True", "JobSuspended")]
    assert active(sim) == []
    for name in names(sim):
        sim.gone(name)
    sim.run(jc.reconcile)
    assert "failed" not in status(sim)  # pods deleted by suspension are not failures
    sim.now += 60
    sim.add("jobs", {**job(sim), "spec": {**job(sim)["spec"], "suspend": False}})
    sim.run(jc.reconcile)
    assert conditions(sim) == [("Suspended", "False", "JobResumed")]
    assert len(active(sim)) == 2
    assert status(sim)["startTime"] == status(sim)["conditions"][0]["lastTransitionTime"]
    assert sim.reasons().count("Suspended") == 1
    assert sim.reasons().count("Resumed") == 1


def test_a_job_created_suspended_has_no_start_time() -> None:
    sim = Sim()
    make_job(sim, suspend=True)
    sim.run(jc.reconcile)
    assert "startTime" not in status(sim)
    assert conditions(sim) == [("Suspended", "True", "JobSuspended")]


# --- Indexed ---------------------------------------------------------------------------------


def test_indexed_job_pods_have_index_annotation_label_env_hostname() -> None:
    sim = Sim()
    make_job(sim, name="idx", completionMode="Indexed", completions=3, parallelism=2)
    sim.run(jc.reconcile)
    pods = sim.pods()
    assert [p["metadata"]["annotations"][ix.INDEX_KEY] for p in pods] == ["0", "1"]
    assert [p["metadata"]["labels"][ix.INDEX_KEY] for p in pods] == ["0", "1"]
    assert [p["metadata"]["name"][:6] for p in pods] == ["idx-0-", "idx-1-"]
    assert [p["spec"]["hostname"] for p in pods] == ["idx-0", "idx-1"]
    assert pods[0]["spec"]["containers"][0]["env"] == [
        {
            "name": "JOB_COMPLETION_INDEX",
            "valueFrom": {
                "fieldRef": {
                    "fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"
                }
            },
        }
    ]
    first, second = names(sim)
    sim.set_pod(second, "Succeeded")
    sim.run(jc.reconcile)
    assert status(sim, "idx")["completedIndexes"] == "1"
    assert status(sim, "idx")["succeeded"] == 1
    (third,) = [n for n in active(sim) if n != first]
    assert third.startswith("idx-2-")
    sim.set_pod(first, "Succeeded")
    sim.set_pod(third, "Succeeded")
    sim.run(jc.reconcile)
    assert status(sim, "idx")["completedIndexes"] == "0-2"
    assert conditions(sim, "idx")[-1] == ("Complete", "True", "CompletionsReached")


def test_success_policy_completes_with_pods_left_deleted() -> None:
    sim = Sim()
    make_job(
        sim,
        name="lead",
        completionMode="Indexed",
        completions=3,
        parallelism=3,
        successPolicy={"rules": [{"succeededIndexes": "0"}]},
    )
    sim.run(jc.reconcile)
    leader = names(sim)[0]
    sim.set_pod(leader, "Succeeded")
    sim.run(jc.reconcile)
    assert conditions(sim, "lead") == [("SuccessCriteriaMet", "True", "SuccessPolicy")]
    assert status(sim, "lead")["conditions"][0]["message"] == "Matched rules at index 0"
    for name in active(sim) + [n for n in names(sim) if n != leader]:
        if sim.get("pods", "default", name):
            sim.gone(name)
    sim.run(jc.reconcile)
    assert conditions(sim, "lead")[-1] == ("Complete", "True", "SuccessPolicy")
    assert status(sim, "lead")["succeeded"] == 1


def test_backoff_limit_per_index_fails_the_index_not_the_job() -> None:
    sim = Sim()
    make_job(
        sim,
        name="per",
        completionMode="Indexed",
        completions=2,
        parallelism=2,
        backoffLimitPerIndex=0,
    )
    assert job(sim, "per")["spec"]["backoffLimit"] == 2**31 - 1
    sim.run(jc.reconcile)
    zero, one = names(sim)
    assert sim.get("pods", "default", zero)["metadata"]["annotations"][ix.FAILURE_COUNT_KEY] == "0"  # type: ignore[index]
    sim.set_pod(zero, "Failed")
    sim.run(jc.reconcile)
    assert status(sim, "per")["failedIndexes"] == "0"
    assert active(sim) == [one]  # index 0 is not retried
    sim.set_pod(one, "Succeeded")
    sim.run(jc.reconcile)
    assert conditions(sim, "per")[-1] == ("Failed", "True", "FailedIndexes")
    assert status(sim, "per")["conditions"][-1]["message"] == "Job has failed indexes"


# --- index bookkeeping (indexed_job_utils_test.go) -------------------------------------------


@pytest.mark.parametrize(
    ("indexes", "text"),
    [
        ([], ""),
        ([0], "0"),
        ([0, 1], "0,1"),
        ([0, 1, 2, 3, 5, 7, 8], "0-3,5,7,8"),
        ([4, 2, 3, 10, 11, 12, 13], "2-4,10-13"),
    ],
)
def test_interval_string(indexes: list[int], text: str) -> None:
    intervals = ix.with_indexes((), indexes)
    assert ix.to_string(intervals) == text
    assert ix.parse(text, 100) == intervals
    assert ix.total(intervals) == len(set(indexes))


def test_parse_indexes_cut_at_completions_and_skip_corrupt() -> None:
    assert ix.parse("0-3,x,5-9,12", 7) == ((0, 3), (5, 6))
    assert ix.parse("1,2,3", 10) == ((1, 3),)


def test_first_pending_indexes() -> None:
    assert ix.first_pending(3, 10, ((0, 1), (3, 3))) == [2, 4, 5]
    assert ix.first_pending(5, 4, ((1, 1),)) == [0, 2, 3]
    assert ix.first_pending(0, 4, ()) == []


def test_generate_name_with_index_is_cut() -> None:
    assert ix.generate_name("pi", 3) == "pi-3-"
    long = ix.generate_name("a" * 60, 12)
    assert long.endswith("-12-")
    assert len(long) == ix.MAX_GENERATED_NAME_LENGTH


# --- ttl-after-finished ----------------------------------------------------------------------


def test_ttl_after_finished_deletes_the_job_in_the_background() -> None:
    sim = Sim()
    make_job(sim, ttlSecondsAfterFinished=30)
    sim.run(jc.reconcile)
    (pod,) = active(sim)
    sim.set_pod(pod, "Succeeded")
    sim.run(jc.reconcile)
    finished_at = sim.now
    result = ttlafterfinished.reconcile_ttl(sim, finished_at + 10)
    assert result.actions == []
    assert result.requeue_at == finished_at + 30
    (delete,) = ttlafterfinished.reconcile_ttl(sim, finished_at + 30).actions
    assert (delete.resource, delete.name, delete.propagation) == ("jobs", "pi", "Background")  # type: ignore[union-attr]


def test_a_pod_whose_job_is_gone_loses_its_tracking_finalizer() -> None:
    """job_controller.go: a pod's tracking finalizer is taken away once its Job is gone (or
    being deleted), so that the garbage collector's delete can finish."""
    from minikubelet.controllers import job as jc
    from minikubelet.controllers import jobstatus as js
    from minikubelet.controllers.base import Update

    def pod(name: str, uid: str) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": "default",
                             "finalizers": [js.FINALIZER, "example.com/keep"],
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                                  "name": "j", "uid": uid, "controller": True}]}}  # fmt: skip

    live = {"metadata": {"name": "j", "namespace": "default", "uid": "live"}}
    going = {"metadata": {"name": "k", "namespace": "default", "uid": "going",
                          "deletionTimestamp": "2026-01-01T00:00:00Z"}}  # fmt: skip
    pods = {"default": [pod("a", "live"), pod("b", "gone"), pod("c", "going")]}
    actions = jc.orphan_finalizers(pods, [live, going])
    assert [a.object["metadata"]["name"] for a in actions if isinstance(a, Update)] == ["b", "c"]
    assert all(a.object["metadata"]["finalizers"] == ["example.com/keep"] for a in actions)  # type: ignore[union-attr]
