"""The HorizontalPodAutoscaler controller: every 15 s (--horizontal-pod-autoscaler-sync-period)
each HPA reads its target's scale, computes the replicas its metrics ask for and writes them
to the target's scale. Pure.

Upstream: pkg/controller/podautoscaler/horizontal.go reconcileAutoscaler,
computeReplicasForMetrics, computeStatusForResourceMetricGeneric, setStatus, setCondition;
the arithmetic is core/autoscaling.py (replica_calculator.go and the normalization). The
target is a Deployment, ReplicaSet, StatefulSet or ReplicationController, its scale read from
and written to its `spec.replicas` (the scale subresource, api/subresources.py). Resource and
ContainerResource metrics (cpu, memory; `Utilization` of the pods' requests or
`AverageValue`) come from the same per-pod usage `kubectl top pod` shows, through a narrow
`UsageReader` the daemon keeps filled (daemon.py: sampled every 15 s in a thread); Pods,
Object and External metrics need a custom or external metrics API, which minikubelet has
not, so they fail as upstream's do without one (ScalingActive False, `FailedGetPodsMetric`,
...).

What upstream's controller keeps in memory (the recent recommendations for the stabilization
windows, the scale events for the `behavior` rate policies) and the time of the last sync are
kept on the HPA itself, in the `HISTORY` annotation, so that reconcile stays a function of
the store. Events: `SuccessfulRescale` `New size: 3; reason: cpu resource utilization
(percentage of request) above target`, `FailedGetScale`, `FailedGetResourceMetric`,
`FailedComputeMetricsReplicas`, `SelectorRequired`, `InvalidSelector`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from minikubelet.controllers.base import (
    Action,
    Event,
    Reader,
    Result,
    Update,
    UpdateStatus,
    earliest,
)
from minikubelet.core import autoscaling as asc
from minikubelet.core import workloads as wl
from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]
NAME = "horizontal-pod-autoscaler"
HISTORY = "autoscaling.minikubelet.local/history"
# the scale subresources the controller can read and write: (group, kind) -> resource
TARGETS = {
    ("apps", "Deployment"): "deployments",
    ("apps", "ReplicaSet"): "replicasets",
    ("apps", "StatefulSet"): "statefulsets",
    ("", "ReplicationController"): "replicationcontrollers",
}
# what a metric type needs that minikubelet has not (horizontal.go computeReplicasForMetric)
UNSUPPORTED = {
    "Pods": ("FailedGetPodsMetric", "failed to get pods metric value: unable to get metric "
             "{name}: no custom metrics API (custom.metrics.k8s.io) registered"),
    "Object": ("FailedGetObjectMetric", "failed to get object metric value: unable to get "
               "metric {name}: no custom metrics API (custom.metrics.k8s.io) registered"),
    "External": ("FailedGetExternalMetric", "failed to get external metric value: unable to "
                 "get external metric {name}: no external metrics API "
                 "(external.metrics.k8s.io) registered"),
}  # fmt: skip


class UsageReader(Protocol):
    """The pods' latest usage samples (what metrics.k8s.io serves), by namespace and name."""

    def pod_usage(self, namespace: str, name: str) -> asc.PodUsage | None: ...


@dataclass(slots=True)
class UsageSnapshot:
    """A UsageReader over the last samples taken: the daemon replaces them, the controller
    reads them."""

    samples: dict[tuple[str, str], asc.PodUsage] = field(default_factory=dict)

    def pod_usage(self, namespace: str, name: str) -> asc.PodUsage | None:
        return self.samples.get((namespace, name))

    def replace(self, samples: Mapping[tuple[str, str], asc.PodUsage]) -> None:
        self.samples = dict(samples)


class _NoUsage:
    def pod_usage(self, namespace: str, name: str) -> asc.PodUsage | None:
        return None


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


def _set_condition(conditions: list[JSON], cond: asc.Condition, now: float) -> None:
    """setCondition / setConditionInList: the condition replaced in place (its transition
    time kept unless its status changes), or appended."""
    for existing in conditions:
        if existing.get("type") == cond.type:
            if existing.get("status") != cond.status:
                existing["lastTransitionTime"] = rfc3339(now)
            existing.update(status=cond.status, reason=cond.reason, message=cond.message)
            return
    conditions.append({"type": cond.type, "status": cond.status,
                       "lastTransitionTime": rfc3339(now), "reason": cond.reason,
                       "message": cond.message})  # fmt: skip


@dataclass(slots=True)
class _Sync:
    """One reconcileAutoscaler's state."""

    hpa: JSON
    now: float
    conditions: list[JSON]
    actions: list[Action] = field(default_factory=list)

    def condition(self, type_: str, status: str, reason: str, message: str) -> None:
        _set_condition(self.conditions, asc.Condition(type_, status, reason, message), self.now)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.actions.append(Event(self.hpa, type_, reason, message, NAME))  # type: ignore[arg-type]


def _target_selector(target: JSON) -> JSON | None:
    selector = (target.get("spec") or {}).get("selector")
    if not isinstance(selector, dict):
        return None
    if not ({"matchLabels", "matchExpressions"} & set(selector)):
        return {"matchLabels": selector} if selector else None  # an RC's map selector
    return selector


def _resource_metric(
    sync: _Sync, spec: JSON, source: JSON, current: int, pods: list[JSON], usages: JSON
) -> tuple[int, str, JSON]:
    """computeStatusForResourceMetric / computeStatusForContainerResourceMetric: (replicas,
    metric name, metric status); raises MetricsError with the message upstream returns."""
    kind = spec.get("type")
    resource = str(source.get("name", ""))
    container = str(source.get("container", "")) if kind == "ContainerResource" else ""
    target = source.get("target") or {}
    reason = "FailedGetContainerResourceMetric" if container else "FailedGetResourceMetric"
    metrics = asc.pod_metrics(usages, resource, container)
    try:
        if target.get("averageValue") is not None:
            proposal = asc.raw_resource_replicas(
                current, asc.milli(target["averageValue"]), resource, pods, metrics, sync.now
            )
            name = f"{resource} resource"
            value: JSON = {"averageValue": asc.milli_quantity(proposal.raw)}
        elif target.get("averageUtilization") is not None:
            proposal = asc.resource_replicas(
                current, int(target["averageUtilization"]), resource, pods, metrics, sync.now,
                container,
            )  # fmt: skip
            what = "container resource" if container else "resource"
            name = f"{resource} {what} utilization (percentage of request)"
            value = {
                "averageUtilization": proposal.utilization,
                "averageValue": asc.milli_quantity(proposal.raw),
            }
        else:
            raise asc.MetricsError(
                "invalid resource metric source: neither an average utilization target nor "
                "an average value (usage) target was set"
            )
    except asc.MetricsError as exc:
        inner = f"failed to get {resource} utilization: {exc}"
        sync.event("Warning", reason, inner)
        raise _MetricFailed(
            reason, inner, f"failed to get {resource} resource metric value: {inner}"
        ) from None
    status = {"name": resource, "current": value}
    if container:
        return proposal.replicas, name, {"type": kind, "containerResource": {
            **status, "container": container}}  # fmt: skip
    return proposal.replicas, name, {"type": kind, "resource": status}


class _MetricFailed(Exception):
    def __init__(self, reason: str, condition_error: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.condition_error = condition_error


def _metrics_replicas(
    sync: _Sync, store: Reader, reader: UsageReader, target: JSON, current: int
) -> tuple[int, str, list[JSON]]:
    """computeReplicasForMetrics: the largest proposal of the metrics that can be computed;
    -1 where none can (or some cannot and the others would scale down)."""
    hpa = sync.hpa
    namespace = hpa["metadata"].get("namespace", "default")
    selector = _target_selector(target)
    if selector is None:
        message = "selector is required"
        sync.event("Warning", "SelectorRequired", message)
        sync.condition("ScalingActive", "False", "InvalidSelector",
                       "the HPA target's scale is missing a selector")  # fmt: skip
        return -1, "", []
    pods = [
        p for p in store.list("pods", namespace)
        if wl.selector_matches(selector, (p.get("metadata") or {}).get("labels") or {})
    ]  # fmt: skip
    usages: JSON = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        usage = reader.pod_usage(namespace, name)
        if usage is not None:
            usages[name] = usage
    specs = (hpa.get("spec") or {}).get("metrics") or []
    statuses: list[JSON] = []
    replicas, metric = 0, ""
    invalid = 0
    first: _MetricFailed | None = None
    for spec in specs:
        kind = spec.get("type", "")
        try:
            if kind == "Resource":
                proposal = _resource_metric(sync, spec, spec.get("resource") or {}, current,
                                            pods, usages)  # fmt: skip
            elif kind == "ContainerResource":
                proposal = _resource_metric(sync, spec, spec.get("containerResource") or {},
                                            current, pods, usages)  # fmt: skip
            elif kind in UNSUPPORTED:
                reason, text = UNSUPPORTED[kind]
                source = spec.get({"Pods": "pods", "Object": "object",
                                   "External": "external"}[kind]) or {}  # fmt: skip
                error = text.format(name=(source.get("metric") or {}).get("name", ""))
                sync.event("Warning", reason, error)
                raise _MetricFailed(reason, error, error)
            else:
                error = f'unknown metric source type "{kind}"'
                sync.event("Warning", "InvalidMetricSourceType", error)
                raise _MetricFailed("InvalidMetricSourceType", error, error)
        except _MetricFailed as exc:
            statuses.append({"type": ""})
            if first is None:
                first = exc
            invalid += 1
            continue
        statuses.append(proposal[2])
        if replicas == 0 or proposal[0] > replicas:
            replicas, metric = proposal[0], proposal[1]
    if first is not None and (invalid >= len(specs) or replicas < current):
        sync.condition("ScalingActive", "False", first.reason,
                       f"the HPA was unable to compute the replica count: "
                       f"{first.condition_error}")  # fmt: skip
        error = f"invalid metrics ({invalid} invalid out of {len(specs)}), first error is: {first}"
        sync.event("Warning", "FailedComputeMetricsReplicas", error)
        return -1, "", statuses
    sync.condition(
        "ScalingActive",
        "True",
        "ValidMetricFound",
        f"the HPA was able to successfully calculate a replica count from {metric}",
    )
    return replicas, metric, statuses


def _history(hpa: JSON) -> tuple[asc.History, float | None]:
    text = ((hpa.get("metadata") or {}).get("annotations") or {}).get(HISTORY)
    if not text:
        return asc.History(), None
    try:
        data = json.loads(text)
    except ValueError:
        return asc.History(), None
    last = data.get("lastSync") if isinstance(data, dict) else None
    return asc.History.from_json(data), float(last) if isinstance(last, int | float) else None


def _due(hpa: JSON, now: float) -> float | None:
    """When this HPA is next to be synced (None: now)."""
    _, last = _history(hpa)
    observed = (hpa.get("status") or {}).get("observedGeneration")
    if last is None or observed != hpa["metadata"].get("generation"):
        return None
    at = last + asc.SYNC_PERIOD
    return None if at <= now else at


def sync_one(store: Reader, reader: UsageReader, hpa: JSON, now: float) -> list[Action]:
    """reconcileAutoscaler for one HPA: the target's scale written if it is to change, the
    status, the events, and the remembered history."""
    spec = hpa.get("spec") or {}
    old_status = hpa.get("status") or {}
    sync = _Sync(hpa, now, copy.deepcopy(old_status.get("conditions") or []))
    history, _ = _history(hpa)
    namespace = hpa["metadata"].get("namespace", "default")
    ref = spec.get("scaleTargetRef") or {}
    group, kind, name = _group(str(ref.get("apiVersion", ""))), ref.get("kind", ""), ref.get(
        "name", "")  # fmt: skip
    resource = TARGETS.get((group, kind))
    target = store.get(resource, namespace, name) if resource else None
    status: JSON = {
        "observedGeneration": hpa["metadata"].get("generation"),
        "currentReplicas": int(old_status.get("currentReplicas") or 0),
        "desiredReplicas": int(old_status.get("desiredReplicas") or 0),
    }
    if old_status.get("lastScaleTime"):
        status["lastScaleTime"] = old_status["lastScaleTime"]
    if target is None:
        if resource is None:
            error = f'no matches for kind "{kind}" in group "{group}"'
        else:
            error = f'{resource}{"." + group if group else ""} "{name}" not found'
        sync.event("Warning", "FailedGetScale", error)
        sync.condition("AbleToScale", "False", "FailedGetScale",
                       f"the HPA controller was unable to get the target's current scale: "
                       f"{error}")  # fmt: skip
        return _finish(sync, status, old_status, history)
    sync.condition("AbleToScale", "True", "SucceededGetScale",
                   "the HPA controller was able to get the target's current scale")  # fmt: skip
    current = int((target.get("spec") or {}).get("replicas", 1))
    minimum = int(spec.get("minReplicas", 1))
    maximum = int(spec.get("maxReplicas") or 0)
    if not history.initialized:  # recordInitialRecommendation
        history = asc.History(((now, current),), (), (), True)
    statuses: list[JSON] = []
    desired, reason, rescale = 0, "", True
    if current == 0 and minimum != 0:
        rescale = False
        sync.condition(
            "ScalingActive",
            "False",
            "ScalingDisabled",
            "scaling is disabled since the replica count of the target is zero",
        )
    elif current > maximum:
        reason, desired = "Current number of replicas above Spec.MaxReplicas", maximum
    elif current < minimum:
        reason, desired = "Current number of replicas below Spec.MinReplicas", minimum
    else:
        proposed, metric, statuses = _metrics_replicas(sync, store, reader, target, current)
        if proposed == -1:
            status["currentReplicas"] = current
            _metric_statuses(status, statuses)
            return _finish(sync, status, old_status, history)
        if proposed > desired:
            desired = proposed
        if desired > current:
            reason = f"{metric} above target"
        if desired < current:
            reason = "All metrics below target"
        normalized = asc.normalize(spec, history, current, desired, minimum, now)
        history = normalized.history
        for cond in normalized.conditions:
            _set_condition(sync.conditions, cond, now)
        desired = normalized.replicas
        rescale = desired != current
    if rescale:
        assert resource is not None
        scaled = copy.deepcopy(target)
        scaled.setdefault("spec", {})["replicas"] = desired
        sync.actions.insert(0, Update(resource, scaled))
        sync.condition(
            "AbleToScale",
            "True",
            "SucceededRescale",
            f"the HPA controller was able to update the target scale to {desired}",
        )
        sync.event("Normal", "SuccessfulRescale", f"New size: {desired}; reason: {reason}")
        history = asc.record_scale(history, spec.get("behavior"), current, desired, now)
        status["lastScaleTime"] = rfc3339(now)
    else:
        desired = current
    status["currentReplicas"] = current
    status["desiredReplicas"] = desired
    _metric_statuses(status, statuses)
    return _finish(sync, status, old_status, history)


def _metric_statuses(status: JSON, statuses: list[JSON]) -> None:
    if statuses:
        status["currentMetrics"] = statuses


def _finish(sync: _Sync, status: JSON, old: JSON, history: asc.History) -> list[Action]:
    """The status written (updateStatusIfNeeded), then the history with the sync's time."""
    if sync.conditions:
        status["conditions"] = sync.conditions
    hpa = sync.hpa
    actions = list(sync.actions)
    if status != old:
        actions.append(UpdateStatus("horizontalpodautoscalers", {**hpa, "status": status}))
    kept = _prune(history, sync.now)
    meta = {k: v for k, v in hpa["metadata"].items() if k != "resourceVersion"}
    annotations = {**(meta.get("annotations") or {})}
    annotations[HISTORY] = json.dumps({**kept.to_json(), "lastSync": sync.now},
                                      separators=(",", ":"))  # fmt: skip
    actions.append(Update("horizontalpodautoscalers",
                          {**hpa, "metadata": {**meta, "annotations": annotations}}))  # fmt: skip
    return actions


def _prune(history: asc.History, now: float) -> asc.History:
    """Only what a window or a policy period can still look at (at most an hour: the
    longest stabilization window and policy period the API allows)."""
    cutoff = now - 3600

    def recent(items: tuple[tuple[float, int], ...]) -> tuple[tuple[float, int], ...]:
        return tuple(i for i in items if i[0] > cutoff)

    return asc.History(recent(history.recommendations), recent(history.scale_up),
                       recent(history.scale_down), history.initialized)  # fmt: skip


@dataclass(frozen=True, slots=True)
class HPAController:
    """The controller over a usage reader (the daemon's samples; none: no metrics)."""

    usage: UsageReader = field(default_factory=_NoUsage)
    name: str = NAME
    wakes: frozenset[str] = frozenset({"horizontalpodautoscalers"})

    def reconcile(self, store: Reader, now: float) -> Result:
        actions: list[Action] = []
        requeue: float | None = None
        for hpa in store.list("horizontalpodautoscalers"):
            if hpa["metadata"].get("deletionTimestamp"):
                continue
            at = _due(hpa, now)
            if at is not None:
                requeue = earliest(requeue, at)
                continue
            actions += sync_one(store, self.usage, hpa, now)
            requeue = earliest(requeue, now + asc.SYNC_PERIOD)
        return Result(actions, requeue)


def last_sync(hpa: JSON) -> float | None:
    """When the HPA was last synced."""
    return _history(hpa)[1]
