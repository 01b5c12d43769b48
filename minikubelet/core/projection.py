"""What a configMap, secret, downwardAPI or projected volume holds: its payload, the files by
relative path with their bytes and modes, as the kubelet's volume plugins compute it before
the atomic writer puts them on disk. Pure: objects come through a lookup, the values a
resourceFieldRef needs through a callable, and nothing touches the filesystem.

- pkg/volume/configmap/configmap.go MakePayload and pkg/volume/secret/secret.go MakePayload:
  every key at the default mode, or only `items` (each at its own mode, else the default);
  a key an item names that is missing is an error unless the source is `optional`.
- pkg/volume/downwardapi/downwardapi.go CollectData: each item's fieldRef or
  resourceFieldRef value, labels and annotations as `key="value"` lines (fieldpath.FormatMap).
- pkg/volume/projected/projected.go collectData: the sources' payloads merged in order; a
  serviceAccountToken source is a token file at the projection's default mode.
- A missing object that is not `optional` is the kubelet's error, `configmap "x" not found`
  (the managers' singular resource names); several errors are joined as
  utilerrors.NewAggregate joins them.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minikubelet.core.envsources import Lookup
from minikubelet.core.gotext import quote
from minikubelet.core.spec import (
    DownwardAPIFile,
    DownwardAPISource,
    ObjectSource,
    Pod,
    ProjectedSource,
    ResourceFieldSelector,
    ServiceAccountTokenSource,
    VolumeSource,
)

# (the container named by the ref, the ref) -> the value, as ExtractResourceValueByContainer-
# NameAndNodeAllocatable gives it (the node's allocatable amount for an unset limit)
ResourceValue = Callable[[ResourceFieldSelector], str]


@dataclass(frozen=True, slots=True)
class FileProjection:
    """volumeutil.FileProjection: one file's content and mode."""

    data: bytes
    mode: int


Payload = dict[str, FileProjection]


class ProjectionError(Exception):
    """The volume cannot be set up yet; the message is the kubelet's."""


def is_projection(source: VolumeSource) -> bool:
    return isinstance(source, ObjectSource | DownwardAPISource | ProjectedSource)


def referenced_objects(source: VolumeSource) -> set[tuple[str, str]]:
    """The (resource, name) of every ConfigMap and Secret the volume reads."""
    if isinstance(source, ObjectSource):
        return {(_resource(source.kind), source.name)}
    if isinstance(source, ProjectedSource):
        return {(_resource(s.kind), s.name) for s in source.sources if isinstance(s, ObjectSource)}
    return set()


def payload(
    source: VolumeSource,
    pod: Pod,
    lookup: Lookup,
    *,
    resource_value: ResourceValue,
    token: str = "",
) -> Payload:
    """The files of a projection volume. Raises ProjectionError."""
    if isinstance(source, ObjectSource):
        obj = _get(source, pod.namespace, lookup)
        return object_payload(source, obj, source.default_mode or 0)
    if isinstance(source, DownwardAPISource):
        return downward_payload(source.items, pod, source.default_mode or 0, resource_value)
    if isinstance(source, ProjectedSource):
        return projected_payload(source, pod, lookup, resource_value=resource_value, token=token)
    raise ValueError(f"not a projection: {type(source).__name__}")


def _resource(kind: str) -> str:
    return "secrets" if kind == "Secret" else "configmaps"


def _get(source: ObjectSource, namespace: str, lookup: Lookup) -> Mapping[str, Any] | None:
    obj = lookup(_resource(source.kind), namespace, source.name)
    if obj is None and not source.optional:
        raise ProjectionError(f'{source.kind.lower()} "{source.name}" not found')
    return obj


def object_data(kind: str, obj: Mapping[str, Any] | None) -> dict[str, bytes]:
    """A ConfigMap's data and binaryData, or a Secret's data base64-decoded, as bytes."""
    if obj is None:
        return {}
    if kind == "Secret":
        out = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                out[key] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                out[key] = str(value).encode()
        return out
    data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    return data


def object_payload(source: ObjectSource, obj: Mapping[str, Any] | None, default: int) -> Payload:
    """configmap.go / secret.go MakePayload."""
    data = object_data(source.kind, obj)
    if not source.items:
        return {key: FileProjection(value, default) for key, value in data.items()}
    out: Payload = {}
    for item in source.items:
        if item.key not in data:
            if source.optional:
                continue
            if source.kind == "Secret":  # secret.go and configmap.go word it differently
                raise ProjectionError(f"references non-existent secret key: {item.key}")
            raise ProjectionError(f"configmap references non-existent config key: {item.key}")
        out[item.path] = FileProjection(data[item.key], default if item.mode is None else item.mode)
    return out


def downward_payload(
    items: tuple[DownwardAPIFile, ...], pod: Pod, default: int, resource_value: ResourceValue
) -> Payload:
    """downwardapi.go CollectData (paths cleaned as filepath.Clean cleans them)."""
    out: Payload = {}
    for item in items:
        mode = default if item.mode is None else item.mode
        if item.field_ref is not None:
            value = field_value(pod, item.field_ref.field_path)
        elif item.resource_field_ref is not None:
            value = resource_value(item.resource_field_ref)
        else:
            value = ""
        out[posixpath.normpath(item.path)] = FileProjection(value.encode(), mode)
    return out


def field_value(pod: Pod, path: str) -> str:
    """fieldpath.ExtractFieldPathAsString for the paths a volume may name."""
    for base, values in (
        ("metadata.labels", pod.labels),
        ("metadata.annotations", pod.annotations),
    ):
        if path == base:
            return format_map(values)
        if path.startswith(f"{base}['") and path.endswith("']"):
            return values.get(path[len(base) + 2 : -2], "")
    return {"metadata.name": pod.name, "metadata.namespace": pod.namespace,
            "metadata.uid": pod.uid}.get(path, "")  # fmt: skip


def format_map(values: Mapping[str, str]) -> str:
    """fieldpath.FormatMap: `key="value"` lines in key order, values quoted as Go's %q."""
    return "\n".join(f"{key}={quote(values[key])}" for key in sorted(values))


def projected_payload(
    source: ProjectedSource,
    pod: Pod,
    lookup: Lookup,
    *,
    resource_value: ResourceValue,
    token: str,
) -> Payload:
    """projected.go collectData: every source's files, later ones over earlier ones."""
    out: Payload = {}
    errors: list[str] = []
    for part in source.sources:
        try:
            if isinstance(part, ObjectSource):
                obj = _get(part, pod.namespace, lookup)
                out |= object_payload(part, obj, source.default_mode)
            elif isinstance(part, DownwardAPISource):
                out |= downward_payload(part.items, pod, source.default_mode, resource_value)
            elif isinstance(part, ServiceAccountTokenSource):
                out[part.path] = FileProjection(token.encode(), source.default_mode)
        except ProjectionError as e:
            errors.append(str(e))
    if errors:
        raise ProjectionError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return out


def check_payload(files: Mapping[str, FileProjection]) -> str | None:
    """atomic_writer.go validatePayload / validatePath: relative, no `..` element, no name
    starting `..` (the writer's own), at most 4096 bytes; the first problem, else None."""
    for path in files:
        if not path:
            return "invalid path: must not be empty"
        if len(path) > 4096:
            return f"invalid path: must be less than or equal to 4096 characters: {path}"
        if path.startswith("/"):
            return f"invalid path: must be relative path: {path}"
        if ".." in path.split("/"):
            return f"invalid path: must not contain '..': {path}"
        if path.startswith(".."):
            return f"invalid path: must not start with '..': {path}"
    return None
