"""Pod manifests: untrusted YAML/JSON text -> validated, defaulted `spec.Pod`s, or every error.

Owns the pipeline and its boundary: reading files (10 MiB at most, as the kubelet), splitting
documents, checking `apiVersion: v1` / `kind: Pod`, strict decoding (`schema`), the static-pod
style metadata (UID, config annotations, node name), defaults (`defaults`), validation
(`validation`) and the dataclasses (`specbuild`). Errors come out in the API server's words:
decode errors as `Pod in version "v1" cannot be handled as a Pod: ...` (ManifestError), field
errors as `Pod "web" is invalid: [...]` (InvalidPod). Fields with no local meaning are accepted
with one warning each. Pure: no asyncio, no processes.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

from minikubelet.core import gotext
from minikubelet.core.spec import Pod
from minikubelet.manifest import autoscalers, defaults
from minikubelet.manifest.configmaps import (
    ObjectInvalid,
    ObjectUndecodable,
    strict_decoding_error,
    unknown_fields,
)
from minikubelet.manifest.documents import DocumentError, parse_text
from minikubelet.manifest.ignored import IGNORED as IGNORED
from minikubelet.manifest.ignored import ignored_fields as ignored_fields
from minikubelet.manifest.ignored import template_warnings as template_warnings
from minikubelet.manifest.ignored import volume_warnings
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.sources import MAX_CONFIG_LENGTH as MAX_CONFIG_LENGTH
from minikubelet.manifest.sources import read_sources
from minikubelet.manifest.specbuild import build_pod
from minikubelet.manifest.validation import validate_pod


class InvalidPod(Exception):
    """A manifest that failed validation; `errors` are field errors in the API server's format
    (`spec.containers[0].name: Invalid value: "Web": ...`)."""

    def __init__(self, name: str, errors: list[str]) -> None:
        joined = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        super().__init__(f'Pod "{name}" is invalid: {joined}')
        self.name = name
        self.errors = errors


class ManifestError(Exception):
    """Manifests that cannot be used; `lines` holds every problem, one printable line each."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


@dataclass(frozen=True)
class LoadResult:
    pods: list[Pod]
    warnings: list[str]
    objects: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)  # (kind, object)


class OtherKind(Protocol):
    """A kind beside Pod that loading admits (store/kinds.py Kind)."""

    @property
    def kind(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...
    @property
    def effect(self) -> str: ...
    @property
    def no_effect_warning(self) -> str: ...
    @property
    def warning(self) -> str: ...
    def admit(self, obj: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]: ...
    def object_warnings(self, obj: dict[str, Any]) -> list[str]: ...


def parse_documents(text: str, *, source: str) -> list[dict[str, Any]]:
    """Every non-empty YAML or JSON document in `text`; each must be a mapping."""
    documents = _parse_any(text, source)
    count = len(documents)
    lines = [_not_mapping(source, i, count, doc) for i, doc in enumerate(documents)]
    if any(lines):
        raise ManifestError([line for line in lines if line])
    return documents


def _parse_any(text: str, source: str) -> list[Any]:
    try:
        return parse_text(text)
    except DocumentError as err:
        raise ManifestError([f"{_display(source)}: {err}"]) from None


def _not_mapping(source: str, index: int, count: int, document: Any) -> str:
    if isinstance(document, dict):
        return ""
    return (
        f"{_where(source, index, count)}: a manifest must be a mapping (a YAML or JSON "
        f"object), not {_json_type(document)}"
    )


def pod_from_document(
    doc: Mapping[str, Any],
    *,
    source: str,
    node_name: str,
    grpc_available: bool | None = None,
    now: datetime | None = None,
) -> tuple[Pod, list[str]]:
    """One document -> (pod, warnings). Raises ManifestError for a document that is not a v1
    Pod or does not decode, InvalidPod for one that fails validation."""
    _check_kind(doc)
    decoded = decode_pod(doc)
    if decoded.error or decoded.strict:
        raise ManifestError([_decode_message(decoded.error, decoded.strict)])
    pod = defaults.apply(copy.deepcopy(decoded.value))
    pod.pop("status", None)
    _apply_metadata(pod, doc, source=source, node_name=node_name, now=now)
    errors = validate_pod(pod, _grpc_check(grpc_available))
    if errors:
        raise InvalidPod(pod["metadata"].get("name", ""), errors)
    warnings = [f"{path}: {note}" for path, note in IGNORED.items() if path in decoded.present]
    return build_pod(pod, source=source), warnings + volume_warnings(pod["spec"])


def _check_kind(doc: Mapping[str, Any]) -> None:
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if not kind:
        raise ManifestError(["Object 'Kind' is missing: a manifest must have kind: Pod"])
    if not version:
        raise ManifestError(["Object 'apiVersion' is missing: a manifest must have apiVersion: v1"])
    if kind != "Pod" or version != "v1":
        raise ManifestError(
            [
                f"kind {_show(kind)} in apiVersion {_show(version)} is not supported: "
                "minikubelet runs only kind: Pod in apiVersion: v1"
            ]
        )


def _show(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else _json_type(value)


def _decode_message(error: str | None, strict: list[str]) -> str:
    detail = error or "strict decoding error: " + ", ".join(strict)
    return f'Pod in version "v1" cannot be handled as a Pod: {detail}'


def _apply_metadata(
    pod: dict[str, Any],
    doc: Mapping[str, Any],
    *,
    source: str,
    node_name: str,
    now: datetime | None,
) -> None:
    """What the kubelet's file source adds to a static pod (`applyDefaults`), plus the
    creation time the API server would set."""
    now = now or datetime.now(UTC)
    meta = pod.setdefault("metadata", {})
    meta.setdefault("namespace", "default")
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = meta["generateName"] + _pod_hash(doc, source, node_name)[:5]
    # a file's pod keeps its uid across runs (the kubelet hashes it); the API server gives a
    # new object a new one, so a pod made again under the same name is another pod
    generated = (
        uuid.uuid4() if source == "api" else uuid.UUID(hex=_pod_hash(doc, source, node_name))
    )
    uid = meta.get("uid") or str(generated)
    meta["uid"] = uid
    meta["creationTimestamp"] = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    annotations = meta.setdefault("annotations", {})
    annotations["kubernetes.io/config.hash"] = uid
    annotations["kubernetes.io/config.source"] = "api" if source == "api" else "file"
    annotations["kubernetes.io/config.seen"] = gotext.rfc3339_nano(now.timestamp())
    pod["spec"]["nodeName"] = node_name


def _pod_hash(doc: Mapping[str, Any], source: str, node_name: str) -> str:
    """kubelet: config/common.go applyDefaults hashes the pod, the host and the file path."""
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode())
    digest.update(f"host:{node_name}".encode())
    digest.update(f"file:{source}".encode())
    return digest.hexdigest()[:32]


@functools.cache
def grpc_installed() -> bool:
    try:
        importlib.import_module("grpc")
        importlib.import_module("grpc_health.v1.health_pb2")
    except ImportError:
        return False
    return True


def _grpc_check(grpc_available: bool | None) -> Callable[[], bool]:
    if grpc_available is None:
        return grpc_installed
    return lambda: grpc_available


def load_manifests(
    paths: Sequence[str],
    *,
    stdin: TextIO | None = None,
    node_name: str,
    grpc_available: bool | None = None,
    now: datetime | None = None,
    kinds: Mapping[tuple[str, str], OtherKind] | None = None,
) -> LoadResult:
    """Every pod of every file ("-" is stdin; a directory is read as the kubelet reads its
    static pod path), or ManifestError with every problem found. `kinds`: the other kinds
    admitted, by (apiVersion, kind), into `objects`; a `List`'s items are read as documents;
    any other kind is skipped with a warning naming it."""
    loader = _Loader(node_name, grpc_available, now)
    loader.kinds = kinds or {}
    for path in paths:
        for source, text in read_sources(path, stdin, loader.lines):
            loader.add_text(text, source)
    if loader.lines:
        raise ManifestError(loader.lines)
    return LoadResult(loader.pods, loader.warnings, loader.objects)


class _Loader:
    """Accumulates pods, warnings and problems across files and documents."""

    def __init__(self, node_name: str, grpc_available: bool | None, now: datetime | None):
        self.node_name, self.grpc_available, self.now = node_name, grpc_available, now
        self.pods: list[Pod] = []
        self.warnings: list[str] = []
        self.lines: list[str] = []
        self.seen: dict[tuple[str, str], str] = {}
        self.kinds: Mapping[tuple[str, str], OtherKind] = {}
        self.objects: list[tuple[Any, dict[str, Any]]] = []
        self.seen_objects: dict[tuple[str, str, str], str] = {}

    def add_text(self, text: str, source: str) -> None:
        try:
            documents = _parse_any(text, source)
        except ManifestError as err:
            self.lines += err.lines
            return
        for i, document in enumerate(documents):
            problem = _not_mapping(source, i, len(documents), document)
            if problem:
                self.lines.append(problem)
            else:
                self.add_document(document, source, _where(source, i, len(documents)))

    def add_document(self, document: dict[str, Any], source: str, where: str) -> None:
        kind, version = document.get("kind"), document.get("apiVersion")
        if isinstance(kind, str) and isinstance(version, str) and kind and version:
            if kind == "List" and version == "v1":
                return self._add_list(document, source, where)
            if (kind, version) != ("Pod", "v1"):
                return self._add_other(document, kind, version, where)
        try:
            pod, warnings = pod_from_document(
                document,
                source=source,
                node_name=self.node_name,
                grpc_available=self.grpc_available,
                now=self.now,
            )
        except ManifestError as err:
            self.lines += [f"{where}: {line}" for line in err.lines]
            return
        except InvalidPod as err:
            self.lines += [f'{where}: Pod "{err.name}" is invalid: {e}' for e in err.errors]
            return
        if pod.key in self.seen:
            first = self.seen[pod.key]
            self.lines.append(
                f'{where}: Pod "{pod.name}" in namespace "{pod.namespace}" is defined twice '
                f"(first in {first})"
            )
            return
        self.seen[pod.key] = where
        self.pods.append(pod)
        self.warnings += [f'{where}: Pod "{pod.name}": {warning}' for warning in warnings]

    def _add_list(self, document: dict[str, Any], source: str, where: str) -> None:
        items = document.get("items") or []
        if not isinstance(items, list):
            self.lines.append(f"{where}: List: items: expected a list")
            return
        for i, item in enumerate(items):
            at = f"{where} items[{i}]"
            if not isinstance(item, dict):
                self.lines.append(f"{at}: expected an object, got {_json_type(item)}")
            else:
                self.add_document(item, source, at)

    def _add_other(self, document: dict[str, Any], kind: str, version: str, where: str) -> None:
        meta = document.get("metadata") if isinstance(document.get("metadata"), dict) else {}
        name = str((meta or {}).get("name") or "")
        if (version, kind) == ("autoscaling/v1", autoscalers.KIND):  # stored as v2
            document, version = autoscalers.to_v2(document), "autoscaling/v2"
        other = self.kinds.get((version, kind))
        if other is None:
            self.warnings.append(
                f'{where}: {kind} "{name}" ({version}) is skipped: minikubelet does not know '
                "this kind"
            )
            return
        unknown = unknown_fields(kind, document)
        if unknown:
            self.lines.append(f"{where}: {strict_decoding_error(kind, unknown)}")
            return
        obj = copy.deepcopy(document)
        if other.namespaced:
            obj.setdefault("metadata", {}).setdefault("namespace", "default")
        try:
            admitted = other.admit(obj, None)
        except ObjectUndecodable as err:
            self.lines.append(f"{where}: {err}")
            return
        except ObjectInvalid as err:
            self.lines += [f'{where}: {kind} "{err.name}" is invalid: {e}' for e in err.errors]
            return
        meta = admitted["metadata"]
        key = (other.resource, meta.get("namespace", ""), meta["name"])
        if key in self.seen_objects:
            self.lines.append(f'{where}: {kind} "{meta["name"]}" is defined twice '
                              f"(first in {self.seen_objects[key]})")  # fmt: skip
            return
        self.seen_objects[key] = where
        self.objects.append((other, admitted))
        self.warnings += [
            f'{where}: {kind} "{meta["name"]}": {w}'
            for w in [*template_warnings(document), *other.object_warnings(admitted)]
        ]
        if other.warning:
            self.warnings.append(f'{where}: {kind} "{meta["name"]}": {other.warning}')
        elif other.effect == "none":
            self.warnings.append(f'{where}: {kind} "{meta["name"]}": {other.no_effect_warning}')


def _display(source: str) -> str:
    return "<stdin>" if source == "-" else source


def _where(source: str, index: int, count: int) -> str:
    return _display(source) + (f" (document {index + 1})" if count > 1 else "")


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else "a number"
