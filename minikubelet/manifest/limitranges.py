"""LimitRange (v1): its defaults and validation, and the LimitRanger admission plugin's work on
a pod create: a container's missing requests and limits defaulted from the `Container` items'
`defaultRequest` and `default` (with the `kubernetes.io/limit-ranger` annotation saying so),
then min, max and maxLimitRequestRatio enforced per Container and per Pod. Upstream:
pkg/apis/core/v1/defaults.go SetDefaults_LimitRangeItem, pkg/apis/core/validation
ValidateLimitRange, plugin/pkg/admission/limitranger/admission.go
(defaultContainerResourceRequirements, mergeContainerResources, mergePodResourceRequirements,
PodValidateLimitFunc, minConstraint, maxConstraint, limitRequestRatioConstraint,
requestLimitEnforcedValues). Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import resourcelists as rl
from minikubelet.manifest.configmaps import ObjectInvalid, _name, validate_object_meta
from minikubelet.manifest.forbidden import Forbidden

JSON = dict[str, Any]
ANNOTATION = "kubernetes.io/limit-ranger"
_MAX_MILLI = (2**63 - 1) // 1000  # resource.MaxMilliValue
_LISTS = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")


def _defaults(item: JSON) -> None:
    """SetDefaults_LimitRangeItem: for a Container item, default from max, defaultRequest from
    default, then from min."""
    if item.get("type") != "Container":
        return
    default = item.setdefault("default", {})
    request = item.setdefault("defaultRequest", {})
    for key, value in (item.get("max") or {}).items():
        default.setdefault(key, value)
    for key, value in default.items():
        request.setdefault(key, value)
    for key, value in (item.get("min") or {}).items():
        request.setdefault(key, value)
    for key in ("default", "defaultRequest"):
        if not item[key]:
            del item[key]


def _item_errors(item: Any, at: str, seen: set[str]) -> list[str]:
    if not isinstance(item, dict):
        return [fe.invalid(at, item, "must be an object")]
    errors: list[str] = []
    kind = item.get("type") or ""
    if not kind:
        errors.append(fe.required(f"{at}.type"))
    elif kind in seen:
        errors.append(fe.duplicate(f"{at}.type", kind))
    seen.add(kind)
    lists: dict[str, dict[str, rl.Parsed]] = {}
    for name in _LISTS:
        raw = item.get(name) or {}
        if not isinstance(raw, dict):
            errors.append(fe.invalid(f"{at}.{name}", raw, "must be a map of quantities"))
            raw = {}
        if kind == "Pod" and name in ("default", "defaultRequest") and raw:
            errors.append(fe.forbidden(f"{at}.{name}", "may not be specified when `type` is 'Pod'"))
        lists[name] = {}
        for key, value in raw.items():
            parsed = rl.parse(value)
            if parsed is None:
                errors.append(fe.invalid(f"{at}.{name}[{key}]", value, "must be a quantity"))
            else:
                lists[name][key] = parsed
    if kind == "PersistentVolumeClaim" and "storage" not in lists["min"] | lists["max"]:
        errors.append(fe.required(f"{at}.limits", "either minimum or maximum storage value is "
                                  "required, but neither was provided"))  # fmt: skip
    low, high, default = lists["min"], lists["max"], lists["default"]
    request, ratio = lists["defaultRequest"], lists["maxLimitRequestRatio"]
    keys = sorted(set().union(*lists.values()))
    for key in keys:
        t = rl.text
        if key in low and key in high and low[key][0] > high[key][0]:
            errors.append(fe.invalid(f"{at}.min[{key}]", t(low[key]),
                                     f"min value {t(low[key])} is greater than max value "
                                     f"{t(high[key])}"))  # fmt: skip
        if key in request and key in low and low[key][0] > request[key][0]:
            errors.append(fe.invalid(f"{at}.defaultRequest[{key}]", t(request[key]),
                                     f"min value {t(low[key])} is greater than default request "
                                     f"value {t(request[key])}"))  # fmt: skip
        if key in request and key in high and request[key][0] > high[key][0]:
            errors.append(fe.invalid(f"{at}.defaultRequest[{key}]", t(request[key]),
                                     f"default request value {t(request[key])} is greater than "
                                     f"max value {t(high[key])}"))  # fmt: skip
        if key in request and key in default and request[key][0] > default[key][0]:
            errors.append(fe.invalid(f"{at}.defaultRequest[{key}]", t(request[key]),
                                     f"default request value {t(request[key])} is greater than "
                                     f"default limit value {t(default[key])}"))  # fmt: skip
        if key in default and key in low and low[key][0] > default[key][0]:
            errors.append(fe.invalid(f"{at}.default[{key}]", t(low[key]),
                                     f"min value {t(low[key])} is greater than default value "
                                     f"{t(default[key])}"))  # fmt: skip
        if key in default and key in high and default[key][0] > high[key][0]:
            errors.append(fe.invalid(f"{at}.default[{key}]", t(high[key]),
                                     f"default value {t(default[key])} is greater than max "
                                     f"value {t(high[key])}"))  # fmt: skip
        if key in ratio and ratio[key][0] < 1:
            errors.append(fe.invalid(f"{at}.maxLimitRequestRatio[{key}]", t(ratio[key]),
                                     f"ratio {t(ratio[key])} is less than 1"))  # fmt: skip
        if key in ratio and key in low and key in high and low[key][0] > 0:
            bound = high[key][0] / low[key][0]
            if ratio[key][0] > bound:
                errors.append(fe.invalid(f"{at}.maxLimitRequestRatio[{key}]", t(ratio[key]),
                                         f"ratio {t(ratio[key])} is greater than max/min = "
                                         f"{float(bound):f}"))  # fmt: skip
    return errors


def admit_limit_range(obj: JSON, old: JSON | None = None) -> JSON:
    """SetDefaults_LimitRangeItem on each item, then ValidateLimitRange."""
    obj = copy.deepcopy(obj)
    errors = validate_object_meta(obj, namespaced=True)
    spec = obj.setdefault("spec", {})
    limits = spec.get("limits") if isinstance(spec, dict) else None
    if not isinstance(limits, list):
        limits = []
        if isinstance(spec, dict) and spec.get("limits") is not None:
            errors.append(fe.invalid("spec.limits", spec["limits"], "must be a list"))
    seen: set[str] = set()
    for i, item in enumerate(limits):
        if isinstance(item, dict):
            _defaults(item)
        errors += _item_errors(item, f"spec.limits[{i}]", seen)
    if errors:
        raise ObjectInvalid("LimitRange", _name(obj), errors)
    return obj


# --- the LimitRanger plugin -------------------------------------------------------------------


def _items(ranges: Iterable[JSON]) -> list[JSON]:
    return [
        item
        for lr in ranges
        for item in ((lr.get("spec") or {}).get("limits") or [])
        if isinstance(item, dict)
    ]


def _containers(spec: JSON) -> list[tuple[str, JSON]]:
    found = []
    for field, label in (("containers", "container"), ("initContainers", "init container")):
        for c in spec.get(field) or []:
            if isinstance(c, dict):
                found.append((label, c))
    return found


def mutate_pod(pod: JSON, ranges: Iterable[JSON]) -> JSON:
    """The plugin's Admit for each LimitRange, in turn: a container's requests default to its
    limits first (SetDefaults_Pod, which runs before admission), then each resource a
    container does not set is taken from the range's `Container` defaults, and the
    `kubernetes.io/limit-ranger` annotation lists what was set."""
    pod = copy.deepcopy(pod)
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return pod
    for _, container in _containers(spec):
        resources = container.get("resources")
        if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
            requests = resources.setdefault("requests", {})
            if isinstance(requests, dict):
                for key, value in resources["limits"].items():
                    requests.setdefault(key, value)
    notes: list[str] = []
    for lr in ranges:
        wanted_requests: dict[str, Any] = {}
        wanted_limits: dict[str, Any] = {}
        for item in _items([lr]):
            if item.get("type") == "Container":
                wanted_requests.update(item.get("defaultRequest") or {})
                wanted_limits.update(item.get("default") or {})
        if not wanted_requests and not wanted_limits:
            continue
        for label, container in _containers(spec):
            resources = container.setdefault("resources", {})
            if not isinstance(resources, dict):
                continue
            limits = resources.setdefault("limits", {})
            requests = resources.setdefault("requests", {})
            set_limits = [k for k in wanted_limits if k not in limits]
            set_requests = [k for k in wanted_requests if k not in requests]
            for key in set_limits:
                limits[key] = wanted_limits[key]
            for key in set_requests:
                requests[key] = wanted_requests[key]
            for key in ("limits", "requests"):
                if not resources[key]:
                    del resources[key]
            name = container.get("name", "")
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for {label} {name}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for {label} {name}")
    if notes:
        meta = pod.setdefault("metadata", {})
        meta.setdefault("annotations", {})[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(
            notes
        )
    return pod


def _values(a: rl.Parsed | None, b: rl.Parsed | None, c: rl.Parsed) -> tuple[int, int, int]:
    """requestLimitEnforcedValues: compared in milli-units (values rounded up)."""
    return tuple(rl.milli(q) if q is not None else 0 for q in (a, b, c))  # type: ignore[return-value]


def _min(kind: str, key: str, enforced: rl.Parsed, requests: JSON, limits: JSON) -> str:
    req, lim = requests.get(key), limits.get(key)
    r, m, e = _values(req, lim, enforced)
    t = rl.text
    if req is None:
        return f"minimum {key} usage per {kind} is {t(enforced)}.  No request is specified"
    if r < e:
        return f"minimum {key} usage per {kind} is {t(enforced)}, but request is {t(req)}"
    if lim is not None and m < e:
        return f"minimum {key} usage per {kind} is {t(enforced)}, but limit is {t(lim)}"
    return ""


def _max(kind: str, key: str, enforced: rl.Parsed, requests: JSON, limits: JSON) -> str:
    req, lim = requests.get(key), limits.get(key)
    r, m, e = _values(req, lim, enforced)
    t = rl.text
    if lim is None:
        return f"maximum {key} usage per {kind} is {t(enforced)}.  No limit is specified"
    if m > e:
        return f"maximum {key} usage per {kind} is {t(enforced)}, but limit is {t(lim)}"
    if req is not None and r > e:
        return f"maximum {key} usage per {kind} is {t(enforced)}, but request is {t(req)}"
    return ""


def _ratio(kind: str, key: str, enforced: rl.Parsed, requests: JSON, limits: JSON) -> str:
    req, lim = requests.get(key), limits.get(key)
    r, m, _ = _values(req, lim, enforced)
    shown = rl.text(enforced)
    if req is None or r == 0:
        return (f"{key} max limit to request ratio per {kind} is {shown}, but no request is "
                "specified or request is 0")  # fmt: skip
    if lim is None or m == 0:
        return (f"{key} max limit to request ratio per {kind} is {shown}, but no limit is "
                "specified or limit is 0")  # fmt: skip
    observed = m / r
    if observed * 1000 > rl.milli(enforced):
        return (f"{key} max limit to request ratio per {kind} is {shown}, but provided ratio "
                f"is {observed:f}")  # fmt: skip
    return ""


_CHECKS = (("min", _min), ("max", _max), ("maxLimitRequestRatio", _ratio))


def _pod_totals(spec: JSON, field: str) -> dict[str, rl.Parsed]:
    """podRequests / podLimits: the containers' sum, or an init container's if larger."""
    total: dict[str, rl.Parsed] = {}
    for c in spec.get("containers") or []:
        for key, q in rl.parse_list((c.get("resources") or {}).get(field)).items():
            total[key] = rl.add(total.get(key), q)
    for c in spec.get("initContainers") or []:
        for key, q in rl.parse_list((c.get("resources") or {}).get(field)).items():
            if key not in total or q[0] > total[key][0]:
                total[key] = q
    return total


def check_pod(pod: JSON, ranges: Iterable[JSON]) -> None:
    """PodValidateLimitFunc for each LimitRange: the first range a pod breaks refuses it, with
    all that range's complaints (one bare, several as `[a, b]`)."""
    spec = pod.get("spec") or {}
    name = str((pod.get("metadata") or {}).get("name") or "")
    for lr in ranges:
        errors: list[str] = []
        for item in _items([lr]):
            kind = item.get("type")
            targets: list[tuple[dict[str, rl.Parsed], dict[str, rl.Parsed]]] = []
            if kind == "Container":
                for _, c in _containers(spec):
                    resources = c.get("resources") or {}
                    targets.append((rl.parse_list(resources.get("requests")),
                                    rl.parse_list(resources.get("limits"))))  # fmt: skip
            elif kind == "Pod":
                targets.append((_pod_totals(spec, "requests"), _pod_totals(spec, "limits")))
            for requests, limits in targets:
                for field, check in _CHECKS:
                    for key, enforced in sorted(rl.parse_list(item.get(field)).items()):
                        problem = check(str(kind), key, enforced, requests, limits)
                        if problem:
                            errors.append(problem)
        if errors:
            reason = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
            raise Forbidden("pods", name, reason)
