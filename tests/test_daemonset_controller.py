"""The DaemonSet controller's reconcile (controllers/daemonset.py) for the one node, as
tables ported from pkg/controller/daemon daemon_controller_test.go (TestSimpleDaemonSetLaunches
Pods, TestSelectorDaemonLaunchesPods / ...DeletesUnselectedPods (nodeSelector), TestNodeAffinity
DaemonLaunchesPods, TestTaintedNode / TestNoScheduleTaintedDoesntEvicitRunningIntolerantPod,
TestDaemonKillFailedPods, TestDealsWithExistingPods (extra pods pruned, oldest kept),
TestDaemonSetStatus counters, TestUpdateDaemonSetStatus...) and update_test.go
(TestDaemonSetUpdatesPods, ...WhenMaxSurge, TestDaemonSetUpdatesNoTemplateChanged, the
OnDelete case, TestGetUnavailableNumbers for one node), on an injected `now`."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from workload_sim import SimStore

from minikubelet.controllers import daemonset as ctl
from minikubelet.controllers import daemonset_node as dn
from minikubelet.controllers.apply import Applier
from minikubelet.controllers.base import Create, Delete, Event, Update, UpdateStatus
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
NODE: JSON = {"metadata": {"name": "node1", "labels": {"kubernetes.io/hostname": "node1",
                                                       "kubernetes.io/os": "linux"}},
              "spec": {}}  # fmt: skip


def daemonset(*, strategy: JSON | None = None, node_selector: JSON | None = None,
              image: str = "agent:1", **spec: Any) -> JSON:  # fmt: skip
    pod_spec: JSON = {"containers": [{"name": "c", "image": image}]}
    if node_selector is not None:
        pod_spec["nodeSelector"] = node_selector
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid", "generation": 1,
                     "annotations": {dn.TEMPLATE_GENERATION_ANNOTATION: "1"}},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "updateStrategy": strategy or {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
            "revisionHistoryLimit": 10,
            "template": {"metadata": {"labels": {"app": "agent"}}, "spec": pod_spec},
            **spec,
        },
    }  # fmt: skip


def step(store: SimStore, node: JSON = NODE, now: float | None = None) -> list[Any]:
    result = ctl.reconcile(store, store.now if now is None else now, node)
    store.apply(result)
    return list(result.actions)


def converge(store: SimStore, node: JSON = NODE) -> None:
    quiet = 0
    for _ in range(50):
        actions = step(store, node)
        store.ready_all()
        store.finish_terminations()
        quiet = 0 if [a for a in actions if not isinstance(a, UpdateStatus)] else quiet + 1
        if quiet == 2:
            return
    raise AssertionError("no fixed point")


def creates(actions: list[Any]) -> int:
    return sum(isinstance(a, Create) and a.resource == "pods" for a in actions)


def deletes(actions: list[Any]) -> list[str]:
    return [a.name for a in actions if isinstance(a, Delete) and a.resource == "pods"]


def status(store: SimStore) -> JSON:
    got = store.get("daemonsets", "default", "agent")
    assert got is not None
    return dict(got["status"])


def set_image(store: SimStore, image: str) -> None:
    obj = store.objects["daemonsets"][("default", "agent")]
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    annotations = obj["metadata"]["annotations"]
    annotations[dn.TEMPLATE_GENERATION_ANNOTATION] = str(
        int(annotations[dn.TEMPLATE_GENERATION_ANNOTATION]) + 1)  # fmt: skip
    obj["metadata"]["generation"] += 1


def test_launches_one_pod_for_the_node() -> None:
    """TestSimpleDaemonSetLaunchesPods; the pod as util.CreatePodTemplate makes it."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    actions = step(store)
    assert creates(actions) == 1
    pod = store.pods()[0]
    assert pod["metadata"]["generateName"] == "agent-"
    labels = pod["metadata"]["labels"]
    assert labels["app"] == "agent"
    assert labels["pod-template-generation"] == "1"
    revision = store.list("controllerrevisions")[0]
    assert labels["controller-revision-hash"] == revision["metadata"]["labels"][
        "controller-revision-hash"]  # fmt: skip
    assert revision["metadata"]["name"] == "agent-" + labels["controller-revision-hash"]
    affinity = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert affinity == {"nodeSelectorTerms": [{"matchFields": [
        {"key": "metadata.name", "operator": "In", "values": ["node1"]}]}]}  # fmt: skip
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert "node.kubernetes.io/not-ready" in keys
    assert "node.kubernetes.io/unschedulable" in keys
    assert pod["metadata"]["ownerReferences"][0]["uid"] == "ds-uid"
    converge(store)
    assert len(store.pods()) == 1
    assert status(store) == {
        "currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
        "numberReady": 1, "observedGeneration": 1, "updatedNumberScheduled": 1,
        "numberAvailable": 1,
    }  # fmt: skip
    assert step(store) == []


def test_status_before_the_pod_is_ready() -> None:
    store = SimStore()
    store.add("daemonsets", daemonset())
    step(store)
    step(store)
    assert status(store) == {
        "currentNumberScheduled": 1, "numberMisscheduled": 0, "desiredNumberScheduled": 1,
        "numberReady": 0, "observedGeneration": 1, "updatedNumberScheduled": 1,
        "numberUnavailable": 1,
    }  # fmt: skip


@pytest.mark.parametrize(("selector", "runs"), [
    ({"kubernetes.io/os": "linux"}, True),
    ({"kubernetes.io/os": "windows"}, False),
    ({"disktype": "ssd"}, False),
])  # fmt: skip
def test_node_selector(selector: JSON, runs: bool) -> None:
    """TestSelectorDaemonLaunchesPods / TestSelectorDaemonDoesNotLaunchPods."""
    store = SimStore()
    store.add("daemonsets", daemonset(node_selector=selector))
    assert creates(step(store)) == int(runs)
    assert status(store)["desiredNumberScheduled"] == int(runs)


@pytest.mark.parametrize(("term", "runs"), [
    ({"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]},
     True),
    ({"matchExpressions": [{"key": "kubernetes.io/os", "operator": "NotIn", "values": ["linux"]}]},
     False),
    ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node1"]}]}, True),
    ({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["other"]}]}, False),
    ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"}]}, True),
])  # fmt: skip
def test_node_affinity(term: JSON, runs: bool) -> None:
    """TestNodeAffinityDaemonLaunchesPods."""
    spec = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [term]}}}  # fmt: skip
    ds = daemonset()
    ds["spec"]["template"]["spec"]["affinity"] = spec
    assert dn.should_run(ds, NODE)[0] is runs


def test_taints_and_tolerations() -> None:
    """TestTaintedNode...: NoSchedule keeps a pod from starting but not from running;
    NoExecute does both; a toleration lets it."""
    tainted = copy.deepcopy(NODE)
    tainted["spec"]["taints"] = [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    ds = daemonset()
    assert dn.should_run(ds, tainted) == (False, True)
    tainted["spec"]["taints"][0]["effect"] = "NoExecute"
    assert dn.should_run(ds, tainted) == (False, False)
    ds["spec"]["template"]["spec"]["tolerations"] = [
        {"key": "dedicated", "operator": "Equal", "value": "db"}]  # fmt: skip
    assert dn.should_run(ds, tainted) == (True, True)


def test_selector_change_deletes_the_misscheduled_pod() -> None:
    """TestSelectorDaemonDeletesUnselectedPods: numberMisscheduled, then the pod goes."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    store.objects["daemonsets"][("default", "agent")]["spec"]["template"]["spec"][
        "nodeSelector"] = {"disktype": "ssd"}  # fmt: skip
    actions = step(store)
    assert len(deletes(actions)) == 1
    converge(store)
    assert store.pods() == []
    assert status(store)["desiredNumberScheduled"] == 0


def test_failed_pod_is_killed_and_replaced() -> None:
    """TestDaemonKillFailedPods."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    name = store.names()[0]
    store.set_phase(name, "Failed", False)
    actions = step(store)
    assert deletes(actions) == [name]
    warnings = [a for a in actions if isinstance(a, Event) and a.type == "Warning"]
    assert [(w.reason, w.message) for w in warnings] == [
        ("FailedDaemonPod", f"Found failed daemon pod default/{name} on node node1, will try to "
                            "kill it")]  # fmt: skip
    store.finish_terminations()
    assert creates(step(store)) == 1


def test_failed_pods_are_killed_after_the_back_off() -> None:
    """daemon_controller.go's failedPodsBackoff (flowcontrol.NewBackOff(1s, 15min)): the first
    failed pod goes at once; each next one once the delay since the last deletion has passed
    (1 s, 2 s, 4 s, ... at most 15 min), the set requeued for then; the back-off starts again
    after twice the longest delay without a failure."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    backoff: ctl.Backoff = {}

    def fail_and_step(at: float) -> tuple[list[Any], float | None]:
        nonlocal backoff
        store.now = at
        (pod,) = [p for p in store.pods() if not p["metadata"].get("deletionTimestamp")]
        if pod["status"]["phase"] != "Failed":
            store.set_phase(pod["metadata"]["name"], "Failed", False)
        result, backoff = ctl.reconcile_with_backoff(store, at, NODE, backoff)
        store.apply(result)
        return list(result.actions), result.requeue_at

    def replaced() -> None:
        store.finish_terminations()
        result, _ = ctl.reconcile_with_backoff(store, store.now, NODE, backoff)
        store.apply(result)
        assert creates(list(result.actions)) == 1

    t0 = store.now
    actions, _ = fail_and_step(t0)
    assert len(deletes(actions)) == 1  # the first one at once
    replaced()
    actions, requeue = fail_and_step(t0 + 0.5)
    assert deletes(actions) == []
    assert not [a for a in actions if isinstance(a, Event)]
    assert requeue == t0 + 1  # 1 s after the last deletion
    actions, _ = fail_and_step(t0 + 1)
    assert len(deletes(actions)) == 1
    replaced()
    actions, requeue = fail_and_step(t0 + 2.9)
    assert (deletes(actions), requeue) == ([], t0 + 3)  # now 2 s
    assert len(deletes(fail_and_step(t0 + 3)[0])) == 1
    last, delays = t0 + 3, [4.0]
    while delays[-1] < ctl.BACKOFF_MAX:  # doubling, capped
        replaced()
        _, requeue = fail_and_step(last + 0.1)
        assert requeue == last + delays[-1]
        assert requeue is not None
        assert len(deletes(fail_and_step(requeue)[0])) == 1
        last = requeue
        delays.append(min(delays[-1] * 2, ctl.BACKOFF_MAX))
    assert delays[-2:] == [512.0, 900.0]
    replaced()
    assert fail_and_step(last + 100)[1] == last + 900
    # stable for twice the longest delay: the next failed pod goes at once again
    quiet = last + 2 * ctl.BACKOFF_MAX + 1
    assert backoff  # still remembered
    actions, _ = fail_and_step(quiet)
    assert len(deletes(actions)) == 1
    assert backoff == {ctl.backoff_key(store.get("daemonsets", "default", "agent") or {},
                                       "node1"): (1.0, quiet)}  # fmt: skip


def test_the_controller_keeps_the_back_off_between_passes() -> None:
    store = SimStore()
    store.add("daemonsets", daemonset())
    controller = ctl.controller(NODE)
    for _ in range(5):
        store.apply(controller.reconcile(store, store.now))
        store.ready_all()
    (pod,) = store.pods()
    store.set_phase(pod["metadata"]["name"], "Failed", False)
    first = controller.reconcile(store, store.now)
    assert deletes(list(first.actions)) == [pod["metadata"]["name"]]
    store.apply(first)
    store.finish_terminations()
    store.apply(controller.reconcile(store, store.now))
    (pod,) = store.pods()
    store.set_phase(pod["metadata"]["name"], "Failed", False)
    result = controller.reconcile(store, store.now)
    assert deletes(list(result.actions)) == []
    assert result.requeue_at == store.now + 1


def test_adopts_an_orphan_and_releases_a_relabelled_pod() -> None:
    """getDaemonPods' ClaimPods: the pod a `--cascade=orphan` delete left is adopted by a new
    DaemonSet (none made beside it); a pod relabelled out of the selector is released and
    replaced."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    (name,) = store.names()
    store.objects["pods"][("default", name)]["metadata"].pop("ownerReferences")
    actions = step(store)
    adopted = [a.object for a in actions if isinstance(a, Update) and a.resource == "pods"]
    assert [p["metadata"]["name"] for p in adopted] == [name]
    assert creates(actions) == 0
    assert [r["uid"] for r in store.pod(name)["metadata"]["ownerReferences"]] == ["ds-uid"]
    store.objects["pods"][("default", name)]["metadata"]["labels"]["app"] = "debug"
    actions = step(store)
    released = [a.object for a in actions if isinstance(a, Update) and a.resource == "pods"]
    assert [p["metadata"]["name"] for p in released] == [name]
    assert not store.pod(name)["metadata"].get("ownerReferences")
    assert creates(actions) == 1


def test_a_daemonset_being_deleted_is_left_alone() -> None:
    """syncDaemonSet returns at once for a DaemonSet with a deletionTimestamp: no pod, no
    revision (the garbage collector's to delete), no status."""
    store = SimStore()
    ds = daemonset()
    ds["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    ds["metadata"]["finalizers"] = ["foregroundDeletion"]
    store.add("daemonsets", ds)
    assert step(store) == []


def test_extra_pods_are_pruned_keeping_the_oldest() -> None:
    """TestDealsWithExistingPods."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    step(store)
    first = store.names()[0]
    extra = copy.deepcopy(store.pods()[0])
    extra["metadata"] = {**extra["metadata"], "name": "agent-extra", "uid": "x",
                         "creationTimestamp": "2099-01-01T00:00:00Z"}  # fmt: skip
    store.objects["pods"][("default", "agent-extra")] = extra
    assert deletes(step(store)) == ["agent-extra"]
    assert first in store.names()


def test_rolling_update_replaces_the_pod() -> None:
    """TestDaemonSetUpdatesPods (maxUnavailable 1): the old pod goes, then a new one comes."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    old = store.names()[0]
    set_image(store, "agent:2")
    assert deletes(step(store)) == [old]
    assert status(store)["updatedNumberScheduled"] == 0 if "updatedNumberScheduled" in status(
        store) else True  # fmt: skip
    store.finish_terminations()
    assert creates(step(store)) == 1
    converge(store)
    pods = store.pods()
    assert len(pods) == 1
    assert pods[0]["spec"]["containers"][0]["image"] == "agent:2"
    assert pods[0]["metadata"]["labels"]["pod-template-generation"] == "2"
    assert status(store)["updatedNumberScheduled"] == 1
    assert len(store.list("controllerrevisions")) == 2


def test_rolling_update_with_surge_keeps_the_old_pod_until_the_new_is_available() -> None:
    """TestDaemonSetUpdatesPodsWithMaxSurge."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    store = SimStore()
    store.add("daemonsets", daemonset(strategy=strategy, minReadySeconds=10))
    converge(store)
    old = store.names()[0]
    set_image(store, "agent:2")
    assert creates(step(store)) == 1
    assert len(store.pods()) == 2
    new = next(n for n in store.names() if n != old)
    assert deletes(step(store)) == []  # both stay: the new one is not available yet
    store.set_phase(new, "Running", True, since=store.now)
    assert deletes(step(store, now=store.now + 5)) == []
    assert deletes(step(store, now=store.now + 10)) == [old]


def test_on_delete_waits_for_the_user() -> None:
    store = SimStore()
    store.add("daemonsets", daemonset(strategy={"type": "OnDelete"}))
    converge(store)
    set_image(store, "agent:2")
    converge(store)
    assert store.pods()[0]["spec"]["containers"][0]["image"] == "agent:1"
    assert "updatedNumberScheduled" not in status(store)
    store.objects["pods"].clear()
    converge(store)
    assert store.pods()[0]["spec"]["containers"][0]["image"] == "agent:2"


def test_no_template_change_no_update() -> None:
    """TestDaemonSetUpdatesNoTemplateChanged."""
    store = SimStore()
    store.add("daemonsets", daemonset())
    converge(store)
    store.objects["daemonsets"][("default", "agent")]["spec"]["minReadySeconds"] = 0
    assert deletes(step(store)) == []


def test_rollback_renumbers_the_old_revision_and_history_is_limited() -> None:
    store = SimStore()
    store.add("daemonsets", daemonset(revisionHistoryLimit=1))
    converge(store)
    set_image(store, "agent:2")
    converge(store)
    set_image(store, "agent:1")
    converge(store)
    revisions = sorted(store.list("controllerrevisions"), key=lambda r: r["revision"])
    assert [r["revision"] for r in revisions] == [2, 3]
    for n in (3, 4, 5):
        set_image(store, f"agent:{n}")
        converge(store)
    assert len(store.list("controllerrevisions")) == 2  # the current one and one of history


@pytest.mark.parametrize(("value", "total", "up", "want"), [
    (1, 1, True, 1), ("25%", 1, True, 1), ("25%", 1, False, 0), ("100%", 1, True, 1),
    ("50%", 5, True, 3), (0, 1, True, 0), (None, 1, True, 0),
])  # fmt: skip
def test_scaled_values(value: Any, total: int, up: bool, want: int) -> None:
    """intstr.GetScaledValueFromIntOrPercent (TestGetUnavailableNumbers)."""
    assert dn.scaled(value, total, up) == want


class _Pods:
    def __init__(self, refuse: bool = False) -> None:
        self.created: list[JSON] = []
        self.refuse = refuse

    async def create_pod(self, document: Any) -> JSON:
        if self.refuse:
            raise ValueError('Pod "agent-x" is invalid: spec.containers: Required value')
        self.created.append(dict(document))
        return dict(document)

    async def delete_pod(self, namespace: str, name: str, *,
                         grace_period_seconds: int | None = None) -> JSON | None:  # fmt: skip
        return None


async def test_a_generated_pod_name_is_in_the_created_event() -> None:
    """RealPodControl.CreatePods: `SuccessfulCreate` "Created pod: agent-xxxxx" (the name the
    API server generated); a refused pod is a `FailedCreate`; a named pod (a StatefulSet's,
    which records its own event) has none."""
    store = ObjectStore()
    pods = _Pods()
    applier = Applier(store, pods)
    owner = daemonset()
    pod = dn.daemon_pod(owner, NODE, "h")
    await applier.apply("daemonset-controller", Create("pods", pod, owner=owner), 1000.0)
    name = pods.created[0]["metadata"]["name"]
    assert name.startswith("agent-")
    assert len(name) == len("agent-") + 5
    events = [(e["reason"], e["message"]) for e in store.list("events")]
    assert events == [("SuccessfulCreate", f"Created pod: {name}")]
    named = {**pod, "metadata": {**pod["metadata"], "name": "web-0"}}
    await applier.apply("statefulset-controller", Create("pods", named, owner=owner), 1000.0)
    assert len(store.list("events")) == 1
    refused = Applier(ObjectStore(), _Pods(refuse=True))
    await refused.apply("daemonset-controller", Create("pods", pod, owner=owner), 1000.0)
    assert [e["reason"] for e in refused.store.list("events")] == ["FailedCreate"]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {"name": "web", "namespace": "default", "uid": "u"}}  # fmt: skip
    await refused.apply("statefulset-controller", Create("pods", named, owner=sts), 1000.0)
    assert refused.store.list("events")[-1]["message"] == (
        'create Pod web-0 in StatefulSet web failed error: Pod "agent-x" is invalid: '
        "spec.containers: Required value"
    )
