"""The HorizontalPodAutoscaler's arithmetic and controller on an injected clock: cases of
replica_calculator_test.go (scale up, down, tolerance, unready and missing pods, AverageValue)
and horizontal_test.go (min/max, the scale-up rate limit, the stabilization windows,
`behavior` policies, conditions, events), the v1 <-> v2 conversion and the table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from minikubelet.controllers import hpa
from minikubelet.controllers.base import Event, Update, UpdateStatus
from minikubelet.core import autoscaling as asc
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest import autoscalers
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
NOW = 1_800_000_000.0
LONG_AGO = NOW - 3600  # started and ready well before the CPU initialization period


def pod(name: str, request: str = "1", *, ready: bool = True, phase: str = "Running",
        started: float = LONG_AGO, ready_at: float = LONG_AGO, labels: JSON | None = None,
        resource: str = "cpu") -> JSON:  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": "default", "labels": labels or {"app": "a"}},
        "spec": {"containers": [{"name": "c", "resources": {"requests": {resource: request}}}]},
        "status": {
            "phase": phase,
            "startTime": rfc3339(started),
            "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                            "lastTransitionTime": rfc3339(ready_at)}],
        },
    }  # fmt: skip


def metrics(*values: int, names: tuple[str, ...] = (), at: float = NOW) -> dict[str, asc.PodMetric]:
    names = names or tuple(f"p{i}" for i in range(len(values)))
    return {n: asc.PodMetric(v, at - 10, 15) for n, v in zip(names, values, strict=True)}


def pods(*requests: str, **kwargs: Any) -> list[JSON]:
    return [pod(f"p{i}", r, **kwargs) for i, r in enumerate(requests)]


# --- replica_calculator_test.go --------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "current", "requests", "usage", "target", "replicas", "utilization"),
    [
        ("TestReplicaCalcScaleUp", 3, ("1", "1", "1"), (300, 500, 700), 30, 5, 50),
        ("TestReplicaCalcScaleDown", 5, ("1",) * 5, (100, 300, 500, 250, 250), 50, 3, 28),
        ("TestReplicaCalcTolerance", 3, ("900m", "1", "1100m"), (1010, 1030, 1020), 100, 3, 102),
        ("TestReplicaCalcScaleUpCM-like", 1, ("100m",), (500,), 50, 10, 500),
        ("TestReplicaCalcSuperfluousMetrics", 4, ("1",) * 4, (4000, 9500, 3000, 7000), 100, 24,
         587),
    ],
)  # fmt: skip
def test_resource_replicas(case: str, current: int, requests: tuple[str, ...],
                           usage: tuple[int, ...], target: int, replicas: int,
                           utilization: int) -> None:  # fmt: skip
    proposal = asc.resource_replicas(current, target, "cpu", pods(*requests), metrics(*usage), NOW)
    assert (proposal.replicas, proposal.utilization) == (replicas, utilization), case


def test_unready_pods_are_counted_as_zero_on_a_scale_up() -> None:
    """TestReplicaCalcScaleUpUnreadyLessScale: the unready pod's sample is dropped, then it
    counts as using nothing: 4, not 5."""
    group = pods("1", "1", "1")
    group[0] = pod("p0", ready=False, started=NOW - 60, ready_at=NOW - 60)
    proposal = asc.resource_replicas(3, 30, "cpu", group, metrics(300, 500, 700), NOW)
    assert (proposal.replicas, proposal.utilization) == (4, 60)


def test_unready_pods_hold_a_scale_down_back() -> None:
    """TestReplicaCalcScaleDownIgnoresUnreadyPods: only the ready pods' samples count."""
    group = pods(*("1",) * 5)
    group[3] = pod("p3", ready=False, started=NOW - 60, ready_at=NOW - 60)
    group[4] = pod("p4", ready=False, started=NOW - 60, ready_at=NOW - 60)
    proposal = asc.resource_replicas(5, 50, "cpu", group, metrics(100, 300, 500, 250, 250), NOW)
    assert (proposal.replicas, proposal.utilization) == (2, 30)


def test_a_sample_from_before_the_pod_was_ready_is_unready() -> None:
    """groupPods: within the CPU initialization period, a sample whose window starts before
    the Ready transition does not count."""
    group = [pod("p0", started=NOW - 20, ready_at=NOW - 15), pod("p1")]
    ready, unready, missing, ignored = asc.group_pods(group, metrics(900, 100), "cpu", NOW)
    assert (ready, unready, missing, ignored) == (1, {"p0"}, set(), set())


def test_pending_failed_and_deleted_pods_are_ignored() -> None:
    group = [pod("p0", phase="Pending"), pod("p1", phase="Failed"), pod("p2"), pod("p3")]
    group[3]["metadata"]["deletionTimestamp"] = rfc3339(NOW)
    counts = asc.group_pods(group, metrics(1, 1, 1, 1), "cpu", NOW)
    assert counts == (1, set(), set(), {"p0", "p1", "p3"})


@pytest.mark.parametrize(
    ("case", "current", "usage", "replicas"),
    [
        ("TestReplicaCalcMissingMetricsNoChangeEq", 2, (1000,), 2),
        ("TestReplicaCalcMissingMetricsNoChangeGt", 2, (1900,), 2),
        ("TestReplicaCalcMissingMetricsNoChangeLt", 2, (600,), 2),
        ("TestReplicaCalcMissingMetricsScaleDown", 4, (400, 95, 100), 2),
        ("TestReplicaCalcMissingMetricsScaleUp", 4, (4000, 4000, 4000), 12),
    ],
)
def test_missing_metrics(case: str, current: int, usage: tuple[int, ...], replicas: int) -> None:
    """A pod without a sample counts as using its whole request on a scale-down and nothing
    on a scale-up, and may hold the change back."""
    group = pods(*("1",) * current)
    proposal = asc.resource_replicas(current, 100, "cpu", group, metrics(*usage), NOW)
    assert proposal.replicas == replicas, case


def test_errors_are_upstreams() -> None:
    with pytest.raises(asc.MetricsError, match="no metrics returned from resource metrics API"):
        asc.resource_replicas(1, 50, "cpu", pods("1"), {}, NOW)
    with pytest.raises(asc.MetricsError, match="missing request for cpu in container c of Pod p0"):
        asc.resource_replicas(1, 50, "cpu", pods("1", resource="memory"), metrics(5), NOW)
    with pytest.raises(asc.MetricsError, match="did not receive metrics for targeted pods"):
        asc.resource_replicas(1, 50, "cpu", [pod("p0", ready=False)], metrics(5), NOW)


def test_raw_average_value() -> None:
    """TestReplicaCalcScaleUpCMRaw-like: memory per pod against an AverageValue target."""
    mib = 1024 * 1024 * 1000  # a MiB in milli-bytes
    group = pods("64Mi", "64Mi", resource="memory")
    sample = metrics(60 * mib, 100 * mib)
    proposal = asc.raw_resource_replicas(2, asc.milli("40Mi"), "memory", group, sample, NOW)
    assert (proposal.replicas, proposal.raw) == (4, 80 * mib)
    within = asc.raw_resource_replicas(2, asc.milli("78Mi"), "memory", group, sample, NOW)
    assert within.replicas == 2  # within the tolerance


def test_quantities() -> None:
    assert asc.milli("100m") == 100
    assert asc.milli("1.5") == 1500
    assert asc.milli("1Ki") == 1024000
    assert asc.milli_quantity(250) == "250m"
    assert asc.milli_quantity(2000) == "2"


# --- horizontal.go normalization -----------------------------------------------------------


def spec(**fields: Any) -> JSON:
    return {"minReplicas": 1, "maxReplicas": 10, **fields}


def conditions(result: asc.Normalized) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in result.conditions}


def test_scale_up_limit_without_behavior() -> None:
    """calculateScaleUpLimit: at most max(2 * current, 4) at once."""
    result = asc.normalize(spec(maxReplicas=20), asc.History(), 3, 15, 1, NOW)
    assert result.replicas == 6
    assert conditions(result)["ScalingLimited"] == ("True", "ScaleUpLimit")
    result = asc.normalize(spec(maxReplicas=5), asc.History(), 3, 15, 1, NOW)
    assert result.replicas == 5
    assert conditions(result)["ScalingLimited"] == ("True", "TooManyReplicas")


def test_min_replicas_hold() -> None:
    result = asc.normalize(spec(minReplicas=2), asc.History(), 3, 1, 2, NOW)
    # the first recommendation (3, now) holds the scale-down: the 5 min window
    assert result.replicas == 3
    assert conditions(result)["AbleToScale"] == ("True", "ScaleDownStabilized")
    later = asc.normalize(spec(minReplicas=2), result.history, 3, 1, 2, NOW + 301)
    assert later.replicas == 2
    assert conditions(later)["ScalingLimited"] == ("True", "TooFewReplicas")


def test_downscale_stabilization_window() -> None:
    """stabilizeRecommendation: the highest recommendation of the last 300 s."""
    history = asc.History(((NOW - 400, 9), (NOW - 100, 5)), initialized=True)
    result = asc.normalize(spec(), history, 5, 2, 1, NOW)
    assert result.replicas == 5
    assert conditions(result)["AbleToScale"] == ("True", "ScaleDownStabilized")
    assert result.history.recommendations == ((NOW - 100, 5), (NOW, 2))
    assert asc.normalize(spec(), result.history, 5, 2, 1, NOW + 250).replicas == 2


def test_behavior_windows() -> None:
    """stabilizeRecommendationWithBehaviors: a scale-up window holds a scale-up back to the
    lowest recent recommendation."""
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 60}}
    history = asc.History(((NOW - 30, 3),), initialized=True)
    result = asc.normalize(spec(behavior=behavior), history, 3, 8, 1, NOW)
    assert result.replicas == 3
    assert conditions(result)["AbleToScale"] == ("True", "ScaleUpStabilized")
    later = asc.normalize(spec(behavior=behavior), result.history, 3, 8, 1, NOW + 61)
    assert later.replicas == 7  # the default rate: 4 pods (or 100%) per 15 s


@pytest.mark.parametrize(
    ("select", "expected"), [("Max", 10), ("Min", 9), ("Disabled", 5)]
)  # fmt: skip
def test_scale_up_limit_with_rules(select: str, expected: int) -> None:
    """TestCalculateScaleUpLimitWithScalingRules."""
    rules = {"selectPolicy": select, "policies": [
        {"type": "Pods", "value": 4, "periodSeconds": 60},
        {"type": "Percent", "value": 100, "periodSeconds": 60}]}  # fmt: skip
    assert asc.scale_up_limit(5, asc.History(), rules, NOW) == expected


def test_scale_limits_count_the_period_events() -> None:
    """getReplicasChangePerPeriod: the changes within the policy's period."""
    rules = {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 50,
                                                  "periodSeconds": 60}]}  # fmt: skip
    history = asc.History(scale_down=((NOW - 30, 3), (NOW - 90, 10)), initialized=True)
    assert asc.scale_down_limit(10, history, rules, NOW) == 6  # (10 + 3) * 50%
    up = asc.History(scale_up=((NOW - 10, 2),), initialized=True)
    pods_rule = {"policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}]}
    assert asc.scale_up_limit(6, up, pods_rule, NOW) == 8  # started the period at 4


def test_behavior_rate_limits_a_scale_up() -> None:
    behavior = {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    result = asc.normalize(spec(behavior=behavior), asc.History(), 2, 8, 1, NOW)
    assert result.replicas == 3
    assert conditions(result)["ScalingLimited"] == ("True", "ScaleUpLimit")
    history = asc.record_scale(result.history, behavior, 2, 3, NOW)
    again = asc.normalize(spec(behavior=behavior), history, 3, 8, 1, NOW + 15)
    assert again.replicas == 3  # the period's one pod is spent


# --- the controller ----------------------------------------------------------------------


class Usage:
    def __init__(self, samples: dict[str, int]) -> None:
        self.samples = samples

    def pod_usage(self, namespace: str, name: str) -> asc.PodUsage | None:
        if name not in self.samples:
            return None
        return asc.PodUsage(NOW - 5, 15, {"c": {"cpu": self.samples[name]}})


def world(*usage: int, replicas: int = 1, metrics_: list[JSON] | None = None) -> ObjectStore:
    store = ObjectStore()
    store.create("deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "a"}}},
    })  # fmt: skip
    for i in range(len(usage)):
        store.create("pods", {"apiVersion": "v1", "kind": "Pod", **pod(f"p{i}", "100m")})
    obj = autoscalers.admit_hpa({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                 "maxReplicas": 3,
                 "metrics": metrics_ or [{"type": "Resource", "resource": {"name": "cpu",
                     "target": {"type": "Utilization", "averageUtilization": 50}}}]},
    })  # fmt: skip
    store.create("horizontalpodautoscalers", obj)
    return store


def apply(store: ObjectStore, actions: list[Any]) -> None:
    """The loop's writes, as controllers/apply.py makes them (enough for these objects)."""
    for action in actions:
        if isinstance(action, UpdateStatus):
            meta = action.object["metadata"]
            stored = store.get(action.resource, meta["namespace"], meta["name"])
            assert stored is not None
            store.put(action.resource, {**stored, "status": action.object["status"]})
        elif isinstance(action, Update):
            meta = action.object["metadata"]
            stored = store.get(action.resource, meta["namespace"], meta["name"])
            assert stored is not None
            new = {**action.object, "status": stored.get("status")}
            new["metadata"] = {**meta, "resourceVersion": stored["metadata"]["resourceVersion"]}
            store.put(action.resource, new)


def test_controller_scales_the_target_and_reports() -> None:
    store = world(500)
    controller = hpa.HPAController(Usage({"p0": 500}))
    result = controller.reconcile(store, NOW)
    assert result.requeue_at == NOW + 15
    scale = next(a for a in result.actions if isinstance(a, Update) and a.resource == "deployments")
    assert scale.object["spec"]["replicas"] == 3
    events = [(a.reason, a.message) for a in result.actions if isinstance(a, Event)]
    assert events == [("SuccessfulRescale", "New size: 3; reason: cpu resource utilization "
                       "(percentage of request) above target")]  # fmt: skip
    apply(store, list(result.actions))
    status = store.get("horizontalpodautoscalers", "default", "d")["status"]  # type: ignore[index]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (1, 3)
    assert status["lastScaleTime"] == rfc3339(NOW)
    assert status["currentMetrics"] == [{"type": "Resource", "resource": {"name": "cpu",
        "current": {"averageUtilization": 500, "averageValue": "500m"}}}]  # fmt: skip
    found = {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}
    assert found == {
        "AbleToScale": ("True", "SucceededRescale"),
        "ScalingActive": ("True", "ValidMetricFound"),
        "ScalingLimited": ("True", "TooManyReplicas"),
    }
    # its own writes wake it: nothing more until the sync period is over
    again = controller.reconcile(store, NOW + 1)
    assert (again.actions, again.requeue_at) == ([], NOW + 15)


def test_controller_without_metrics_and_on_unsupported_types() -> None:
    store = world(500)
    result = hpa.HPAController().reconcile(store, NOW)
    assert not any(isinstance(a, Update) and a.resource == "deployments" for a in result.actions)
    reasons = [a.reason for a in result.actions if isinstance(a, Event)]
    assert reasons == ["FailedGetResourceMetric", "FailedComputeMetricsReplicas"]
    status = next(a for a in result.actions if isinstance(a, UpdateStatus)).object["status"]
    active = next(c for c in status["conditions"] if c["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetResourceMetric")
    assert active["message"] == (
        "the HPA was unable to compute the replica count: failed to get cpu utilization: "
        "unable to get metrics for resource cpu: no metrics returned from resource metrics API"
    )
    pods_metric = [{"type": "Pods", "pods": {"metric": {"name": "qps"},
                    "target": {"type": "AverageValue", "averageValue": "1k"}}}]  # fmt: skip
    store = world(500, metrics_=pods_metric)
    result = hpa.HPAController(Usage({"p0": 500})).reconcile(store, NOW)
    status = next(a for a in result.actions if isinstance(a, UpdateStatus)).object["status"]
    active = next(c for c in status["conditions"] if c["type"] == "ScalingActive")
    assert (active["status"], active["reason"]) == ("False", "FailedGetPodsMetric")


def test_controller_missing_target_and_limits() -> None:
    store = world(500)
    store.remove("deployments", "default", "d")
    result = hpa.HPAController(Usage({"p0": 500})).reconcile(store, NOW)
    status = next(a for a in result.actions if isinstance(a, UpdateStatus)).object["status"]
    able = next(c for c in status["conditions"] if c["type"] == "AbleToScale")
    assert (able["status"], able["reason"]) == ("False", "FailedGetScale")
    assert able["message"].endswith('deployments.apps "d" not found')
    # above maxReplicas: brought down at once, whatever the metrics
    store = world(10, replicas=5)
    result = hpa.HPAController(Usage({"p0": 10})).reconcile(store, NOW)
    events = [a.message for a in result.actions if isinstance(a, Event)]
    assert events == ["New size: 3; reason: Current number of replicas above Spec.MaxReplicas"]
    # a target scaled to zero: autoscaling is off
    store = world(10, replicas=0)
    result = hpa.HPAController(Usage({"p0": 10})).reconcile(store, NOW)
    status = next(a for a in result.actions if isinstance(a, UpdateStatus)).object["status"]
    active = next(c for c in status["conditions"] if c["type"] == "ScalingActive")
    assert active["reason"] == "ScalingDisabled"


# --- admission, table, conversion ---------------------------------------------------------


def test_defaults_and_validation() -> None:
    obj = autoscalers.admit_hpa({
        "metadata": {"name": "h", "namespace": "default"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "maxReplicas": 2,
                 "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
    })  # fmt: skip
    assert obj["spec"]["minReplicas"] == 1
    assert obj["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 80
    assert obj["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60
    assert obj["spec"]["behavior"]["scaleUp"]["policies"][0] == {
        "type": "Pods", "value": 4, "periodSeconds": 15}  # fmt: skip
    with pytest.raises(autoscalers.ObjectInvalid) as info:
        autoscalers.admit_hpa({"metadata": {"name": "h", "namespace": "default"},
                               "spec": {"scaleTargetRef": {"kind": "Deployment"},
                                        "minReplicas": 3, "maxReplicas": 2}})  # fmt: skip
    assert info.value.errors == [
        "spec.scaleTargetRef.name: Required value",
        "spec.minReplicas: Invalid value: 3: must be less than or equal to maxReplicas",
    ]


def test_table_cells() -> None:
    obj = {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1,
                    "maxReplicas": 3, "metrics": [
                        {"type": "Resource", "resource": {"name": "cpu", "target": {
                            "type": "Utilization", "averageUtilization": 50}}},
                        {"type": "Resource", "resource": {"name": "memory", "target": {
                            "type": "AverageValue", "averageValue": "100Mi"}}},
                        {"type": "Pods", "pods": {"metric": {"name": "x"}, "target": {
                            "type": "AverageValue", "averageValue": "1k"}}}]},
           "status": {"currentReplicas": 2, "currentMetrics": [
               {"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": 75}}}]}}  # fmt: skip
    assert autoscalers.cells(obj) == [
        "Deployment/d", "cpu: 75%/50%, memory: <unknown>/100Mi + 1 more...", "1", 3, 2,
    ]  # fmt: skip


def test_v1_conversion_round_trip() -> None:
    v1 = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
          "metadata": {"name": "h"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1,
                   "maxReplicas": 3, "targetCPUUtilizationPercentage": 50}}  # fmt: skip
    v2 = autoscalers.to_v2(v1)
    assert v2["apiVersion"] == "autoscaling/v2"
    assert v2["spec"]["metrics"] == [{"type": "Resource", "resource": {"name": "cpu",
        "target": {"type": "Utilization", "averageUtilization": 50}}}]  # fmt: skip
    assert autoscalers.to_v1(v2) == v1
    v2["spec"]["metrics"].append({"type": "Resource", "resource": {"name": "memory",
        "target": {"type": "AverageValue", "averageValue": "1Gi"}}})  # fmt: skip
    back = autoscalers.to_v1(v2)
    assert back["spec"]["targetCPUUtilizationPercentage"] == 50
    assert json.loads(back["metadata"]["annotations"][autoscalers.METRICS_ANNOTATION]) == [
        v2["spec"]["metrics"][1]]  # fmt: skip
    assert autoscalers.to_v2(back)["spec"] == v2["spec"]


def test_a_v1_hpa_in_a_file_is_stored_as_v2_without_a_warning(tmp_path: Any) -> None:
    from minikubelet.manifest import load
    from minikubelet.store import kinds

    path = tmp_path / "hpa.yaml"
    path.write_text(
        "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\n"
        "spec:\n  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}\n"
        "  minReplicas: 1\n  maxReplicas: 4\n  targetCPUUtilizationPercentage: 60\n"
    )
    result = load.load_manifests([str(path)], node_name="n", kinds=kinds.BY_KIND)
    assert result.warnings == []
    [(kind, obj)] = result.objects
    assert (kind.kind, obj["apiVersion"], obj["spec"]["maxReplicas"]) == (
        "HorizontalPodAutoscaler", "autoscaling/v2", 4)  # fmt: skip
    assert obj["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


def test_history_round_trips_through_the_annotation() -> None:
    history = asc.History(((NOW - 30, 3), (NOW, 4)), ((NOW - 10, 2),), (), True)
    assert asc.History.from_json(json.loads(json.dumps(history.to_json()))) == history
    # a sync that could not read the target recorded nothing: the first that can starts it
    assert not asc.History.from_json({"recommendations": [], "lastSync": NOW}).initialized
    assert asc.History.from_json("garbage") == asc.History()
