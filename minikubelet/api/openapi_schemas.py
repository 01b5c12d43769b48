"""The served kinds' schemas for OpenAPI v3, derived from the official ones.

The source is the `kubernetes-validate` package (the `explain` extra): it ships the
Kubernetes API's definitions per release as JSON Schema (`kubernetes-json-schema/
v1.34.0-local/_definitions.json`, generated from the release's OpenAPI document). Converting
back is mechanical: `$defs` become `components.schemas`, a `["string", "null"]` type becomes
`string`, a `$ref` with a description beside it becomes `allOf: [{$ref}]` with the
description (the API server's own form), the two `oneOf` scalars are written as the API
server writes them (IntOrString a `string` of format `int-or-string`, Quantity a `string`),
and the `enum` the generator added to every `apiVersion` and `kind` is dropped. Only the
closure of the served kinds (`x-kubernetes-group-version-kind`) is kept.

Pure functions of the loaded JSON; loading is the caller's (it is a 1.5 MB file: in a thread,
once, at the first request).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minikubelet.manifest.schemas import PACKAGE as PACKAGE
from minikubelet.manifest.schemas import SchemasUnavailable as SchemasUnavailable
from minikubelet.manifest.schemas import load_definitions as load_definitions

JSON = dict[str, Any]
_REF = "#/$defs/"
_SCALARS: dict[str, JSON] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string",
                                                         "format": "int-or-string"},
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
}  # fmt: skip


def _type(value: Any) -> Any:
    if isinstance(value, list):
        kept = [t for t in value if t != "null"]
        return kept[0] if len(kept) == 1 else kept or None
    return value


def convert(schema: Any, *, in_kind: bool = False) -> Any:
    """One JSON Schema node as OpenAPI v3."""
    if isinstance(schema, list):
        return [convert(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: JSON = {}
    for key, value in schema.items():
        if key == "type":
            kept = _type(value)
            if kept is not None:
                out[key] = kept
        elif key == "$ref":
            out[key] = "#/components/schemas/" + str(value).removeprefix(_REF)
        elif key == "properties":
            out[key] = {name: _property(name, prop, in_kind) for name, prop in value.items()}
        elif key in ("items", "additionalProperties", "allOf", "oneOf", "anyOf", "not"):
            out[key] = convert(value)
        else:
            out[key] = value
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def _property(name: str, prop: Any, in_kind: bool) -> Any:
    converted = convert(prop)
    if in_kind and name in ("apiVersion", "kind") and isinstance(converted, dict):
        converted.pop("enum", None)
    return converted


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_REF):
                yield value.removeprefix(_REF)
            else:
                yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


def definitions_for(definitions: JSON, kinds: Iterable[tuple[str, str, str]]) -> list[str]:
    """The names of the definitions of these (group, version, kind)s."""
    wanted = set(kinds)
    found = []
    for name, schema in definitions.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", "")) in wanted:
                found.append(name)
                break
    return sorted(found)


def components(definitions: JSON, roots: Iterable[str]) -> JSON:
    """`components.schemas` for the closure of `roots` under `$ref`."""
    seen: dict[str, None] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions:
            continue
        seen[name] = None
        todo.extend(_refs(definitions[name]))
    schemas: JSON = {}
    for name in sorted(seen):
        source = definitions[name]
        if name in _SCALARS:
            schemas[name] = {**{k: v for k, v in source.items() if k == "description"},
                             **_SCALARS[name]}  # fmt: skip
        else:
            schemas[name] = convert(source, in_kind="x-kubernetes-group-version-kind" in source)
    return schemas
