"""ObjectMeta's owner references and finalizers, validated as the API server validates them
for every kind (apimachinery: pkg/api/validation/objectmeta.go ValidateOwnerReferences,
validateOwnerReference, ValidateFinalizers, ValidateFinalizerName). Pure string work.
"""

from __future__ import annotations

import json
from typing import Any

from minikubelet.core.propagation import FOREGROUND, ORPHAN
from minikubelet.manifest import fielderrors as fe

_REFS = "metadata.ownerReferences"
_FINALIZERS = "metadata.finalizers"


def _owner_reference_errors(ref: Any) -> list[str]:
    if not isinstance(ref, dict):
        return [fe.invalid(_REFS, json.dumps(ref), "must be an object")]
    api_version, kind = str(ref.get("apiVersion") or ""), str(ref.get("kind") or "")
    errors = []
    if not api_version.rpartition("/")[2]:
        errors.append(fe.invalid(f"{_REFS}.apiVersion", api_version, "version must not be empty"))
    if not kind:
        errors.append(fe.invalid(f"{_REFS}.kind", kind, "kind must not be empty"))
    for key in ("name", "uid"):
        if not ref.get(key):
            errors.append(fe.invalid(f"{_REFS}.{key}", str(ref.get(key) or ""),
                                     f"{key} must not be empty"))  # fmt: skip
    return errors


def owner_reference_errors(refs: Any) -> list[str]:
    """Each reference names its owner's apiVersion, kind, name and uid; one at most is the
    controller. (The paths are the list's, without an index, as upstream words them.)"""
    if not refs:
        return []
    if not isinstance(refs, list):
        return [fe.invalid(_REFS, json.dumps(refs), "must be a list")]
    errors: list[str] = []
    first = ""
    for ref in refs:
        errors += _owner_reference_errors(ref)
        if isinstance(ref, dict) and ref.get("controller") is True:
            current = f"{ref.get('kind', '')}/{ref.get('name', '')}"
            if first:
                errors.append(
                    f"{_REFS}: Invalid value: {json.dumps(refs, separators=(',', ':'))}: Only one "
                    'reference can have Controller set to true. Found "true" in references for '
                    f"{first} and {current}"
                )
            else:
                first = current
    return errors


def finalizer_errors(finalizers: Any) -> list[str]:
    """Each finalizer is a qualified name; `orphan` and `foregroundDeletion` not both."""
    if not finalizers:
        return []
    if not isinstance(finalizers, list):
        return [fe.invalid(_FINALIZERS, json.dumps(finalizers), "must be a list")]
    errors: list[str] = []
    for finalizer in finalizers:
        errors += fe.invalid_each(_FINALIZERS, str(finalizer), fe.qualified_name(str(finalizer)))
    if ORPHAN in finalizers and FOREGROUND in finalizers:
        shown = "[]string{" + ", ".join(json.dumps(str(f)) for f in finalizers) + "}"
        errors.append(
            f"{_FINALIZERS}: Invalid value: {shown}: finalizer {ORPHAN} and {FOREGROUND} cannot "
            "be both set"
        )
    return errors


def metadata_errors(meta: Any) -> list[str]:
    if not isinstance(meta, dict):
        return []
    return owner_reference_errors(meta.get("ownerReferences")) + finalizer_errors(
        meta.get("finalizers")
    )
