"""Admission of apps/v1 objects: what StatefulSets and DaemonSets share (the selector and
template rules, the type checks of a spec, the int-or-percent values, the template's
container cells), and ControllerRevisions. Pure. The kinds themselves are `statefulsets.py`'s
and `daemonsets.py`'s.

Upstream: pkg/apis/apps/validation/validation.go (ValidateControllerRevision[Update], and the
selector and template rules of ValidateStatefulSetSpec and ValidateDaemonSetSpec) and the
tables of pkg/printers/internalversion/printers.go (printControllerRevision).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minikubelet.core.gotext import quote
from minikubelet.core.workloads import selector_matches
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable, validate_object_meta
from minikubelet.manifest.podtemplate import template_errors
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.validation import validate_annotations, validate_labels

JSON = dict[str, Any]
_PERCENT = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  "
    "or '93%', regex used for validation is '[0-9]+%')"
)


def go_map(value: dict[str, Any] | None) -> str:
    """A map[string]string as Go's %#v prints it (keys sorted)."""
    if value is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{quote(k)}:{quote(str(v))}" for k, v in sorted(value.items()))
    return "map[string]string{" + items + "}"


def object_name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _undecodable(kind: str, struct: str, field: str, value: Any, go_type: str) -> ObjectUndecodable:
    found = (
        "string"
        if isinstance(value, str)
        else "bool"
        if isinstance(value, bool)
        else (
            "array"
            if isinstance(value, list)
            else "object"
            if isinstance(value, dict)
            else "number"
        )
    )
    return ObjectUndecodable(
        f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal {found} '
        f"into Go struct field {struct}.{field} of type {go_type}"
    )  # fmt: skip


def check_types(kind: str, spec: JSON, ints: tuple[str, ...], objects: tuple[str, ...]) -> None:
    struct = f"{kind}Spec"
    for key in ints:
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise _undecodable(kind, struct, f"spec.{key}", value, "int32")
    for key in objects:
        value = spec.get(key)
        if value is not None and not isinstance(value, dict):
            raise _undecodable(kind, struct, f"spec.{key}", value, "v1." + key[0].upper() + key[1:])


def selector_errors(selector: Any, path: str) -> list[str]:
    """ValidateLabelSelector: matchLabels as labels, each expression's key, operator, values."""
    if not isinstance(selector, dict):
        return []
    errors = validate_labels(selector.get("matchLabels") or {}, f"{path}.matchLabels")
    for i, req in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator", ""), req.get("values") or []
        if op in ("In", "NotIn") and not values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            errors.append(fe.required(f"{at}.values", detail))
        elif op in ("Exists", "DoesNotExist") and values:
            errors.append(
                fe.forbidden(
                    f"{at}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errors.append(fe.invalid(f"{at}.operator", op, "not a valid selector operator"))
        errors += fe.invalid_each(
            f"{at}.key", req.get("key", ""), fe.qualified_name(req.get("key", ""))
        )
    return errors


def selector_and_template(spec: JSON, kind: str) -> list[str]:
    selector = spec.get("selector")
    errors: list[str] = []
    if selector is None:
        errors.append(fe.required("spec.selector"))
    else:
        errors += selector_errors(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errors.append(f"spec.selector: Invalid value: {label_selector_text(selector)}: "
                          f"empty selector is invalid for {kind.lower()}")  # fmt: skip
    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    some = isinstance(selector, dict) and bool(
        selector.get("matchLabels") or selector.get("matchExpressions")
    )
    if some and not selector_matches(selector, labels):
        errors.append(f"spec.template.metadata.labels: Invalid value: {go_map(labels)}: "
                      "`selector` does not match template `labels`")  # fmt: skip
    if kind == "StatefulSet":
        errors += _statefulset_template_errors(template)
    else:
        errors += template_errors(template, path="spec.template")
    policy = (template.get("spec") or {}).get("restartPolicy", "Always")
    if policy != "Always":
        errors.append(fe.not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        detail = f"activeDeadlineSeconds in {kind} is not Supported"
        errors.append(fe.forbidden("spec.template.spec.activeDeadlineSeconds", detail))
    return errors


def decode_template(kind: str, spec: JSON) -> None:
    """The template as the API server's decoder reads it (before any default)."""
    template = spec.get("template")
    if template is None:
        return
    if not isinstance(template, dict):
        raise _undecodable(kind, f"{kind}Spec", "spec.template", template, "v1.PodTemplateSpec")
    inner = template.get("spec") or {}
    decoded = decode_pod({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"},
                          "spec": inner})  # fmt: skip
    if decoded.error:
        raise ObjectUndecodable(
            f'{kind} in version "v1" cannot be handled as a {kind}: '
            + re.sub(r"Go struct field (\w+)\.spec\.", r"Go struct field \1.spec.template.spec.",
                     decoded.error, count=1)
        )  # fmt: skip


def _statefulset_template_errors(template: JSON) -> list[str]:
    """ValidatePodTemplateSpecForStatefulSet: the template's labels (at
    `spec.template.labels`, as upstream names them) and annotations, not its pod spec (the
    claim templates' volumes are not in it yet: a pod that is invalid is refused when the
    controller creates it, a FailedCreate event)."""
    meta = template.get("metadata") or {}
    errors = validate_labels(meta.get("labels") or {}, "spec.template.labels")
    errors += [
        e.replace("metadata.annotations", "spec.template.annotations", 1)
        for e in validate_annotations(meta.get("annotations") or {})
    ]
    return errors


def label_selector_text(selector: JSON) -> str:
    """metav1.LabelSelector's String() (the generated one)."""
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    shown = labels + "," if labels else ""
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{shown}}},"
            "MatchExpressions:[]LabelSelectorRequirement{},}")  # fmt: skip


def nonnegative(spec: JSON, key: str, path: str) -> list[str]:
    value = spec.get(key)
    if isinstance(value, int) and value < 0:
        return [fe.invalid(path, value, "must be greater than or equal to 0")]
    return []


def int_or_percent(value: Any, path: str) -> tuple[list[str], int]:
    """ValidatePositiveIntOrPercent and IsNotMoreThan100Percent: (errors, its number)."""
    if isinstance(value, str):
        if not (value.endswith("%") and value[:-1].isdigit()):
            return [fe.invalid(path, value, _PERCENT)], 0
        number = int(value[:-1])
        if number > 100:
            return [fe.invalid(path, value, "must not be greater than 100%")], number
        return [], number
    if isinstance(value, int):
        if value < 0:
            return [fe.invalid(path, value, "must be greater than or equal to 0")], value
        return [], value
    return [], 0


def template_containers(obj: JSON) -> tuple[str, str]:
    """layoutContainerCells: the template's container names and images, comma-separated."""
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    return ",".join(c.get("name", "") for c in containers), ",".join(
        c.get("image", "") for c in containers
    )


# --- ControllerRevision --------------------------------------------------------------------


def admit_controllerrevision(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateControllerRevision[Update]: data is mandatory and, once stored, immutable."""
    obj = copy.deepcopy(obj)
    errors = validate_object_meta(obj, namespaced=True)
    if obj.get("data") is None:
        errors.append(fe.required("data", "data is mandatory"))
    revision = obj.get("revision", 0)
    if isinstance(revision, bool) or not isinstance(revision, int):
        raise ObjectUndecodable(
            'ControllerRevision in version "v1" cannot be handled as a ControllerRevision: json: '
            "cannot unmarshal string into Go struct field ControllerRevision.revision of type int64"
        )
    if revision < 0:
        errors.append(fe.invalid("revision", revision, "must be greater than or equal to 0"))
    if old is not None and old.get("data") != obj.get("data"):
        errors.append(f"data: Invalid value: {obj.get('data')}: field is immutable")
    if errors:
        raise ObjectInvalid("ControllerRevision", object_name(obj), errors)
    return obj


def controllerrevision_cells(obj: JSON) -> list[Any]:
    """printControllerRevision: CONTROLLER (`statefulset.apps/web`) and REVISION."""
    controller = "<none>"
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            controller = (
                f"{kind}.{group}/{ref.get('name', '')}" if group else f"{kind}/{ref['name']}"
            )
    return [controller, int(obj.get("revision") or 0)]
