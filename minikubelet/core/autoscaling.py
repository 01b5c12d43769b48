"""The HorizontalPodAutoscaler's arithmetic, as pkg/controller/podautoscaler computes it: the
replica count a Resource metric proposes (replica_calculator.go GetResourceReplicas,
GetRawResourceReplicas, groupPods, calculatePodRequests; metrics/utilization.go
GetResourceUtilizationRatio, GetMetricUsageRatio), and how the proposal is normalized
(horizontal.go normalizeDesiredReplicas, stabilizeRecommendation,
convertDesiredReplicasWithRules, and with `spec.behavior` normalizeDesiredReplicasWithBehaviors,
stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
calculateScaleUpLimitWithScalingRules, calculateScaleDownLimitWithBehaviors).

Upstream keeps the recent recommendations and scale events in the controller's memory; here
they are a `History` the caller keeps and passes in, and every function takes `now` (seconds
since the epoch) instead of reading a clock. Values are in milli-units (`MilliValue()`): CPU
in millicores, memory in milli-bytes. Pure: stdlib only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from typing import Any

from minikubelet.core.gotext import parse_rfc3339
from minikubelet.core.quantity import Format, format_value, parse_quantity

JSON = dict[str, Any]
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
CPU_INITIALIZATION_PERIOD = 300.0  # --horizontal-pod-autoscaler-cpu-initialization-period
INITIAL_READINESS_DELAY = 30.0  # --horizontal-pod-autoscaler-initial-readiness-delay
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
MAX_INT32 = 2**31 - 1


class MetricsError(Exception):
    """A replica count that cannot be computed; the message is upstream's."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    """metricsclient.PodMetric: a pod's usage (milli-units), when it was taken, over what
    window (seconds)."""

    value: int
    timestamp: float
    window: float


@dataclass(frozen=True, slots=True)
class PodUsage:
    """One sample of a pod's containers, as metrics.k8s.io PodMetrics gives it: container ->
    resource ("cpu", "memory") -> milli-units."""

    timestamp: float
    window: float
    containers: Mapping[str, Mapping[str, int]]


def milli(text: Any) -> int:
    """Quantity.MilliValue(): the value times 1000, rounded up."""
    value = parse_quantity(str(text)).value * 1000
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def milli_quantity(value: int) -> str:
    """resource.NewMilliQuantity(value, DecimalSI) as text (`250m`, `1`, `2500m`)."""
    return format_value(Decimal(value) / 1000, Format.DECIMAL_SI)


def pod_metrics(
    usages: Mapping[str, PodUsage], resource: str, container: str = ""
) -> dict[str, PodMetric]:
    """resourceMetricsClient.GetResourceMetric: each pod's usage of `resource`, summed over
    its containers (or only `container`'s); a pod without that container or that resource
    in one of its containers is left out."""
    out: dict[str, PodMetric] = {}
    for name, usage in usages.items():
        total, found = 0, False
        missing = False
        for cname, resources in usage.containers.items():
            if container and cname != container:
                continue
            if resource not in resources:
                missing = True
                break
            total += resources[resource]
            found = True
        if found and not missing:
            out[name] = PodMetric(total, usage.timestamp, usage.window)
    return out


# --- replica_calculator.go -----------------------------------------------------------------


def _time(text: Any) -> float | None:
    return parse_rfc3339(str(text)) if text else None


def group_pods(
    pods: Sequence[JSON],
    metrics: Mapping[str, PodMetric],
    resource: str,
    now: float,
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
    delay_of_initial_readiness_status: float = INITIAL_READINESS_DELAY,
) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: (ready pod count, unready pods, missing pods, ignored pods). A pod being
    deleted, failed or pending is ignored; one without a metric is missing; for CPU, a pod
    not yet ready, or still initializing whose sample is from before it was ready, is
    unready."""
    ready_count = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        meta, status = pod.get("metadata") or {}, pod.get("status") or {}
        name = meta.get("name", "")
        phase = status.get("phase", "")
        if meta.get("deletionTimestamp") or phase in ("Failed", "Pending"):
            ignored.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition = next(
                (c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None
            )
            start = _time(status.get("startTime"))
            if condition is None or start is None:
                is_unready = True
            else:
                changed = _time(condition.get("lastTransitionTime")) or 0.0
                if start + cpu_initialization_period > now:
                    # unready, or no full window of metrics since the last transition
                    is_unready = (
                        condition.get("status") == "False"
                        or metric.timestamp < changed + metric.window
                    )
                else:
                    # unready and never been ready
                    is_unready = (
                        condition.get("status") == "False"
                        and start + delay_of_initial_readiness_status > changed
                    )
            if is_unready:
                unready.add(name)
                continue
        ready_count += 1
    return ready_count, unready, missing, ignored


def pod_requests(pods: Sequence[JSON], container: str, resource: str) -> dict[str, int]:
    """calculatePodRequests: each pod's request of `resource` (milli), summed over its
    containers (or only `container`); a container without one is an error."""
    out: dict[str, int] = {}
    for pod in pods:
        name = (pod.get("metadata") or {}).get("name", "")
        total = 0
        for c in (pod.get("spec") or {}).get("containers") or []:
            if container and c.get("name") != container:
                continue
            requests = (c.get("resources") or {}).get("requests") or {}
            if resource not in requests:
                raise MetricsError(
                    f"missing request for {resource} in container {c.get('name', '')} of Pod {name}"
                )
            total += milli(requests[resource])
        out[name] = total
    return out


def utilization_ratio(
    metrics: Mapping[str, PodMetric], requests: Mapping[str, int], target: int
) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (usage ratio, utilization %, average raw usage)."""
    metrics_total = requests_total = entries = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue
        metrics_total += metric.value
        requests_total += requests[name]
        entries += 1
    if requests_total == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = metrics_total * 100 // requests_total
    return utilization / target, utilization, metrics_total // entries


def usage_ratio(metrics: Mapping[str, PodMetric], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (usage ratio, average usage)."""
    total = sum(m.value for m in metrics.values())
    average = total // len(metrics)
    return average / target, average


def _select_pods(pods: Sequence[JSON]) -> None:
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")


@dataclass(frozen=True, slots=True)
class Proposal:
    replicas: int
    utilization: int | None  # percent of request (Utilization targets)
    raw: int  # the average usage, milli
    timestamp: float


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: Sequence[JSON],
    metrics: Mapping[str, PodMetric],
    now: float,
    container: str = "",
    tolerance: float = TOLERANCE,
) -> Proposal:
    """GetResourceReplicas: the replicas for an average utilization target (percent of the
    pods' requests)."""
    if not metrics:
        raise MetricsError(
            f"unable to get metrics for resource {resource}: no metrics returned from "
            "resource metrics API"
        )
    timestamp = min(m.timestamp for m in metrics.values())
    _select_pods(pods)
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, utilization, raw, timestamp)
        return Proposal(math.ceil(ratio * ready), utilization, raw, timestamp)
    if missing:
        if ratio < 1.0:  # on a scale-down, a missing pod counts as using its whole request
            fallback = max(100, target_utilization)
            for name in missing:
                metrics[name] = PodMetric(requests.get(name, 0) * fallback // 100, now, 0)
        elif ratio > 1.0:  # on a scale-up, as using nothing
            for name in missing:
                metrics[name] = PodMetric(0, now, 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0, now, 0)
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return Proposal(current, utilization, raw, timestamp)
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, utilization, raw, timestamp)
    return Proposal(replicas, utilization, raw, timestamp)


def raw_resource_replicas(
    current: int,
    target_usage: int,
    resource: str,
    pods: Sequence[JSON],
    metrics: Mapping[str, PodMetric],
    now: float,
    tolerance: float = TOLERANCE,
) -> Proposal:
    """GetRawResourceReplicas / calcPlainMetricReplicas: the replicas for an average value
    target (milli-units per pod)."""
    if not metrics:
        raise MetricsError(
            f"unable to get metrics for resource {resource}: no metrics returned from "
            "resource metrics API"
        )
    timestamp = min(m.timestamp for m in metrics.values())
    _select_pods(pods)
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = usage_ratio(metrics, target_usage)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= tolerance:
            return Proposal(current, None, usage, timestamp)
        return Proposal(math.ceil(ratio * ready), None, usage, timestamp)
    if missing:
        for name in missing:
            metrics[name] = PodMetric(target_usage if ratio < 1.0 else 0, now, 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0, now, 0)
    new_ratio, _ = usage_ratio(metrics, target_usage)
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return Proposal(current, None, usage, timestamp)
    replicas = math.ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Proposal(current, None, usage, timestamp)
    return Proposal(replicas, None, usage, timestamp)


# --- horizontal.go: normalization ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class History:
    """What upstream's controller remembers of one HPA: its recent recommendations
    (time, replicas) and scale events (time, change: up positive, down positive)."""

    recommendations: tuple[tuple[float, int], ...] = ()
    scale_up: tuple[tuple[float, int], ...] = ()
    scale_down: tuple[tuple[float, int], ...] = ()
    initialized: bool = False

    def to_json(self) -> JSON:
        return {
            "recommendations": [list(r) for r in self.recommendations],
            "scaleUp": [list(e) for e in self.scale_up],
            "scaleDown": [list(e) for e in self.scale_down],
        }

    @classmethod
    def from_json(cls, data: Any) -> History:
        if not isinstance(data, dict):
            return cls()

        def pairs(key: str) -> tuple[tuple[float, int], ...]:
            items = data.get(key) or []
            return tuple((float(t), int(v)) for t, v in items)

        try:
            recommendations = pairs("recommendations")
            # once the first recommendation is recorded there is always one: the latest
            return cls(recommendations, pairs("scaleUp"), pairs("scaleDown"),
                       bool(recommendations))  # fmt: skip
        except (TypeError, ValueError):
            return cls()


@dataclass(frozen=True, slots=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


@dataclass(slots=True)
class Normalized:
    replicas: int
    history: History
    conditions: list[Condition] = field(default_factory=list)


def default_scale_up() -> JSON:
    """GenerateHPAScaleUpRules' defaults: no stabilization, the larger of 100% or 4 pods
    every 15 s."""
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def default_scale_down() -> JSON:
    """GenerateHPAScaleDownRules' defaults: a 300 s window, up to 100% every 15 s."""
    return {
        "stabilizationWindowSeconds": 300,
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    }


def behavior_rules(behavior: JSON) -> tuple[JSON, JSON]:
    """The scale-up and scale-down rules with their defaults filled in
    (SetDefaults_HorizontalPodAutoscalerBehavior)."""
    up = {**default_scale_up(), **(behavior.get("scaleUp") or {})}
    down = {**default_scale_down(), **(behavior.get("scaleDown") or {})}
    return up, down


def _stabilize(history: History, desired: int, now: float) -> tuple[int, History]:
    """stabilizeRecommendation (no behavior): the highest recommendation of the last 5 min."""
    cutoff = now - DOWNSCALE_STABILIZATION
    best = desired
    kept: list[tuple[float, int]] = []
    for stamp, replicas in history.recommendations:
        if stamp < cutoff:
            continue
        best = max(best, replicas)
        kept.append((stamp, replicas))
    kept.append((now, desired))
    return best, replace(history, recommendations=tuple(kept))


def _with_rules(current: int, desired: int, low: int, high: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules (and calculateScaleUpLimit: max(2 * current, 4))."""
    scale_up_limit = max(2 * current, 4)
    if high > scale_up_limit:
        maximum = scale_up_limit
        reason = "ScaleUpLimit"
        message = "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum = high
        reason = "TooManyReplicas"
        message = "the desired replica count is more than the maximum replica count"
    if desired < low:
        return (low, "TooFewReplicas",
                "the desired replica count is less than the minimum replica count")  # fmt: skip
    if desired > maximum:
        return maximum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def _changes(events: Sequence[tuple[float, int]], period: float, now: float) -> int:
    """getReplicasChangePerPeriod: the replicas changed in the last `period` seconds."""
    return sum(change for stamp, change in events if stamp > now - period)


def scale_up_limit(current: int, history: History, rules: JSON, now: float) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (min, MAX_INT32) if select == "Min" else (max, -MAX_INT32 - 1)
    for policy in rules.get("policies") or []:
        start = current - _changes(history.scale_up, float(policy.get("periodSeconds", 0)), now)
        value = int(policy.get("value", 0))
        if policy.get("type") == "Pods":
            proposed = start + value
        else:
            proposed = math.ceil(start * (1 + value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit(current: int, history: History, rules: JSON, now: float) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    pick, result = (max, -MAX_INT32 - 1) if select == "Min" else (min, MAX_INT32)
    for policy in rules.get("policies") or []:
        period = float(policy.get("periodSeconds", 0))
        added = _changes(history.scale_up, period, now)
        deleted = _changes(history.scale_down, period, now)
        start = current - added + deleted
        value = int(policy.get("value", 0))
        pods = policy.get("type") == "Pods"
        proposed = start - value if pods else int(start * (1 - value / 100))
        result = pick(result, proposed)
    return result


def normalize(
    spec: JSON,
    history: History,
    current: int,
    desired: int,
    minimum: int,
    now: float,
) -> Normalized:
    """normalizeDesiredReplicas, or normalizeDesiredReplicasWithBehaviors where the HPA has
    `spec.behavior`: the proposal stabilized over the recent recommendations and held within
    min/maxReplicas and the scale rate, with the AbleToScale and ScalingLimited conditions."""
    maximum = int(spec.get("maxReplicas") or 0)
    behavior = spec.get("behavior")
    if not history.initialized:  # recordInitialRecommendation
        history = History(((now, current),), history.scale_up, history.scale_down, True)
    out = Normalized(desired, history)
    if behavior is None:
        stabilized, out.history = _stabilize(history, desired, now)
        if stabilized != desired:
            out.conditions.append(Condition("AbleToScale", "True", "ScaleDownStabilized",
                "recent recommendations were higher than current one, applying the highest "
                "recent recommendation"))  # fmt: skip
        else:
            out.conditions.append(Condition("AbleToScale", "True", "ReadyForNewScale",
                                            "recommended size matches current size"))  # fmt: skip
        replicas, reason, message = _with_rules(current, stabilized, minimum, maximum)
        limited = "False" if replicas == stabilized else "True"
        out.conditions.append(Condition("ScalingLimited", limited, reason, message))
        out.replicas = replicas
        return out
    up, down = behavior_rules(behavior)
    stabilized, out.history = _stabilize_with_behaviors(history, current, desired, up, down, now)
    if stabilized != desired:
        if desired >= current:
            reason = "ScaleUpStabilized"
            message = ("recent recommendations were lower than current one, applying the "
                       "lowest recent recommendation")  # fmt: skip
        else:
            reason = "ScaleDownStabilized"
            message = ("recent recommendations were higher than current one, applying the "
                       "highest recent recommendation")  # fmt: skip
        out.conditions.append(Condition("AbleToScale", "True", reason, message))
    else:
        out.conditions.append(Condition("AbleToScale", "True", "ReadyForNewScale",
                                        "recommended size matches current size"))  # fmt: skip
    replicas, reason, message = _with_behavior_rate(
        out.history, current, stabilized, minimum, maximum, up, down, now
    )
    limited = "False" if replicas == stabilized else "True"
    out.conditions.append(Condition("ScalingLimited", limited, reason, message))
    out.replicas = replicas
    return out


def _stabilize_with_behaviors(
    history: History, current: int, desired: int, up: JSON, down: JSON, now: float
) -> tuple[int, History]:
    """stabilizeRecommendationWithBehaviors: the lowest recommendation of the scale-up
    window and the highest of the scale-down window bound the current count."""
    up_cutoff = now - float(up.get("stabilizationWindowSeconds") or 0)
    down_cutoff = now - float(down.get("stabilizationWindowSeconds") or 0)
    up_rec = down_rec = desired
    kept: list[tuple[float, int]] = []
    for stamp, replicas in history.recommendations:
        if stamp > up_cutoff:
            up_rec = min(up_rec, replicas)
        if stamp > down_cutoff:
            down_rec = max(down_rec, replicas)
        if not (stamp < up_cutoff and stamp < down_cutoff):
            kept.append((stamp, replicas))
    recommendation = max(current, up_rec)
    recommendation = min(recommendation, down_rec)
    kept.append((now, desired))
    return recommendation, replace(history, recommendations=tuple(kept))


def _with_behavior_rate(
    history: History,
    current: int,
    desired: int,
    minimum: int,
    maximum: int,
    up: JSON,
    down: JSON,
    now: float,
) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate."""
    if desired > current:
        limit = max(scale_up_limit(current, history, up, now), current)
        if maximum > limit:
            allowed, reason = limit, "ScaleUpLimit"
            message = "the desired replica count is increasing faster than the maximum scale rate"
        else:
            allowed, reason = maximum, "TooManyReplicas"
            message = "the desired replica count is more than the maximum replica count"
        if desired > allowed:
            return allowed, reason, message
    elif desired < current:
        limit = min(scale_down_limit(current, history, down, now), current)
        if minimum < limit:
            allowed, reason = limit, "ScaleDownLimit"
            message = "the desired replica count is decreasing faster than the maximum scale rate"
        else:
            allowed, reason = minimum, "TooFewReplicas"
            message = "the desired replica count is less than the minimum replica count"
        if desired < allowed:
            return allowed, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def record_scale(
    history: History, behavior: JSON | None, previous: int, new: int, now: float
) -> History:
    """storeScaleEvent: a rescale remembered for the rate policies (only with a behavior),
    the events older than the longest policy period dropped."""
    if behavior is None:
        return history
    up, down = behavior_rules(behavior)

    def longest(rules: JSON) -> float:
        return max((float(p.get("periodSeconds", 0)) for p in rules.get("policies") or []),
                   default=0.0)  # fmt: skip

    ups = tuple(e for e in history.scale_up if e[0] > now - longest(up))
    downs = tuple(e for e in history.scale_down if e[0] > now - longest(down))
    if new > previous:
        ups += ((now, new - previous),)
    elif new < previous:
        downs += ((now, previous - new),)
    return replace(history, scale_up=ups, scale_down=downs)
