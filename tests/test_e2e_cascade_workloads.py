"""`kubectl delete <workload> --cascade=foreground|background|orphan` with real workloads
(Deployment, StatefulSet, DaemonSet, Job) on the real daemon: their ReplicaSets, revisions and
pods go, hold the owner, or stay orphaned as on a cluster, and no controller makes anything
for an owner being deleted (a ControllerRevision made again for a StatefulSet waiting in the
foreground kept it there forever)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_harness import Minikubelet, event_messages, serving
from test_e2e_kubectl import kubectl
from test_e2e_kubectl import kubectl_ok as ok

JSON = dict[str, Any]
BASE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: bare}
    spec:
      containers: [{name: app, image: busybox, command: [sleep, "600"]}]
"""
# a container that ignores SIGTERM: each pod takes its grace period to go, so that an owner
# deleted in the foreground is seen waiting
POD_SPEC: JSON = {
    "terminationGracePeriodSeconds": 2,
    "containers": [{"name": "c", "image": "busybox",
                    "command": ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]}],
}  # fmt: skip
GROUPS = {"deployment": "apps/v1", "statefulset": "apps/v1", "daemonset": "apps/v1",
          "job": "batch/v1"}  # fmt: skip


def workload(kind: str, name: str) -> JSON:
    labels = {"app": name}
    template: JSON = {"metadata": {"labels": labels}, "spec": dict(POD_SPEC)}
    spec: JSON = {"selector": {"matchLabels": labels}, "template": template}
    if kind == "deployment":
        spec["replicas"] = 2
    elif kind == "statefulset":
        spec.update(replicas=2, serviceName=name, podManagementPolicy="Parallel")
    elif kind == "job":
        spec = {"parallelism": 2, "completions": 2, "template": template}
        template["spec"]["restartPolicy"] = "Never"
    return {"apiVersion": GROUPS[kind], "kind": kind.capitalize().replace("set", "Set"),
            "metadata": {"name": name}, "spec": spec}  # fmt: skip


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    yield from serving(tmp_path_factory, "cascade", BASE)


def items(mk: Minikubelet, resource: str, name: str) -> list[JSON]:
    """The objects of a resource labelled app=name, or (revisions, ReplicaSets) named after it."""
    out = json.loads(ok(mk, "get", resource, "-o", "json"))
    return [o for o in out["items"]
            if (o["metadata"].get("labels") or {}).get("app") == name
            or (o["metadata"]["name"].startswith(f"{name}-") and resource != "pods")]  # fmt: skip


def owner(mk: Minikubelet, kind: str, name: str) -> JSON | None:
    out, err, code = kubectl(mk, "get", kind, name, "-o", "json")
    if code and "NotFound" in err:
        return None
    assert code == 0, err
    return dict(json.loads(out))


def start(mk: Minikubelet, kind: str, name: str) -> None:
    ok(mk, "apply", "-f", "-", stdin=json.dumps(workload(kind, name)))
    want = 1 if kind == "daemonset" else 2
    mk.wait_for(f"{want} pods of {name} running", lambda: sum(
        (p.get("status") or {}).get("phase") == "Running" for p in items(mk, "pods", name)
    ) == want, timeout=60)  # fmt: skip


@pytest.mark.parametrize("kind", list(GROUPS))
def test_foreground_holds_the_owner_until_its_pods_are_gone(mk: Minikubelet, kind: str) -> None:
    name = f"fg-{kind}"
    start(mk, kind, name)
    ok(mk, "delete", kind, name, "--cascade=foreground", "--wait=false")
    held = owner(mk, kind, name)
    assert held is not None
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    mk.wait_for("the pods terminating", lambda: all(
        p["metadata"].get("deletionTimestamp") for p in items(mk, "pods", name)))  # fmt: skip
    assert owner(mk, kind, name) is not None  # held by its terminating pods
    mk.wait_for(f"{kind} {name} gone", lambda: owner(mk, kind, name) is None, timeout=60)
    assert items(mk, "pods", name) == []
    assert items(mk, "controllerrevisions", name) == []
    assert items(mk, "replicasets", name) == []


@pytest.mark.parametrize("kind", ["deployment", "statefulset", "job"])
def test_background_removes_the_owner_at_once_then_its_pods(mk: Minikubelet, kind: str) -> None:
    name = f"bg-{kind}"
    start(mk, kind, name)
    ok(mk, "delete", kind, name, "--cascade=background", "--wait=false")
    assert owner(mk, kind, name) is None
    mk.wait_for(f"the pods of {name} gone", lambda: items(mk, "pods", name) == [], timeout=60)
    assert items(mk, "replicasets", name) == []
    assert items(mk, "controllerrevisions", name) == []


@pytest.mark.parametrize("kind", ["deployment", "statefulset", "job"])
def test_orphan_keeps_the_dependents_without_the_reference(mk: Minikubelet, kind: str) -> None:
    name = f"or-{kind}"
    start(mk, kind, name)
    before = {p["metadata"]["name"] for p in items(mk, "pods", name)}
    ok(mk, "delete", kind, name, "--cascade=orphan")  # waits for the owner to go
    assert owner(mk, kind, name) is None
    pods = items(mk, "pods", name)
    assert {p["metadata"]["name"] for p in pods} == before
    assert all(not p["metadata"].get("deletionTimestamp") for p in pods)
    if kind == "deployment":
        # the ReplicaSet is the orphan; its pods keep their reference to it
        (rs,) = items(mk, "replicasets", name)
        assert not rs["metadata"].get("ownerReferences")
        assert {r["kind"] for p in pods for r in p["metadata"]["ownerReferences"]} == {
            "ReplicaSet"}  # fmt: skip
        ok(mk, "delete", "rs", rs["metadata"]["name"], "--wait=false")
    else:
        assert all(not p["metadata"].get("ownerReferences") for p in pods)
        ok(mk, "delete", "pods", *before, "--wait=false")
    mk.wait_for(f"the pods of {name} gone", lambda: items(mk, "pods", name) == [], timeout=60)


def test_a_statefulset_adopts_its_orphans_and_releases_a_relabelled_pod(mk: Minikubelet) -> None:
    """getPodsForStatefulSet's ClaimPods: the pods left by `--cascade=orphan` are adopted by a
    new set of the same name (not made again), and a pod relabelled out of the selector is
    released, kept running, and no longer the set's."""
    name = "claim-sts"
    start(mk, "statefulset", name)
    before = {p["metadata"]["name"]: p["metadata"]["uid"] for p in items(mk, "pods", name)}
    ok(mk, "delete", "statefulset", name, "--cascade=orphan")
    assert all(not p["metadata"].get("ownerReferences") for p in items(mk, "pods", name))
    ok(mk, "apply", "-f", "-", stdin=json.dumps(workload("statefulset", name)))
    sts = owner(mk, "statefulset", name)
    assert sts is not None
    uid = sts["metadata"]["uid"]

    def owners() -> dict[str, list[str]]:
        return {p["metadata"]["name"]: [r["uid"] for r in p["metadata"].get("ownerReferences")
                                        or []] for p in items(mk, "pods", name)}  # fmt: skip

    mk.wait_for("the orphans adopted", lambda: owners() == {n: [uid] for n in before})
    assert {p["metadata"]["name"]: p["metadata"]["uid"] for p in items(mk, "pods", name)} == before
    ok(mk, "label", "pod", f"{name}-1", "app=debug", "--overwrite")
    mk.wait_for("the relabelled pod released", lambda: not found_pod(mk, f"{name}-1")[
        "metadata"].get("ownerReferences"))  # fmt: skip
    released = found_pod(mk, f"{name}-1")
    assert released["metadata"]["uid"] == before[f"{name}-1"]
    assert not released["metadata"].get("deletionTimestamp")
    # the set wants its ordinal 1 back: the API refuses the name, as on a cluster, and the
    # event says so (and no SuccessfulCreate claims otherwise)
    refused = (
        f'create Pod {name}-1 in StatefulSet {name} failed error: pods "{name}-1" already exists'
    )
    mk.wait_for("the refused create", lambda: refused in event_messages(mk, "FailedCreate"))
    assert event_messages(mk, "SuccessfulCreate").count(
        f"create Pod {name}-1 in StatefulSet {name} successful") == 1  # fmt: skip
    ok(mk, "delete", "statefulset", name, "--wait=false")
    ok(mk, "delete", "pod", f"{name}-1", "--wait=false")
    mk.wait_for("every pod gone", lambda: items(mk, "pods", name) == [] and found_pod(
        mk, f"{name}-1", missing_ok=True) == {}, timeout=60)  # fmt: skip


def test_a_daemonset_adopts_the_pod_an_orphaning_delete_left(mk: Minikubelet) -> None:
    name = "claim-ds"
    start(mk, "daemonset", name)
    (pod,) = items(mk, "pods", name)
    ok(mk, "delete", "daemonset", name, "--cascade=orphan")
    ok(mk, "apply", "-f", "-", stdin=json.dumps(workload("daemonset", name)))
    ds = owner(mk, "daemonset", name)
    assert ds is not None
    mk.wait_for("the orphan adopted", lambda: [
        [r["uid"] for r in p["metadata"].get("ownerReferences") or []]
        for p in items(mk, "pods", name)] == [[ds["metadata"]["uid"]]])  # fmt: skip
    (now,) = items(mk, "pods", name)
    assert now["metadata"]["uid"] == pod["metadata"]["uid"]  # the same pod, none beside it
    ok(mk, "delete", "daemonset", name, "--wait=false")
    mk.wait_for("its pod gone", lambda: items(mk, "pods", name) == [], timeout=60)


def found_pod(mk: Minikubelet, name: str, *, missing_ok: bool = False) -> JSON:
    out, err, code = kubectl(mk, "get", "pod", name, "-o", "json")
    if code and missing_ok and "NotFound" in err:
        return {}
    assert code == 0, err
    return dict(json.loads(out))
