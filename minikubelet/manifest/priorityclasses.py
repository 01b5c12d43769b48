"""PriorityClass (scheduling.k8s.io/v1): its defaults and validation, the system classes a
cluster starts with, and the Priority admission plugin's resolution of a pod's
`priorityClassName` into `spec.priority` and `spec.preemptionPolicy`. Upstream:
pkg/apis/scheduling/v1/defaults.go SetDefaults_PriorityClass, pkg/apis/scheduling/validation
ValidatePriorityClass[Update], pkg/apis/scheduling/types.go (the system classes),
plugin/pkg/admission/priority/admission.go (admitPod, getDefaultPriorityClass,
validatePriorityClass). Pure.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, _name, validate_object_meta
from minikubelet.manifest.forbidden import Forbidden

JSON = dict[str, Any]
SYSTEM_PREFIX = "system-"
HIGHEST_USER_DEFINABLE = 1_000_000_000  # scheduling.HighestUserDefinablePriority
SYSTEM_CLASSES = {  # scheduling.SystemPriorityClasses()
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}
PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")
DEFAULT_PRIORITY = 0  # scheduling.DefaultPriorityWhenNoDefaultClassExists


def system_classes() -> list[JSON]:
    """The classes the API server creates at start (`AddSystemPriorityClasses`)."""
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": "Used for system critical pods that must run in the cluster, "
            "but can be moved to another node if necessary."
            if name == "system-cluster-critical"
            else "Used for system critical pods that must not be moved from their current node.",
        }
        for name, value in SYSTEM_CLASSES.items()
    ]


def _known_system_class_error(name: str, value: Any, global_default: bool) -> str:
    """IsKnownSystemPriorityClass's error, "" for a known class."""
    if name not in SYSTEM_CLASSES:
        return f"{name} is not a known system priority class"
    if value != SYSTEM_CLASSES[name]:
        return f"value of {name} PriorityClass must be {SYSTEM_CLASSES[name]}"
    if global_default:
        return f"globalDefault of {name} PriorityClass must be false"
    return ""


def admit_priority_class(obj: JSON, old: JSON | None = None) -> JSON:
    """SetDefaults_PriorityClass (preemptionPolicy PreemptLowerPriority), then
    ValidatePriorityClass and, for an update, ValidatePriorityClassUpdate."""
    obj = copy.deepcopy(obj)
    obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    value = obj.get("value", 0)
    errors = validate_object_meta(obj, namespaced=False)
    name = _name(obj)
    if not isinstance(value, int) or isinstance(value, bool) or not -(2**31) <= value < 2**31:
        errors.append(fe.invalid("value", value, "must be a 32-bit integer"))
    elif name.startswith(SYSTEM_PREFIX):
        problem = _known_system_class_error(name, value, bool(obj.get("globalDefault")))
        if problem:
            errors.append(fe.forbidden(
                "metadata.name", f"priority class names with '{SYSTEM_PREFIX}' prefix are "
                f"reserved for system use only. error: {problem}"
            ))  # fmt: skip
    elif value > HIGHEST_USER_DEFINABLE:
        errors.append(fe.forbidden(
            "value", f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}"
        ))  # fmt: skip
    policy = obj["preemptionPolicy"]
    if policy not in PREEMPTION_POLICIES:
        errors.append(fe.not_supported("preemptionPolicy", policy, PREEMPTION_POLICIES))
    if old is not None:
        if value != old.get("value", 0):
            errors.append(fe.forbidden("value", "may not be changed in an update."))
        if policy != old.get("preemptionPolicy", "PreemptLowerPriority"):
            errors.append(fe.invalid("preemptionPolicy", policy, "field is immutable"))
    obj["value"] = value
    if errors:
        raise ObjectInvalid("PriorityClass", name, errors)
    return obj


def check_global_default(obj: JSON, classes: Iterable[JSON]) -> None:
    """The Priority plugin's validatePriorityClass: one globalDefault class at most."""
    if not obj.get("globalDefault"):
        return
    name = _name(obj)
    for other in classes:
        if other.get("globalDefault") and _name(other) != name:
            raise Forbidden("priorityclasses.scheduling.k8s.io", name,
                            f"PriorityClass {_name(other)} is already marked as default. "
                            "Only one default can exist")  # fmt: skip


def cells(obj: JSON) -> list[Any]:
    """printers.go printPriorityClass: Value, Global-Default, then (after Age)
    PreemptionPolicy."""
    return [obj.get("value", 0), bool(obj.get("globalDefault")),
            obj.get("preemptionPolicy") or "PreemptLowerPriority"]  # fmt: skip


def _default_class(classes: Iterable[JSON]) -> JSON | None:
    """getDefaultPriorityClass: of the globalDefault classes, the lowest value."""
    found = None
    for pc in classes:
        if pc.get("globalDefault") and (
            found is None or found.get("value", 0) > pc.get("value", 0)
        ):
            found = pc
    return found


def resolve(pod: JSON, classes: Iterable[JSON]) -> JSON:
    """admitPod on create: the pod with `priorityClassName` (from the global default when it
    has none), `priority` and `preemptionPolicy` set from its class; an unknown class, or a
    `priority` or `preemptionPolicy` that differs from the class's, is Forbidden."""
    pod = copy.deepcopy(pod)
    spec = pod.setdefault("spec", {})
    if not isinstance(spec, dict):
        return pod
    meta = pod.get("metadata") or {}
    # extractResourceName: a mutating plugin may see a pod before its name is generated
    name = str(meta.get("name") or meta.get("generateName") or "Unknown")
    wanted = spec.get("priorityClassName") or ""
    listed = list(classes)
    if not wanted:
        found = _default_class(listed)
        if found is not None:
            spec["priorityClassName"] = _name(found)
            priority, policy = found.get("value", 0), found.get("preemptionPolicy")
        else:
            priority, policy = DEFAULT_PRIORITY, "PreemptLowerPriority"
    else:
        found = next((pc for pc in listed if _name(pc) == wanted), None)
        if found is None:
            raise Forbidden("pods", name, f"no PriorityClass with name {wanted} was found")
        priority, policy = found.get("value", 0), found.get("preemptionPolicy")
    given = spec.get("priority")
    if given is not None and given != priority:
        raise Forbidden("pods", name, f"the integer value of priority ({given}) must not be "
                        f"provided in pod spec; priority admission controller computed "
                        f"{priority} from the given PriorityClass name")  # fmt: skip
    spec["priority"] = priority
    if policy:
        given_policy = spec.get("preemptionPolicy")
        if given_policy is not None and given_policy != policy:
            raise Forbidden("pods", name, f"the string value of PreemptionPolicy "
                            f"({given_policy}) must not be provided in pod spec; priority "
                            f"admission controller computed {policy} from the given "
                            "PriorityClass name")  # fmt: skip
        spec["preemptionPolicy"] = policy
    return pod


def keep_on_update(new_spec: JSON, old_spec: JSON) -> JSON:
    """admitPod on update: the priority and preemption policy set at create are kept when the
    new spec leaves them out (validation refuses any other change to them)."""
    kept = {k: old_spec[k] for k in ("priority", "preemptionPolicy")
            if new_spec.get(k) is None and old_spec.get(k) is not None}  # fmt: skip
    return {**new_spec, **kept} if kept else new_spec
