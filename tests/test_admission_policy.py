"""The pure rules of ResourceQuota, LimitRange and PriorityClass and their admission plugins,
as tables (cases after upstream's plugin/pkg/admission/limitranger/admission_test.go,
plugin/pkg/admission/priority/admission_test.go, pkg/apis/core/validation and
pkg/apis/scheduling/validation tests, pkg/quota/v1/evaluator/core/pods_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.controllers import resourcequota
from minikubelet.manifest import limitranges as lr
from minikubelet.manifest import priorityclasses as pc
from minikubelet.manifest import resourcequotas as rq
from minikubelet.manifest.configmaps import ObjectInvalid
from minikubelet.manifest.forbidden import Forbidden
from minikubelet.manifest.ignored import IGNORED
from minikubelet.store import admission, kinds
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]


def pod(name: str = "x", *containers: JSON, **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": list(containers) or [container()], **spec},
    }


def container(name: str = "c", requests: JSON | None = None, limits: JSON | None = None) -> JSON:
    resources = {k: v for k, v in (("requests", requests), ("limits", limits)) if v}
    return {"name": name, "image": "busybox", "resources": resources}


def limit_range(*items: JSON, name: str = "lr") -> JSON:
    obj = {"apiVersion": "v1", "kind": "LimitRange",
           "metadata": {"name": name, "namespace": "default"}, "spec": {"limits": list(items)}}  # fmt: skip
    return lr.admit_limit_range(obj)


def quota(hard: JSON, name: str = "q", **spec: Any) -> JSON:
    obj = {"apiVersion": "v1", "kind": "ResourceQuota",
           "metadata": {"name": name, "namespace": "default"}, "spec": {"hard": hard, **spec}}  # fmt: skip
    return rq.admit_resource_quota(obj)


def priority_class(name: str, value: int, **fields: Any) -> JSON:
    obj = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
           "metadata": {"name": name}, "value": value, **fields}  # fmt: skip
    return pc.admit_priority_class(obj)


# --- PriorityClass ------------------------------------------------------------------------------


def test_priority_class_defaults_and_system_classes() -> None:
    assert priority_class("high", 1000)["preemptionPolicy"] == "PreemptLowerPriority"
    assert {c["metadata"]["name"]: c["value"] for c in pc.system_classes()} == {
        "system-node-critical": 2000001000,
        "system-cluster-critical": 2000000000,
    }
    for obj in pc.system_classes():
        pc.admit_priority_class(obj)


@pytest.mark.parametrize(
    ("name", "value", "fields", "error"),
    [
        ("system-foo", 1, {}, "metadata.name: Forbidden: priority class names with 'system-' "
         "prefix are reserved for system use only. error: system-foo is not a known system "
         "priority class"),
        ("system-node-critical", 5, {}, "value of system-node-critical PriorityClass must be "
         "2000001000"),
        ("big", 1_000_000_001, {}, "value: Forbidden: maximum allowed value of a user defined "
         "priority is 1000000000"),
        ("p", 1, {"preemptionPolicy": "Sometimes"}, 'preemptionPolicy: Unsupported value: '
         '"Sometimes": supported values: "Never", "PreemptLowerPriority"'),
        ("Bad_Name", 1, {}, "metadata.name: Invalid value"),
    ],
)  # fmt: skip
def test_priority_class_validation(name: str, value: int, fields: JSON, error: str) -> None:
    with pytest.raises(ObjectInvalid) as caught:
        priority_class(name, value, **fields)
    assert error in str(caught.value)


def test_priority_class_update_keeps_value() -> None:
    old = priority_class("high", 1000)
    with pytest.raises(ObjectInvalid, match=r"value: Forbidden: may not be changed in an update."):
        pc.admit_priority_class({**old, "value": 2000}, old)


def test_priority_resolution() -> None:
    """priority/admission_test.go TestPodAdmission, in short."""
    classes = [*pc.system_classes(), priority_class("high", 1000, preemptionPolicy="Never")]
    spec = pc.resolve(pod(), classes)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (0, "PreemptLowerPriority")
    assert "priorityClassName" not in spec
    spec = pc.resolve(pod(priorityClassName="high"), classes)["spec"]
    assert (spec["priority"], spec["preemptionPolicy"]) == (1000, "Never")
    spec = pc.resolve(pod(priorityClassName="system-node-critical"), classes)["spec"]
    assert spec["priority"] == 2000001000
    with pytest.raises(Forbidden) as caught:
        pc.resolve(pod("x", priorityClassName="nope"), classes)
    assert str(caught.value) == 'pods "x" is forbidden: no PriorityClass with name nope was found'
    with pytest.raises(
        Forbidden,
        match=r"the integer value of priority \(5\) must not be "
        "provided in pod spec; priority admission controller computed 1000",
    ):
        pc.resolve(pod(priorityClassName="high", priority=5), classes)
    with pytest.raises(Forbidden, match=r"the string value of PreemptionPolicy"):
        pc.resolve(pod(priorityClassName="high", preemptionPolicy="PreemptLowerPriority"), classes)
    pc.resolve(pod(priorityClassName="high", priority=1000), classes)  # the same value is fine


def test_global_default_priority() -> None:
    """getDefaultPriorityClass: of several defaults, the lowest value."""
    classes = [
        priority_class("a", 50, globalDefault=True),
        priority_class("b", 10, globalDefault=True),
    ]
    spec = pc.resolve(pod(), classes)["spec"]
    assert (spec["priorityClassName"], spec["priority"]) == ("b", 10)
    with pytest.raises(
        Forbidden, match=r"PriorityClass a is already marked as default. Only one default can exist"
    ):
        pc.check_global_default(priority_class("c", 1, globalDefault=True), classes[:1])


def test_priority_fields_are_not_warned_as_ignored() -> None:
    assert not {"spec.priorityClassName", "spec.priority", "spec.preemptionPolicy"} & set(IGNORED)


# --- LimitRange ---------------------------------------------------------------------------------


def test_limit_range_defaults() -> None:
    """SetDefaults_LimitRangeItem: default from max, defaultRequest from default, then min."""
    obj = limit_range({"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "1Mi"}})
    item = obj["spec"]["limits"][0]
    assert item["default"] == {"cpu": "2"}
    assert item["defaultRequest"] == {"cpu": "2", "memory": "1Mi"}
    pod_item = limit_range({"type": "Pod", "max": {"cpu": "2"}})["spec"]["limits"][0]
    assert "default" not in pod_item


@pytest.mark.parametrize(
    ("item", "error"),
    [
        ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}},
         "spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"),
        ({"type": "Container", "default": {"cpu": "2"}, "max": {"cpu": "1"}},
         "default value 2 is greater than max value 1"),
        ({"type": "Container", "defaultRequest": {"cpu": "2"}, "default": {"cpu": "1"}},
         "default request value 2 is greater than default limit value 1"),
        ({"type": "Container", "maxLimitRequestRatio": {"cpu": "500m"}}, "ratio 500m is less than 1"),
        ({"type": "Pod", "default": {"cpu": "1"}},
         "spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"),
        ({"type": "Container", "min": {"cpu": "1"}, "max": {"cpu": "2"},
          "maxLimitRequestRatio": {"cpu": "3"}}, "ratio 3 is greater than max/min = 2.000000"),
        ({"type": "PersistentVolumeClaim"}, "either minimum or maximum storage value is required"),
    ],
)  # fmt: skip
def test_limit_range_validation(item: JSON, error: str) -> None:
    with pytest.raises(ObjectInvalid) as caught:
        limit_range(item)
    assert error in str(caught.value)


def test_limit_range_duplicate_type() -> None:
    with pytest.raises(ObjectInvalid, match=r'spec.limits\[1\].type: Duplicate value: "Container"'):
        limit_range({"type": "Container"}, {"type": "Container"})


def test_limit_ranger_defaults_a_pod() -> None:
    """mergePodResourceRequirements: what a container leaves out, with the annotation."""
    ranges = [limit_range({"type": "Container", "default": {"cpu": "200m", "memory": "64Mi"},
                           "defaultRequest": {"cpu": "100m"}})]  # fmt: skip
    mutated = lr.mutate_pod(pod("x", container("a"), container("b", limits={"memory": "1Gi"})),
                            ranges)  # fmt: skip
    a, b = (c["resources"] for c in mutated["spec"]["containers"])
    assert a == {"limits": {"cpu": "200m", "memory": "64Mi"},
                 "requests": {"cpu": "100m", "memory": "64Mi"}}  # fmt: skip
    # SetDefaults_Pod first: b's memory request is its own limit, not the range's default
    assert b == {"limits": {"memory": "1Gi", "cpu": "200m"},
                 "requests": {"memory": "1Gi", "cpu": "100m"}}  # fmt: skip
    assert mutated["metadata"]["annotations"][lr.ANNOTATION] == (
        "LimitRanger plugin set: cpu, memory request for container a; cpu, memory limit for "
        "container a; cpu request for container b; cpu limit for container b"
    )
    untouched = lr.mutate_pod(pod("x", container("a", {"cpu": "1"}, {"cpu": "1"})),
                              [limit_range({"type": "Container", "default": {"cpu": "2"}})])  # fmt: skip
    assert lr.ANNOTATION not in (untouched["metadata"].get("annotations") or {})


@pytest.mark.parametrize(
    ("item", "resources", "error"),
    [
        ({"type": "Container", "max": {"cpu": "500m"}}, ({}, {"cpu": "1"}),
         "maximum cpu usage per Container is 500m, but limit is 1"),
        ({"type": "Container", "max": {"cpu": "500m"}}, ({"cpu": "100m"}, {}),
         "maximum cpu usage per Container is 500m.  No limit is specified"),
        ({"type": "Container", "min": {"memory": "64Mi"}}, ({"memory": "32Mi"}, {}),
         "minimum memory usage per Container is 64Mi, but request is 32Mi"),
        ({"type": "Container", "min": {"memory": "64Mi"}}, ({}, {}),
         "minimum memory usage per Container is 64Mi.  No request is specified"),
        ({"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}, ({"cpu": "100m"}, {"cpu": "1"}),
         "cpu max limit to request ratio per Container is 2, but provided ratio is 10.000000"),
        ({"type": "Pod", "max": {"cpu": "1"}}, ({"cpu": "600m"}, {"cpu": "600m"}),
         "maximum cpu usage per Pod is 1, but limit is 1200m"),
    ],
)  # fmt: skip
def test_limit_ranger_refuses(item: JSON, resources: tuple[JSON, JSON], error: str) -> None:
    """PodValidateLimitFunc: min, max and ratio in upstream's words."""
    requests, limits = resources
    item = {**item, **({"default": {}} if item["type"] == "Container" else {})}
    ranges = [{"spec": {"limits": [item]}}]  # as stored: no defaults to mask the case
    two = pod("x", container("a", requests, limits), container("b", requests, limits))
    subject = two if item["type"] == "Pod" else pod("x", container("a", requests, limits))
    with pytest.raises(Forbidden) as caught:
        lr.check_pod(subject, ranges)
    assert str(caught.value) == f'pods "x" is forbidden: {error}'


def test_limit_ranger_several_complaints() -> None:
    ranges = [{"spec": {"limits": [{"type": "Container", "max": {"cpu": "1", "memory": "1Mi"}}]}}]
    with pytest.raises(Forbidden) as caught:
        lr.check_pod(pod("x", container("a", {}, {"cpu": "2", "memory": "2Mi"})), ranges)
    assert caught.value.reason == (
        "[maximum cpu usage per Container is 1, but limit is 2, maximum memory usage per "
        "Container is 1Mi, but limit is 2Mi]"
    )
    lr.check_pod(pod("x", container("a", {}, {"cpu": "1", "memory": "1Mi"})), ranges)


# --- ResourceQuota ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hard", "error"),
    [
        ({"pods": "-1"}, 'spec.hard[pods]: Invalid value: "-1": must be greater than or equal to 0'),
        ({"pods": "1500m"}, 'spec.hard[pods]: Invalid value: "1500m": must be an integer'),
        ({"widgets": "1"}, 'spec.hard[widgets]: Invalid value: "widgets": must be a standard '
         "resource for quota"),
        ({"cpu": "lots"}, "spec.hard[cpu]: Invalid value"),
    ],
)  # fmt: skip
def test_resource_quota_validation(hard: JSON, error: str) -> None:
    with pytest.raises(ObjectInvalid) as caught:
        quota(hard)
    assert error in str(caught.value)


def test_resource_quota_canonical_hard() -> None:
    assert quota({"requests.memory": "1024Mi", "count/deployments.apps": "2"})["spec"]["hard"] == {
        "requests.memory": "1Gi", "count/deployments.apps": "2"}  # fmt: skip


def test_pod_usage() -> None:
    """pods_test.go TestPodEvaluatorUsage: requests, limits, init containers' maximum."""
    subject = pod("x", container("a", {"cpu": "100m", "memory": "1Gi"}, {"cpu": "200m"}),
                  container("b", {"cpu": "300m"}),
                  initContainers=[container("i", {"cpu": "1", "memory": "512Mi"})])  # fmt: skip
    usage = {k: rq.rl.text(v) for k, v in rq.pod_usage(subject).items()}
    assert usage == {
        "pods": "1", "count/pods": "1", "cpu": "1", "requests.cpu": "1", "memory": "1Gi",
        "requests.memory": "1Gi", "limits.cpu": "200m",
    }  # fmt: skip


def test_quota_exceeded_and_must_specify() -> None:
    q = quota({"pods": "2", "requests.cpu": "1"})
    with pytest.raises(Forbidden) as caught:
        rq.check_create("pods", "", pod("x", container("a", {"cpu": "1"})),
                        [(q, {"pods": "2", "requests.cpu": "0"})])  # fmt: skip
    assert str(caught.value) == ('pods "x" is forbidden: exceeded quota: q, requested: pods=1, '
                                 "used: pods=2, limited: pods=2")  # fmt: skip
    with pytest.raises(Forbidden) as caught:
        rq.check_create("pods", "", pod("x", container("a"), container("b", {"cpu": "1"})),
                        [(q, {})])  # fmt: skip
    assert (
        str(caught.value)
        == 'pods "x" is forbidden: failed quota: q: must specify requests.cpu for: a'
    )
    with pytest.raises(
        Forbidden,
        match=r"requested: requests.cpu=600m, used: requests.cpu=500m, "
        "limited: requests.cpu=1",
    ):
        rq.check_create("pods", "", pod("x", container("a", {"cpu": "600m"})),
                        [(q, {"pods": "0", "requests.cpu": "500m"})])  # fmt: skip
    rq.check_create("pods", "", pod("x", container("a", {"cpu": "500m"})),
                    [(q, {"pods": "1", "requests.cpu": "500m"})])  # fmt: skip


def test_quota_object_counts() -> None:
    q = quota({"configmaps": "1", "count/deployments.apps": "0"})
    cm = {"metadata": {"name": "c", "namespace": "default"}}
    with pytest.raises(
        Forbidden,
        match=r'configmaps "c" is forbidden: exceeded quota: q, '
        "requested: configmaps=1, used: configmaps=1, limited: configmaps=1",
    ):
        rq.check_create("configmaps", "", cm, [(q, {"configmaps": "1"})])
    with pytest.raises(Forbidden, match=r'deployments.apps "c" is forbidden: exceeded quota'):
        rq.check_create("deployments", "apps", cm, [(q, {})])
    rq.check_create("secrets", "", cm, [(q, {})])  # not limited


def test_quota_scopes() -> None:
    best_effort = quota({"pods": "0"}, scopes=["BestEffort"])
    rq.check_create("pods", "", pod("x", container("a", {"cpu": "1"})), [(best_effort, {})])
    with pytest.raises(Forbidden):
        rq.check_create("pods", "", pod("x"), [(best_effort, {})])


def test_quota_table_cells() -> None:
    obj = {"status": {"hard": {"pods": "2", "limits.cpu": "2", "requests.cpu": "1"},
                      "used": {"pods": "1", "limits.cpu": "500m"}}}  # fmt: skip
    assert rq.cells(obj) == ["pods: 1/2, requests.cpu: 0/1", "limits.cpu: 500m/2"]


# --- the plugins over a store, and the controller -------------------------------------------------


def _store() -> ObjectStore:
    store = ObjectStore()
    kinds.seed(store)
    return store


def _running(obj: JSON, phase: str = "Running") -> JSON:
    return {**obj, "status": {"phase": phase}}


def test_quota_used_counts_live_pods_only() -> None:
    store = _store()
    store.create("resourcequotas", quota({"pods": "5", "requests.memory": "1Gi"}))
    store.create("pods", _running(pod("a", container("c", {"memory": "100Mi"}))))
    store.create("pods", _running(pod("b", container("c", {"memory": "100Mi"})), "Succeeded"))
    gone = _running(pod("d", container("c", {"memory": "1Mi"})))
    gone["metadata"] |= {"deletionTimestamp": "2020-01-01T00:00:00Z",
                         "deletionGracePeriodSeconds": 30}  # fmt: skip
    store.create("pods", gone)
    result = resourcequota.reconcile(store, 1e10)
    (action,) = result.actions
    assert action.object["status"] == {
        "hard": {"pods": "5", "requests.memory": "1Gi"},
        "used": {"pods": "1", "requests.memory": "100Mi"},
    }
    store.put("resourcequotas", action.object)
    assert not resourcequota.reconcile(store, 1e10).actions  # idempotent


def test_admission_over_a_store() -> None:
    store = _store()
    store.create("limitranges", limit_range({"type": "Container", "default": {"cpu": "300m"},
                                             "max": {"cpu": "500m"}}))  # fmt: skip
    store.create("resourcequotas", quota({"limits.cpu": "500m"}))
    document = admission.mutate_pod(store, pod("x"))
    (c,) = document["spec"]["containers"]
    assert c["resources"] == {"limits": {"cpu": "300m"}, "requests": {"cpu": "300m"}}
    assert document["spec"]["priority"] == 0
    admission.check_pod(store, document)
    store.create("pods", _running(document))
    with pytest.raises(
        Forbidden,
        match=r"exceeded quota: q, requested: limits.cpu=300m, used: "
        r"limits.cpu=300m, limited: limits.cpu=500m",
    ):
        admission.check_pod(store, admission.mutate_pod(store, pod("y")))


def test_priority_kept_on_update() -> None:
    """admitPod on update: what the create set stays when the new spec leaves it out."""
    old = {"priority": 1000, "preemptionPolicy": "Never", "containers": []}
    assert pc.keep_on_update({"containers": []}, old) == old
    changed = {"priority": 5, "containers": []}
    assert pc.keep_on_update(changed, old) == {**changed, "preemptionPolicy": "Never"}
