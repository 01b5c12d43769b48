"""The official API schemas (the `kubernetes-validate` package's JSON schema definitions of
each release), read as data: for the OpenAPI v3 documents `kubectl explain` reads, and for the
strict decoder's `unknown field` errors on the kinds that are stored but not run.

Only the package's data files are read (importing it would import jsonschema); a release's
definitions are one file of about 1.5 MB, read once and kept.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from minikubelet import KUBERNETES_VERSION

JSON = dict[str, Any]
PACKAGE = "kubernetes_validate"
_REF = "#/$defs/"


class SchemasUnavailable(Exception):
    """The `kubernetes-validate` package is not installed (or has no usable release)."""


def _release_key(name: str) -> tuple[int, ...]:
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)-local", name)
    return tuple(int(g) for g in match.groups()) if match else ()


def load_definitions(version: tuple[int, int, int]) -> JSON:
    """The `$defs` of the release `version`, or of the nearest release before it (after it
    when there is none before). Blocking: reads a file of about 1.5 MB."""
    # The package's data only: found without importing it (which would import jsonschema).
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SchemasUnavailable(f"the {PACKAGE} package is not installed")
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    try:
        releases = sorted((_release_key(p.name), p) for p in root.iterdir()
                          if _release_key(p.name))  # fmt: skip
    except OSError as e:
        raise SchemasUnavailable(str(e)) from None
    if not releases:
        raise SchemasUnavailable(f"{PACKAGE} has no schemas")
    before = [p for key, p in releases if key <= version]
    chosen = before[-1] if before else releases[0][1]
    try:
        return dict(json.loads((chosen / "_definitions.json").read_text())["$defs"])
    except (OSError, ValueError, KeyError) as e:
        raise SchemasUnavailable(f"{chosen}: {e}") from None


@functools.cache
def _served_definitions() -> JSON:
    return load_definitions(KUBERNETES_VERSION)


def _definition_of(api_version: str, kind: str, defs: Mapping[str, Any]) -> JSON | None:
    group, _, version = api_version.rpartition("/")
    for schema in defs.values():
        for gvk in schema.get("x-kubernetes-group-version-kind") or ():
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                group,
                version,
                kind,
            ):
                return dict(schema)
    return None


def unknown_fields(api_version: str, kind: str, obj: Mapping[str, Any]) -> list[str]:
    """The strict decoder's `unknown field "spec.x[0].y"` complaints for `obj`, from the
    official schema of its kind; none when no schema is to be had."""
    try:
        defs = _served_definitions()
    except SchemasUnavailable:
        return []
    schema = _definition_of(api_version, kind, defs)
    if schema is None:
        return []
    found: list[str] = []
    _walk(obj, schema, "", defs, found)
    return [f'unknown field "{path}"' for path in found]


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        schema = defs.get(ref.removeprefix(_REF), {}) if ref.startswith(_REF) else {}
        seen += 1
    return schema


def _walk(
    value: Any, schema: Mapping[str, Any], path: str, defs: Mapping[str, Any], found: list[str]
) -> None:
    schema = _resolve(schema, defs)
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            for key, item in value.items():
                where = f"{path}.{key}" if path else str(key)
                if key not in props:
                    found.append(where)
                else:
                    _walk(item, props[key], where, defs, found)
        elif isinstance(schema.get("additionalProperties"), dict):
            for key, item in value.items():  # a map: its keys are data, its values typed
                _walk(item, schema["additionalProperties"], f"{path}.{key}", defs, found)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{i}]", defs, found)
