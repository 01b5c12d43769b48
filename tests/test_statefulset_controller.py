"""The StatefulSet controller's reconcile (controllers/statefulset.py) as tables, ported from
pkg/controller/statefulset stateful_set_control_test.go (TestStatefulSetControl's
CreatesPods, ScalesUp, ScalesDown, ReplacesPods, RecreatesFailedPod, the OrderedReady and
Parallel variants; TestStatefulSetControlRollingUpdate / ...WithPartition / OnDelete;
TestStatefulSetControlLimitsHistory; TestStatefulSetControlRollback) and
stateful_set_utils_test.go (TestGetParentNameAndOrdinal, TestNewStatefulSetPod identity and
storage, TestCreateApplyRevision), on an injected `now`."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from workload_sim import SimStore

from minikubelet.controllers import history as hist
from minikubelet.controllers import statefulset as ctl
from minikubelet.controllers import statefulset_pods as sp
from minikubelet.controllers.base import Create, Delete, Event, Update, UpdateStatus
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest.podtemplate import default_template

JSON = dict[str, Any]


def statefulset(replicas: int = 3, *, policy: str = "OrderedReady", image: str = "nginx:1",
                partition: int | None = 0, strategy: str = "RollingUpdate", **spec: Any) -> JSON:  # fmt: skip
    update: JSON = {"type": strategy}
    if partition is not None and strategy == "RollingUpdate":
        update["rollingUpdate"] = {"partition": partition}
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "sts-uid", "generation": 1},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
            "serviceName": "nginx", "podManagementPolicy": policy, "updateStrategy": update,
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c", "image": image}]}},
            **spec,
        },
    }  # fmt: skip


def new_store(sts: JSON) -> SimStore:
    store = SimStore()
    store.add("statefulsets", sts)
    return store


def step(store: SimStore) -> list[Any]:
    result = ctl.reconcile(store, store.now)
    store.apply(result)
    return list(result.actions)


def converge(store: SimStore, *, ready: bool = True, limit: int = 50) -> None:
    """Reconcile, make pods Running and Ready and terminations finish, until nothing moves."""
    quiet = 0
    for _ in range(limit):
        actions = step(store)
        if ready:
            store.ready_all()
        store.finish_terminations()
        quiet = 0 if [a for a in actions if not isinstance(a, UpdateStatus)] else quiet + 1
        if quiet == 2:
            return
    raise AssertionError("no fixed point")


def sts_now(store: SimStore) -> JSON:
    got = store.get("statefulsets", "default", "web")
    assert got is not None
    return got


def scale(store: SimStore, replicas: int) -> None:
    store.objects["statefulsets"][("default", "web")]["spec"]["replicas"] = replicas


def set_image(store: SimStore, image: str) -> None:
    obj = store.objects["statefulsets"][("default", "web")]
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    obj["metadata"]["generation"] += 1


def images(store: SimStore) -> dict[str, str]:
    return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in store.pods()}


def created(actions: list[Any]) -> list[str]:
    return [a.object["metadata"]["name"] for a in actions
            if isinstance(a, Create) and a.resource == "pods"]  # fmt: skip


def deleted(actions: list[Any]) -> list[str]:
    return [a.name for a in actions if isinstance(a, Delete) and a.resource == "pods"]


# --- stateful_set_utils_test.go --------------------------------------------------------------


@pytest.mark.parametrize(("name", "parent", "ordinal"), [
    ("web-0", "web", 0), ("web-12", "web", 12), ("my-web-3", "my-web", 3),
    ("web", "", -1), ("web-x", "", -1), ("web-", "", -1),
])  # fmt: skip
def test_parent_name_and_ordinal(name: str, parent: str, ordinal: int) -> None:
    assert sp.parent_and_ordinal({"metadata": {"name": name}}) == (parent, ordinal)


def test_new_pod_identity_storage_and_owner() -> None:
    sts = statefulset(volumeClaimTemplates=[{"metadata": {"name": "data"}, "spec": {}}])
    sts["spec"]["template"]["spec"]["volumes"] = [{"name": "data", "emptyDir": {}},
                                                  {"name": "other", "emptyDir": {}}]  # fmt: skip
    pod = sp.new_pod(sts, 2, "web-abc")
    meta = pod["metadata"]
    assert meta["name"] == "web-2"
    assert meta["generateName"] == "web-"
    assert meta["labels"] == {"app": "web", sp.POD_NAME_LABEL: "web-2", sp.POD_INDEX_LABEL: "2",
                              "controller-revision-hash": "web-abc"}  # fmt: skip
    assert meta["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "StatefulSet",
        "name": "web", "uid": "sts-uid", "controller": True, "blockOwnerDeletion": True}]  # fmt: skip
    assert pod["spec"]["hostname"] == "web-2"
    assert pod["spec"]["subdomain"] == "nginx"
    assert pod["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-2"}},
        {"name": "other", "emptyDir": {}},
    ]


def test_no_subdomain_without_a_service_name() -> None:
    sts = statefulset()
    del sts["spec"]["serviceName"]
    assert "subdomain" not in sp.new_pod(sts, 0, "r")["spec"]


def test_apply_revision_round_trip() -> None:
    """TestCreateApplyRevision: a revision of the set applied to a changed set gives back the
    first template."""
    sts = statefulset()
    revision = hist.new_revision(sts, 1, "h", hist.STS_HASH_LABEL)
    changed = copy.deepcopy(sts)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert hist.apply_revision(changed, revision)["spec"]["template"] == sts["spec"]["template"]
    assert revision["data"]["spec"]["template"]["$patch"] == "replace"
    assert revision["metadata"]["name"] == "web-h"
    assert revision["metadata"]["labels"] == {"app": "web", hist.STS_HASH_LABEL: "h"}


# stateful_set_compatibility_test.go and testdata/compatibility_revision_1.34.0.json: the
# revision data a 1.34 (and a 1.33) cluster stored for the same template, and their names
_UPSTREAM_DATA = (
    '{"spec":{"template":{"$patch":"replace","metadata":{"annotations":{"test":"value"},'
    '"labels":{"app":"foo"}},"spec":{"containers":[{"image":"test","imagePullPolicy":"Always",'
    '"name":"test","resources":{},"terminationMessagePath":"/dev/termination-log",'
    '"terminationMessagePolicy":"File"}],"dnsPolicy":"ClusterFirst","restartPolicy":"Always",'
    '"schedulerName":"default-scheduler","securityContext":{},"terminationGracePeriodSeconds":30}}}}'
)


def test_revision_hash_is_upstreams() -> None:
    data = json.loads(_UPSTREAM_DATA)
    assert hist.canonical(data).decode() == _UPSTREAM_DATA
    assert hist.revision_hash(data, 0) == "776999688b"
    data["spec"]["template"]["metadata"]["creationTimestamp"] = None
    assert hist.revision_hash(data, 0) == "c77f6d978"
    template = default_template({"metadata": {"annotations": {"test": "value"},
                                              "labels": {"app": "foo"}},
                                 "spec": {"containers": [{"image": "test", "name": "test"}]}})  # fmt: skip
    sts = {"metadata": {"name": "test"}, "spec": {"template": template}}
    assert hist.revision_name("test", hist.revision_hash(hist.template_patch(sts), 0)) == (
        "test-776999688b")  # the API server's defaults too  # fmt: skip
    assert hist.canonical({"a": "<&>"}) == b'{"a":"\\u003c\\u0026\\u003e"}'


def test_revision_hash_is_stable_and_moves_with_the_collision_count() -> None:
    data = hist.template_patch(statefulset())
    assert hist.revision_hash(data, 0) == hist.revision_hash(copy.deepcopy(data), 0)
    assert hist.revision_hash(data, 0) != hist.revision_hash(data, 1)
    assert set(hist.revision_hash(data, 0)) <= set("bcdfghjklmnpqrstvwxz2456789")


# --- stateful_set_control_test.go ------------------------------------------------------------


def test_ordered_ready_creates_one_pod_at_a_time() -> None:
    """CreatesPods (OrderedReady): web-1 only once web-0 is Running and Ready."""
    store = new_store(statefulset(3))
    actions = step(store)
    assert created(actions) == ["web-0"]
    # recorded once the pod is made (a refused create is a FailedCreate instead)
    (create,) = [a for a in actions if isinstance(a, Create) and a.resource == "pods"]
    assert create.created_message == "create Pod web-0 in StatefulSet web successful"
    assert [a for a in actions if isinstance(a, Event)] == []
    assert created(step(store)) == []  # web-0 is Pending
    store.set_phase("web-0", "Running", False)
    assert created(step(store)) == []  # Running, not Ready
    store.set_phase("web-0", "Running", True)
    assert created(step(store)) == ["web-1"]
    converge(store)
    assert store.names() == ["web-0", "web-1", "web-2"]
    status = sts_now(store)["status"]
    assert status["replicas"] == 3
    assert status["readyReplicas"] == 3
    assert status["availableReplicas"] == 3
    assert status["currentReplicas"] == 3
    assert status["updatedReplicas"] == 3
    assert status["observedGeneration"] == 1
    assert status["currentRevision"] == status["updateRevision"]
    assert status["collisionCount"] == 0
    assert step(store) == []  # idempotent


def test_parallel_creates_all_at_once() -> None:
    store = new_store(statefulset(3, policy="Parallel"))
    assert created(step(store)) == ["web-0", "web-1", "web-2"]


def test_scale_up_then_down_in_reverse_one_at_a_time() -> None:
    """ScalesUp, ScalesDown: the highest ordinal goes first, the next once it is gone."""
    store = new_store(statefulset(3))
    converge(store)
    scale(store, 5)
    converge(store)
    assert store.names() == ["web-0", "web-1", "web-2", "web-3", "web-4"]
    scale(store, 2)
    assert deleted(step(store)) == ["web-4"]
    assert deleted(step(store)) == []  # web-4 is terminating
    store.finish_terminations()
    assert deleted(step(store)) == ["web-3"]
    store.finish_terminations()
    actions = step(store)
    assert deleted(actions) == ["web-2"]
    assert [e.message for e in actions if isinstance(e, Event)] == [
        "delete Pod web-2 in StatefulSet web successful"
    ]
    converge(store)
    assert store.names() == ["web-0", "web-1"]
    assert sts_now(store)["status"]["replicas"] == 2


def test_parallel_scales_down_all_at_once() -> None:
    store = new_store(statefulset(3, policy="Parallel"))
    converge(store)
    scale(store, 0)
    assert sorted(deleted(step(store))) == ["web-0", "web-1", "web-2"]


def test_scale_down_waits_for_the_replicas_and_takes_an_unhealthy_one_first() -> None:
    """processReplica / processCondemned: an unready replica holds the scale down; an
    unhealthy condemned pod is the first to go, a healthy one waits behind it."""
    store = new_store(statefulset(3))
    converge(store)
    scale(store, 1)
    store.set_phase("web-0", "Running", False)
    assert deleted(step(store)) == []
    store.set_phase("web-0", "Running", True)
    store.set_phase("web-1", "Running", False)
    assert deleted(step(store)) == ["web-2"]  # web-1 is the first unhealthy: web-2 is not held
    store.finish_terminations()
    assert deleted(step(store)) == ["web-1"]


def test_replaces_a_deleted_pod() -> None:
    store = new_store(statefulset(3))
    converge(store)
    del store.objects["pods"][("default", "web-1")]
    assert created(step(store)) == ["web-1"]


def test_recreates_a_failed_pod() -> None:
    """RecreatesFailedPod: a Failed pod is deleted, then made again."""
    store = new_store(statefulset(3))
    converge(store)
    store.set_phase("web-0", "Failed", False)
    assert deleted(step(store)) == ["web-0"]
    store.finish_terminations()
    assert created(step(store)) == ["web-0"]


def test_min_ready_seconds_holds_the_next_pod_and_requeues() -> None:
    store = new_store(statefulset(2, minReadySeconds=30))
    step(store)
    store.set_phase("web-0", "Running", True, since=store.now)
    result = ctl.reconcile(store, store.now + 10)
    assert created(list(result.actions)) == []
    assert result.requeue_at == store.now + 30
    assert created(list(ctl.reconcile(store, store.now + 30).actions)) == ["web-1"]


def test_rolling_update_in_reverse_ordinal_order() -> None:
    """TestStatefulSetControlRollingUpdate: each pod goes once its successor is updated and
    ready; status moves currentRevision to the update revision at the end."""
    store = new_store(statefulset(3))
    converge(store)
    first = sts_now(store)["status"]["currentRevision"]
    set_image(store, "nginx:2")
    actions = step(store)
    assert deleted(actions) == ["web-2"]
    status = sts_now(store)["status"]
    assert status["currentRevision"] == first
    assert status["updateRevision"] != first
    assert len(store.list("controllerrevisions")) == 2
    store.finish_terminations()
    assert created(step(store)) == ["web-2"]
    assert deleted(step(store)) == []  # web-2 not ready yet
    store.ready_all()
    assert deleted(step(store)) == ["web-1"]
    converge(store)
    assert set(images(store).values()) == {"nginx:2"}
    status = sts_now(store)["status"]
    assert status["currentRevision"] == status["updateRevision"] != first
    assert status["currentReplicas"] == status["updatedReplicas"] == 3
    assert status["observedGeneration"] == 2


def test_rolling_update_with_partition() -> None:
    """...WithPartition: only ordinals at or above the partition are updated; a pod below it
    that is deleted comes back at the current revision."""
    store = new_store(statefulset(3, partition=2))
    converge(store)
    set_image(store, "nginx:2")
    converge(store)
    assert images(store) == {"web-0": "nginx:1", "web-1": "nginx:1", "web-2": "nginx:2"}
    status = sts_now(store)["status"]
    assert status["updatedReplicas"] == 1
    assert status["currentReplicas"] == 2
    del store.objects["pods"][("default", "web-0")]
    converge(store)
    assert images(store)["web-0"] == "nginx:1"
    store.objects["statefulsets"][("default", "web")]["spec"]["updateStrategy"] = {
        "type": "RollingUpdate", "rollingUpdate": {"partition": 0}}  # fmt: skip
    converge(store)
    assert set(images(store).values()) == {"nginx:2"}


def test_on_delete_updates_only_deleted_pods() -> None:
    store = new_store(statefulset(2, strategy="OnDelete", partition=None))
    converge(store)
    set_image(store, "nginx:2")
    converge(store)
    assert images(store) == {"web-0": "nginx:1", "web-1": "nginx:1"}
    del store.objects["pods"][("default", "web-1")]
    converge(store)
    assert images(store) == {"web-0": "nginx:1", "web-1": "nginx:2"}


def test_max_unavailable_updates_several_at_once() -> None:
    sts = statefulset(4, policy="Parallel")
    sts["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = 2
    store = new_store(sts)
    converge(store)
    set_image(store, "nginx:2")
    assert deleted(step(store)) == ["web-3", "web-2"]


def test_rollback_reuses_the_old_revision_with_a_new_number() -> None:
    """TestStatefulSetControlRollback: going back to an earlier template reuses its revision,
    renumbered past the newest."""
    store = new_store(statefulset(1))
    converge(store)
    set_image(store, "nginx:2")
    converge(store)
    set_image(store, "nginx:1")
    converge(store)
    revisions = sorted(store.list("controllerrevisions"), key=lambda r: r["revision"])
    assert len(revisions) == 2
    assert revisions[-1]["revision"] == 3
    assert hist.apply_revision(sts_now(store), revisions[-1])["spec"]["template"]["spec"][
        "containers"][0]["image"] == "nginx:1"  # fmt: skip


def test_history_is_limited() -> None:
    """TestStatefulSetControlLimitsHistory: no more than revisionHistoryLimit unused ones."""
    store = new_store(statefulset(1, revisionHistoryLimit=2))
    converge(store)
    for n in range(2, 7):
        set_image(store, f"nginx:{n}")
        converge(store)
    assert len(store.list("controllerrevisions")) == 3  # the live one and two of history


def test_collision_with_a_foreign_revision_bumps_the_count() -> None:
    sts = statefulset(1)
    name = hist.revision_name("web", hist.revision_hash(hist.template_patch(sts), 0))
    store = new_store(sts)
    store.add("controllerrevisions", {"metadata": {"name": name}, "data": {"other": 1},
                                      "revision": 1})  # fmt: skip
    converge(store)
    status = sts_now(store)["status"]
    assert status["collisionCount"] == 1
    assert status["updateRevision"] != name


def test_start_ordinal() -> None:
    store = new_store(statefulset(2, ordinals={"start": 5}))
    converge(store)
    assert store.names() == ["web-5", "web-6"]


def _owners(store: SimStore, name: str) -> list[str]:
    return [r["uid"] for r in store.pod(name)["metadata"].get("ownerReferences") or []]


def test_adopts_a_matching_orphan_by_its_name() -> None:
    """TestStatefulSetControllerAdoptOrphans / ClaimPods with isMemberOf: an orphan matching
    the selector and named `<set>-<ordinal>` is adopted (and not made again); one that
    matches but is named otherwise is left alone."""
    store = new_store(statefulset(2, policy="Parallel"))
    orphan = sp.new_pod(statefulset(2), 1, "web-old")
    orphan["metadata"].pop("ownerReferences", None)
    store.add("pods", orphan)
    stranger = copy.deepcopy(orphan)
    stranger["metadata"]["name"] = "db-0"
    store.add("pods", stranger)
    actions = step(store)
    assert created(actions) == ["web-0"]
    adopted = [a.object for a in actions if isinstance(a, Update) and a.resource == "pods"]
    assert [p["metadata"]["name"] for p in adopted] == ["web-1"]
    assert _owners(store, "web-1") == ["sts-uid"]
    assert store.pod("web-1")["metadata"]["ownerReferences"][0]["controller"] is True
    assert _owners(store, "db-0") == []


def test_releases_a_pod_whose_labels_stop_matching() -> None:
    """TestStatefulSetControllerReleasePods: a pod relabelled out of the selector loses its
    controller reference and is not deleted; the set then wants its ordinal again (a create
    the API refuses while the released pod keeps the name, as on a cluster)."""
    store = new_store(statefulset(2, policy="Parallel"))
    converge(store)
    store.objects["pods"][("default", "web-1")]["metadata"]["labels"]["app"] = "debug"
    result = ctl.reconcile(store, store.now)
    released = [a.object for a in result.actions if isinstance(a, Update) and a.resource == "pods"]
    assert [p["metadata"]["name"] for p in released] == ["web-1"]
    assert not released[0]["metadata"].get("ownerReferences")
    assert released[0]["metadata"]["labels"]["app"] == "debug"
    assert deleted(list(result.actions)) == []
    assert created(list(result.actions)) == ["web-1"]


def test_a_set_being_deleted_neither_adopts_nor_releases() -> None:
    sts = statefulset(2)
    sts["metadata"]["deletionTimestamp"] = rfc3339(0)
    store = new_store(sts)
    orphan = sp.new_pod(statefulset(2), 0, "web-old")
    orphan["metadata"].pop("ownerReferences", None)
    store.add("pods", orphan)
    assert [a for a in step(store) if not isinstance(a, UpdateStatus)] == []
    assert _owners(store, "web-0") == []


def test_a_set_being_deleted_only_updates_status() -> None:
    sts = statefulset(2)
    sts["metadata"]["deletionTimestamp"] = rfc3339(0)
    store = new_store(sts)
    actions = step(store)
    assert created(actions) == []
    assert deleted(actions) == []
    # no revision either: one made for a set waiting in the foreground would be a dependent
    # for the garbage collector to delete, and made again, for ever
    assert [a for a in actions if not isinstance(a, UpdateStatus)] == []


def test_claims_for_an_ordinal_and_their_retention() -> None:
    """getPersistentVolumeClaims: `<template>-<set>-<ordinal>`, the template's labels and the
    selector's; owned by the set only with whenDeleted: Delete."""
    sts: dict[str, Any] = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "ns", "uid": "u1"},
        "spec": {"selector": {"matchLabels": {"app": "db"}},
                 "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"t": "x"}},
                                           "spec": {"accessModes": ["ReadWriteOnce"]}}]},
    }  # fmt: skip
    [claim] = sp.claims_for(sts, 2)
    assert claim["metadata"] == {"name": "data-db-2", "namespace": "ns",
                                 "labels": {"t": "x", "app": "db"}}  # fmt: skip
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"]}
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete",
                                                          "whenScaled": "Delete"}  # fmt: skip
    [owned] = sp.claims_for(sts, 0)
    assert owned["metadata"]["ownerReferences"][0]["uid"] == "u1"


# --- persistentVolumeClaimRetentionPolicy (stateful_set_utils_test.go TestIsClaimOwnerUpToDate,
# TestUpdateClaimOwnerRefForSetAndPod; stateful_set_control_test.go
# TestStatefulSetControlScaleDownDeleteError's retention cases) --------------------------------

SET = {"apiVersion": "apps/v1", "kind": "StatefulSet",
       "metadata": {"name": "web", "namespace": "default", "uid": "sts-uid"},
       "spec": {"replicas": 2}}  # fmt: skip


def _pod(index: int, uid: str = "") -> JSON:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"web-{index}", "uid": uid or f"pod-uid-{index}"}}  # fmt: skip


def _set_ref(uid: str = "sts-uid") -> JSON:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "uid": uid,
            "controller": True, "blockOwnerDeletion": True}  # fmt: skip


def _pod_ref(index: int, uid: str = "") -> JSON:
    return {"apiVersion": "v1", "kind": "Pod", "name": f"web-{index}",
            "uid": uid or f"pod-uid-{index}", "controller": True,
            "blockOwnerDeletion": True}  # fmt: skip


def _with_policy(scaled: str, deleted: str) -> JSON:
    sts = copy.deepcopy(SET)
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenScaled": scaled,
                                                          "whenDeleted": deleted}  # fmt: skip
    return sts


def _claim(*refs: JSON) -> JSON:
    meta: JSON = {"name": "data-web-0", "namespace": "default"}
    if refs:
        meta["ownerReferences"] = list(refs)
    return {"metadata": meta}


@pytest.mark.parametrize(("scaled", "deleted", "index", "wanted"), [
    ("Retain", "Retain", 0, []), ("Retain", "Retain", 5, []),
    ("Retain", "Delete", 0, ["set"]), ("Retain", "Delete", 5, ["set"]),
    ("Delete", "Retain", 0, []), ("Delete", "Retain", 5, ["pod"]),
    ("Delete", "Delete", 0, ["set"]), ("Delete", "Delete", 5, ["pod"]),
])  # fmt: skip
def test_claim_owners_follow_the_policy(scaled: str, deleted: str, index: int,
                                        wanted: list[str]) -> None:  # fmt: skip
    """Ordinal 5 is outside a set of 2 replicas: a pod being scaled down."""
    from minikubelet.controllers import statefulset_claims as rc

    sts, pod = _with_policy(scaled, deleted), _pod(index)
    refs = {"set": _set_ref(), "pod": _pod_ref(index)}
    right = _claim(*[refs[w] for w in wanted])
    assert rc.up_to_date(right, sts, pod)
    assert rc.owner_refs(right, sts, pod) == [refs[w] for w in wanted]
    for wrong in (_claim(), _claim(refs["set"]), _claim(refs["pod"]),
                  _claim(refs["set"], refs["pod"])):  # fmt: skip
        if wrong["metadata"].get("ownerReferences", []) != right["metadata"].get(
            "ownerReferences", []
        ):
            assert not rc.up_to_date(wrong, sts, pod)
            assert rc.owner_refs(wrong, sts, pod) == [refs[w] for w in wanted]


def test_claim_owners_leave_other_owners_and_stale_references_alone() -> None:
    from minikubelet.controllers import statefulset_claims as rc

    sts, pod = _with_policy("Delete", "Delete"), _pod(5)
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "cm"}
    # another owner that is not a controller stays beside ours
    assert rc.owner_refs(_claim(other), sts, pod) == [other, _pod_ref(5)]
    # a reference to an earlier set of the same name (another uid): not touched
    stale = _claim(_set_ref("old-uid"))
    assert rc.up_to_date(stale, sts, pod)
    # another controller: ours are scrubbed, none added
    foreign = {**other, "controller": True}
    assert rc.up_to_date(_claim(foreign), sts, pod)
    assert not rc.up_to_date(_claim(foreign, _set_ref()), sts, pod)
    assert rc.owner_refs(_claim(foreign, _set_ref()), sts, pod) == [foreign]
    # our reference without `controller: true` is made a controller reference
    loose = {k: v for k, v in _pod_ref(5).items() if k not in ("controller", "blockOwnerDeletion")}
    assert not rc.up_to_date(_claim(loose), sts, pod)
    assert rc.owner_refs(_claim(loose), sts, pod) == [_pod_ref(5)]


def _claimed_set(policy: JSON, **spec: Any) -> SimStore:
    sts = statefulset(3, policy="Parallel", **spec)
    sts["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {}}]
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = policy
    store = new_store(sts)
    converge(store)
    return store


def _claim_owner_kinds(store: SimStore) -> dict[str, list[str]]:
    return {c["metadata"]["name"]: [r["kind"] for r in c["metadata"].get("ownerReferences", [])]
            for c in store.list("persistentvolumeclaims")}  # fmt: skip


def test_scale_down_with_when_scaled_delete_hands_the_claims_to_the_pods() -> None:
    """The condemned pods' claims get their pod as controller before the pods are deleted (the
    garbage collector then deletes the claims with them); the replicas' claims keep the set."""
    store = _claimed_set({"whenScaled": "Delete", "whenDeleted": "Delete"})
    assert _claim_owner_kinds(store) == {f"data-web-{i}": ["StatefulSet"] for i in range(3)}
    scale(store, 1)
    actions = step(store)
    updates = [
        a for a in actions if isinstance(a, Update) and a.resource == "persistentvolumeclaims"
    ]
    assert sorted(a.object["metadata"]["name"] for a in updates) == ["data-web-1", "data-web-2"]
    first_delete = next(i for i, a in enumerate(actions) if isinstance(a, Delete))
    assert all(actions.index(u) < first_delete for u in updates)  # owned before deleted
    pods = {p["metadata"]["name"]: p["metadata"]["uid"] for p in store.pods()}
    for update in updates:
        [ref] = update.object["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("Pod", pods[ref["name"]], True)
        assert ref["name"] == update.object["metadata"]["name"].removeprefix("data-")
    assert _claim_owner_kinds(store)["data-web-0"] == ["StatefulSet"]
    again = step(store)  # applied: nothing more to change
    assert [a for a in again if isinstance(a, Update) and a.resource != "pods"] == []


def test_when_scaled_retain_keeps_the_claims_of_condemned_pods() -> None:
    store = _claimed_set({"whenScaled": "Retain", "whenDeleted": "Retain"})
    scale(store, 1)
    actions = step(store)
    assert [a for a in actions if isinstance(a, Update)] == []
    assert sorted(deleted(actions)) == ["web-1", "web-2"]
    assert _claim_owner_kinds(store) == {f"data-web-{i}": [] for i in range(3)}


def test_a_policy_changed_later_is_applied_to_the_existing_claims() -> None:
    store = _claimed_set({"whenScaled": "Retain", "whenDeleted": "Retain"})
    sts = store.objects["statefulsets"][("default", "web")]
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenScaled": "Retain",
                                                          "whenDeleted": "Delete"}  # fmt: skip
    converge(store)
    assert _claim_owner_kinds(store) == {f"data-web-{i}": ["StatefulSet"] for i in range(3)}
