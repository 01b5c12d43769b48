"""Admission of ReplicaSets (apps/v1) and ReplicationControllers (v1): defaults and
validation as the API server does them, and the cells kubectl prints for them. Pure.

Upstream: pkg/apis/apps/v1/defaults.go SetDefaults_ReplicaSet (`replicas` 1);
pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController (the selector and the
object's labels default to the template's labels, `replicas` 1); pkg/apis/apps/validation
ValidateReplicaSet / ValidateReplicaSetSpec / ValidatePodTemplateSpecForReplicaSet and
pkg/apis/core/validation ValidateReplicationController / ValidatePodTemplateSpecForRC (a
non-negative `replicas` and `minReadySeconds`; a selector, not empty, valid, matching the
template's labels; the template a valid pod template whose `restartPolicy` is `Always` and
without `activeDeadlineSeconds`); pkg/registry/apps/replicaset/strategy.go (the status is
the controller's, the selector immutable in apps/v1). The cells: pkg/printers/internalversion
printers.go printReplicaSet / printReplicationController.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from minikubelet.core.workloads import selector_is_empty, selector_matches, selector_string
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable, validate_object_meta
from minikubelet.manifest.labelselectors import (
    GoValue,
    go_label_selector,
    go_string_map,
    selector_convertible,
    selector_errors,
)
from minikubelet.manifest.validation import validate_labels

JSON = dict[str, Any]
NEGATIVE = "must be greater than or equal to 0"
NO_MATCH = "`selector` does not match template `labels`"
IMMUTABLE = "field is immutable"
TemplateCheck = Callable[[JSON, str, str], list[str]]  # (template, path, namespace) -> errors


# --- Go's %#v of the values field errors show ---------------------------------------------


# --- shape -----------------------------------------------------------------------------------


def _undecodable(kind: str, version: str, field: str, got: Any, want: str) -> ObjectUndecodable:
    gotype = ("bool" if isinstance(got, bool) else "number" if isinstance(got, int | float)
              else "array" if isinstance(got, list) else "object" if isinstance(got, dict)
              else "string")  # fmt: skip
    return ObjectUndecodable(
        f'{kind} in version "{version}" cannot be handled as a {kind}: json: cannot unmarshal '
        f"{gotype} into Go struct field {field} of type {want}"
    )


def _int_field(spec: JSON, name: str, kind: str, version: str, where: str) -> None:
    value = spec.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise _undecodable(kind, version, f"{where}.{name}", value, "int32")


def _spec(obj: JSON, kind: str, version: str) -> JSON:
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    if not isinstance(spec, dict):
        raise _undecodable(kind, version, f"{kind}.spec", spec, f"{version}.{kind}Spec")
    for name in ("replicas", "minReadySeconds"):
        _int_field(spec, name, kind, version, f"{kind}Spec.spec")
    return spec


# --- validation ------------------------------------------------------------------------------


def _template_rules(template: JSON, kind: str, path: str) -> list[str]:
    """The rules of a ReplicaSet's or RC's template beyond the pod's own."""
    spec = template.get("spec") or {}
    errors = []
    policy = spec.get("restartPolicy", "Always")
    if policy != "Always":
        errors.append(fe.not_supported(f"{path}.spec.restartPolicy", policy, ["Always"]))
    if spec.get("activeDeadlineSeconds") is not None:
        where = f"{path}.spec.activeDeadlineSeconds"
        message = f"activeDeadlineSeconds in {kind} is not Supported"
        if kind == "ReplicaSet":
            errors.append(fe.invalid(where, spec["activeDeadlineSeconds"], message))
        else:
            errors.append(fe.forbidden(where, message))
    return errors


def _nonnegative(spec: JSON, name: str) -> list[str]:
    value = spec.get(name)
    if isinstance(value, int) and value < 0:
        return [fe.invalid(f"spec.{name}", value, NEGATIVE)]
    return []


def _template_labels(template: JSON) -> JSON | None:
    labels = (template.get("metadata") or {}).get("labels")
    return dict(labels) if isinstance(labels, dict) else None


def _prepare(obj: JSON, old: JSON | None) -> None:
    """The strategy's PrepareForCreate/PrepareForUpdate: the status is the controller's."""
    if old is None:
        obj.pop("status", None)
    elif "status" in old:
        obj["status"] = copy.deepcopy(old["status"])


def make_admit_replicaset(template_errors: TemplateCheck, default_template: Callable[[JSON], JSON]
                          ) -> Callable[[JSON, JSON | None], JSON]:  # fmt: skip
    """The ReplicaSet's admission, with the pod template's validation and defaults given."""

    def admit(obj: JSON, old: JSON | None = None) -> JSON:
        obj = copy.deepcopy(obj)
        spec = _spec(obj, "ReplicaSet", "apps/v1")
        spec.setdefault("replicas", 1)
        template = spec.get("template")
        if not isinstance(template, dict):
            template = spec["template"] = {}
        errors = validate_object_meta(obj, namespaced=True)
        errors += _nonnegative(spec, "replicas") + _nonnegative(spec, "minReadySeconds")
        selector = spec.get("selector")
        if not isinstance(selector, dict):
            errors.append(fe.required("spec.selector"))
            selector = None
        else:
            errors += selector_errors(selector, "spec.selector")
            if selector_is_empty(selector):
                errors.append(fe.invalid("spec.selector", GoValue(go_label_selector(selector)),
                                         "empty selector is invalid for deployment"))  # fmt: skip
        if selector is not None and not selector_convertible(selector):
            errors.append(fe.invalid("spec.selector", GoValue(go_label_selector(selector)),
                                     "invalid label selector"))  # fmt: skip
        else:
            # a missing selector selects nothing (labels.Nothing), an empty one everything
            labels = _template_labels(template)
            selects = selector is None or not selector_is_empty(selector)
            if selects and not selector_matches(selector, labels or {}):
                errors.append(fe.invalid("spec.template.metadata.labels",
                                         GoValue(go_string_map(labels)), NO_MATCH))  # fmt: skip
            namespace = str((obj.get("metadata") or {}).get("namespace") or "default")
            errors += template_errors(template, "spec.template", namespace)
            errors += _template_rules(template, "ReplicaSet", "spec.template")
        if old is not None:
            old_selector = (old.get("spec") or {}).get("selector")
            if selector is not None and old_selector is not None and selector != old_selector:
                errors.append(fe.invalid("spec.selector", GoValue(go_label_selector(selector)),
                                         IMMUTABLE))  # fmt: skip
        if errors:
            raise ObjectInvalid("ReplicaSet", str((obj.get("metadata") or {}).get("name") or ""),
                                errors)  # fmt: skip
        spec["template"] = default_template(template)
        _prepare(obj, old)
        return obj

    return admit


def make_admit_replication_controller(
    template_errors: TemplateCheck, default_template: Callable[[JSON], JSON]
) -> Callable[[JSON, JSON | None], JSON]:
    """The ReplicationController's admission (SetDefaults_ReplicationController first)."""

    def admit(obj: JSON, old: JSON | None = None) -> JSON:
        obj = copy.deepcopy(obj)
        spec = _spec(obj, "ReplicationController", "v1")
        template = spec.get("template")
        labels = _template_labels(template) if isinstance(template, dict) else None
        meta = obj.setdefault("metadata", {})
        if labels is not None:
            if not spec.get("selector"):
                spec["selector"] = dict(labels)
            if not meta.get("labels"):
                meta["labels"] = dict(labels)
        spec.setdefault("replicas", 1)
        errors = validate_object_meta(obj, namespaced=True)
        errors += _nonnegative(spec, "minReadySeconds")
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not selector:
            errors.append(fe.required("spec.selector"))
            selector = {}
        else:
            errors += validate_labels(selector, "spec.selector")
        errors += _nonnegative(spec, "replicas")
        if not isinstance(template, dict):
            errors.append(fe.required("spec.template"))
        else:
            if selector and not selector_matches({"matchLabels": selector}, labels or {}):
                errors.append(fe.invalid("spec.template.metadata.labels",
                                         GoValue(go_string_map(labels)), NO_MATCH))  # fmt: skip
            namespace = str(meta.get("namespace") or "default")
            errors += template_errors(template, "spec.template", namespace)
            errors += _template_rules(template, "ReplicationController", "spec.template")
        if errors:
            raise ObjectInvalid("ReplicationController", str(meta.get("name") or ""), errors)
        if isinstance(template, dict):
            spec["template"] = default_template(template)
        _prepare(obj, old)
        return obj

    return admit


# --- kubectl's columns -----------------------------------------------------------------------


def _containers(obj: JSON) -> tuple[str, str]:
    """layoutContainerCells: the template's container names and images, comma-joined."""
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    names = ",".join(str(c.get("name", "")) for c in containers)
    images = ",".join(str(c.get("image", "")) for c in containers)
    return names, images


def replica_cells(obj: JSON) -> list[Any]:
    """DESIRED CURRENT READY (the Age the API adds after them)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    desired = spec.get("replicas")
    return [
        1 if desired is None else int(desired),
        int(status.get("replicas") or 0),
        int(status.get("readyReplicas") or 0),
    ]


def replicaset_wide_cells(obj: JSON) -> list[Any]:
    """CONTAINERS IMAGES SELECTOR (metav1.FormatLabelSelector, `<none>` for none)."""
    names, images = _containers(obj)
    return [names, images, selector_string((obj.get("spec") or {}).get("selector")) or "<none>"]


def rc_wide_cells(obj: JSON) -> list[Any]:
    """CONTAINERS IMAGES SELECTOR (labels.FormatLabels of the map)."""
    names, images = _containers(obj)
    selector = (obj.get("spec") or {}).get("selector") or {}
    shown = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    return [names, images, shown or "<none>"]
