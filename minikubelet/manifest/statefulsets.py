"""Admission of StatefulSets (apps/v1): the API server's defaults and validation, in its words,
and the table cells. Pure.

Upstream: pkg/apis/apps/v1/defaults.go (SetDefaults_StatefulSet),
pkg/apis/apps/validation/validation.go (ValidateStatefulSet[Update],
validateRollingUpdateStatefulSet) and pkg/printers/internalversion/printers.go
(printStatefulSet). What every apps/v1 kind shares is `apps.py`'s.
"""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.apps import (
    JSON,
    check_types,
    decode_template,
    int_or_percent,
    nonnegative,
    object_name,
    selector_and_template,
)
from minikubelet.manifest.configmaps import ObjectInvalid, validate_object_meta
from minikubelet.manifest.podtemplate import default_template

_RETAIN = ("Retain", "Delete")
_STS_SPEC_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                     "persistentVolumeClaimRetentionPolicy", "minReadySeconds")  # fmt: skip
_STS_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)


def default_statefulset(obj: JSON) -> JSON:
    """SetDefaults_StatefulSet (and the pod template's defaults, claim templates' defaults)."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        strategy.setdefault("rollingUpdate", {})
    if strategy["type"] == "RollingUpdate" and strategy.get("rollingUpdate") is not None:
        strategy["rollingUpdate"].setdefault("partition", 0)
    retention = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
    retention.setdefault("whenDeleted", "Retain")
    retention.setdefault("whenScaled", "Retain")
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if isinstance(spec.get("template"), dict):
        spec["template"] = default_template(spec["template"])
    for claim in spec.get("volumeClaimTemplates") or []:
        claim.setdefault("apiVersion", "v1")
        claim.setdefault("kind", "PersistentVolumeClaim")
        claim.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        claim.setdefault("status", {}).setdefault("phase", "Pending")
    return obj


def statefulset_errors(obj: JSON) -> list[str]:
    """ValidateStatefulSetSpec."""
    spec = obj.get("spec") or {}
    errors: list[str] = []
    policy = spec.get("podManagementPolicy", "")
    if policy not in ("OrderedReady", "Parallel"):
        errors.append(fe.invalid("spec.podManagementPolicy", policy,
                                 "must be 'OrderedReady' or 'Parallel'"))  # fmt: skip
    strategy = spec.get("updateStrategy") or {}
    kind, rolling = strategy.get("type", ""), strategy.get("rollingUpdate")
    if kind == "OnDelete" and rolling is not None:
        errors.append(f"spec.updateStrategy.rollingUpdate: Invalid value: {rolling}: "
                      "only allowed for updateStrategy 'RollingUpdate'")  # fmt: skip
    elif kind == "RollingUpdate" and rolling is not None:
        errors += nonnegative(rolling, "partition", "spec.updateStrategy.rollingUpdate.partition")
        if rolling.get("maxUnavailable") is not None:
            path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            found, number = int_or_percent(rolling["maxUnavailable"], path)
            errors += found
            if number == 0 and not found:
                errors.append(fe.invalid(path, rolling["maxUnavailable"], "cannot be 0"))
    elif kind not in ("OnDelete", "RollingUpdate"):
        errors.append(f"spec.updateStrategy: Invalid value: {strategy}: "
                      "must be 'RollingUpdate' or 'OnDelete'")  # fmt: skip
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for key in ("whenDeleted", "whenScaled"):
        if retention.get(key) not in _RETAIN:
            errors.append(fe.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{key}",
                                           retention.get(key), _RETAIN))  # fmt: skip
    errors += nonnegative(spec, "replicas", "spec.replicas")
    errors += nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    errors += nonnegative(spec.get("ordinals") or {}, "start", "spec.ordinals.start")
    errors += nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    errors += selector_and_template(spec, "StatefulSet")
    return errors


def admit_statefulset(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateStatefulSet on a create, ValidateStatefulSetUpdate on an update."""
    obj = copy.deepcopy(obj)
    spec: JSON = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    check_types("StatefulSet", spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"),
                 ("selector", "template", "updateStrategy"))  # fmt: skip
    decode_template("StatefulSet", spec)
    obj["spec"] = spec
    obj = default_statefulset(obj)
    errors = validate_object_meta(obj, namespaced=True, label_name=old is None)
    errors += statefulset_errors(obj)
    if old is not None:
        frozen = {k: v for k, v in obj["spec"].items() if k not in _STS_SPEC_MUTABLE}
        was = {k: v for k, v in (old.get("spec") or {}).items() if k not in _STS_SPEC_MUTABLE}
        if frozen != was:
            errors.append(fe.forbidden("spec", _STS_UPDATE))
    if errors:
        raise ObjectInvalid("StatefulSet", object_name(obj), errors)
    return obj


def statefulset_cells(obj: JSON) -> list[Any]:
    """printStatefulSet: READY (ready/desired) then, wide, CONTAINERS and IMAGES."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [ready]
