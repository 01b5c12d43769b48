"""ResourceQuota (v1): its validation, the usage a namespace's objects add up to, and the
ResourceQuota admission plugin's check of a create. Upstream: pkg/apis/core/validation
ValidateResourceQuota; pkg/quota/v1/evaluator/core/pods.go (podComputeUsageHelper,
PodUsageFunc, QuotaV1Pod, podEvaluator.Constraints, enforcePodContainerConstraints,
podMatchesScopeFunc); pkg/quota/v1/generic/evaluator.go (the object-count evaluators,
`count/<resource>.<group>`); pkg/controller/resourcequota/resource_quota_controller.go
syncResourceQuota (status.hard and status.used); staging/src/k8s.io/apiserver/pkg/admission/
plugin/resourcequota/controller.go checkRequest (`exceeded quota`, `failed quota`).

Here `used` is computed from the store at the moment of the create, which is what the
plugin's status.used plus its in-flight increments amount to. Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from minikubelet.core.quantity import Format
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import resourcelists as rl
from minikubelet.manifest.configmaps import ObjectInvalid, _name, validate_object_meta
from minikubelet.manifest.forbidden import Forbidden

JSON = dict[str, Any]
# helper.IsStandardQuotaResourceName: the object counts and compute resources
OBJECT_COUNTS = {
    "pods": "pods",
    "services": "services",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
    "secrets": "secrets",
    "configmaps": "configmaps",
    "persistentvolumeclaims": "persistentvolumeclaims",
}
COMPUTE = ("cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory",
           "ephemeral-storage", "requests.ephemeral-storage", "limits.ephemeral-storage",
           "requests.storage", "services.nodeports", "services.loadbalancers")  # fmt: skip
# podEvaluator.Constraints: cpu or memory quota'd means each container must say it
_VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
                             "limits.memory"})  # fmt: skip
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity")  # fmt: skip
_ONE: rl.Parsed = (Decimal(1), Format.DECIMAL_SI)
_INTEGER = ("pods", "services", "replicationcontrollers", "resourcequotas", "secrets",
            "configmaps", "persistentvolumeclaims", "services.nodeports",
            "services.loadbalancers")  # fmt: skip


def _standard(name: str) -> bool:
    return (name in OBJECT_COUNTS or name in COMPUTE or name.startswith("hugepages-")
            or name.startswith("requests.hugepages-"))  # fmt: skip


def admit_resource_quota(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateResourceQuota: each `spec.hard` name a standard quota resource (or a qualified
    name such as `count/deployments.apps`), each value a non-negative quantity (an integer for
    the object counts), the scopes known."""
    obj = copy.deepcopy(obj)
    errors = validate_object_meta(obj, namespaced=True)
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise ObjectInvalid(
            "ResourceQuota", _name(obj), [fe.invalid("spec", spec, "must be an object")]
        )
    hard = spec.get("hard") or {}
    if not isinstance(hard, dict):
        errors.append(fe.invalid("spec.hard", hard, "must be a map of quantities"))
        hard = {}
    for key, value in hard.items():
        at = f"spec.hard[{key}]"
        if "/" not in key and not _standard(key):
            errors.append(fe.invalid(at, key, "must be a standard resource for quota"))
        parsed = rl.parse(value)
        if parsed is None:
            errors.append(fe.invalid(at, value, "must be a quantity"))
            continue
        if parsed[0] < 0:
            errors.append(fe.invalid(at, rl.text(parsed), "must be greater than or equal to 0"))
        elif (key in _INTEGER or key.startswith("count/")) and parsed[0] != int(parsed[0]):
            errors.append(fe.invalid(at, rl.text(parsed), "must be an integer"))
        hard[key] = rl.text(parsed)
    for i, scope in enumerate(spec.get("scopes") or []):
        if scope not in SCOPES:
            errors.append(fe.not_supported(f"spec.scopes[{i}]", scope, SCOPES))
    if errors:
        raise ObjectInvalid("ResourceQuota", _name(obj), errors)
    return obj


def cells(obj: JSON) -> list[Any]:
    """printers.go printResourceQuota: Request and Limit (after Age), `name: used/hard` of each
    resource in status.hard, the `limits.*` ones in Limit."""
    status = obj.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for key in sorted(hard):
        pieces = key.split(".")
        target = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        target.append(f"{key}: {used.get(key, '0')}/{hard[key]}")
    return [", ".join(request), ", ".join(limit)]


# --- usage ------------------------------------------------------------------------------------


def counts_pod(pod: Mapping[str, Any], now: float, deletion_time: float | None) -> bool:
    """QuotaV1Pod: a pod that finished, or is past its deletion grace, is not charged."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        return False
    grace = (pod.get("metadata") or {}).get("deletionGracePeriodSeconds")
    return not (deletion_time is not None and grace is not None and now > deletion_time + grace)


def _container_usage(container: Mapping[str, Any]) -> dict[str, rl.Parsed]:
    """podComputeUsageHelper over one container's requests and limits."""
    resources = container.get("resources") or {}
    requests = rl.parse_list(resources.get("requests"))
    limits = rl.parse_list(resources.get("limits"))
    usage: dict[str, rl.Parsed] = {"pods": _ONE}
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in requests:
            usage[name] = requests[name]
            usage[f"requests.{name}"] = requests[name]
        if name in limits:
            usage[f"limits.{name}"] = limits[name]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            usage[name] = q
            usage[f"requests.{name}"] = q
    return usage


def pod_usage(pod: Mapping[str, Any]) -> dict[str, rl.Parsed]:
    """PodUsageFunc: pods and count/pods 1, and the pod's requests and limits (the sum of its
    containers', or an init container's where that is larger, plus the overhead)."""
    spec = pod.get("spec") or {}
    total: dict[str, rl.Parsed] = {}
    for c in spec.get("containers") or []:
        for key, q in _container_usage(c).items():
            if key != "pods":
                total[key] = rl.add(total.get(key), q)
    for c in spec.get("initContainers") or []:
        for key, q in _container_usage(c).items():
            if key != "pods" and (key not in total or q[0] > total[key][0]):
                total[key] = q
    for key, q in rl.parse_list(spec.get("overhead")).items():
        for name in (key, f"requests.{key}", f"limits.{key}"):
            if name in total:
                total[name] = rl.add(total[name], q)
    return {"pods": _ONE, "count/pods": _ONE, **total}


def _best_effort(pod: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = c.get("resources") or {}
        for field in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in resources.get(field) or {}):
                return False
    return True


def pod_matches(quota: Mapping[str, Any], pod: Mapping[str, Any]) -> bool:
    """podMatchesScopeFunc for the scopes of spec.scopes (all must match)."""
    spec = pod.get("spec") or {}
    for scope in (quota.get("spec") or {}).get("scopes") or []:
        terminating = spec.get("activeDeadlineSeconds") is not None
        if scope == "Terminating" and not terminating:
            return False
        if scope == "NotTerminating" and terminating:
            return False
        if scope == "BestEffort" and not _best_effort(pod):
            return False
        if scope == "NotBestEffort" and _best_effort(pod):
            return False
        if scope == "PriorityClass" and not spec.get("priorityClassName"):
            return False
    return True


def object_usage(resource: str, group: str) -> dict[str, rl.Parsed]:
    """The object-count evaluators: `count/<resource>[.<group>]`, and the legacy name for the
    core kinds that have one (`configmaps`, `secrets`, ...)."""
    usage = {f"count/{resource}.{group}" if group else f"count/{resource}": _ONE}
    if not group and resource in OBJECT_COUNTS:
        usage[OBJECT_COUNTS[resource]] = _ONE
    return usage


def service_usage(service: Mapping[str, Any]) -> dict[str, rl.Parsed]:
    """The service evaluator: services, and services.nodeports / services.loadbalancers."""
    usage = object_usage("services", "")
    kind = (service.get("spec") or {}).get("type")
    ports = len((service.get("spec") or {}).get("ports") or [])
    if kind == "LoadBalancer":
        usage["services.loadbalancers"] = _ONE
    if kind in ("NodePort", "LoadBalancer"):
        usage["services.nodeports"] = (Decimal(ports), Format.DECIMAL_SI)
    return usage


def usage_of(resource: str, group: str, obj: Mapping[str, Any]) -> dict[str, rl.Parsed]:
    if resource == "pods" and not group:
        return pod_usage(obj)
    if resource == "services" and not group:
        return service_usage(obj)
    return object_usage(resource, group)


def total(usages: Iterable[Mapping[str, rl.Parsed]], hard: Iterable[str]) -> dict[str, str]:
    """status.used: the sum of the usages, for each resource of hard ("0" where none)."""
    names = list(hard)
    sums: dict[str, rl.Parsed] = {}
    for usage in usages:
        for key, q in usage.items():
            if key in names:
                sums[key] = rl.add(sums.get(key), q)
    return {k: rl.text(sums[k]) if k in sums else "0" for k in names}


def check_create(
    resource: str,
    group: str,
    obj: Mapping[str, Any],
    quotas: Iterable[tuple[JSON, dict[str, str]]],
) -> None:
    """checkRequest for a create, against each quota of the namespace with its current used:
    a pod without the requests or limits a cpu/memory quota needs is refused (`failed
    quota`), and one whose usage would take a quota past its hard limits (`exceeded
    quota`)."""
    name = str((obj.get("metadata") or {}).get("name") or "")
    plural = f"{resource}.{group}" if group else resource
    requested = usage_of(resource, group, obj)
    is_pod = resource == "pods" and not group
    for quota, used in quotas:
        if is_pod and not pod_matches(quota, obj):
            continue
        hard = rl.parse_list((quota.get("spec") or {}).get("hard"))
        qname = _name(quota)
        if is_pod:
            missing = _missing(obj, set(hard) & _VALIDATION_SET)
            if missing:
                raise Forbidden(plural, name, f"failed quota: {qname}: must specify {missing}")
        touched = {k: v for k, v in requested.items() if k in hard}
        if not touched:
            continue
        used_q = {k: rl.parse(used.get(k, "0")) or (Decimal(0), Format.DECIMAL_SI) for k in hard}
        exceeded = sorted(k for k, v in touched.items() if used_q[k][0] + v[0] > hard[k][0])
        if exceeded:
            raise Forbidden(
                plural, name,
                f"exceeded quota: {qname}, requested: "
                f"{rl.pretty({k: touched[k] for k in exceeded})}, "
                f"used: {rl.pretty({k: used_q[k] for k in exceeded})}, "
                f"limited: {rl.pretty({k: hard[k] for k in exceeded})}",
            )  # fmt: skip


def _missing(pod: Mapping[str, Any], required: set[str]) -> str:
    """podEvaluator.Constraints: `cpu for: a,b; memory for: a`, or "" when none is missing."""
    if not required:
        return ""
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        have = set(_container_usage(c))
        for resource in required - have:
            missing.setdefault(resource, set()).add(str(c.get("name", "")))
    return "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))
