"""Admission of StatefulSets, DaemonSets and ControllerRevisions (apps/v1): the API server's
defaults and validation, in its words. Pure.

Upstream: pkg/apis/apps/v1/defaults.go (SetDefaults_StatefulSet, SetDefaults_DaemonSet),
pkg/apis/apps/validation/validation.go (ValidateStatefulSet[Update], ValidateDaemonSet[Update],
ValidateRollingUpdateDaemonSet, validateRollingUpdateStatefulSet, ValidateControllerRevision
[Update]), pkg/registry/apps/daemonset/strategy.go (the template generation, kept in the
`deprecated.daemonset.template.generation` annotation in apps/v1; the selector immutable) and
the tables of pkg/printers/internalversion/printers.go (printStatefulSet, printDaemonSet,
printControllerRevision).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minikubelet.core.gotext import quote
from minikubelet.core.workloads import selector_matches
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable, validate_object_meta
from minikubelet.manifest.podtemplate import default_template, template_errors
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.validation import validate_annotations, validate_labels

JSON = dict[str, Any]
TEMPLATE_GENERATION = "deprecated.daemonset.template.generation"
_RETAIN = ("Retain", "Delete")
_STS_SPEC_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy",
                     "persistentVolumeClaimRetentionPolicy", "minReadySeconds")  # fmt: skip
_STS_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)
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


def _name(obj: JSON) -> str:
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


def _check_types(kind: str, spec: JSON, ints: tuple[str, ...], objects: tuple[str, ...]) -> None:
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


def _selector_and_template(spec: JSON, kind: str) -> list[str]:
    selector = spec.get("selector")
    errors: list[str] = []
    if selector is None:
        errors.append(fe.required("spec.selector"))
    else:
        errors += selector_errors(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errors.append(f"spec.selector: Invalid value: {_selector_text(selector)}: "
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


def _decode_template(kind: str, spec: JSON) -> None:
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


def _selector_text(selector: JSON) -> str:
    """metav1.LabelSelector's String() (the generated one)."""
    labels = ",".join(f"{k}: {v}" for k, v in sorted((selector.get("matchLabels") or {}).items()))
    shown = labels + "," if labels else ""
    return (f"&LabelSelector{{MatchLabels:map[string]string{{{shown}}},"
            "MatchExpressions:[]LabelSelectorRequirement{},}")  # fmt: skip


def _nonnegative(spec: JSON, key: str, path: str) -> list[str]:
    value = spec.get(key)
    if isinstance(value, int) and value < 0:
        return [fe.invalid(path, value, "must be greater than or equal to 0")]
    return []


def _int_or_percent(value: Any, path: str) -> tuple[list[str], int]:
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


# --- StatefulSet ---------------------------------------------------------------------------


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
        errors += _nonnegative(rolling, "partition", "spec.updateStrategy.rollingUpdate.partition")
        if rolling.get("maxUnavailable") is not None:
            path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            found, number = _int_or_percent(rolling["maxUnavailable"], path)
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
    errors += _nonnegative(spec, "replicas", "spec.replicas")
    errors += _nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    errors += _nonnegative(spec.get("ordinals") or {}, "start", "spec.ordinals.start")
    errors += _nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    errors += _selector_and_template(spec, "StatefulSet")
    return errors


def admit_statefulset(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateStatefulSet on a create, ValidateStatefulSetUpdate on an update."""
    obj = copy.deepcopy(obj)
    spec: JSON = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    _check_types("StatefulSet", spec, ("replicas", "minReadySeconds", "revisionHistoryLimit"),
                 ("selector", "template", "updateStrategy"))  # fmt: skip
    _decode_template("StatefulSet", spec)
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
        raise ObjectInvalid("StatefulSet", _name(obj), errors)
    return obj


def statefulset_warnings(obj: JSON) -> list[str]:
    """Each claim template's claims are made and bound as the pods are (a directory per
    claim in the state dir); `whenDeleted: Delete` is acted on (the set owns its claims),
    `whenScaled: Delete` is not: one warning says so."""
    retention = (obj.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    if retention.get("whenScaled") == "Delete" and (obj.get("spec") or {}).get(
        "volumeClaimTemplates"
    ):
        return [
            "spec.persistentVolumeClaimRetentionPolicy.whenScaled: Delete is not acted on in "
            "minikubelet: the claims of pods a scale-down removes are kept"
        ]
    return []


def statefulset_cells(obj: JSON) -> list[Any]:
    """printStatefulSet: READY (ready/desired) then, wide, CONTAINERS and IMAGES."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}"
    return [ready]


def template_containers(obj: JSON) -> tuple[str, str]:
    """layoutContainerCells: the template's container names and images, comma-separated."""
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    return ",".join(c.get("name", "") for c in containers), ",".join(
        c.get("image", "") for c in containers
    )


# --- DaemonSet -----------------------------------------------------------------------------


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
    errors = _selector_and_template(spec, "DaemonSet")
    errors += _nonnegative(spec, "minReadySeconds", "spec.minReadySeconds")
    strategy = spec.get("updateStrategy") or {}
    kind = strategy.get("type", "")
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        path = "spec.updateStrategy.rollingUpdate"
        if rolling is None:
            errors.append(fe.required(path))
        else:
            found_u, unavailable = _int_or_percent(
                rolling.get("maxUnavailable"), f"{path}.maxUnavailable"
            )
            found_s, surge = _int_or_percent(rolling.get("maxSurge"), f"{path}.maxSurge")
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
    errors += _nonnegative(spec, "revisionHistoryLimit", "spec.revisionHistoryLimit")
    return errors


def admit_daemonset(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateDaemonSet, or ValidateDaemonSetUpdate with the strategy's template generation
    (1 on create, one more on each change of the template) and its immutable selector."""
    obj = copy.deepcopy(obj)
    spec: JSON = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    _check_types("DaemonSet", spec, ("minReadySeconds", "revisionHistoryLimit"),
                 ("selector", "template", "updateStrategy"))  # fmt: skip
    _decode_template("DaemonSet", spec)
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
            errors.append(f"spec.selector: Invalid value: {_selector_text(selector)}: "
                          "field is immutable")  # fmt: skip
    if errors:
        raise ObjectInvalid("DaemonSet", _name(obj), errors)
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
        raise ObjectInvalid("ControllerRevision", _name(obj), errors)
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
