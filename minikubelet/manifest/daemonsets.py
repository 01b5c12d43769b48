"""Admission of DaemonSets (apps/v1): the API server's defaults and validation, in its words,
the template generation and the table cells. Pure.

Upstream: pkg/apis/apps/v1/defaults.go (SetDefaults_DaemonSet),
pkg/apis/apps/validation/validation.go (ValidateDaemonSet[Update],
ValidateRollingUpdateDaemonSet), pkg/registry/apps/daemonset/strategy.go (the template
generation, kept in the `deprecated.daemonset.template.generation` annotation in apps/v1; the
selector immutable) and pkg/printers/internalversion/printers.go (printDaemonSet). What every
apps/v1 kind shares is `apps.py`'s.
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
    label_selector_text,
    nonnegative,
    object_name,
    selector_and_template,
)
from minikubelet.manifest.configmaps import ObjectInvalid, validate_object_meta
from minikubelet.manifest.podtemplate import default_template

TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"


def default_daemonset(obj: JSON) -> JSON:
    """SetDefaults_DaemonSet (and the pod template's defaults)."""
    spec = obj.setdefault("spec", {})
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    if isinstance(spec.get("template"), dict):
        spec["template"] = default_template(spec["template"])
    return obj


def daemonset_errors(obj: JSON) -> list[str]:
    """ValidateDaemonSetSpec."""
    spec = obj.get("spec") or {}
    errors = selector_and_template(spec, "DaemonSet")
    errors += nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type", "")
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        path = "spec.updateStrategy.rollingUpdate"
        if rolling is None:
            errors.append(fe.required(path))
        else:
            found_u, unavailable = int_or_percent(
                rolling.get("maxUnavailable"), f"{path}.maxUnavailable"
            )
            found_s, surge = int_or_percent(rolling.get("maxSurge"), f"{path}.maxSurge")
            errors += found_u + found_s
            if unavailable and surge:
                detail = "may not be set when maxUnavailable is non-zero"
                errors.append(fe.invalid(f"{path}.maxSurge", rolling.get("maxSurge"), detail))
            elif not unavailable and not surge:
                errors.append(
                    fe.required(f"{path}.maxUnavailable", "cannot be 0 when maxSurge is 0")
                )
    elif kind != "OnDelete":
        errors.append(fe.not_supported("spec.updateStrategy", strategy,
                                       ["RollingUpdate", "OnDelete"]))  # fmt: skip
    errors += nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    return errors


def admit_daemonset(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateDaemonSet, or ValidateDaemonSetUpdate with the strategy's template generation
    (1 on create, one more on each change of the template) and its immutable selector."""
    obj = copy.deepcopy(obj)
    spec: JSON = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    check_types("DaemonSet", spec, ("minReadySeconds", "revisionHistoryLimit"),
                 ("selector", "template", "updateStrategy"))  # fmt: skip
    decode_template("DaemonSet", spec)
    obj["spec"] = spec
    obj = default_daemonset(obj)
    errors = validate_object_meta(obj, namespaced=True)
    errors += daemonset_errors(obj)
    meta = obj.setdefault("metadata", {})
    annotations = meta.setdefault("annotations", {})
    if old is None:
        annotations[TEMPLATE_GENERATION] = "1"
    else:
        was = int((old["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION) or "1")
        changed = (old.get("spec") or {}).get("template") != spec.get("template")
        annotations[TEMPLATE_GENERATION] = str(was + 1 if changed else was)
        if (old.get("spec") or {}).get("selector") != spec.get("selector"):
            selector = spec.get("selector") or {}
            errors.append(f"spec.selector: Invalid value: {label_selector_text(selector)}: "
                          "field is immutable")  # fmt: skip
    if errors:
        raise ObjectInvalid("DaemonSet", object_name(obj), errors)
    return obj


def daemonset_cells(obj: JSON) -> list[Any]:
    """printDaemonSet: DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR."""
    status = obj.get("status") or {}
    node_selector = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "nodeSelector"
    ) or {}
    selector_text = ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "<none>"
    return [
        int(status.get("desiredNumberScheduled") or 0),
        int(status.get("currentNumberScheduled") or 0),
        int(status.get("numberReady") or 0),
        int(status.get("updatedNumberScheduled") or 0),
        int(status.get("numberAvailable") or 0),
        selector_text,
    ]
