"""Admission of Deployments (apps/v1): defaults and validation as the API server does them,
and the cells kubectl prints for them. Pure.

Upstream: pkg/apis/apps/v1/defaults.go SetDefaults_Deployment (`replicas` 1, strategy
`RollingUpdate` with `maxUnavailable` and `maxSurge` 25%, `revisionHistoryLimit` 10,
`progressDeadlineSeconds` 600; the template's Pod defaults); pkg/apis/apps/validation
ValidateDeployment / ValidateDeploymentSpec (non-negative `replicas`, `minReadySeconds`,
`revisionHistoryLimit` and `progressDeadlineSeconds`, the deadline above minReadySeconds; a
selector, not empty, valid, matching the template's labels; the template a valid pod
template whose `restartPolicy` is `Always`, ValidatePodTemplateSpecForReplicaSet),
ValidateDeploymentStrategy, ValidateRollingUpdateDeployment (ValidatePositiveIntOrPercent,
IsNotMoreThan100Percent, both fenceposts 0), ValidateDeploymentUpdate (the selector immutable
in apps/v1); pkg/registry/apps/deployment/strategy.go (a new deployment's status is empty).
The cells: pkg/printers/internalversion/printers.go printDeployment.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from minikubelet.core.gotext import quote as go_quote
from minikubelet.core.workloads import selector_is_empty, selector_matches, selector_string
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import podtemplate
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable, validate_object_meta
from minikubelet.manifest.labelselectors import (
    GoValue,
    go_label_selector,
    go_string_map,
    selector_convertible,
    selector_errors,
)

JSON = dict[str, Any]
NEGATIVE = "must be greater than or equal to 0"
PERCENT = fe.regex_error(
    "a valid percent string must be a numeric string followed by an ending '%'",
    "[0-9]+%",
    "1%",
    "93%",
)
_STRATEGIES = ("Recreate", "RollingUpdate")


def _go_sel(selector: Mapping[str, Any]) -> GoValue:
    return GoValue(go_label_selector(selector))


def _go_intstr(value: int | str) -> GoValue:
    """intstr.IntOrString as %#v prints it."""
    if isinstance(value, int):
        return GoValue(f'intstr.IntOrString{{Type:0, IntVal:{value}, StrVal:""}}')
    return GoValue(f"intstr.IntOrString{{Type:1, IntVal:0, StrVal:{go_quote(value)}}}")


# --- decoding --------------------------------------------------------------------------------


def _undecodable(field: str, got: Any, want: str) -> ObjectUndecodable:
    gotype = (
        "bool"
        if isinstance(got, bool)
        else "number"
        if isinstance(got, int | float)
        else "array"
        if isinstance(got, list)
        else "object"
        if isinstance(got, dict)
        else "string"
    )
    return ObjectUndecodable(
        'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal '
        f"{gotype} into Go struct field {field} of type {want}"
    )


def _decode(obj: JSON) -> JSON:
    """The shapes the JSON decoder insists on: an object spec, int32 counts, a bool
    `paused`, int-or-string fenceposts."""
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    if not isinstance(spec, dict):
        raise _undecodable("Deployment.spec", spec, "v1.DeploymentSpec")
    for name in ("replicas", "minReadySeconds", "revisionHistoryLimit", "progressDeadlineSeconds"):
        value = spec.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _undecodable(f"DeploymentSpec.spec.{name}", value, "int32")
    if spec.get("paused") is not None and not isinstance(spec["paused"], bool):
        raise _undecodable("DeploymentSpec.spec.paused", spec["paused"], "bool")
    for name, want in (
        ("selector", "v1.LabelSelector"),
        ("template", "v1.PodTemplateSpec"),
        ("strategy", "v1.DeploymentStrategy"),
    ):
        if spec.get(name) is not None and not isinstance(spec[name], dict):
            raise _undecodable(f"DeploymentSpec.spec.{name}", spec[name], want)
    template_meta = (spec.get("template") or {}).get("metadata")
    if template_meta is not None and not isinstance(template_meta, dict):
        raise _undecodable("PodTemplateSpec.spec.template.metadata", template_meta, "v1.ObjectMeta")
    maps = (
        ("ObjectMeta.spec.template.metadata.labels", (template_meta or {}).get("labels")),
        ("ObjectMeta.spec.template.metadata.annotations", (template_meta or {}).get("annotations")),
        (
            "LabelSelector.spec.selector.matchLabels",
            (spec.get("selector") or {}).get("matchLabels"),
        ),
    )
    for where, value in maps:
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _undecodable(where, value, "map[string]string")
        for item in value.values():
            if not isinstance(item, str):
                raise _undecodable(where, item, "string")
    rolling = (spec.get("strategy") or {}).get("rollingUpdate")
    if rolling is not None and not isinstance(rolling, dict):
        raise _undecodable(
            "DeploymentStrategy.spec.strategy.rollingUpdate", rolling, "v1.RollingUpdateDeployment"
        )
    for name in ("maxSurge", "maxUnavailable"):
        value = (rolling or {}).get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | str)):
            raise _undecodable(
                f"RollingUpdateDeployment.spec.strategy.rollingUpdate.{name}",
                value,
                "intstr.IntOrString",
            )
    return spec


# --- defaults --------------------------------------------------------------------------------


def set_defaults(spec: JSON) -> None:
    """SetDefaults_Deployment."""
    spec.setdefault("replicas", 1)
    strategy = spec.get("strategy") or {}
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.get("rollingUpdate") or {}
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
        strategy["rollingUpdate"] = rolling
    spec["strategy"] = strategy
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)


# --- validation ------------------------------------------------------------------------------


def _nonnegative(spec: JSON, name: str) -> list[str]:
    value = spec.get(name)
    if isinstance(value, int) and value < 0:
        return [fe.invalid(f"spec.{name}", value, NEGATIVE)]
    return []


def _percent(value: int | str) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"[0-9]+%", value):
        return int(value[:-1])
    return None


def _intstr_errors(value: int | str, path: str) -> list[str]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        return [] if _percent(value) is not None else [fe.invalid(path, _go_intstr(value), PERCENT)]
    return [fe.invalid(path, value, NEGATIVE)] if value < 0 else []


def _strategy_errors(strategy: JSON) -> list[str]:
    """ValidateDeploymentStrategy and ValidateRollingUpdateDeployment."""
    kind = strategy.get("type")
    rolling: JSON | None = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [
                fe.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind != "RollingUpdate":
        shown = GoValue(
            f"apps.DeploymentStrategy{{Type:{go_quote(str(kind))}, RollingUpdate:"
            f"(*apps.RollingUpdateDeployment)({'nil' if rolling is None else '0xc000'})}}"
        )
        return [fe.not_supported("spec.strategy", shown, _STRATEGIES)]
    path = "spec.strategy.rollingUpdate"
    unavailable, surge = (rolling or {})["maxUnavailable"], (rolling or {})["maxSurge"]
    errors = _intstr_errors(unavailable, f"{path}.maxUnavailable")
    errors += _intstr_errors(surge, f"{path}.maxSurge")

    def value(v: int | str) -> int:  # getIntOrPercentValue
        return v if isinstance(v, int) else _percent(v) or 0

    if value(unavailable) == 0 and value(surge) == 0:
        errors.append(
            fe.invalid(
                f"{path}.maxUnavailable",
                _go_intstr(unavailable),
                "may not be 0 when `maxSurge` is 0",
            )
        )
    percent = _percent(unavailable)
    if percent is not None and percent > 100:
        errors.append(
            fe.invalid(
                f"{path}.maxUnavailable", _go_intstr(unavailable), "must not be greater than 100%"
            )
        )
    return errors


def _template_errors(template: Any, selector: JSON | None) -> list[str]:
    """ValidatePodTemplateSpecForReplicaSet."""
    if not isinstance(template, dict):
        return [fe.required("spec.template")]
    labels = (template.get("metadata") or {}).get("labels")
    errors = []
    if (
        selector is not None
        and not selector_is_empty(selector)
        and not selector_matches(selector, labels or {})
    ):
        errors.append(
            fe.invalid(
                "spec.template.metadata.labels",
                GoValue(go_string_map(labels)),
                "`selector` does not match template `labels`",
            )
        )
    errors += podtemplate.template_errors(template, "spec.template")
    spec = template.get("spec") or {}
    policy = spec.get("restartPolicy", "Always")
    if policy != "Always":
        errors.append(fe.not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        errors.append(
            fe.invalid(
                "spec.template.spec.activeDeadlineSeconds",
                spec["activeDeadlineSeconds"],
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        )
    return errors


def spec_errors(spec: JSON) -> list[str]:
    """ValidateDeploymentSpec, on a defaulted spec."""
    errors = _nonnegative(spec, "replicas")
    selector = spec.get("selector")
    if selector is None:
        errors.append(fe.required("spec.selector"))
    else:
        errors += selector_errors(selector, "spec.selector")
        if selector_is_empty(selector):
            errors.append(
                fe.invalid(
                    "spec.selector",
                    _go_sel(selector),
                    "empty selector is invalid for deployment",
                )
            )
    if selector is not None and not selector_convertible(selector):
        errors.append(fe.invalid("spec.selector", _go_sel(selector), "invalid label selector"))
    else:
        errors += _template_errors(spec.get("template"), selector)
    errors += _strategy_errors(spec["strategy"])
    errors += _nonnegative(spec, "minReadySeconds") + _nonnegative(spec, "revisionHistoryLimit")
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errors += _nonnegative(spec, "progressDeadlineSeconds")
        if deadline <= int(spec.get("minReadySeconds") or 0):
            errors.append(
                fe.invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    return errors


def admit_deployment(obj: JSON, old: JSON | None = None) -> JSON:
    """Defaults, then ValidateDeployment (and ValidateDeploymentUpdate); the template gets
    the Pod defaults; a new deployment's status is empty."""
    obj = copy.deepcopy(obj)
    spec = _decode(obj)
    set_defaults(spec)
    errors = validate_object_meta(obj, namespaced=True) + spec_errors(spec)
    if old is not None:
        old_selector = (old.get("spec") or {}).get("selector")
        if spec.get("selector") is not None and spec.get("selector") != old_selector:
            errors.append(
                fe.invalid("spec.selector", _go_sel(spec["selector"]), "field is immutable")
            )
    if errors:
        raise ObjectInvalid("Deployment", str(obj.get("metadata", {}).get("name") or ""), errors)
    spec["template"] = podtemplate.default_template(spec["template"])
    if old is None:
        obj["status"] = {}
    return obj


# --- kubectl's columns -----------------------------------------------------------------------

COLUMNS = (
    ("Ready", "string", 0, "Number of the pod with ready state"),
    (
        "Up-to-date",
        "string",
        0,
        "Total number of non-terminated pods targeted by this "
        "deployment that have the desired template spec.",
    ),
    (
        "Available",
        "string",
        0,
        "Total number of available pods (ready for at least "
        "minReadySeconds) targeted by this deployment.",
    ),
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    (
        "Selector",
        "string",
        1,
        "Label selector for pods. Existing ReplicaSets whose pods are "
        "selected by this will be the ones affected by this deployment.",
    ),
)


def cells(obj: JSON) -> list[Any]:
    """printDeployment: `ready/desired`, updated, available, then the wide ones."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas")
    desired = 1 if desired is None else int(desired)
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return [
        f"{int(status.get('readyReplicas') or 0)}/{desired}",
        int(status.get("updatedReplicas") or 0),
        int(status.get("availableReplicas") or 0),
        ",".join(str(c.get("name", "")) for c in containers),
        ",".join(str(c.get("image", "")) for c in containers),
        selector_string(spec.get("selector")) or "<none>",
    ]
