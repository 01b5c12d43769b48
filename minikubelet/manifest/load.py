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
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from minikubelet.core import gotext
from minikubelet.core.images import LOCAL_FILE
from minikubelet.core.spec import Pod
from minikubelet.manifest import defaults
from minikubelet.manifest.configmaps import (
    ObjectInvalid,
    ObjectUndecodable,
    strict_decoding_error,
    unknown_fields,
)
from minikubelet.manifest.documents import DocumentError, parse_text
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.specbuild import LOCAL_SOURCES, build_pod
from minikubelet.manifest.validation import validate_pod

MAX_CONFIG_LENGTH = 10 * 1 << 20  # kubelet: pkg/kubelet/config maxConfigLength
_NOT_LOCAL = "has no local meaning in minikubelet and is ignored"
_CONTAINER_IGNORED = {
    "volumeDevices": f"{_NOT_LOCAL} (processes see the host's devices)",
    "securityContext": f"{_NOT_LOCAL} (processes run as the minikubelet user)",
    "imagePullPolicy": f"{_NOT_LOCAL} (minikubelet pulls no images)",
    "resizePolicy": _NOT_LOCAL,
    "tty": _NOT_LOCAL,
    "ports[*].hostPort": f"{_NOT_LOCAL} (processes listen on the host directly)",
    "ports[*].hostIP": f"{_NOT_LOCAL} (processes listen on the host directly)",
}
_SPEC_IGNORED = {
    "nodeSelector": f"{_NOT_LOCAL} (there is one node)",
    "affinity": f"{_NOT_LOCAL} (there is one node)",
    "tolerations": f"{_NOT_LOCAL} (there is one node)",
    "topologySpreadConstraints": f"{_NOT_LOCAL} (there is one node)",
    "schedulerName": f"{_NOT_LOCAL} (nothing schedules pods)",
    "schedulingGates": f"{_NOT_LOCAL} (nothing schedules pods)",
    "priorityClassName": f"{_NOT_LOCAL} (nothing schedules pods)",
    "priority": f"{_NOT_LOCAL} (nothing schedules pods)",
    "preemptionPolicy": f"{_NOT_LOCAL} (nothing schedules pods)",
    "nodeName": "is ignored: minikubelet sets it to its own node name",
    "securityContext": f"{_NOT_LOCAL} (processes run as the minikubelet user)",
    "imagePullSecrets": f"{_NOT_LOCAL} (minikubelet pulls no images)",
    "serviceAccountName": f"{_NOT_LOCAL} (there is no API identity to give a process)",
    "serviceAccount": f"{_NOT_LOCAL} (there is no API identity to give a process)",
    "automountServiceAccountToken": f"{_NOT_LOCAL} (there is no API identity to give)",
    "hostNetwork": f"{_NOT_LOCAL} (processes always share the host's network)",
    "hostPID": f"{_NOT_LOCAL} (processes always share the host's PID namespace)",
    "hostIPC": f"{_NOT_LOCAL} (processes always share the host's IPC namespace)",
    "hostUsers": f"{_NOT_LOCAL} (processes always share the host's user namespace)",
    "shareProcessNamespace": f"{_NOT_LOCAL} (processes always share the host's)",
    "dnsPolicy": f"{_NOT_LOCAL} (processes use the host's resolver)",
    "dnsConfig": f"{_NOT_LOCAL} (processes use the host's resolver)",
    "hostAliases": f"{_NOT_LOCAL} (processes use the host's /etc/hosts)",
    "hostname": f"{_NOT_LOCAL} (processes see the host's name)",
    "subdomain": f"{_NOT_LOCAL} (processes see the host's name)",
    "setHostnameAsFQDN": f"{_NOT_LOCAL} (processes see the host's name)",
    "runtimeClassName": f"{_NOT_LOCAL} (there is no container runtime)",
    "overhead": _NOT_LOCAL,
    "os": f"{_NOT_LOCAL} (processes run on this machine's OS)",
    "resourceClaims": _NOT_LOCAL,
    "resources": "is not enforced by minikubelet",
}
IGNORED: dict[str, str] = {f"spec.{key}": note for key, note in _SPEC_IGNORED.items()}
IGNORED |= {
    f"spec.{kind}[*].{key}": note
    for kind in ("initContainers", "containers")
    for key, note in _CONTAINER_IGNORED.items()
}
IGNORED["status"] = "is computed by minikubelet; the value given is ignored"


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


_NON_LOCAL_VOLUME = "has no local meaning in minikubelet: the volume is an empty directory"
_NON_LOCAL_PROJECTION = "has no local meaning in minikubelet: it projects no file"


def volume_warnings(spec: Mapping[str, Any]) -> list[str]:
    """One warning per volume source, projection or mount option with no local meaning."""
    warnings = []
    for i, volume in enumerate(_dicts(spec.get("volumes"))):
        at = f"spec.volumes[{i}]"
        for key in volume:
            if key != "name" and key not in LOCAL_SOURCES:
                warnings.append(f"{at}.{key}: {_NON_LOCAL_VOLUME}")
        if "ephemeral" in volume:
            warnings.append(f"{at}.ephemeral: is a directory that lives as long as the pod; "
                            "no PersistentVolumeClaim is made for it")  # fmt: skip
        medium = _dict(volume.get("emptyDir")).get("medium", "")
        if isinstance(medium, str) and medium.startswith("HugePages"):
            warnings.append(f"{at}.emptyDir.medium: {medium} has no local meaning in "
                            "minikubelet: the volume is a directory on disk")  # fmt: skip
        for j, source in enumerate(_dicts(_dict(volume.get("projected")).get("sources"))):
            for key in ("clusterTrustBundle", "podCertificate"):
                if key in source:
                    warnings.append(f"{at}.projected.sources[{j}].{key}: {_NON_LOCAL_PROJECTION}")
    for kind in ("initContainers", "containers"):
        for i, container in enumerate(_dicts(spec.get(kind))):
            for j, mount in enumerate(_dicts(container.get("volumeMounts"))):
                mode = mount.get("mountPropagation", "None")
                if mode != "None":
                    warnings.append(
                        f"spec.{kind}[{i}].volumeMounts[{j}].mountPropagation: {mode} has no "
                        "local meaning in minikubelet: mounts are not propagated (None)"
                    )
    return warnings


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (a patch or a replacement may hold anything)."""
    return [v if isinstance(v, Mapping) else {} for v in value] if isinstance(value, list) else []


def ignored_fields(doc: Mapping[str, Any]) -> list[str]:
    """The warnings `pod_from_document` gives for fields with no local meaning, for any pod
    document or part of one (a patch, a replacement); nothing else is checked."""
    present = decode_pod(doc).present
    warnings = [f"{path}: {note}" for path, note in IGNORED.items() if path in present]
    spec = doc.get("spec")
    return warnings + (volume_warnings(spec) if isinstance(spec, Mapping) else [])


# where a workload keeps its pod template
_TEMPLATES = (("spec", "template"), ("spec", "jobTemplate", "spec", "template"))
# fields of a template its own controller acts on (the DaemonSet controller places its pod)
_ACTED_ON = {"DaemonSet": ("spec.nodeSelector:", "spec.affinity:", "spec.tolerations:")}


def template_warnings(obj: Mapping[str, Any]) -> list[str]:
    """The warnings `pod_from_document` would give for the fields a workload's pod template
    sets that have no local meaning, under the template's path
    (`spec.template.spec.hostNetwork: ...`): given once, when the workload is created or
    loaded, as the pods its controller makes from it are not warned of again. Call it on the
    object as written, before defaults."""
    for path in _TEMPLATES:
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        spec = node.get("spec") if isinstance(node, Mapping) else None
        if isinstance(spec, Mapping):
            skip = _ACTED_ON.get(str(obj.get("kind", "")), ())
            found = ignored_fields({"apiVersion": "v1", "kind": "Pod", "spec": spec})
            return [f"{'.'.join(path)}.{w}" for w in found if not w.startswith(skip)]
    return []


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
        for source, text in _read_sources(path, stdin, loader.lines):
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


def _read_sources(path: str, stdin: TextIO | None, lines: list[str]) -> list[tuple[str, str]]:
    """(source, text) for a file, stdin, or each manifest of a directory."""
    try:
        if path == "-":
            return [("-", _read_stdin(stdin))]
        if os.path.isdir(path):
            return [(str(file), _read_file(file)) for file in _directory_files(Path(path))]
        return [(path, _read_file(Path(path)))]
    except OSError as err:
        lines.append(f"{_display(path)}: cannot read: {err.strerror or err}")
    except _TooLarge:
        lines.append(f"{_display(path)}: {_TooLarge.message}")
    except UnicodeDecodeError as err:
        lines.append(f"{_display(path)}: not UTF-8 text (byte {err.start}): {err.reason}")
    return []


class _TooLarge(Exception):
    message = f"larger than {MAX_CONFIG_LENGTH} bytes, the most the kubelet reads from a manifest"


def _read_file(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_LENGTH + 1)
    if len(data) > MAX_CONFIG_LENGTH:
        raise _TooLarge
    return data.decode("utf-8")


def _read_stdin(stdin: TextIO | None) -> str:
    if stdin is None:
        raise OSError(0, "no standard input to read")
    text = stdin.read(MAX_CONFIG_LENGTH + 1)
    if len(text) > MAX_CONFIG_LENGTH:
        raise _TooLarge
    return text


# not manifests: the local file, and kustomize's own file (render with `kubectl kustomize`)
NOT_MANIFESTS = frozenset({LOCAL_FILE, "kustomization.yaml", "kustomization.yml", "Kustomization"})


def _directory_files(directory: Path) -> list[Path]:
    """kubelet: file.go lists `dir/[^.]*`, sorted, regular files only, no recursion; the
    local file (`minikubelet.local.yaml`) and a `kustomization.yaml` are not manifests."""
    names = sorted(
        p for p in directory.iterdir() if not p.name.startswith(".") and p.name not in NOT_MANIFESTS
    )
    return [p for p in names if p.is_file()]


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
