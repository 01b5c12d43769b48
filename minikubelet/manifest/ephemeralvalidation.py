"""The rules for a write to `pods/{name}/ephemeralcontainers`, as the API server has them
(pkg/apis/core/validation/validation.go: ValidatePodEphemeralContainersUpdate and
validateEphemeralContainers; pkg/registry/core/pod/strategy.go ephemeralContainersStrategy).

The write changes `spec.ephemeralContainers` and nothing else (`prepare`: the strategy's
dropNonEphemeralContainerUpdates keeps the stored pod and takes only the new list). Then:
each ephemeral container is validated as a container, may set only the fields of the allow
list (no ports, probes, lifecycle, resources or restartPolicy), has a name unique across all
of the pod's containers, names in `targetContainerName` a container or init container of the
pod, mounts no subPath; and existing ephemeral containers may be neither removed nor changed.
Input is the defaulted camelCase dict; output is field errors in upstream's words.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from minikubelet.manifest import defaults
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.validation import validate_container_common
from minikubelet.manifest.validationbase import JSON, Ctx

FORBIDDEN_TEXT = "cannot be set for an Ephemeral Container"
# allowedEphemeralContainerFields: the EphemeralContainerCommon fields, in the struct's
# order, and whether an ephemeral container may set each
ALLOWED_FIELDS: tuple[tuple[str, bool], ...] = (
    ("name", True), ("image", True), ("command", True), ("args", True),
    ("workingDir", True), ("ports", False), ("envFrom", True), ("env", True),
    ("resources", False), ("resizePolicy", False), ("restartPolicy", False),
    ("volumeMounts", True), ("volumeDevices", True), ("livenessProbe", False),
    ("readinessProbe", False), ("startupProbe", False), ("lifecycle", False),
    ("terminationMessagePath", True), ("terminationMessagePolicy", True),
    ("imagePullPolicy", True), ("securityContext", True), ("stdin", True),
    ("stdinOnce", True), ("tty", True),
)  # fmt: skip
SPEC_PATH = "spec.ephemeralContainers"


def prepare(old: JSON, new: JSON) -> dict[str, Any]:
    """The stored pod with the new ephemeral containers and nothing else of the write
    (ephemeralContainersStrategy.PrepareForUpdate, dropNonEphemeralContainerUpdates)."""
    pod = copy.deepcopy(dict(old))
    pod.pop("status", None)
    spec = new.get("spec") if isinstance(new.get("spec"), dict) else {}
    containers = spec.get("ephemeralContainers") if isinstance(spec, dict) else None
    if containers:
        pod.setdefault("spec", {})["ephemeralContainers"] = copy.deepcopy(containers)
    else:
        pod.get("spec", {}).pop("ephemeralContainers", None)
    return pod


class DecodeError(ValueError):
    """The write does not decode as a Pod (the API server's 400)."""


def admit(old: JSON, written: JSON) -> tuple[list[dict[str, Any]], list[str]]:
    """The new ephemeral containers, decoded and defaulted, and the field errors of the
    write (none: it may be stored). Raises DecodeError for a body that is not a Pod."""
    spec = written.get("spec")
    listed = spec.get("ephemeralContainers") if isinstance(spec, dict) else None
    decoded = decode_pod({"apiVersion": "v1", "kind": "Pod",
                          "spec": {"ephemeralContainers": listed or []}})  # fmt: skip
    if decoded.error:
        raise DecodeError(f'Pod in version "v1" cannot be handled as a Pod: {decoded.error}')
    ephemeral = defaults.apply(decoded.value)["spec"].get("ephemeralContainers", [])
    new = prepare(old, {"spec": {"ephemeralContainers": ephemeral}})
    errors = validate_ephemeral_containers(new.get("spec", {})) + validate_update(old, new)
    return ephemeral, errors


def _is_zero(value: Any) -> bool:
    """Go's zero value, as reflect.Value.IsZero sees a decoded field: an empty list, map
    or string, false, 0, or absent (an empty `resources` is the zero struct)."""
    if isinstance(value, dict):
        return all(_is_zero(v) for v in value.values())
    return value in (None, "", 0, False, [])


def validate_ephemeral_containers(
    spec: JSON, grpc_available: Callable[[], bool] = lambda: True
) -> list[str]:
    """validateEphemeralContainers over a defaulted spec."""
    ephemeral = spec.get("ephemeralContainers") or []
    if not ephemeral:
        return []
    containers, inits = spec.get("containers", []), spec.get("initContainers", [])
    other_names = {c.get("name", "") for c in containers + inits}
    all_names = set(other_names)
    volumes = frozenset(v.get("name", "") for v in spec.get("volumes", []))
    ctx = Ctx(spec.get("terminationGracePeriodSeconds", 30), volumes,
              frozenset(other_names), grpc_available)  # fmt: skip
    errors: list[str] = []
    for i, container in enumerate(ephemeral):
        path = f"{SPEC_PATH}[{i}]"
        errors += validate_container_common(container, path, ctx)
        name = container.get("name", "")
        if name in all_names:
            errors.append(fe.duplicate(f"{path}.name", name))
        else:
            all_names.add(name)
        target = container.get("targetContainerName", "")
        if target and target not in other_names:
            errors.append(fe.not_found(f"{path}.targetContainerName", target))
        for key, allowed in ALLOWED_FIELDS:
            if not allowed and not _is_zero(container.get(key)):
                errors.append(fe.forbidden(f"{path}.{key}", FORBIDDEN_TEXT))
        for j, mount in enumerate(container.get("volumeMounts", [])):
            for key in ("subPath", "subPathExpr"):
                if mount.get(key):
                    errors.append(fe.forbidden(f"{path}.volumeMounts[{j}].{key}", FORBIDDEN_TEXT))
    return errors


def validate_update(old: JSON, new: JSON) -> list[str]:
    """ValidatePodEphemeralContainersUpdate, part 2: existing ephemeral containers may not be
    removed or changed (matched by name, since a patch need not keep the order). A change's
    message names what differs, where upstream prints cmp.Diff's text."""
    old_list = old.get("spec", {}).get("ephemeralContainers") or []
    new_by_name = {
        c.get("name", ""): c for c in new.get("spec", {}).get("ephemeralContainers") or []
    }
    errors = []
    for before in old_list:
        name = before.get("name", "")
        after = new_by_name.get(name)
        if after is None:
            errors.append(
                fe.forbidden(SPEC_PATH, f"existing ephemeral containers {fe.show(name)} may not "
                             "be removed\n")
            )  # fmt: skip
        elif after != before:
            errors.append(
                fe.forbidden(SPEC_PATH, f"existing ephemeral containers {fe.show(name)} may not "
                             f"be changed\n{_diff(before, after)}")
            )  # fmt: skip
    return errors


def _diff(before: JSON, after: JSON) -> str:
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            if key in before:
                lines.append(f"-  {key}: {json.dumps(before[key])}")
            if key in after:
                lines.append(f"+  {key}: {json.dumps(after[key])}")
    return "\n".join(lines)
