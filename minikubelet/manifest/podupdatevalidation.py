"""The spec rules of an update to a pod, `ValidatePodUpdate` (`pkg/apis/core/validation/
validation.go`), and the diff it prints when a forbidden field changed.

A pod's own validation on update is `validation.validate_pod`'s; this module only decides
which spec changes an update may make.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.validationbase import JSON

UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_MAX_INT32 = 2**31 - 1
_MISSING = object()


def validate_pod_update(old: JSON, new: JSON) -> list[str]:
    """The spec rules of `ValidatePodUpdate` (pkg/apis/core/validation/validation.go), on the
    defaulted v1 specs of the pod as it is and as the update would make it (the new pod's
    own validation, `validatePodMetadataAndSpec`, is `validate_pod`'s). Only container and
    init container images, `activeDeadlineSeconds` (set, or lowered), added tolerations and a
    negative grace period set to 1 may change. Scheduling gates, which minikubelet does not
    take, are not among the fields an update may change here."""
    errors: list[str] = []
    for key in ("containers", "initContainers"):
        found, stop = _container_updates(new.get(key) or [], old.get(key) or [], f"spec.{key}")
        errors += found
        if stop:
            return errors
    deadline = _deadline_update(new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds"))
    if deadline is not None:
        errors.append(deadline)
        if new.get("activeDeadlineSeconds") is not None:
            return errors  # upstream returns at once for these two
    errors += _only_added_tolerations(new.get("tolerations") or [], old.get("tolerations") or [])
    if new == old:
        return errors
    munged = _munged(new, old)
    if munged != old:
        detail = "pod updates may not change fields other than " + ",".join(
            UPDATABLE_POD_SPEC_FIELDS
        )
        errors.append(fe.forbidden("spec", detail + "\n" + spec_diff(old, munged)))
    return errors


def _container_updates(new: list[JSON], old: list[JSON], path: str) -> tuple[list[str], bool]:
    """validation.go ValidateContainerUpdates; True when the caller must stop."""
    if len(new) != len(old):
        return [fe.forbidden(path, "pod updates may not add or remove containers")], True
    errors = []
    for i, container in enumerate(new):
        image = container.get("image", "")
        if not image:
            errors.append(fe.required(f"{path}[{i}].image"))
        if image.strip() != image:
            errors.append(
                fe.invalid(
                    f"{path}[{i}].image", image, "must not have leading or trailing whitespace"
                )
            )
    return errors, False


def _deadline_update(new: int | None, old: int | None) -> str | None:
    """validation.go ValidatePodUpdate: set from nil, or lowered; never raised or unset."""
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if not 0 <= new <= _MAX_INT32:
            return fe.invalid(path, new, fe.range_error(0, _MAX_INT32))
        if old is not None and old < new:
            return fe.invalid(path, new, "must be less than or equal to previous value")
    elif old is not None:
        return fe.invalid(path, None, "must not update from a positive integer to nil value")
    return None


def _only_added_tolerations(new: list[JSON], old: list[JSON]) -> list[str]:
    """validation.go validateOnlyAddedTolerations: each existing toleration is still there,
    its tolerationSeconds aside."""

    def bare(toleration: JSON) -> JSON:
        return {k: v for k, v in toleration.items() if k != "tolerationSeconds"}

    kept = [bare(t) for t in new]
    for toleration in old:
        if bare(toleration) not in kept:
            detail = "existing toleration can not be modified except its tolerationSeconds"
            return [fe.forbidden("spec.tolerations", detail)]
    return []


def _munged(new: JSON, old: JSON) -> dict[str, Any]:
    """The new spec with what an update may change put back as it was (mungedPodSpec)."""
    munged = {**new}
    for key in ("containers", "initContainers"):
        if key in new:
            olds = old.get(key) or []
            munged[key] = [
                {**c, "image": olds[i].get("image")} if "image" in olds[i] else _without(c, "image")
                for i, c in enumerate(new[key])
            ]
    for key in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(key, None)
        if key in old:
            munged[key] = old[key]
    grace_old, grace_new = (
        old.get("terminationGracePeriodSeconds"),
        new.get("terminationGracePeriodSeconds"),
    )
    if grace_old is not None and grace_old < 0 and grace_new == 1:
        munged["terminationGracePeriodSeconds"] = grace_old
    return munged


def _without(obj: JSON, key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


def spec_diff(old: JSON, new: JSON) -> str:
    """What ValidatePodUpdate appends to its Forbidden error: upstream a go-cmp diff of the
    internal core.PodSpec; here the same layout (`-` before, `+` after) over the v1 fields
    that differ, named by their path in the spec."""
    lines = ["  core.PodSpec{"]
    for path, before, after in _changes(old, new, ""):
        if before is not _MISSING:
            lines.append(f"- \t{path}: {_json(before)},")
        if after is not _MISSING:
            lines.append(f"+ \t{path}: {_json(after)},")
    lines.append("  }")
    return "\n".join(lines)


def _changes(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in list(old) + [k for k in new if k not in old]:
            child = f"{path}.{key}" if path else str(key)
            found += _changes(old.get(key, _MISSING), new.get(key, _MISSING), child)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found += _changes(a, b, f"{path}[{i}]")
        return found
    return [] if old == new else [(path, old, new)]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
