"""The garbage collector's reconcile (controllers/garbagecollector.py) as tables, over
hand-made owner -> dependent chains of ConfigMaps and pods, with the scenarios of
pkg/controller/garbagecollector/garbagecollector_test.go (TestAttemptToDeleteItem,
TestOrphanDependentsFailure, the blocking/non-blocking dependents of TestDependentsRace) and
the finalizer rules of the API server (core/propagation.py: store.go
deletionFinalizersForGarbageCollection, ShouldDeleteDuringUpdate)."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.controllers import garbagecollector as gc
from minikubelet.controllers.base import Delete, Update
from minikubelet.core import propagation as prop
from minikubelet.manifest import ownership

JSON = dict[str, Any]


class Store:
    def __init__(self, *objects: tuple[str, JSON]) -> None:
        self.objects = objects

    def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        return next((o for r, o in self.objects if r == resource
                     and o["metadata"]["name"] == name
                     and o["metadata"].get("namespace", "") == namespace), None)  # fmt: skip

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
        return [o for r, o in self.objects if r == resource
                and namespace in (None, o["metadata"].get("namespace"))]  # fmt: skip


def ref(owner: JSON, *, block: bool = True, controller: bool = True) -> JSON:
    meta = owner["metadata"]
    out = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"],
           "uid": meta["uid"]}  # fmt: skip
    if controller:
        out["controller"] = True
    if block:
        out["blockOwnerDeletion"] = True
    return out


def cm(name: str, *owners: JSON, finalizers: list[str] | None = None, deleting: bool = False,
       ns: str = "default") -> tuple[str, JSON]:  # fmt: skip
    meta: JSON = {"name": name, "namespace": ns, "uid": f"{name}-uid"}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
        meta["deletionGracePeriodSeconds"] = 0
    return "configmaps", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}


def pod(name: str, *owners: JSON, deleting: bool = False, finalizers: list[str] | None = None
        ) -> tuple[str, JSON]:  # fmt: skip
    _, obj = cm(name, *owners, deleting=deleting, finalizers=finalizers)
    return "pods", {**obj, "kind": "Pod", "spec": {"containers": [{"name": "c"}]}}


def gone(name: str, kind: str = "ConfigMap", api_version: str = "v1") -> JSON:
    """A reference to an owner that is not in the store."""
    return {"apiVersion": api_version, "kind": kind, "name": name, "uid": f"{name}-uid",
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def run(*objects: tuple[str, JSON]) -> list[Any]:
    return list(gc.reconcile(Store(*objects), 0.0).actions)


def deleted(actions: list[Any]) -> list[tuple[str, str, str | None]]:
    return [(a.resource, a.name, a.propagation) for a in actions if isinstance(a, Delete)]


def updated(actions: list[Any]) -> dict[str, JSON]:
    return {a.object["metadata"]["name"]: a.object["metadata"] for a in actions
            if isinstance(a, Update)}  # fmt: skip


# --- attemptToDeleteItem -------------------------------------------------------------------


def test_an_object_whose_only_owner_is_gone_is_deleted_in_the_background() -> None:
    assert deleted(run(pod("web-abc", gone("web")))) == [("pods", "web-abc", "Background")]


def test_an_object_with_a_live_owner_stays() -> None:
    owner = cm("owner")
    assert run(owner, cm("child", ref(owner[1]))) == []


def test_a_dangling_reference_beside_a_live_one_is_removed_not_the_object() -> None:
    owner = cm("owner")
    actions = run(owner, cm("child", ref(owner[1], controller=False), gone("old")))
    assert deleted(actions) == []
    assert updated(actions)["child"]["ownerReferences"] == [ref(owner[1], controller=False)]


def test_an_owner_of_the_same_uid_but_another_kind_does_not_count() -> None:
    owner = cm("owner")
    assert deleted(run(owner, cm("child", {**ref(owner[1]), "kind": "Secret"}))) == [
        ("configmaps", "child", "Background")]  # fmt: skip


def test_an_owner_in_another_namespace_does_not_count() -> None:
    owner = cm("owner", ns="other")
    assert deleted(run(owner, cm("child", ref(owner[1])))) == [
        ("configmaps", "child", "Background")]  # fmt: skip


def test_an_owner_of_a_kind_not_served_here_counts_as_there() -> None:
    ref_ = gone("thing", kind="Widget", api_version="example.com/v1")
    assert run(cm("child", ref_)) == []


def test_every_owner_gone_deletes_with_the_policy_the_objects_finalizers_ask() -> None:
    orphaned = cm("child", gone("a"), gone("b"), finalizers=[prop.ORPHAN])
    assert deleted(run(orphaned)) == [("configmaps", "child", "Orphan")]
    foreground = cm("child", gone("a"), finalizers=[prop.FOREGROUND])
    assert deleted(run(foreground)) == [("configmaps", "child", "Foreground")]


def test_the_delete_names_the_uid_as_a_precondition() -> None:
    (action,) = run(pod("web-abc", gone("web")))
    assert isinstance(action, Delete)
    assert action.uid == "web-abc-uid"
    assert action.namespace == "default"


def test_a_dependent_being_deleted_is_left_to_finish() -> None:
    assert run(pod("web-abc", gone("web"), deleting=True)) == []


# --- foreground deletion (processDeletingDependentsItem) -----------------------------------


def test_a_foreground_owner_waits_while_a_blocking_dependent_exists() -> None:
    owner = cm("owner", finalizers=[prop.FOREGROUND], deleting=True)
    actions = run(owner, pod("p", ref(owner[1])))
    assert deleted(actions) == [("pods", "p", "Background")]
    assert "owner" not in updated(actions)


def test_a_foreground_owner_waits_for_a_dependent_still_terminating() -> None:
    owner = cm("owner", finalizers=[prop.FOREGROUND], deleting=True)
    assert run(owner, pod("p", ref(owner[1]), deleting=True)) == []


def test_a_foreground_owner_loses_its_finalizer_once_no_blocking_dependent_is_left() -> None:
    owner = cm("owner", finalizers=[prop.FOREGROUND, "example.com/keep"], deleting=True)
    actions = run(owner)
    assert updated(actions)["owner"]["finalizers"] == ["example.com/keep"]
    nonblocking = run(owner, pod("p", ref(owner[1], block=False)))
    assert deleted(nonblocking) == [("pods", "p", "Background")]
    assert updated(nonblocking)["owner"]["finalizers"] == ["example.com/keep"]


def test_a_dependent_with_dependents_of_its_own_is_deleted_in_the_foreground() -> None:
    deploy = cm("deploy", finalizers=[prop.FOREGROUND], deleting=True)
    rs = cm("rs", ref(deploy[1]))
    actions = run(deploy, rs, pod("p", ref(rs[1])))
    assert deleted(actions) == [("configmaps", "rs", "Foreground")]


def test_a_dependent_with_another_live_owner_only_loses_the_waiting_reference() -> None:
    owner = cm("owner", finalizers=[prop.FOREGROUND], deleting=True)
    other = cm("other")
    actions = run(owner, other, cm("child", ref(owner[1]), ref(other[1], controller=False)))
    assert deleted(actions) == []
    assert updated(actions)["child"]["ownerReferences"] == [ref(other[1], controller=False)]


# --- orphaning (orphanDependents) ----------------------------------------------------------


def test_an_orphaning_owner_has_its_references_removed_from_its_dependents() -> None:
    owner = cm("owner", finalizers=[prop.ORPHAN], deleting=True)
    other = cm("other")
    actions = run(owner, other, pod("p", ref(owner[1]), ref(other[1], controller=False)),
                  cm("q", ref(owner[1])))  # fmt: skip
    assert deleted(actions) == []
    got = updated(actions)
    assert got["p"]["ownerReferences"] == [ref(other[1], controller=False)]
    assert "ownerReferences" not in got["q"]
    assert "owner" not in got  # the finalizer stays until no dependent refers to it


def test_an_orphaning_owner_with_no_dependents_left_loses_its_finalizer() -> None:
    owner = cm("owner", finalizers=[prop.ORPHAN], deleting=True)
    actions = run(owner, pod("p"))
    assert "finalizers" not in updated(actions)["owner"]


def test_an_object_being_deleted_with_no_finalizers_left_is_removed() -> None:
    assert deleted(run(cm("owner", deleting=True))) == [("configmaps", "owner", "Background")]
    assert run(pod("p", deleting=True)) == []  # the node removes a pod once it has stopped


def test_an_object_with_another_finalizer_waits_for_it() -> None:
    assert run(cm("owner", finalizers=["example.com/keep"], deleting=True)) == []


def test_reconcile_of_its_own_outcome_is_quiet() -> None:
    owner = cm("owner")
    assert run(owner, cm("a", ref(owner[1])), pod("b", ref(owner[1]))) == []


# --- the API server's side (core/propagation.py) -------------------------------------------


@pytest.mark.parametrize(
    ("finalizers", "request_", "default_orphan", "want"),
    [
        ([], prop.Request(), False, []),
        ([], prop.Request("Background"), True, []),
        ([], prop.Request(), True, [prop.ORPHAN]),  # a batch/v1 Job by default
        ([], prop.Request("Foreground"), False, [prop.FOREGROUND]),
        ([], prop.Request("Orphan"), False, [prop.ORPHAN]),
        ([], prop.Request(orphan_dependents=True), False, [prop.ORPHAN]),
        ([], prop.Request(orphan_dependents=False), True, []),
        (["x"], prop.Request("Foreground"), False, ["x", prop.FOREGROUND]),
        ([prop.ORPHAN], prop.Request(), False, [prop.ORPHAN]),  # an existing one is honoured
        ([prop.FOREGROUND], prop.Request(), True, [prop.FOREGROUND]),
        ([prop.ORPHAN], prop.Request("Foreground"), False, [prop.FOREGROUND]),
        ([prop.FOREGROUND], prop.Request("Background"), False, []),
    ],
)
def test_deletion_finalizers(
    finalizers: list[str], request_: prop.Request, default_orphan: bool, want: list[str]
) -> None:
    got = prop.deletion_finalizers(finalizers, request_, default_orphan=default_orphan)
    assert got == want


def test_delete_options_are_validated_in_the_api_servers_words() -> None:
    assert prop.option_errors(prop.Request("Foreground", True)) == [
        'propagationPolicy: Invalid value: "Foreground": orphanDependents and '
        "deletionPropagation cannot be both set"]  # fmt: skip
    assert prop.option_errors(prop.Request("Sideways")) == [
        'propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", '
        '"Background", "Orphan", "nil"']  # fmt: skip
    assert prop.option_errors(prop.Request("Orphan")) == []


def test_a_delete_marks_an_object_that_keeps_finalizers_and_keeps_the_first_mark() -> None:
    _, obj = cm("owner")
    assert prop.deleted(obj, prop.Request(), "2026-01-01T00:00:00Z") is None
    marked = prop.deleted(obj, prop.Request("Foreground"), "2026-01-01T00:00:00Z")
    assert marked is not None
    assert marked["metadata"]["finalizers"] == [prop.FOREGROUND]
    assert marked["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:00Z"
    again = prop.deleted(marked, prop.Request("Orphan"), "2027-01-01T00:00:00Z")
    assert again is not None
    assert again["metadata"]["deletionTimestamp"] == "2026-01-01T00:00:00Z"
    assert again["metadata"]["finalizers"] == [prop.ORPHAN]


def test_an_update_that_takes_the_last_finalizer_off_a_deleted_object_removes_it() -> None:
    _, old = cm("owner", finalizers=["x"], deleting=True)
    _, new = cm("owner", deleting=True)
    assert prop.gone_after_update(new, old)
    assert not prop.gone_after_update(old, old)
    _, live = cm("owner", finalizers=["x"])
    assert not prop.gone_after_update(new, live)


def test_an_object_being_deleted_takes_no_new_finalizer() -> None:
    _, old = cm("owner", finalizers=["x"], deleting=True)
    _, new = cm("owner", finalizers=["x", "y"], deleting=True)
    assert prop.new_finalizer_errors(new, old) == [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        'deleted, found new finalizers []string{"y"}']  # fmt: skip
    _, live = cm("owner")
    assert prop.new_finalizer_errors(new, live) == []


def test_a_job_named_no_policy_warns_that_its_pods_are_kept() -> None:
    assert prop.default_warning("batch/v1", "Job", prop.Request()) == prop.JOB_DELETE_WARNING
    assert prop.default_warning("batch/v1", "Job", prop.Request("Background")) is None
    assert prop.default_warning("apps/v1", "Deployment", prop.Request()) is None


def test_a_cluster_scoped_dependent_of_a_namespaced_owner_is_collected() -> None:
    # graph_builder.go: a cluster-scoped dependent cannot have a namespaced owner; the
    # reference is treated as pointing at nothing
    owner = cm("owner")
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "r", "uid": "r-uid", "ownerReferences": [ref(owner[1])]}}  # fmt: skip
    assert deleted(run(owner, ("clusterroles", role))) == [("clusterroles", "r", "Background")]
    ns_owned = {"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "n", "uid": "n-uid", "ownerReferences": [gone("x")]}}  # fmt: skip
    assert run(("namespaces", ns_owned)) == []


# --- ObjectMeta validation of owner references and finalizers (manifest/ownership.py) -------


def test_owner_references_are_validated_in_the_api_servers_words() -> None:
    assert ownership.owner_reference_errors([{"apiVersion": "", "kind": "", "name": "a"}]) == [
        'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
        'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
        'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
    ]
    two = [{"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": n, "controller": True}
           for n in ("a", "b")]  # fmt: skip
    (error,) = ownership.owner_reference_errors(two)
    assert error.startswith("metadata.ownerReferences: Invalid value: ")
    assert error.endswith('Only one reference can have Controller set to true. Found "true" in '
                          "references for ConfigMap/a and ConfigMap/b")  # fmt: skip


def test_finalizers_are_validated_in_the_api_servers_words() -> None:
    assert ownership.finalizer_errors(["example.com/hold", prop.ORPHAN]) == []
    assert ownership.finalizer_errors([prop.ORPHAN, prop.FOREGROUND]) == [
        'metadata.finalizers: Invalid value: []string{"orphan", "foregroundDeletion"}: '
        "finalizer orphan and foregroundDeletion cannot be both set"]  # fmt: skip
    (error,) = ownership.finalizer_errors(["bad name"])
    assert error.startswith('metadata.finalizers: Invalid value: "bad name": name part must')
