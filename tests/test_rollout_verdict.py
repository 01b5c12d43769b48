"""The CI mode with workloads, as tables over hand-made Deployment, StatefulSet, DaemonSet,
ReplicaSet and Job JSON (core/rollout.py, core/verdict.py decide_objects): kubectl's rollout
status rules and words (kubectl/pkg/polymorphichelpers/rollout_status.go and the cases of
rollout_status_test.go TestDeploymentStatusViewerStatus, TestDaemonSetStatusViewerStatus,
TestStatefulSetStatusViewerStatus), a Job's Complete and Failed conditions, and which pods
count as bare."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.core import rollout
from minikubelet.core.verdict import Verdict, decide_objects, held_back, judged
from minikubelet.node import report

JSON = dict[str, Any]


def obj(kind: str, name: str, spec: JSON | None = None, status: JSON | None = None, *,
        generation: int = 1, owner: JSON | None = None) -> JSON:  # fmt: skip
    meta: JSON = {"name": name, "namespace": "default", "uid": f"{name}-uid",
                  "generation": generation}  # fmt: skip
    if owner is not None:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner["kind"],
                                    "name": owner["metadata"]["name"],
                                    "uid": owner["metadata"]["uid"], "controller": True}]  # fmt: skip
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": spec or {},
            "status": status or {}}  # fmt: skip


def deploy(replicas: int, observed: int = 1, updated: int = 0, total: int = 0,
           available: int = 0, generation: int = 1, reason: str = "") -> JSON:  # fmt: skip
    status: JSON = {"observedGeneration": observed, "updatedReplicas": updated,
                    "replicas": total, "availableReplicas": available}  # fmt: skip
    if reason:
        status["conditions"] = [{"type": "Progressing", "status": "False", "reason": reason,
                                 "message": 'ReplicaSet "web-5d4f8" has timed out progressing.'}]  # fmt: skip
    return obj("Deployment", "web", {"replicas": replicas}, status, generation=generation)


@pytest.mark.parametrize(
    ("d", "done", "failed", "message"),
    [
        (deploy(1, observed=1, generation=2), False, False,
         "Waiting for deployment spec update to be observed..."),
        (deploy(2, updated=1, total=2, available=1), False, False,
         'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been '
         "updated..."),
        (deploy(2, updated=2, total=3, available=2), False, False,
         'Waiting for deployment "web" rollout to finish: 1 old replicas are pending '
         "termination..."),
        (deploy(2, updated=2, total=2, available=1), False, False,
         'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are '
         "available..."),
        (deploy(2, updated=2, total=2, available=2), True, False,
         'deployment "web" successfully rolled out'),
        (deploy(2, updated=1, total=2, reason="ProgressDeadlineExceeded"), False, True,
         'deployment "web" exceeded its progress deadline'),
    ],
)  # fmt: skip
def test_deployment_rollout(d: JSON, done: bool, failed: bool, message: str) -> None:
    assert rollout.deployment_rollout(d) == (done, failed, message)


def sts(replicas: int, status: JSON, strategy: JSON | None = None) -> JSON:
    spec = {"replicas": replicas, "updateStrategy": strategy or {"type": "RollingUpdate"}}
    return obj("StatefulSet", "db", spec, status)


@pytest.mark.parametrize(
    ("s", "done", "message"),
    [
        (sts(3, {}), False, "Waiting for statefulset spec update to be observed..."),
        (sts(3, {"observedGeneration": 1, "readyReplicas": 1}), False,
         "Waiting for 2 pods to be ready..."),
        (sts(3, {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1},
             {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}), False,
         "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated..."),
        (sts(3, {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 3},
             {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}), True,
         "partitioned roll out complete: 3 new pods have been updated..."),
        (sts(3, {"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1,
                 "currentRevision": "db-1", "updateRevision": "db-2"}), False,
         "waiting for statefulset rolling update to complete 1 pods at revision db-2..."),
        (sts(3, {"observedGeneration": 1, "readyReplicas": 3, "currentReplicas": 3,
                 "currentRevision": "db-2", "updateRevision": "db-2"}), True,
         "statefulset rolling update complete 3 pods at revision db-2..."),
    ],
)  # fmt: skip
def test_statefulset_rollout(s: JSON, done: bool, message: str) -> None:
    assert rollout.statefulset_rollout(s) == (done, False, message)


@pytest.mark.parametrize(
    ("status", "done", "message"),
    [
        ({"observedGeneration": 1, "desiredNumberScheduled": 1}, False,
         'Waiting for daemon set "agent" rollout to finish: 0 out of 1 new pods have been '
         "updated..."),
        ({"observedGeneration": 1, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1},
         False,
         'Waiting for daemon set "agent" rollout to finish: 0 of 1 updated pods are available...'),
        ({"observedGeneration": 1, "desiredNumberScheduled": 1, "updatedNumberScheduled": 1,
          "numberAvailable": 1}, True, 'daemon set "agent" successfully rolled out'),
    ],
)  # fmt: skip
def test_daemonset_rollout(status: JSON, done: bool, message: str) -> None:
    ds = obj("DaemonSet", "agent", {"updateStrategy": {"type": "RollingUpdate"}}, status)
    assert rollout.daemonset_rollout(ds) == (done, False, message)


def job(name: str, condition: str = "", reason: str = "", message: str = "") -> JSON:
    status: JSON = {"active": 1}
    if condition:
        status = {"conditions": [{"type": condition, "status": "True", "reason": reason,
                                  "message": message}]}  # fmt: skip
    return {**obj("Job", name, {}, status), "apiVersion": "batch/v1"}


def pod(name: str, phase: str = "Running", ready: bool = False, owner: JSON | None = None
        ) -> JSON:  # fmt: skip
    p = obj("Pod", name, {}, {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}, owner=owner)  # fmt: skip
    return {**p, "apiVersion": "v1"}


def test_a_deployments_pods_are_judged_through_it_and_a_bare_pod_itself() -> None:
    d = deploy(1, updated=1, total=1, available=1)
    rs = obj("ReplicaSet", "web-5d4f8", {"replicas": 1}, {}, owner=d)
    found = judged("ready", [pod("web-5d4f8-abcde", owner=rs), pod("tool")], [d, rs])
    assert [w.title for w in found.workloads] == ["deployment default/web"]
    assert found.bare_pods == (("default/tool", "Running", False),)


def test_a_pod_whose_owner_is_not_here_counts_as_bare() -> None:
    gone = obj("ReplicaSet", "old", {}, {})
    found = judged("ready", [pod("p", owner=gone)], [])
    assert found.bare_pods == (("default/p", "Running", False),)


@pytest.mark.parametrize(
    ("pods", "owners", "expected"),
    [
        ([], [], None),
        ([pod("web-x", ready=True)], [deploy(1, updated=1, total=1, available=0)], None),
        ([], [deploy(1, updated=1, total=1, available=1)],
         Verdict(0, "OK: every workload rolled out")),
        ([pod("tool", ready=True)], [deploy(1, updated=1, total=1, available=1)],
         Verdict(0, "OK: every workload rolled out and every pod is Ready")),
        ([pod("tool", ready=False)], [deploy(1, updated=1, total=1, available=1)], None),
        ([pod("tool", ready=True)], [deploy(2, updated=1, reason="ProgressDeadlineExceeded")],
         Verdict(1, 'FAILED: deployment "web" exceeded its progress deadline')),
        ([pod("tool", ready=True)], [job("pi")], Verdict(0, "OK: every pod is Ready")),
        ([], [obj("ReplicaSet", "rs", {"replicas": 2},
                  {"observedGeneration": 1, "readyReplicas": 2})],
         Verdict(0, "OK: every workload rolled out")),
    ],
)  # fmt: skip
def test_until_ready(pods: list[JSON], owners: list[JSON], expected: Verdict | None) -> None:
    assert decide_objects("ready", pods, owners) == expected


def test_until_complete() -> None:
    pi = job("pi")
    pi_pod = pod("pi-abcde", phase="Failed", owner=pi)
    assert decide_objects("complete", [pi_pod], [pi]) is None  # judged through its Job
    done = job("pi", "Complete")
    assert decide_objects("complete", [pi_pod], [done]) == Verdict(0, "OK: every job Complete")
    failed = job("pi", "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff "
                 "limit")  # fmt: skip
    assert decide_objects("complete", [], [done, failed]) == Verdict(
        1, 'FAILED: job "pi" Failed (BackoffLimitExceeded: Job has reached the specified '
        "backoff limit)")  # fmt: skip
    both = [pod("a", phase="Succeeded"), pod("b", phase="Running")]
    assert decide_objects("complete", both, [done]) is None
    assert decide_objects("complete", both[:1], [done]) == Verdict(
        0, "OK: every job Complete and every pod Succeeded")  # fmt: skip
    assert decide_objects("complete", [pod("b", phase="Failed")], [job("pi")]) == Verdict(
        1, "FAILED: pod b Failed")  # fmt: skip
    deployment_only = [deploy(1, updated=1, total=1, available=1)]
    assert decide_objects("complete", [], deployment_only) is None


def test_the_report_names_the_workload_its_conditions_and_the_pods_holding_it_back() -> None:
    d = deploy(2, updated=2, total=2, available=1)
    d["status"]["conditions"] = [
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
         "message": "Deployment does not have minimum availability."}]  # fmt: skip
    rs = obj("ReplicaSet", "web-5d4f8", {"replicas": 2}, {}, owner=d)
    pods = [pod("web-5d4f8-aaaaa", ready=True, owner=rs), pod("web-5d4f8-bbbbb", owner=rs)]
    held = held_back("ready", pods, [d, rs])
    assert [(w.title, names) for w, names in held] == [
        ("deployment default/web", ("default/web-5d4f8-bbbbb",))]  # fmt: skip
    failure = "2026-01-01T00:00:05Z Readiness probe failed: HTTP probe failed with statuscode: 503"
    container = report.ContainerReport("web", "container", "Running since x", 0, False,
                                       (failure,), ())  # fmt: skip
    pod_report = report.PodReport("default/web-5d4f8-bbbbb", "Running", ("Ready=False",),
                                  (container,))  # fmt: skip
    snap = report.Snapshot("stopped", 1.0, (pod_report,), report.workload_reports(held))
    text = report.render(snap).splitlines()
    assert text[1:5] == [
        'deployment default/web: Waiting for deployment "web" rollout to finish: 1 of 2 updated '
        "replicas are available...",
        "  conditions: Available=False (MinimumReplicasUnavailable: Deployment does not have "
        "minimum availability.)",
        "  held back by pod default/web-5d4f8-bbbbb: Running, Ready=False",
        f"    last probe failure: {failure}",
    ]
    assert report.failed_pods(snap, "ready") == ["default/web-5d4f8-bbbbb"]


def test_pods_are_grouped_by_owner_chain_bare_pods_last() -> None:
    d = deploy(2, updated=2, total=2, available=2)
    d["status"]["readyReplicas"] = 1
    rs = obj("ReplicaSet", "web-5d4f8", {"replicas": 2}, {"readyReplicas": 1}, owner=d)
    pi = job("pi", "Complete")
    pods = [pod("tool"), pod("web-5d4f8-a", owner=rs), pod("pi-x", owner=pi),
            pod("web-5d4f8-b", owner=rs)]  # fmt: skip
    groups = rollout.pod_groups(pods, [d, rs, pi])
    assert [(g["key"], g["pods"]) for g in groups] == [
        ("Deployment/default/web>ReplicaSet/default/web-5d4f8",
         ["default/web-5d4f8-a", "default/web-5d4f8-b"]),
        ("Job/default/pi", ["default/pi-x"]),
        ("", ["default/tool"]),
    ]  # fmt: skip
    assert [o["summary"] for o in groups[0]["chain"]] == ["1/2 ready", "1/2 ready"]
    assert groups[1]["chain"][0]["summary"] == "0/1 completions, Complete"
