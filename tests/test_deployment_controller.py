"""The Deployment controller's reconcile (controllers/deployment.py, deployment_util.py) as
tables, with upstream's own cases: pkg/controller/deployment/rolling_test.go
(TestDeploymentController_reconcileNewReplicaSet, _reconcileOldReplicaSets,
_cleanupUnhealthyReplicas, _scaleDownOldReplicaSetsForRollingUpdate), sync_test.go (TestScale,
TestDeploymentController_cleanupDeployment), util/deployment_util_test.go
(TestResolveFenceposts, TestNewRSNewReplicas, TestDeploymentComplete,
TestDeploymentProgressing, TestDeploymentTimedOut, TestMaxUnavailable, TestAnnotationUtils),
progress_test.go (TestSyncRolloutStatus, TestRequeueStuckDeployment); and whole rollouts
against a simulated ReplicaSet controller."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikubelet.controllers import deployment as dc
from minikubelet.controllers import deployment_status as ds
from minikubelet.controllers import deployment_util as du
from minikubelet.controllers.base import Create, Delete, Event, Result, Update, UpdateStatus
from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]
NOW = 1_800_000_000.0
OLD_STAMP = rfc3339(NOW - 3600)
NEW_STAMP = rfc3339(NOW - 60)


def deployment(
    replicas: int = 10,
    *,
    surge: int | str | None = 0,
    unavailable: int | str | None = 0,
    strategy: str = "RollingUpdate",
    image: str = "app:v1",
    **spec: Any,
) -> JSON:
    """deployment_controller_test.go newDeployment: the fenceposts 0/0 unless given."""
    rolling: JSON = {}
    if surge is not None:
        rolling["maxSurge"] = surge
    if unavailable is not None:
        rolling["maxUnavailable"] = unavailable
    strat: JSON = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = rolling
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "foo",
            "namespace": "default",
            "uid": "dep-uid",
            "generation": 1,
            "resourceVersion": "1",
            "creationTimestamp": OLD_STAMP,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"foo": "bar"}},
            "strategy": strat,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
            "template": template(image),
            **spec,
        },
        "status": {},
    }


def template(image: str = "app:v1") -> JSON:
    return {
        "metadata": {"labels": {"foo": "bar"}},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def rs(
    name: str,
    replicas: int,
    *,
    available: int = 0,
    stamp: str = OLD_STAMP,
    image: str = "app:v0",
    revision: int | None = None,
    owner: JSON | None = None,
    status_replicas: int | None = None,
    annotations: JSON | None = None,
) -> JSON:
    meta: JSON = {
        "name": name,
        "namespace": "default",
        "uid": f"{name}-uid",
        "creationTimestamp": stamp,
        "labels": {"foo": "bar", du.HASH_LABEL: name},
        "generation": 1,
        "resourceVersion": "1",
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": "foo",
                "uid": (owner or {"uid": "dep-uid"})["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "annotations": dict(annotations or {}),
    }
    if revision is not None:
        meta["annotations"][du.REVISION] = str(revision)
    tmpl = template(image)
    tmpl["metadata"]["labels"][du.HASH_LABEL] = name
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": meta,
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"foo": "bar", du.HASH_LABEL: name}},
            "template": tmpl,
        },
        "status": {
            "replicas": replicas if status_replicas is None else status_replicas,
            "availableReplicas": available,
            "readyReplicas": available,
            "observedGeneration": 1,
        },
    }


def sync_of(d: JSON, sets: list[JSON]) -> dc._Sync:
    return dc._Sync(d, sets, {s["metadata"]["name"]: s for s in sets}, [], NOW)


def replicas_of(sync: dc._Sync, name: str) -> int:
    return next(du.replicas(s) for s in sync.sets if s["metadata"]["name"] == name)


# --- rolling_test.go ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dep_replicas", "max_surge", "old_replicas", "new_replicas", "scaled", "expected"),
    [
        (10, 0, 10, 0, False, 0),  # should not scale up
        (10, 2, 10, 0, True, 2),
        (10, 2, 5, 0, True, 7),
        (10, 2, 10, 2, False, 2),
        (10, 2, 2, 11, True, 10),  # should scale down
    ],
)
def test_reconcile_new_replica_set(
    dep_replicas: int,
    max_surge: int,
    old_replicas: int,
    new_replicas: int,
    scaled: bool,
    expected: int,
) -> None:
    new, old = rs("foo-v2", new_replicas), rs("foo-v1", old_replicas)
    sync = sync_of(deployment(dep_replicas, surge=max_surge, unavailable=0), [new, old])
    assert sync.reconcile_new(sync.sets, sync.sets[0]) is scaled
    assert replicas_of(sync, "foo-v2") == expected


@pytest.mark.parametrize(
    (
        "dep_replicas",
        "max_unavailable",
        "old_replicas",
        "new_replicas",
        "ready_old",
        "ready_new",
        "scaled",
        "expected_old",
    ),
    [
        (10, 0, 10, 0, 10, 0, True, 9),
        (10, 2, 10, 0, 10, 0, True, 8),
        (10, 2, 10, 0, 8, 0, True, 8),  # unhealthy old replicas cleaned up
        (10, 2, 10, 0, 9, 0, True, 8),  # one unhealthy cleaned up, one ready scaled down
        (10, 2, 8, 2, 8, 0, False, 8),  # the new set's unavailable pods hold the old ones
    ],
)
def test_reconcile_old_replica_sets(
    dep_replicas: int,
    max_unavailable: int,
    old_replicas: int,
    new_replicas: int,
    ready_old: int,
    ready_new: int,
    scaled: bool,
    expected_old: int,
) -> None:
    old = rs("foo-old", old_replicas, available=ready_old)
    new = rs("foo-new", new_replicas, available=ready_new)
    sync = sync_of(deployment(dep_replicas, surge=0, unavailable=max_unavailable), [old, new])
    old_w, new_w = sync.sets
    assert sync.reconcile_old([old_w, new_w], [old_w], new_w) is scaled
    assert replicas_of(sync, "foo-old") == expected_old


@pytest.mark.parametrize(
    ("old_replicas", "ready", "max_cleanup", "expected"),
    [(10, 8, 1, 1), (10, 8, 3, 2), (10, 8, 0, 0), (10, 10, 3, 0)],
)
def test_cleanup_unhealthy_replicas(
    old_replicas: int, ready: int, max_cleanup: int, expected: int
) -> None:
    sync = sync_of(
        deployment(10, surge=2, unavailable=2), [rs("foo-v2", old_replicas, available=ready)]
    )
    assert sync.cleanup_unhealthy(sync.sets, max_cleanup) == expected
    assert replicas_of(sync, "foo-v2") == old_replicas - expected


@pytest.mark.parametrize(
    ("dep_replicas", "max_unavailable", "ready", "old_replicas", "scaled", "expected_old"),
    [
        (10, 0, 10, 10, True, 9),
        (10, 2, 10, 10, True, 8),
        (10, 2, 8, 10, False, 10),
        (10, 2, 10, 0, False, 0),
        (10, 2, 1, 10, False, 10),
    ],
)
def test_scale_down_old_replica_sets_for_rolling_update(
    dep_replicas: int,
    max_unavailable: int,
    ready: int,
    old_replicas: int,
    scaled: bool,
    expected_old: int,
) -> None:
    sync = sync_of(
        deployment(dep_replicas, surge=0, unavailable=max_unavailable),
        [rs("foo-v2", old_replicas, available=ready)],
    )
    assert (sync.scale_down_old(sync.sets, sync.sets) > 0) is scaled
    assert replicas_of(sync, "foo-v2") == expected_old
    if scaled:
        [event] = sync.events
        assert event.reason == "ScalingReplicaSet"
        assert (
            event.message == f"Scaled down replica set foo-v2 from {old_replicas} to {expected_old}"
        )


# --- sync_test.go TestScale: proportional scaling ---------------------------------------------


def annotated(set_: JSON, desired: int, max_replicas: int) -> JSON:
    du.set_replicas_annotations(set_, desired, max_replicas)
    return set_


@pytest.mark.parametrize(
    ("name", "replicas", "old_replicas", "new", "olds", "expected_new", "expected_olds"),
    [
        ("proportional scaling: 5 -> 10", 10, 5, 2, [3], 4, [6]),
        ("proportional scaling: 5 -> 3", 3, 5, 2, [3], 1, [2]),
        ("proportional scaling: 9 -> 4", 4, 9, 8, [1], 4, [0]),
        ("proportional scaling: 7 -> 10", 10, 7, 2, [3, 2], 3, [4, 3]),
        ("proportional scaling: 13 -> 8", 8, 13, 2, [8, 3], 1, [5, 2]),
        ("leftover distribution: 3 -> 4", 4, 3, 1, [1, 1], 2, [1, 1]),
        ("scaling down to zero", 0, 5, 2, [3], 0, [0]),
    ],
)
def test_scale(
    name: str,
    replicas: int,
    old_replicas: int,
    new: int,
    olds: list[int],
    expected_new: int,
    expected_olds: list[int],
) -> None:
    # the old sets older than the new one, the first of them the newer: foo-v2 before foo-v1
    stamps = [rfc3339(NOW - 600 - 60 * i) for i in range(len(olds))]
    old_sets = [
        annotated(rs(f"foo-v{len(olds) - i}", n, stamp=stamps[i]), old_replicas, old_replicas)
        for i, n in enumerate(olds)
    ]
    new_set = annotated(
        rs(f"foo-v{len(olds) + 1}", new, stamp=NEW_STAMP), old_replicas, old_replicas
    )
    sync = sync_of(deployment(replicas, surge=0, unavailable=0), [new_set, *old_sets])
    new_w, *olds_w = sync.sets
    sync.scale(new_w, olds_w)
    assert du.replicas(new_w) == expected_new, name
    assert [du.replicas(s) for s in olds_w] == expected_olds, name
    for set_ in sync.sets:  # the sets now sized for the new replica count
        assert du.desired_annotation(set_) == replicas


def test_scale_one_active_set_takes_all() -> None:
    """FindActiveOrLatest: the only set with replicas scales to the deployment's size."""
    sync = sync_of(deployment(5), [rs("foo-v1", 0), rs("foo-v2", 3, stamp=NEW_STAMP)])
    sync.scale(sync.sets[1], [sync.sets[0]])
    assert replicas_of(sync, "foo-v2") == 5
    assert [e.message for e in sync.events] == ["Scaled up replica set foo-v2 from 3 to 5"]


def test_scale_saturated_new_set_empties_old_ones() -> None:
    new = annotated(rs("foo-v2", 5, available=5, stamp=NEW_STAMP), 5, 5)
    sync = sync_of(deployment(5), [rs("foo-v1", 2), new])
    sync.scale(sync.sets[1], [sync.sets[0]])
    assert replicas_of(sync, "foo-v1") == 0


# --- cleanupDeployment ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sets", "limit", "expected_deleted"),
    [
        # (name, replicas, status replicas, revision)
        ([("foo-1", 0, 0, 1), ("foo-2", 0, 0, 2), ("foo-3", 0, 0, 3)], 1, ["foo-1", "foo-2"]),
        ([("foo-1", 0, 0, 1), ("foo-2", 0, 0, 2)], 0, ["foo-1", "foo-2"]),
        ([("foo-1", 1, 1, 1), ("foo-2", 0, 0, 2)], 0, ["foo-2"]),  # avoid non-empty sets
        ([("foo-1", 0, 1, 1), ("foo-2", 0, 0, 2)], 0, ["foo-2"]),  # pods still going
        ([("foo-1", 0, 0, 1), ("foo-2", 0, 0, 2)], 2, []),
    ],
)
def test_cleanup_deployment(
    sets: list[tuple[str, int, int, int]], limit: int, expected_deleted: list[str]
) -> None:
    old = [rs(n, r, status_replicas=s, revision=v) for n, r, s, v in sets]
    sync = sync_of(deployment(1, revisionHistoryLimit=limit), old)
    sync.cleanup(sync.sets)
    assert [s["metadata"]["name"] for s in sync.deleted] == expected_deleted


def test_cleanup_keeps_a_set_its_controller_has_not_observed() -> None:
    old = rs("foo-1", 0, status_replicas=0, revision=1)
    old["metadata"]["generation"] = 2
    sync = sync_of(deployment(1, revisionHistoryLimit=0), [old])
    sync.cleanup(sync.sets)
    assert sync.deleted == []


# --- deployment_util_test.go ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("surge", "unavailable", "desired", "expected"),
    [
        ("0%", "0%", 0, (0, 1)),
        ("39%", "39%", 10, (4, 3)),
        (None, "39%", 10, (0, 3)),
        ("39%", None, 10, (4, 0)),
        (None, None, 10, (0, 1)),
        ("25%", "25%", 1, (1, 0)),  # the defaults on one replica: surge up, unavailable down
        ("25%", "25%", 3, (1, 0)),
        ("25%", "25%", 4, (1, 1)),
        ("25%", "25%", 10, (3, 2)),
        (0, 0, 5, (0, 1)),
        (2, "50%", 5, (2, 2)),
    ],
)
def test_resolve_fenceposts(
    surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]
) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(("surge", "unavailable"), [("oops", "39%"), ("55%", "urg")])
def test_resolve_fenceposts_refuses_what_is_no_percentage(surge: str, unavailable: str) -> None:
    with pytest.raises(ValueError, match="invalid value for IntOrString"):
        du.resolve_fenceposts(surge, unavailable, 10)


@pytest.mark.parametrize(
    ("replicas", "unavailable", "strategy", "expected"),
    [
        (10, "1", "RollingUpdate", None),
        (10, 1, "RollingUpdate", 1),
        (10, 25, "RollingUpdate", 10),  # never more than replicas
        (0, 1, "RollingUpdate", 0),
        (10, "10%", "RollingUpdate", 1),
        (10, 1, "Recreate", 0),
    ],
)
def test_max_unavailable(
    replicas: int, unavailable: Any, strategy: str, expected: int | None
) -> None:
    d = deployment(replicas, surge=0, unavailable=unavailable, strategy=strategy)
    if expected is None:
        with pytest.raises(ValueError, match="not a percentage"):
            du.max_unavailable(d)
        return
    assert du.max_unavailable(d) == expected


@pytest.mark.parametrize(
    ("strategy", "dep_replicas", "new_replicas", "surge", "old_replicas", "expected"),
    [
        ("RollingUpdate", 1, 5, 1, 5, 5),  # can not scale up: to newRSReplicas
        ("RollingUpdate", 6, 2, 10, 5, 6),  # scale up: to depReplicas
        ("Recreate", 3, 1, 1, 1, 3),  # recreate: to depReplicas
    ],
)
def test_new_rs_new_replicas(
    strategy: str,
    dep_replicas: int,
    new_replicas: int,
    surge: int,
    old_replicas: int,
    expected: int,
) -> None:
    d = deployment(dep_replicas, surge=surge, unavailable=1, strategy=strategy)
    new, old = rs("foo-v2", new_replicas), rs("foo-v1", old_replicas)
    assert du.new_rs_new_replicas(d, [new, old], new) == expected


def status(
    replicas: int = 0, updated: int = 0, available: int = 0, ready: int = 0, observed: int = 1
) -> JSON:
    return {
        "replicas": replicas,
        "updatedReplicas": updated,
        "availableReplicas": available,
        "readyReplicas": ready,
        "observedGeneration": observed,
    }


@pytest.mark.parametrize(
    ("name", "d_replicas", "new", "expected"),
    [
        ("not complete: min but not all pods become available", 5, status(5, 5, 4), False),
        ("not complete: min availability is not honored", 5, status(5, 5, 3), False),
        ("complete", 5, status(5, 5, 5), True),
        ("not complete: all pods are available but not updated", 5, status(5, 4, 5), False),
        ("not complete: still running old pods", 1, status(2, 1, 1), False),
        ("not complete: one replica deployment never comes up", 1, status(1, 1, 0), False),
        ("not complete: generation not observed", 5, status(5, 5, 5, observed=0), False),
    ],
)
def test_deployment_complete(name: str, d_replicas: int, new: JSON, expected: bool) -> None:
    assert ds.deployment_complete(deployment(d_replicas), new) is expected, name


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        ("progressing: updated pods", status(10, 2, 2), status(10, 3, 2), True),
        ("not progressing", status(10, 2, 2), status(10, 2, 2), False),
        ("progressing: old pods removed", status(10, 2, 2), status(8, 2, 2), True),
        ("not progressing: less new pods", status(10, 3, 3), status(10, 2, 3), False),
        ("progressing: less overall but more new pods", status(10, 2, 2), status(8, 3, 2), True),
        ("progressing: more ready pods", status(10, 10, 8, 8), status(10, 10, 8, 9), True),
        ("progressing: more available pods", status(10, 10, 8, 8), status(10, 10, 9, 8), True),
    ],
)
def test_deployment_progressing(name: str, old: JSON, new: JSON, expected: bool) -> None:
    d = deployment(10)
    d["status"] = old
    assert ds.deployment_progressing(d, new) is expected, name


@pytest.mark.parametrize(
    ("name", "deadline", "reason", "updated_ago", "expected"),
    [
        ("no timeout: no progressDeadlineSeconds", None, ds.REPLICASET_UPDATED, 1000, False),
        ("no timeout: no deadline", ds.MAX_INT32, ds.REPLICASET_UPDATED, 1000, False),
        ("timeout: deadline passed", 30, ds.REPLICASET_UPDATED, 31, True),
        ("no timeout: deadline not passed", 30, ds.REPLICASET_UPDATED, 29, False),
        ("no timeout: exactly at the deadline", 30, ds.REPLICASET_UPDATED, 30, False),
        ("no timeout: the last rollout completed", 30, ds.NEW_RS_AVAILABLE, 1000, False),
        ("timeout: already timed out", 30, ds.TIMED_OUT, 0, True),
    ],
)
def test_deployment_timed_out(
    name: str, deadline: int | None, reason: str, updated_ago: int, expected: bool
) -> None:
    d = deployment(1, progressDeadlineSeconds=deadline)
    cond = ds.new_condition("Progressing", "True", reason, "", NOW - updated_ago)
    assert ds.deployment_timed_out(d, {"conditions": [cond]}, NOW) is expected, name


def test_revision_annotations_on_a_rollback() -> None:
    """SetNewReplicaSetAnnotations (TestAnnotationUtils): the deployment's annotations copied
    but the skipped ones, the revision raised, the old one kept in revision-history."""
    d = deployment(3)
    d["metadata"]["annotations"] = {
        "kubernetes.io/change-cause": "v1",
        du.REVISION: "7",
        du.LAST_APPLIED: "{}",
    }
    set_ = rs("foo-1", 0, revision=1, annotations={du.REVISION_HISTORY: "0"})
    assert du.set_new_rs_annotations(d, set_, 3, True)
    notes = set_["metadata"]["annotations"]
    assert notes["kubernetes.io/change-cause"] == "v1"
    assert notes[du.REVISION] == "3"
    assert notes[du.REVISION_HISTORY] == "0,1"
    assert du.LAST_APPLIED not in notes
    assert not du.set_new_rs_annotations(d, set_, 3, True)  # nothing more: unchanged


def test_revision_history_stays_within_its_length() -> None:
    history = ",".join(str(n) for n in range(1, 600))
    set_ = rs("foo-1", 0, revision=600, annotations={du.REVISION_HISTORY: history})
    du.set_new_rs_annotations(deployment(1), set_, 601, True)
    kept = set_["metadata"]["annotations"][du.REVISION_HISTORY]
    assert len(kept) <= du.MAX_REV_HISTORY_CHARS
    assert kept.endswith(",599,600")


def test_pod_template_hash() -> None:
    """ComputeHash printed through SafeEncodeString: stable, a collision count changes it,
    only the alphabet without vowels."""
    a = du.compute_hash(template(), None)
    assert a == du.compute_hash(copy.deepcopy(template()), None)
    assert a != du.compute_hash(template("app:v2"), None)
    assert a != du.compute_hash(template(), 1)
    assert set(a) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert 1 <= len(a) <= 10
    assert du.safe_encode("1234567890") == "56789bcdf4"
    assert du.fnv32a(b"") == 0x811C9DC5
    assert du.fnv32a(b"a") == 0xE40C292C


# --- a whole rollout against a simulated ReplicaSet controller ---------------------------------


class Cluster:
    """The store as the loop keeps it: each action applied; a ReplicaSet's status made from
    `healthy(rs)` as the ReplicaSet controller would (its pods all up, available or not)."""

    def __init__(self, d: JSON) -> None:
        self.objects: dict[str, dict[str, JSON]] = {"deployments": {"foo": d}, "replicasets": {}}
        self.events: list[Event] = []
        self.rv = 1
        self.healthy = lambda set_: True

    def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        return self.objects.get(resource, {}).get(name)

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
        return [copy.deepcopy(o) for o in self.objects.get(resource, {}).values()]

    def _next(self, obj: JSON) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def apply(self, result: Result, now: float) -> int:
        writes = 0
        for action in result.actions:
            if isinstance(action, Event):
                self.events.append(action)
                continue
            writes += 1
            kind = self.objects[action.resource]
            if isinstance(action, Create):
                obj = copy.deepcopy(action.object)
                obj["metadata"].update(
                    uid=obj["metadata"]["name"] + "-uid",
                    generation=1,
                    creationTimestamp=rfc3339(now),
                )
                obj["status"] = {}
                self._next(obj)
                kind[obj["metadata"]["name"]] = obj
            elif isinstance(action, Delete):
                kind.pop(action.name)
            else:
                stored = kind[action.object["metadata"]["name"]]
                if (
                    stored["metadata"]["resourceVersion"]
                    != action.object["metadata"]["resourceVersion"]
                ):
                    writes -= 1  # a conflict: dropped, seen again at the next reconcile
                    continue
                obj = copy.deepcopy(action.object)
                if isinstance(action, UpdateStatus):
                    obj = {**stored, "status": obj["status"]}
                else:
                    obj["status"] = stored.get("status", {})
                    if obj["spec"] != stored["spec"]:
                        obj["metadata"]["generation"] = stored["metadata"]["generation"] + 1
                obj = copy.deepcopy(obj)
                self._next(obj)
                kind[obj["metadata"]["name"]] = obj
        return writes

    def settle_replica_sets(self) -> None:
        for set_ in self.objects["replicasets"].values():
            n = du.replicas(set_)
            up = n if self.healthy(set_) else 0
            wanted = {
                "replicas": n,
                "readyReplicas": up,
                "availableReplicas": up,
                "observedGeneration": set_["metadata"]["generation"],
            }
            if set_.get("status") != wanted:
                set_["status"] = wanted
                self._next(set_)

    def run(self, now: float, rounds: int = 50) -> Result:
        """Reconcile until nothing is written (the controller and the simulated sets)."""
        for _ in range(rounds):
            result = dc.reconcile(self, now)
            if self.apply(result, now) == 0:
                before = self.rv
                self.settle_replica_sets()
                if self.rv == before:
                    return result
        raise AssertionError("the rollout did not settle")

    @property
    def d(self) -> JSON:
        return self.objects["deployments"]["foo"]

    def sets(self) -> dict[str, int]:
        return {
            s["spec"]["template"]["spec"]["containers"][0]["image"]: du.replicas(s)
            for s in self.objects["replicasets"].values()
        }

    def condition(self, type_: str) -> tuple[str, str] | None:
        cond = ds.get_condition(self.d["status"], type_)
        return None if cond is None else (cond["status"], cond["reason"])

    def change_template(self, image: str) -> None:
        d = self.d
        d["spec"]["template"] = template(image)
        d["metadata"]["generation"] += 1
        self._next(d)


def test_a_new_deployment_creates_its_replica_set_and_completes() -> None:
    cluster = Cluster(deployment(3, surge="25%", unavailable="25%"))
    first = dc.reconcile(cluster, NOW)
    [create] = [a for a in first.actions if isinstance(a, Create)]
    name = create.object["metadata"]["name"]
    hash_ = du.compute_hash(template(), None)
    assert name == f"foo-{hash_}"
    meta, spec = create.object["metadata"], create.object["spec"]
    assert meta["labels"] == {"foo": "bar", du.HASH_LABEL: hash_}
    assert spec["selector"] == {"matchLabels": {"foo": "bar", du.HASH_LABEL: hash_}}
    assert spec["template"]["metadata"]["labels"][du.HASH_LABEL] == hash_
    assert spec["replicas"] == 3
    assert meta["annotations"] == {du.REVISION: "1", du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
    assert meta["ownerReferences"][0]["uid"] == "dep-uid"
    assert [e.message for e in first.actions if isinstance(e, Event)] == [
        f"Scaled up replica set {name} from 0 to 3"
    ]
    cluster.run(NOW)
    st = cluster.d["status"]
    assert st["replicas"] == st["updatedReplicas"] == st["availableReplicas"] == 3
    assert st["observedGeneration"] == 1
    assert "unavailableReplicas" not in st
    assert cluster.condition("Available") == ("True", ds.MIN_AVAILABLE)
    assert cluster.condition("Progressing") == ("True", ds.NEW_RS_AVAILABLE)
    assert (
        ds.get_condition(st, "Progressing")["message"]
        == f'ReplicaSet "{name}" has successfully progressed.'
    )
    assert [c["type"] for c in st["conditions"]] == ["Available", "Progressing"]
    assert cluster.d["metadata"]["annotations"][du.REVISION] == "1"
    assert dc.reconcile(cluster, NOW + 5).actions == []  # idempotent


def test_a_rolling_update_that_stalls_on_an_unready_pod_and_then_times_out() -> None:
    cluster = Cluster(deployment(4, surge="25%", unavailable="25%"))
    cluster.run(NOW)
    cluster.change_template("app:v2")
    cluster.healthy = lambda s: s["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v1"
    result = cluster.run(NOW + 10)
    # surge 1, unavailable 1: one old pod gone, two new ones that never become ready
    assert cluster.sets() == {"app:v1": 3, "app:v2": 2}
    assert cluster.condition("Progressing") == ("True", ds.REPLICASET_UPDATED)
    assert cluster.condition("Available") == ("True", ds.MIN_AVAILABLE)
    assert cluster.d["status"]["unavailableReplicas"] == 2
    assert result.requeue_at == NOW + 10 + 600 + 1
    cluster.run(NOW + 10 + 601)
    assert cluster.condition("Progressing") == ("False", ds.TIMED_OUT)
    new = next(
        s
        for s in cluster.objects["replicasets"].values()
        if s["metadata"]["annotations"][du.REVISION] == "2"
    )
    assert ds.get_condition(cluster.d["status"], "Progressing")["message"] == (
        f'ReplicaSet "{new["metadata"]["name"]}" has timed out progressing.'
    )
    assert cluster.sets() == {"app:v1": 3, "app:v2": 2}  # the old pods stay
    # the probe passes: the rollout resumes and completes
    cluster.healthy = lambda s: True
    cluster.run(NOW + 700)
    assert cluster.sets() == {"app:v1": 0, "app:v2": 4}
    assert cluster.condition("Progressing") == ("True", ds.NEW_RS_AVAILABLE)
    assert cluster.d["metadata"]["annotations"][du.REVISION] == "2"
    messages = [e.message for e in cluster.events if e.reason == "ScalingReplicaSet"]
    assert messages[-1].startswith("Scaled down replica set foo-")
    assert messages[-1].endswith("to 0")


def test_rollback_reuses_the_old_replica_set_with_the_next_revision() -> None:
    cluster = Cluster(deployment(2, surge="25%", unavailable="25%"))
    cluster.run(NOW)
    cluster.change_template("app:v2")
    cluster.run(NOW + 10)
    cluster.change_template("app:v1")  # what `kubectl rollout undo` patches in
    cluster.run(NOW + 20)
    assert cluster.sets() == {"app:v1": 2, "app:v2": 0}
    v1 = next(s for s in cluster.objects["replicasets"].values() if du.replicas(s) == 2)
    assert v1["metadata"]["annotations"][du.REVISION] == "3"
    assert v1["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert cluster.d["metadata"]["annotations"][du.REVISION] == "3"
    assert len(cluster.objects["replicasets"]) == 2


def test_recreate_scales_the_old_set_down_before_the_new_one_exists() -> None:
    cluster = Cluster(deployment(2, strategy="Recreate"))
    cluster.run(NOW)
    cluster.change_template("app:v2")
    first = dc.reconcile(cluster, NOW + 10)
    assert not any(isinstance(a, Create) for a in first.actions)
    cluster.run(NOW + 10)
    assert cluster.sets() == {"app:v1": 0, "app:v2": 2}


def test_paused_deployment_keeps_its_sets_and_says_so() -> None:
    cluster = Cluster(deployment(2, surge=1, unavailable=0))
    cluster.run(NOW)
    cluster.d["spec"]["paused"] = True
    cluster.change_template("app:v2")
    cluster.run(NOW + 10)
    assert cluster.sets() == {"app:v1": 2}
    assert cluster.condition("Progressing") == ("Unknown", ds.PAUSED)
    cluster.d["spec"]["replicas"] = 3  # a scaling event while paused still scales
    cluster.run(NOW + 20)
    assert cluster.sets() == {"app:v1": 3}
    cluster.d["spec"]["paused"] = False
    cluster.run(NOW + 30)
    assert cluster.sets() == {"app:v1": 0, "app:v2": 3}
    assert cluster.condition("Progressing") == ("True", ds.NEW_RS_AVAILABLE)


def test_revision_history_limit_deletes_the_oldest_empty_sets() -> None:
    cluster = Cluster(deployment(1, surge=1, unavailable=0, revisionHistoryLimit=1))
    for n, image in enumerate(["app:v1", "app:v2", "app:v3", "app:v4"]):
        if n:
            cluster.change_template(image)
        cluster.run(NOW + 10 * n)
    assert cluster.sets() == {"app:v3": 0, "app:v4": 1}


def test_an_empty_selector_is_only_warned_about() -> None:
    d = deployment(1)
    d["spec"]["selector"] = {}
    result = dc.reconcile(Cluster(d), NOW)
    assert [(a.type, a.reason) for a in result.actions if isinstance(a, Event)] == [
        ("Warning", "SelectingAll")
    ]
    assert not any(isinstance(a, Create) for a in result.actions)


def test_orphans_are_adopted_and_a_set_no_longer_selected_is_released() -> None:
    cluster = Cluster(deployment(1))
    orphan = rs("foo-1", 1, available=1, image="app:v1", revision=1)
    orphan["metadata"]["ownerReferences"] = []
    stranger = rs("other", 1, owner={"uid": "dep-uid"})
    stranger["metadata"]["labels"] = {"app": "other"}
    cluster.objects["replicasets"] = {"foo-1": orphan, "other": stranger}
    result = dc.reconcile(cluster, NOW)
    updates = {
        a.object["metadata"]["name"]: a.object
        for a in result.actions
        if isinstance(a, Update) and a.resource == "replicasets"
    }
    assert updates["foo-1"]["metadata"]["ownerReferences"][0]["uid"] == "dep-uid"
    assert updates["other"]["metadata"]["ownerReferences"] == []
    assert not any(isinstance(a, Create) for a in result.actions)  # the adopted set is the new one


# --- progress_test.go TestSyncRolloutStatus -------------------------------------------------


def progressing(status_: str, reason: str, ago: float) -> JSON:
    return ds.new_condition("Progressing", status_, reason, "", NOW - ago)


def rollout_case(deadline: int | None, stored: JSON, new_sets: list[JSON | None]) -> JSON:
    d = deployment(3, surge=1, unavailable=0, progressDeadlineSeconds=deadline)
    d["status"] = stored
    sync = sync_of(d, [s for s in new_sets if s is not None])
    sync.sync_rollout_status(sync.sets, sync.sets[0] if new_sets[0] is not None else None)
    status_: JSON = sync.d["status"]
    return status_


@pytest.mark.parametrize(
    ("name", "deadline", "stored_counts", "stored_cond", "sets", "expected"),
    [
        ("General: remove Progressing condition and do not estimate progress if deployment "
         "has no Progress Deadline", None, (3, 2, 2), (("True", ds.REPLICASET_UPDATED, 100)),
         [(3, 2), (0, 0)], None),
        ("General: do not estimate progress of deployment with only one active ReplicaSet",
         600, (3, 3, 3), ("True", ds.NEW_RS_AVAILABLE, 100), [(3, 3)],
         ("True", ds.NEW_RS_AVAILABLE, 100, 100)),
        ("DeploymentProgressing: dont update lastTransitionTime if deployment already has "
         "Progressing=True", 600, (4, 1, 3), ("True", ds.REPLICASET_UPDATED, 100),
         [(2, 2), (2, 2)], ("True", ds.REPLICASET_UPDATED, 100, 0)),
        ("DeploymentProgressing: update everything if deployment has Progressing=False",
         600, (4, 1, 3), ("False", ds.TIMED_OUT, 100), [(2, 2), (2, 2)],
         ("True", ds.REPLICASET_UPDATED, 0, 0)),
        ("DeploymentProgressing: create Progressing condition if it does not exist", 600,
         (4, 1, 3), None, [(2, 2), (2, 2)], ("True", ds.REPLICASET_UPDATED, 0, 0)),
        ("DeploymentComplete: dont update lastTransitionTime if deployment already has "
         "Progressing=True", 600, (3, 2, 2), ("True", ds.REPLICASET_UPDATED, 100),
         [(3, 3), (0, 0)], ("True", ds.NEW_RS_AVAILABLE, 100, 0)),
        ("DeploymentComplete: update everything if deployment has Progressing=False", 600,
         (3, 2, 2), ("False", ds.TIMED_OUT, 100), [(3, 3), (0, 0)],
         ("True", ds.NEW_RS_AVAILABLE, 0, 0)),
        ("DeploymentComplete: create Progressing condition if it does not exist", 600,
         (3, 2, 2), None, [(3, 3), (0, 0)], ("True", ds.NEW_RS_AVAILABLE, 0, 0)),
        ("DeploymentTimedOut: update status if rollout exceeds Progress Deadline", 600,
         (4, 1, 3), ("True", ds.REPLICASET_UPDATED, 700), [(1, 0), (3, 3)],
         ("False", ds.TIMED_OUT, 0, 0)),
        ("DeploymentTimedOut: do not update status if deployment has existing timedOut "
         "condition", 600, (4, 1, 3), ("False", ds.TIMED_OUT, 700), [(1, 0), (3, 3)],
         ("False", ds.TIMED_OUT, 700, 700)),
    ],
)  # fmt: skip
def test_sync_rollout_status(name: str, deadline: int | None, stored_counts: tuple[int, int, int],
                             stored_cond: tuple[str, str, int] | None,
                             sets: list[tuple[int, int]],
                             expected: tuple[str, str, int, int] | None) -> None:  # fmt: skip
    """Each case: the stored status (replicas, updated, available) and Progressing
    condition; the new set first, then the old one (replicas, available); the Progressing
    condition wanted (status, reason, seconds since its transition, since its update)."""
    replicas, updated, available = stored_counts
    stored: JSON = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": updated,
                    "availableReplicas": available, "readyReplicas": available}  # fmt: skip
    if stored_cond is not None:
        stored["conditions"] = [progressing(*stored_cond)]
    made = [rs(f"foo-v{2 - i}", n, available=a, stamp=rfc3339(NOW - 100 * (i + 1)))
            for i, (n, a) in enumerate(sets)]  # fmt: skip
    status_ = rollout_case(deadline, stored, made)
    cond = ds.get_condition(status_, "Progressing")
    if expected is None:
        assert cond is None, name
        return
    assert cond is not None, name
    want_status, want_reason, transitioned, updated_ago = expected
    assert (cond["status"], cond["reason"]) == (want_status, want_reason), name
    assert cond["lastTransitionTime"] == rfc3339(NOW - transitioned), name
    assert cond["lastUpdateTime"] == rfc3339(NOW - updated_ago), name


def test_complete_without_a_new_set_names_the_deployment() -> None:
    """DeploymentComplete: defend against NPE when newRS=nil."""
    d = deployment(0, surge=1, unavailable=0)
    d["status"] = {"observedGeneration": 1}
    sync = sync_of(d, [rs("foo-v1", 0)])
    sync.sync_rollout_status(sync.sets, None)
    cond = ds.get_condition(sync.d["status"], "Progressing")
    assert cond is not None
    assert cond["message"] == 'Deployment "foo" has successfully progressed.'


@pytest.mark.parametrize(
    ("reason", "updated_ago", "complete", "expected"),
    [
        (ds.REPLICASET_UPDATED, 180, False, NOW - 180 + 600 + 1),  # 7 min from now, and 1 s
        (ds.REPLICASET_UPDATED, 0, False, NOW + 601),
        (ds.TIMED_OUT, 700, False, None),  # already timed out
        (ds.NEW_RS_AVAILABLE, 10, True, None),  # complete: nothing to wait for
    ],
)
def test_requeue_stuck_deployment(reason: str, updated_ago: int, complete: bool,
                                  expected: float | None) -> None:  # fmt: skip
    """TestRequeueStuckDeployment: a requeue at lastUpdateTime + progressDeadlineSeconds."""
    status_ = "False" if reason == ds.TIMED_OUT else "True"
    d = deployment(1, surge=1, unavailable=0)
    d["status"] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                   "availableReplicas": 1 if complete else 0,
                   "conditions": [progressing(status_, reason, updated_ago)]}  # fmt: skip
    sync = sync_of(d, [rs("foo-v1", 1, available=1 if complete else 0)])
    sync.sync_rollout_status(sync.sets, sync.sets[0])
    assert sync.requeue_at == expected


def test_a_deployment_without_a_template_is_left_alone() -> None:
    """Admission never lets one in; written into the store by hand, it is no one's."""
    d = deployment(1)
    del d["spec"]["template"]
    result = dc.reconcile(Cluster(d), NOW)
    assert list(result.actions) == []
    assert result.requeue_at is None
