"""The ReplicaSet controller's reconcile (controllers/replicaset.py) and the scale-down ranking
(core/workloads.py) as tables, ported from upstream: pkg/controller/replicaset
replica_set_test.go and replica_set_utils_test.go, pkg/controller controller_utils_test.go
(TestSortingActivePodsWithRanks) and controller_ref_manager_test.go (TestClaimPods)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from minikubelet.controllers import replicaset as rsc
from minikubelet.controllers.apply import NAME_ALPHABET, generate_name
from minikubelet.controllers.base import Create, Delete, Event, Update, UpdateStatus
from minikubelet.core import workloads as wl
from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]
NOW = 1_800_000_000.0
HOUR = 3600.0
MONTH = 30 * 24 * HOUR


def rank_pod(name: str, node: str, phase: str, ready: bool, restarts: int = 0,
             ready_since: float | None = None, created: float | None = None,
             annotations: dict[str, str] | None = None) -> JSON:  # fmt: skip
    """controller_utils_test.go TestSortingActivePodsWithRanks's `pod` (zero times are
    left out)."""
    meta: JSON = {"name": name}
    if created is not None:
        meta["creationTimestamp"] = rfc3339(created)
    if annotations:
        meta["annotations"] = annotations
    status: JSON = {"phase": phase}
    if ready:
        condition: JSON = {"type": "Ready", "status": "True"}
        if ready_since is not None:
            condition["lastTransitionTime"] = rfc3339(ready_since)
        status["conditions"] = [condition]
        status["containerStatuses"] = [{"restartCount": restarts}]
    return {"metadata": meta, "spec": {"nodeName": node}, "status": status}


COST = wl.DELETION_COST_ANNOTATION
PODS = {
    "unscheduled": rank_pod("unscheduled", "", "Pending", False),
    "pending": rank_pod("pending", "node", "Pending", False),
    "unknown-phase": rank_pod("unknown-phase", "node", "Unknown", False),
    "not-ready": rank_pod("not-ready", "node", "Running", False),
    "ready-no-ltt": rank_pod("ready-no-ltt", "node", "Running", True),
    "ready-now": rank_pod("ready-now", "node", "Running", True, 0, NOW, NOW),
    "ready-then": rank_pod("ready-then", "node", "Running", True, 0, NOW - MONTH, NOW - MONTH),
    "ready-high-restarts": rank_pod("ready-high-restarts", "node", "Running", True, 9001, NOW,
                                    NOW),
    "ready-now-created-then": rank_pod("ready-now-created-then", "node", "Running", True, 0,
                                       NOW, NOW - MONTH),
    "low-cost": rank_pod("low-cost", "node", "Running", True, 0, NOW, NOW - MONTH,
                         {COST: "10"}),
    "high-cost": rank_pod("high-cost", "node", "Running", True, 0, NOW, NOW - MONTH,
                          {COST: "100"}),
    "unscheduled-5h": rank_pod("unscheduled-5h", "", "Pending", False, 0, NOW - 5 * HOUR,
                               NOW - 5 * HOUR),
    "unscheduled-8h": rank_pod("unscheduled-8h", "", "Pending", False, 0, NOW - 8 * HOUR,
                               NOW - 8 * HOUR),
    "ready-2h": rank_pod("ready-2h", "", "Running", True, 0, NOW - 2 * HOUR, NOW - MONTH),
    "ready-5h": rank_pod("ready-5h", "", "Running", True, 0, NOW - 5 * HOUR, NOW - MONTH),
    "ready-8h": rank_pod("ready-8h", "", "Running", True, 0, NOW - 8 * HOUR, NOW - MONTH),
}  # fmt: skip


@pytest.mark.parametrize(
    ("p1", "p2"),
    [
        ("unscheduled", "unscheduled"), ("pending", "pending"),
        ("unknown-phase", "unknown-phase"), ("not-ready", "not-ready"),
        ("ready-now-created-then", "ready-now-created-then"), ("ready-now", "ready-now"),
        ("ready-then", "ready-then"), ("ready-high-restarts", "ready-high-restarts"),
        ("unscheduled-5h", "unscheduled-8h"), ("ready-5h", "ready-8h"),
    ],
)  # fmt: skip
def test_ranking_equal(p1: str, p2: str) -> None:
    """TestSortingActivePodsWithRanks equalityTests (LogarithmicScaleDown: 5 and 8 hours are
    in the same power of two)."""
    a, b = PODS[p1], PODS[p2]
    assert not wl.deletion_less(a, 1, b, 1, NOW)
    assert not wl.deletion_less(b, 1, a, 1, NOW)


@pytest.mark.parametrize(
    ("lesser", "lesser_rank", "greater", "greater_rank"),
    [
        ("unscheduled", 1, "pending", 2), ("unscheduled", 2, "pending", 1),
        ("pending", 1, "unknown-phase", 2), ("unknown-phase", 1, "not-ready", 2),
        ("not-ready", 1, "ready-no-ltt", 1), ("ready-no-ltt", 1, "ready-now", 1),
        ("ready-now", 2, "ready-no-ltt", 1), ("ready-now", 1, "ready-then", 1),
        ("ready-now", 2, "ready-then", 1), ("ready-high-restarts", 1, "ready-now", 1),
        ("ready-now", 2, "ready-high-restarts", 1), ("ready-now", 1, "ready-now-created-then", 1),
        ("ready-now-created-then", 2, "ready-now", 1), ("low-cost", 2, "high-cost", 1),
        ("ready-2h", 1, "ready-5h", 1),
    ],
)  # fmt: skip
def test_ranking_less(lesser: str, lesser_rank: int, greater: str, greater_rank: int) -> None:
    """TestSortingActivePodsWithRanks inequalityTests (PodDeletionCost and
    LogarithmicScaleDown on, their defaults)."""
    a, b = PODS[lesser], PODS[greater]
    assert wl.deletion_less(a, lesser_rank, b, greater_rank, NOW)
    assert not wl.deletion_less(b, greater_rank, a, lesser_rank, NOW)


def test_rank_for_deletion_sorts_the_least_valuable_first() -> None:
    """TestSortingActivePods: a shuffled list comes out in the order of the rules."""
    order = ["unscheduled", "pending", "unknown-phase", "not-ready", "ready-no-ltt",
             "ready-high-restarts", "ready-now", "ready-then"]  # fmt: skip
    shuffled = [PODS[n] for n in reversed(order)]
    assert [p["metadata"]["name"] for p in wl.rank_for_deletion(shuffled, now=NOW)] == order


def test_deletion_cost_annotation() -> None:
    assert wl.deletion_cost(rank_pod("a", "n", "Running", True, annotations={COST: "-5"})) == -5
    assert wl.deletion_cost(rank_pod("a", "n", "Running", True, annotations={COST: "x"})) == 0
    assert wl.deletion_cost(rank_pod("a", "n", "Running", True)) == 0


# --- the controller --------------------------------------------------------------------------

LABELS = {"name": "foo", "type": "production"}


def replica_set(replicas: int = 2, *, selector: JSON | None = None, min_ready: int = 0,
                status: JSON | None = None, generation: int = 1, deleting: bool = False,
                template_labels: JSON | None = None) -> JSON:  # fmt: skip
    """replica_set_test.go newReplicaSet."""
    meta: JSON = {"name": "foobar", "namespace": "default", "uid": "rs-uid",
                  "generation": generation, "creationTimestamp": rfc3339(NOW - 100)}  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW - 1)
    spec: JSON = {
        "replicas": replicas,
        "selector": {"matchLabels": dict(LABELS)} if selector is None else selector,
        "template": {
            "metadata": {"labels": dict(LABELS if template_labels is None else template_labels),
                         "annotations": {"a": "b"}},
            "spec": {"containers": [{"name": "foo", "image": "foo/bar"}]},
        },
    }  # fmt: skip
    if min_ready:
        spec["minReadySeconds"] = min_ready
    obj = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": meta, "spec": spec}
    if status is not None:
        obj["status"] = status
    return obj


def pod(name: str, owner: JSON | None = None, *, phase: str = "Running", ready: bool = True,
        ready_since: float = NOW - 50, labels: JSON | None = None, deleting: bool = False,
        node: str = "node1", created: float = NOW - 60, other_owner: bool = False,
        restarts: int = 0) -> JSON:  # fmt: skip
    """replica_set_test.go newPod / newPodList."""
    meta: JSON = {"name": name, "namespace": "default", "uid": f"{name}-uid",
                  "labels": dict(LABELS if labels is None else labels),
                  "creationTimestamp": rfc3339(created), "resourceVersion": "7"}  # fmt: skip
    if owner is not None:
        meta["ownerReferences"] = [wl.owner_reference(owner)]
    if other_owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                    "name": "other", "uid": "other-uid", "controller": True}]  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW - 1)
    status: JSON = {"phase": phase, "containerStatuses": [{"restartCount": restarts}]}
    if ready:
        status["conditions"] = [{"type": "Ready", "status": "True",
                                 "lastTransitionTime": rfc3339(ready_since)}]  # fmt: skip
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node, "containers": [{"name": "foo"}]}, "status": status}  # fmt: skip


def run(owner: JSON, pods: list[JSON], events: list[JSON] | None = None) -> tuple[list[Any], Any]:
    result = rsc.sync(owner, pods, NOW, rsc.REPLICA_SETS, events=events)
    return list(result.actions), result.requeue_at


def kinds(actions: list[Any]) -> list[str]:
    return [type(a).__name__ for a in actions]


def status_of(actions: list[Any]) -> JSON | None:
    updates = [a for a in actions if isinstance(a, UpdateStatus)]
    return updates[-1].object["status"] if updates else None


def test_sync_does_nothing_when_the_replicas_are_there() -> None:
    """TestSyncReplicaSetDoesNothing: 2 replicas, 2 pods, a status already right."""
    rs = replica_set(2)
    pods = [pod("a", rs), pod("b", rs)]
    rs["status"] = rsc.calculate_status(rs, pods, NOW)
    assert run(rs, pods) == ([], None)


def test_sync_creates_the_missing_pods_from_the_template() -> None:
    """TestSyncReplicaSetCreateFailures / TestSyncReplicaSetDormancy's create, and
    GetPodFromTemplate: labels, annotations, spec, `generateName: <rs>-`, the controller
    reference."""
    rs = replica_set(3)
    actions, _ = run(rs, [pod("a", rs)])
    creates = [a for a in actions if isinstance(a, Create)]
    assert len(creates) == 2
    made = creates[0].object
    assert made["metadata"]["generateName"] == "foobar-"
    assert made["metadata"]["namespace"] == "default"
    assert made["metadata"]["labels"] == LABELS
    assert made["metadata"]["annotations"] == {"a": "b"}
    assert made["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "foobar", "uid": "rs-uid",
        "controller": True, "blockOwnerDeletion": True,
    }]  # fmt: skip
    assert made["spec"] == rs["spec"]["template"]["spec"]
    assert creates[0].owner is rs
    assert creates[0].created_message == "Created pod: {name}"
    assert status_of(actions) == {"replicas": 1, "fullyLabeledReplicas": 1, "readyReplicas": 1,
                                  "availableReplicas": 1, "observedGeneration": 1}  # fmt: skip


def test_burst_replicas_bounds_one_pass() -> None:
    """TestSyncReplicaSetBurstReplicas: at most burstReplicas creates (and deletes) a pass."""
    rs = replica_set(rsc.BURST_REPLICAS + 20)
    actions, _ = run(rs, [])
    assert sum(isinstance(a, Create) for a in actions) == rsc.BURST_REPLICAS
    rs = replica_set(0)
    actions, _ = run(rs, [pod(f"p{i}", rs) for i in range(rsc.BURST_REPLICAS + 3)])
    assert sum(isinstance(a, Delete) for a in actions) == rsc.BURST_REPLICAS


def test_sync_deletes_the_surplus_least_valuable_first() -> None:
    """TestSyncReplicaSetDeletes and getPodsToDelete: the unready pod goes first, with a
    SuccessfulDelete event."""
    rs = replica_set(1)
    pods = [pod("ready", rs), pod("unready", rs, ready=False, created=NOW - 120)]
    actions, _ = run(rs, pods)
    deletes = [a for a in actions if isinstance(a, Delete)]
    assert [(d.name, d.uid) for d in deletes] == [("unready", "unready-uid")]
    events = [a for a in actions if isinstance(a, Event)]
    assert [(e.reason, e.message, e.type, e.component) for e in events] == [
        ("SuccessfulDelete", "Deleted pod: unready", "Normal", "replicaset-controller")
    ]
    assert events[0].involved["kind"] == "ReplicaSet"


def test_scale_to_zero_deletes_all() -> None:
    rs = replica_set(0)
    actions, _ = run(rs, [pod("a", rs), pod("b", rs)])
    assert sorted(a.name for a in actions if isinstance(a, Delete)) == ["a", "b"]


@pytest.mark.parametrize(
    "gone",
    [
        {"phase": "Failed"},
        {"phase": "Succeeded"},
        {"deleting": True},
    ],
)
def test_inactive_pods_do_not_count_and_are_replaced(gone: JSON) -> None:
    """FilterActivePods: a Failed, Succeeded or terminating pod is not a replica; a new one
    is made in its place and the old one is left to its fate."""
    rs = replica_set(2)
    actions, _ = run(rs, [pod("a", rs), pod("b", rs, **gone)])
    assert kinds(actions).count("Create") == 1
    assert not any(isinstance(a, Delete) for a in actions)
    assert (status_of(actions) or {})["replicas"] == 1


def test_an_orphan_that_matches_is_adopted() -> None:
    """TestClaimPods "Claim pods with correct label" / TestPodControllerLookup: the orphan
    gets the controller reference and counts."""
    rs = replica_set(2)
    actions, _ = run(rs, [pod("mine", rs), pod("orphan")])
    updates = [a for a in actions if isinstance(a, Update)]
    assert len(updates) == 1
    adopted = updates[0].object
    assert adopted["metadata"]["name"] == "orphan"
    assert adopted["metadata"]["resourceVersion"] == "7"
    assert wl.is_controlled_by(adopted, rs)
    assert not any(isinstance(a, Create) for a in actions)


@pytest.mark.parametrize(
    "orphan",
    [
        {"labels": {"name": "other"}},  # the selector does not match
        {"deleting": True},  # being deleted
        {"other_owner": True},  # another controller's
    ],
)
def test_pods_that_are_not_adopted(orphan: JSON) -> None:
    """TestClaimPods: no adoption of a pod the selector does not match, of one being
    deleted, or of another controller's."""
    rs = replica_set(1)
    actions, _ = run(rs, [pod("x", **orphan)])
    assert not any(isinstance(a, Update) for a in actions)
    assert kinds(actions).count("Create") == 1


def test_an_owned_pod_whose_labels_changed_is_released() -> None:
    """TestClaimPods "Controller releases claimed pods when selector doesn't match" (and
    TestUpdateLabelsRemoveControllerRef): the reference removed, a new pod made."""
    rs = replica_set(1)
    changed = pod("changed", rs, labels={"name": "debug"})
    actions, _ = run(rs, [changed])
    updates = [a for a in actions if isinstance(a, Update)]
    assert len(updates) == 1
    assert "ownerReferences" not in updates[0].object["metadata"]
    assert kinds(actions).count("Create") == 1


def test_a_replica_set_being_deleted_adopts_releases_and_creates_nothing() -> None:
    """TestDoNotAdoptOrCreateIfBeingDeleted / TestClaimPods "Controller deletes should not
    release"."""
    rs = replica_set(3, deleting=True)
    actions, _ = run(rs, [pod("orphan"), pod("changed", rs, labels={"name": "x"})])
    assert kinds(actions) == ["UpdateStatus"]


def test_overlapping_selectors_leave_another_controllers_pods_alone() -> None:
    """TestOverlappingRSs: a pod owned by one ReplicaSet is not counted by another whose
    selector matches it."""
    rs = replica_set(1)
    actions, _ = run(rs, [pod("theirs", other_owner=True)])
    assert kinds(actions).count("Create") == 1


def test_status_counts_fully_labeled_ready_available() -> None:
    """TestControllerUpdateReplicas / TestCalculateStatus: fullyLabeledReplicas counts pods
    with every template label, readyReplicas the ready ones, availableReplicas those ready for
    minReadySeconds; observedGeneration is the generation."""
    rs = replica_set(4, selector={"matchLabels": {"name": "foo"}}, min_ready=30, generation=3,
                     template_labels={"name": "foo", "type": "production"})  # fmt: skip
    pods = [
        pod("full-available", rs, ready_since=NOW - 40),
        pod("full-ready", rs, ready_since=NOW - 10),
        pod("partial", rs, labels={"name": "foo"}, ready=False),
        pod("partial2", rs, labels={"name": "foo"}, ready_since=NOW - 100),
    ]
    actions, requeue = run(rs, pods)
    assert status_of(actions) == {"replicas": 4, "fullyLabeledReplicas": 2, "readyReplicas": 3,
                                  "availableReplicas": 2, "observedGeneration": 3}  # fmt: skip
    assert requeue == NOW - 10 + 30  # when full-ready becomes available


def test_no_pods_status_is_replicas_zero() -> None:
    rs = replica_set(0)
    actions, requeue = run(rs, [])
    assert status_of(actions) == {"replicas": 0, "observedGeneration": 1}
    assert requeue is None


def failed_create(at: float, message: str = "Error creating: pods is forbidden: quota") -> JSON:
    return {
        "reason": "FailedCreate", "type": "Warning", "message": message,
        "involvedObject": {"kind": "ReplicaSet", "name": "foobar", "uid": "rs-uid"},
        "lastTimestamp": rfc3339(at),
    }  # fmt: skip


def test_replica_failure_condition_on_a_create_error() -> None:
    """TestCalculateStatusConditions: a create error adds ReplicaFailure (FailedCreate, the
    error as its message); no error and all replicas there removes it."""
    rs = replica_set(2)
    actions, _ = run(rs, [pod("a", rs)], events=[failed_create(NOW - 5)])
    status = status_of(actions) or {}
    assert status["conditions"] == [{
        "type": "ReplicaFailure", "status": "True", "lastTransitionTime": rfc3339(NOW),
        "reason": "FailedCreate", "message": "pods is forbidden: quota",
    }]  # fmt: skip
    rs["status"] = status
    pods = [pod("a", rs), pod("b", rs, created=NOW - 1)]
    actions, _ = run(rs, pods, events=[failed_create(NOW - 5)])
    assert "conditions" not in (status_of(actions) or {})


def test_while_creates_fail_one_is_tried_after_a_back_off() -> None:
    """slowStartBatch's first batch of one stops the rest when it fails; the sync is retried
    after the work queue's per-item back-off (5 ms doubling to 1000 s)."""
    rs = replica_set(5)
    events = [failed_create(NOW - 1, f"Error creating: pod {i} refused") for i in range(3)]
    actions, requeue = run(rs, [], events=events)
    assert kinds(actions).count("Create") == 1
    assert requeue == NOW + 0.005 * 2**3
    assert rsc.retry_delay(40) == 1000.0


def test_a_stale_create_error_sets_no_condition() -> None:
    """A FailedCreate older than the ReplicaSet's newest pod is an error already overcome."""
    rs = replica_set(3)
    actions, _ = run(rs, [pod("a", rs, created=NOW - 2)], events=[failed_create(NOW - 5)])
    assert "conditions" not in (status_of(actions) or {})


def test_the_reconcile_is_idempotent_on_its_own_result() -> None:
    """Called again on what its actions produced, it wants nothing."""
    rs = replica_set(2)
    pods = [pod("a", rs), pod("orphan"), pod("extra", rs, ready=False)]
    actions, _ = run(rs, pods)
    assert [a.object["metadata"]["name"] for a in actions if isinstance(a, Update)] == ["orphan"]
    assert [a.name for a in actions if isinstance(a, Delete)] == ["extra"]
    after = [pods[0], next(a.object for a in actions if isinstance(a, Update)),
             pod("extra", rs, ready=False, deleting=True)]  # fmt: skip
    rs["status"] = status_of(actions)
    actions, _ = run(rs, after)  # the status counted the pods before the delete, as upstream's
    assert kinds(actions) == ["UpdateStatus"]
    rs["status"] = status_of(actions)
    assert run(rs, after) == ([], None)


def test_replication_controller_runs_on_its_map_selector() -> None:
    """pkg/controller/replication: the RC's map selector as matchLabels, its own kind in the
    owner reference and events from replication-controller."""
    rc = {
        "apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "nginx", "namespace": "default", "uid": "rc-uid", "generation": 1},
        "spec": {"replicas": 1, "selector": {"app": "nginx"},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}},
    }  # fmt: skip
    orphan = pod("orphan", labels={"app": "nginx"})
    extra = pod("extra", labels={"app": "nginx"}, ready=False, created=NOW - 10)
    result = rsc.sync(rc, [orphan, extra], NOW, rsc.REPLICATION_CONTROLLERS)
    updates = [a for a in result.actions if isinstance(a, Update)]
    assert {u.object["metadata"]["name"] for u in updates} == {"orphan", "extra"}
    assert updates[0].object["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
    deletes = [a for a in result.actions if isinstance(a, Delete)]
    assert [d.name for d in deletes] == ["extra"]
    events = [a for a in result.actions if isinstance(a, Event)]
    assert events[0].component == "replication-controller"
    statuses = [a for a in result.actions if isinstance(a, UpdateStatus)]
    assert statuses[0].resource == "replicationcontrollers"


def test_reconcile_reads_each_namespace_and_ranks_by_related_pods() -> None:
    """reconcile over a store: each ReplicaSet with the pods of its own namespace."""

    class Store:
        def __init__(self, objects: dict[str, list[JSON]]) -> None:
            self.objects = objects

        def get(self, resource: str, namespace: str, name: str) -> JSON | None:
            return None

        def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
            return [o for o in self.objects.get(resource, [])
                    if namespace is None or o["metadata"].get("namespace") == namespace]  # fmt: skip

    rs = replica_set(1)
    elsewhere = pod("elsewhere")
    elsewhere["metadata"]["namespace"] = "other"
    result = rsc.reconcile_replicasets(Store({"replicasets": [rs], "pods": [elsewhere]}), NOW)
    assert kinds(list(result.actions)).count("Create") == 1


def test_selector_string_sorts_requirements_by_key() -> None:
    """labels.Selector String: requirements by key, whatever their kind; values sorted."""
    selector = {"matchLabels": {"tier": "frontend", "app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["b", "a"]},
                                     {"key": "zone", "operator": "DoesNotExist"}]}  # fmt: skip
    assert wl.selector_string(selector) == "app=web,env in (a,b),tier=frontend,!zone"


def test_generated_names_are_cut_as_the_api_server_cuts_them() -> None:
    """storage/names SimpleNameGenerator: a base longer than 58 characters is cut, so a
    ReplicaSet with a long name still gets pod names of at most 63."""
    rng = random.Random(1)
    name = generate_name("a" * 70 + "-", rng)
    assert len(name) == 63
    assert name.startswith("a" * 58)
    assert all(c in NAME_ALPHABET for c in name[58:])
    assert len(generate_name("frontend-", rng)) == len("frontend-") + 5


def _to_delete_pod(name: str, phase: str, node: str = "", ready: bool | None = None) -> JSON:
    """replica_set_test.go TestGetPodsToDelete's pods (no ready times)."""
    status: JSON = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": node},
            "status": status}  # fmt: skip


UNSCHEDULED = _to_delete_pod("unscheduled-pending", "Pending")
SCHEDULED_PENDING = _to_delete_pod("scheduled-pending", "Pending", "fake-node")
NOT_READY = _to_delete_pod("running-not-ready", "Running", "fake-node", False)
READY_1 = _to_delete_pod("running-ready-node-1", "Running", "fake-node-1", True)
READY_2 = _to_delete_pod("running-ready-node-2", "Running", "fake-node-2", True)


@pytest.mark.parametrize(
    ("pods", "related", "diff", "expected"),
    [
        ([], None, 0, []),
        ([NOT_READY, READY_1], None, 2, [NOT_READY, READY_1]),
        ([READY_1, NOT_READY], None, 1, [NOT_READY]),
        ([READY_1, READY_1, READY_2, NOT_READY, SCHEDULED_PENDING, UNSCHEDULED], None, 6,
         [READY_1, READY_1, READY_2, NOT_READY, SCHEDULED_PENDING, UNSCHEDULED]),
        ([READY_1, READY_1, READY_2, NOT_READY, SCHEDULED_PENDING, UNSCHEDULED], [], 6,
         [READY_1, READY_1, READY_2, NOT_READY, SCHEDULED_PENDING, UNSCHEDULED]),
        ([SCHEDULED_PENDING, UNSCHEDULED], None, 1, [UNSCHEDULED]),
        ([READY_1, NOT_READY, NOT_READY], None, 2, [NOT_READY, NOT_READY]),
        ([READY_1, READY_2], [READY_1, READY_2, READY_2], 1, [READY_2]),
        ([SCHEDULED_PENDING, NOT_READY], None, 1, [SCHEDULED_PENDING]),
        ([READY_1, READY_2, NOT_READY, SCHEDULED_PENDING, UNSCHEDULED], None, 3,
         [UNSCHEDULED, SCHEDULED_PENDING, NOT_READY]),
    ],
)  # fmt: skip
def test_get_pods_to_delete(
    pods: list[JSON], related: list[JSON] | None, diff: int, expected: list[JSON]
) -> None:
    """replica_set_test.go TestGetPodsToDelete: related defaults to the pods."""
    got = rsc.pods_to_delete(pods, pods if related is None else related, diff, NOW)
    assert [p["metadata"]["name"] for p in got] == [p["metadata"]["name"] for p in expected]


FULL = {"name": "foo", "type": "production"}


def _status_pod(name: str, labels: JSON, phase: str = "Running") -> JSON:
    """replica_set_test.go newPod: a Running pod is Ready (no transition time)."""
    pod_ = rank_pod(name, "node", phase, phase == "Running")
    pod_["metadata"]["labels"] = dict(labels)
    return pod_


@pytest.mark.parametrize(
    ("template_labels", "min_ready", "pods", "expected"),
    [
        (FULL, 0, [_status_pod("pod1", FULL)], (1, 1, 1, 1)),
        ({"name": "foo"}, 0, [_status_pod("pod1", {"name": "foo"})], (1, 1, 1, 1)),
        (FULL, 0, [_status_pod("pod1", {"name": "foo"})], (1, 0, 1, 1)),
        (FULL, 0, [_status_pod("pod1", FULL), _status_pod("pod2", FULL)], (2, 2, 2, 2)),
        (FULL, 0, [_status_pod("pod1", {"name": "foo"}), _status_pod("pod2", {"name": "foo"})],
         (2, 0, 2, 2)),
        (FULL, 0, [_status_pod("pod1", {"name": "foo"}), _status_pod("pod2", FULL)],
         (2, 1, 2, 2)),
        (FULL, 0, [_status_pod("pod1", FULL, "Pending")], (1, 1, 0, 0)),
        (FULL, 3600, [_status_pod("pod1", FULL)], (1, 1, 1, 0)),
    ],
)  # fmt: skip
def test_calculate_status(
    template_labels: JSON, min_ready: int, pods: list[JSON], expected: tuple[int, ...]
) -> None:
    """replica_set_utils_test.go TestCalculateStatus: replicas, fullyLabeledReplicas,
    readyReplicas, availableReplicas (upstream's "not fully labelled" pods carry fewer labels
    than the template has)."""
    rs = replica_set(2, min_ready=min_ready, template_labels=template_labels)
    status = rsc.calculate_status(rs, pods, NOW)
    got = tuple(int(status.get(f) or 0) for f in ("replicas", "fullyLabeledReplicas",
                                                  "readyReplicas", "availableReplicas"))  # fmt: skip
    assert got == expected


def test_calculate_status_keeps_a_failure_that_goes_on() -> None:
    """TestCalculateStatusConditions "manageReplicasErr != nil && failureCond != nil": the
    condition stays as it was."""
    old = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
           "message": "first", "lastTransitionTime": rfc3339(NOW - 60)}  # fmt: skip
    rs = replica_set(10, status={"replicas": 1, "conditions": [old]})
    assert rsc.calculate_status(rs, [], NOW, "second")["conditions"] == [old]
    assert "conditions" not in rsc.calculate_status(rs, [], NOW, None)
