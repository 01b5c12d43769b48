"""HorizontalPodAutoscaler admission (autoscaling/v2): the defaults
(pkg/apis/autoscaling/v2/defaults.go SetDefaults_HorizontalPodAutoscaler: `minReplicas: 1`,
a cpu Utilization 80% metric where none is given, the behavior's missing rules filled in),
the checks of validation.go that matter here, the table `kubectl get hpa` prints
(printers.go printHorizontalPodAutoscaler, formatHPAMetrics), the warning for the metric
types minikubelet cannot read, and the conversion to and from autoscaling/v1
(pkg/apis/autoscaling/v1/conversion.go: `targetCPUUtilizationPercentage` is the first cpu
Utilization metric; the other metrics, the behavior and the conditions travel in the
`autoscaling.alpha.kubernetes.io/*` annotations upstream uses).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from minikubelet.core.autoscaling import default_scale_down, default_scale_up
from minikubelet.core.quantity import canonical
from minikubelet.manifest.configmaps import ObjectInvalid, validate_object_meta

JSON = dict[str, Any]
KIND = "HorizontalPodAutoscaler"
METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
DEFAULT_CPU_UTILIZATION = 80
SUPPORTED_METRICS = ("Resource", "ContainerResource")
_SOURCES = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
            "Object": "object", "External": "external"}  # fmt: skip

# printers.go horizontalPodAutoscalerColumnDefinitions (types_swagger_doc_generated.go)
COLUMNS: tuple[tuple[str, str, int, str], ...] = (
    ("Reference", "string", 0, "scaleTargetRef points to the target resource to scale, and is "
     "used to the pods for which metrics should be collected, as well as to actually change "
     "the replica count."),
    ("Targets", "string", 0, "metrics contains the specifications for which to use to "
     "calculate the desired replica count (the maximum replica count across all metrics "
     "will be used)."),
    ("MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to "
     "which the autoscaler can scale down."),
    ("MaxPods", "string", 0, "maxReplicas is the upper limit for the number of replicas to "
     "which the autoscaler can scale up."),
    ("Replicas", "string", 0, "currentReplicas is current number of replicas of pods managed "
     "by this autoscaler, as last seen by the autoscaler."),
)  # fmt: skip


def _rules(given: Any, default: JSON) -> JSON:
    """GenerateHPAScaleUpRules / GenerateHPAScaleDownRules: the given fields over the
    defaults."""
    rules = copy.deepcopy(given) if isinstance(given, dict) else {}
    for key, value in default.items():
        if rules.get(key) is None:
            rules[key] = value
    return rules


def defaults(obj: JSON) -> JSON:
    spec = obj.setdefault("spec", {})
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [{"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": DEFAULT_CPU_UTILIZATION}}}]  # fmt: skip
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        behavior["scaleUp"] = _rules(behavior.get("scaleUp"), default_scale_up())
        behavior["scaleDown"] = _rules(behavior.get("scaleDown"), default_scale_down())
    return obj


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def spec_errors(spec: JSON) -> list[str]:
    """validation.go ValidateHorizontalPodAutoscalerSpec, the checks that matter here."""
    errors: list[str] = []
    ref = spec.get("scaleTargetRef") or {}
    if not ref.get("kind"):
        errors.append("spec.scaleTargetRef.kind: Required value")
    if not ref.get("name"):
        errors.append("spec.scaleTargetRef.name: Required value")
    low: Any = spec.get("minReplicas")
    high: Any = spec.get("maxReplicas")
    if not _int(high) or high < 1:
        errors.append(f"spec.maxReplicas: Invalid value: {json.dumps(high)}: must be greater "
                      "than or equal to 1")  # fmt: skip
    if not _int(low) or low < 1:
        errors.append(f"spec.minReplicas: Invalid value: {json.dumps(low)}: must be greater "
                      "than or equal to 1")  # fmt: skip
    elif _int(high) and low > high:
        errors.append(f"spec.minReplicas: Invalid value: {low}: must be less than or equal "
                      "to maxReplicas")  # fmt: skip
    for i, metric in enumerate(spec.get("metrics") or []):
        at = f"spec.metrics[{i}]"
        kind = metric.get("type") if isinstance(metric, dict) else None
        if kind not in _SOURCES:
            errors.append(f"{at}.type: Unsupported value: {json.dumps(kind)}: supported "
                          'values: "ContainerResource", "External", "Object", "Pods", '
                          '"Resource"')  # fmt: skip
            continue
        source = metric.get(_SOURCES[kind])
        if not isinstance(source, dict):
            errors.append(f"{at}.{_SOURCES[kind]}: Required value: must populate information "
                          "for the given metric source")  # fmt: skip
            continue
        target = source.get("target") or {}
        if kind in SUPPORTED_METRICS:
            if not source.get("name"):
                errors.append(f"{at}.{_SOURCES[kind]}.name: Required value: must specify a "
                              "resource name")  # fmt: skip
            if target.get("averageUtilization") is None and target.get("averageValue") is None:
                errors.append(f"{at}.{_SOURCES[kind]}.target.averageUtilization: Required "
                              "value: must set either a target raw value or a target "
                              "utilization")  # fmt: skip
            if kind == "ContainerResource" and not source.get("container"):
                errors.append(f"{at}.containerResource.container: Required value: must "
                              "specify a container")  # fmt: skip
    return errors


def admit_hpa(obj: JSON, old: JSON | None = None) -> JSON:
    obj = defaults(copy.deepcopy(obj))
    errors = validate_object_meta(obj, namespaced=True)
    errors += spec_errors(obj.get("spec") or {})
    if errors:
        name = str((obj.get("metadata") or {}).get("name") or "")
        raise ObjectInvalid(KIND, name, errors)
    return obj


def warnings(obj: JSON) -> list[str]:
    """One warning per metric minikubelet cannot read (no custom or external metrics API)."""
    out = []
    for i, metric in enumerate((obj.get("spec") or {}).get("metrics") or []):
        kind = metric.get("type") if isinstance(metric, dict) else None
        if kind not in SUPPORTED_METRICS:
            out.append(f"spec.metrics[{i}]: a {kind} metric needs a custom or external "
                       "metrics API, which minikubelet does not serve: the HPA cannot scale "
                       "on it (ScalingActive False)")  # fmt: skip
    return out


# --- the table ---------------------------------------------------------------------------


def _q(value: Any) -> str:
    try:
        return canonical(str(value))
    except ValueError:
        return str(value)


def _current(statuses: list[JSON], i: int, field: str) -> JSON | None:
    if i < len(statuses) and isinstance(statuses[i].get(field), dict):
        return statuses[i][field].get("current") or {}
    return None


def format_metrics(specs: list[JSON], statuses: list[JSON]) -> str:
    """formatHPAMetrics: at most two shown, then `+ N more...`."""
    if not specs:
        return "<none>"
    items: list[str] = []
    for i, spec in enumerate(specs):
        kind = spec.get("type")
        if kind in ("Resource", "ContainerResource"):
            field = _SOURCES[kind]
            source = spec.get(field) or {}
            target = source.get("target") or {}
            current = _current(statuses, i, field)
            if target.get("averageValue") is not None:
                now = _q(current["averageValue"]) if current and "averageValue" in current else (
                    "<unknown>")  # fmt: skip
                items.append(f"{source.get('name', '')}: {now}/{_q(target['averageValue'])}")
            else:
                util = current.get("averageUtilization") if current else None
                now = f"{util}%" if util is not None else "<unknown>"
                want = target.get("averageUtilization")
                goal = f"{want}%" if want is not None else "<auto>"
                items.append(f"{source.get('name', '')}: {now}/{goal}")
        elif kind in ("Pods", "Object", "External"):
            field = _SOURCES[kind]
            target = (spec.get(field) or {}).get("target") or {}
            current = _current(statuses, i, field) or {}
            if target.get("averageValue") is not None:
                now = _q(current["averageValue"]) if "averageValue" in current else "<unknown>"
                suffix = "" if kind == "Pods" else " (avg)"
                items.append(f"{now}/{_q(target['averageValue'])}{suffix}")
            else:
                now = _q(current["value"]) if "value" in current else "<unknown>"
                items.append(f"{now}/{_q(target.get('value', ''))}")
        else:
            items.append("<unknown type>")
    shown = ", ".join(items[:2])
    return shown + (f" + {len(items) - 2} more..." if len(items) > 2 else "")


def cells(obj: JSON) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    low = spec.get("minReplicas")
    return [
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_metrics(spec.get("metrics") or [], status.get("currentMetrics") or []),
        str(low) if low is not None else "<unset>",
        int(spec.get("maxReplicas") or 0),
        int(status.get("currentReplicas") or 0),
    ]


# --- autoscaling/v1 ------------------------------------------------------------------------


def _is_cpu_utilization(metric: JSON) -> bool:
    source = metric.get("resource") or {}
    return (
        metric.get("type") == "Resource"
        and source.get("name") == "cpu"
        and (source.get("target") or {}).get("averageUtilization") is not None
    )


def to_v2(obj: JSON) -> JSON:
    """An autoscaling/v1 HPA as autoscaling/v2 (Convert_v1_HorizontalPodAutoscaler_To_...)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics: list[JSON] = []
    percent = spec.pop("targetCPUUtilizationPercentage", None)
    if percent is not None:
        metrics.append({"type": "Resource", "resource": {"name": "cpu", "target": {
            "type": "Utilization", "averageUtilization": percent}}})  # fmt: skip
    for key, target in ((METRICS_ANNOTATION, spec), (BEHAVIOR_ANNOTATION, spec)):
        text = annotations.pop(key, None)
        if not text:
            continue
        try:
            value = json.loads(text)
        except ValueError:
            continue
        if key == METRICS_ANNOTATION and isinstance(value, list):
            metrics += [_alpha_metric(m) for m in value if isinstance(m, dict)]
        elif key == BEHAVIOR_ANNOTATION and isinstance(value, dict):
            target["behavior"] = value
    if metrics:
        spec["metrics"] = metrics
    status = out.get("status")
    if isinstance(status, dict):
        percent = status.pop("currentCPUUtilizationPercentage", None)
        if percent is not None:
            status["currentMetrics"] = [{"type": "Resource", "resource": {"name": "cpu",
                                         "current": {"averageUtilization": percent}}}]  # fmt: skip
        for key in (CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION):
            text = annotations.pop(key, None)
            if text:
                try:
                    field = "conditions" if key == CONDITIONS_ANNOTATION else "currentMetrics"
                    status[field] = json.loads(text)
                except ValueError:
                    pass
    meta["annotations"] = annotations
    if not annotations:
        meta.pop("annotations")
    return out


def _alpha_metric(metric: JSON) -> JSON:
    """The v2beta1-shaped metrics of the annotation (`targetAverageUtilization`) as v2."""
    source_field = _SOURCES.get(str(metric.get("type")), "")
    source = dict(metric.get(source_field) or {})
    if "target" in source:
        return metric
    target: JSON = {}
    if "targetAverageUtilization" in source:
        target = {"type": "Utilization",
                  "averageUtilization": source.pop("targetAverageUtilization")}  # fmt: skip
    elif "targetAverageValue" in source:
        target = {"type": "AverageValue", "averageValue": source.pop("targetAverageValue")}
    elif "targetValue" in source:
        target = {"type": "Value", "value": source.pop("targetValue")}
    return {"type": metric.get("type"), source_field: {**source, "target": target}}


def to_v1(obj: JSON) -> JSON:
    """An autoscaling/v2 HPA as autoscaling/v1: the first cpu Utilization metric is
    `targetCPUUtilizationPercentage`, the others, the behavior and the conditions
    annotations."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.setdefault("spec", {})
    metrics = spec.pop("metrics", None) or []
    others: list[JSON] = []
    for metric in metrics:
        if "targetCPUUtilizationPercentage" not in spec and _is_cpu_utilization(metric):
            spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"][
                "averageUtilization"]  # fmt: skip
        else:
            others.append(metric)
    if others:
        annotations[METRICS_ANNOTATION] = json.dumps(others, separators=(",", ":"))
    behavior = spec.pop("behavior", None)
    if behavior:
        annotations[BEHAVIOR_ANNOTATION] = json.dumps(behavior, separators=(",", ":"))
    status = out.get("status")
    if isinstance(status, dict):
        current = status.pop("currentMetrics", None) or []
        rest = []
        for metric in current:
            value = ((metric.get("resource") or {}).get("current") or {}).get(
                "averageUtilization")  # fmt: skip
            if (metric.get("type") == "Resource" and (metric.get("resource") or {}).get("name")
                    == "cpu" and value is not None and
                    "currentCPUUtilizationPercentage" not in status):  # fmt: skip
                status["currentCPUUtilizationPercentage"] = value
            else:
                rest.append(metric)
        if rest:
            annotations[CURRENT_METRICS_ANNOTATION] = json.dumps(rest, separators=(",", ":"))
        conditions = status.pop("conditions", None)
        if conditions:
            annotations[CONDITIONS_ANNOTATION] = json.dumps(conditions, separators=(",", ":"))
    if annotations:
        meta["annotations"] = annotations
    return out
