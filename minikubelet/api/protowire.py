"""Just enough of the Kubernetes protobuf encoding to read the small requests kubectl's typed
clients send only that way (the authorization reviews of `kubectl auth can-i`).

A body is the 4-byte magic `k8s\\0` and a `runtime.Unknown` message (field 1 TypeMeta
{apiVersion, kind}, field 2 the raw object), `k8s.io/apimachinery/pkg/runtime/serializer/
protobuf`. Messages are read with the wire format's two types that these messages use:
varints and length-delimited fields. Answers are sent as JSON, which the clients accept.
Pure; raises ValueError on anything malformed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from typing import Any

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
Schema = Mapping[int, tuple[str, "Schema | None"]]  # field number -> (name, submessage)


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            size, pos = _varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            yield number, data[pos : pos + size]
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode(data: bytes, schema: Schema) -> dict[str, Any]:
    """Known fields of one message as JSON; strings are UTF-8, submessages recurse."""
    out: dict[str, Any] = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        name, sub = schema[number]
        if isinstance(value, int):
            out[name] = bool(value)
        elif sub is not None:
            out[name] = decode(value, sub)
        else:
            out[name] = value.decode("utf-8", "replace")
    return out


_TYPE_META: Schema = {1: ("apiVersion", None), 2: ("kind", None)}
_RESOURCE_ATTRIBUTES: Schema = {
    1: ("namespace", None), 2: ("verb", None), 3: ("group", None), 4: ("version", None),
    5: ("resource", None), 6: ("subresource", None), 7: ("name", None),
}  # fmt: skip
_NON_RESOURCE_ATTRIBUTES: Schema = {1: ("path", None), 2: ("verb", None)}
_ACCESS_SPEC: Schema = {
    1: ("resourceAttributes", _RESOURCE_ATTRIBUTES),
    2: ("nonResourceAttributes", _NON_RESOURCE_ATTRIBUTES),
}
_RULES_SPEC: Schema = {1: ("namespace", None)}
SPECS: dict[str, Schema] = {
    "SelfSubjectAccessReview": {2: ("spec", _ACCESS_SPEC)},
    "SelfSubjectRulesReview": {2: ("spec", _RULES_SPEC)},
}


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded object of one of the kinds in SPECS, as JSON."""
    if not body.startswith(MAGIC):
        raise ValueError("provided data does not appear to be a protobuf message")
    unknown = decode(body[len(MAGIC) :], {1: ("typeMeta", _TYPE_META), 2: ("raw", None)})
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    raw = _raw(body[len(MAGIC) :])
    if kind not in SPECS:
        raise ValueError(f"no protobuf decoding for kind {kind!r}")
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind,
            **decode(raw, SPECS[kind])}  # fmt: skip


def _raw(unknown: bytes) -> bytes:
    for number, value in fields(unknown):
        if number == 2 and isinstance(value, bytes):
            return value
    return b""


# --- the kinds `kubectl create configmap|secret|namespace|serviceaccount` send -------------
# (k8s.io/api/core/v1/generated.proto: ObjectMeta, ConfigMap, Secret, Namespace,
# ServiceAccount); maps are repeated {key = 1, value = 2} entries


def _entries(data: bytes, number: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for field, value in fields(data):
        if field == number and isinstance(value, bytes):
            entry = {n: v for n, v in fields(value) if isinstance(v, bytes)}
            out[entry.get(1, b"").decode("utf-8", "replace")] = entry.get(2, b"")
    return out


def _text_map(data: bytes, number: int) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in _entries(data, number).items()}


def _b64_map(data: bytes, number: int) -> dict[str, str]:
    return {k: base64.b64encode(v).decode() for k, v in _entries(data, number).items()}


def _object_meta(data: bytes) -> dict[str, Any]:
    meta: dict[str, Any] = decode(data, {1: ("name", None), 2: ("generateName", None),
                                         3: ("namespace", None)})  # fmt: skip
    meta = {k: v for k, v in meta.items() if v}
    for number, name in ((11, "labels"), (12, "annotations")):
        if values := _text_map(data, number):
            meta[name] = values
    return meta


# kind -> (field -> (name, how)): "text" a string, "bool" a varint, "map" map<string,string>,
# "bytes" map<string,bytes> (base64 in JSON)
_CONFIG_KINDS: dict[str, dict[int, tuple[str, str]]] = {
    "ConfigMap": {2: ("data", "map"), 3: ("binaryData", "bytes"), 4: ("immutable", "bool")},
    "Secret": {
        2: ("data", "bytes"),
        3: ("type", "text"),
        4: ("stringData", "map"),
        5: ("immutable", "bool"),
    },
    "Namespace": {},
    "ServiceAccount": {},
    "Service": {},  # its spec: _service_spec
    "Deployment": {},  # its spec: _deployment_spec
}


def _service_spec(data: bytes) -> dict[str, Any]:
    """k8s.io/api/core/v1 ServiceSpec: ports = 1, selector = 2, clusterIP = 3, type = 4,
    sessionAffinity = 7, externalName = 10 (what `kubectl create service` sends)."""
    spec: dict[str, Any] = {}
    ports = []
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            ports.append(_service_port(value))
        elif isinstance(value, bytes) and value and number in (3, 4, 7, 10):
            name = {3: "clusterIP", 4: "type", 7: "sessionAffinity", 10: "externalName"}[number]
            spec[name] = value.decode("utf-8", "replace")
    if ports:
        spec["ports"] = ports
    if selector := _text_map(data, 2):
        spec["selector"] = selector
    return spec


def _service_port(data: bytes) -> dict[str, Any]:
    """ServicePort: name = 1, protocol = 2, port = 3, targetPort = 4 (IntOrString: type = 1,
    intVal = 2, strVal = 3), nodePort = 5, appProtocol = 6."""
    port: dict[str, Any] = {}
    for number, value in fields(data):
        if number in (1, 2, 6) and isinstance(value, bytes) and value:
            port[{1: "name", 2: "protocol", 6: "appProtocol"}[number]] = value.decode()
        elif number in (3, 5) and isinstance(value, int) and value:
            port["port" if number == 3 else "nodePort"] = value
        elif number == 4 and isinstance(value, bytes):
            target = dict(fields(value))
            if target.get(1) == 1 and isinstance(target.get(3), bytes):
                port["targetPort"] = target[3].decode()  # type: ignore[union-attr]
            elif isinstance(target.get(2), int):
                port["targetPort"] = target[2]
    return port


# --- what `kubectl create deployment` sends (k8s.io/api/apps/v1 and core/v1 generated.proto) --
# the encoder writes a non-pointer field even when empty or zero: those are left out


def _text(value: int | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else ""


def _deployment_spec(data: bytes) -> dict[str, Any]:
    """DeploymentSpec: replicas = 1, selector = 2, template = 3, strategy = 4,
    minReadySeconds = 5, revisionHistoryLimit = 6, paused = 7, progressDeadlineSeconds = 9."""
    spec: dict[str, Any] = {}
    for number, value in fields(data):
        if number in (1, 6, 9) and isinstance(value, int):
            spec[
                {1: "replicas", 6: "revisionHistoryLimit", 9: "progressDeadlineSeconds"}[number]
            ] = value
        elif number == 5 and isinstance(value, int) and value:
            spec["minReadySeconds"] = value
        elif number == 7 and isinstance(value, int) and value:
            spec["paused"] = True
        elif number == 2 and isinstance(value, bytes):
            spec["selector"] = {"matchLabels": _text_map(value, 1)} if _text_map(value, 1) else {}
        elif number == 3 and isinstance(value, bytes):
            spec["template"] = _pod_template(value)
        elif number == 4 and isinstance(value, bytes):
            kind = next((_text(v) for n, v in fields(value) if n == 1), "")
            if kind:
                spec["strategy"] = {"type": kind}
    return spec


def _pod_template(data: bytes) -> dict[str, Any]:
    """PodTemplateSpec: metadata = 1, spec = 2 (PodSpec: containers = 2, restartPolicy = 3,
    dnsPolicy = 6, serviceAccountName = 8)."""
    template: dict[str, Any] = {}
    for number, value in fields(data):
        if number == 1 and isinstance(value, bytes):
            template["metadata"] = _object_meta(value)
        elif number == 2 and isinstance(value, bytes):
            spec: dict[str, Any] = {}
            for field, item in fields(value):
                if field == 2 and isinstance(item, bytes):
                    spec.setdefault("containers", []).append(_container(item))
                elif field in (3, 6, 8) and _text(item):
                    name = {3: "restartPolicy", 6: "dnsPolicy", 8: "serviceAccountName"}[field]
                    spec[name] = _text(item)
            template["spec"] = spec
    return template


def _container(data: bytes) -> dict[str, Any]:
    """Container: name = 1, image = 2, command = 3, args = 4, workingDir = 5, ports = 6
    (ContainerPort: name = 1, containerPort = 3, protocol = 4), env = 7 (EnvVar: name = 1,
    value = 2), imagePullPolicy = 14."""
    container: dict[str, Any] = {}
    for number, value in fields(data):
        if number in (1, 2, 5, 14) and _text(value):
            container[{1: "name", 2: "image", 5: "workingDir", 14: "imagePullPolicy"}[number]] = (
                _text(value)
            )
        elif number in (3, 4):
            container.setdefault("command" if number == 3 else "args", []).append(_text(value))
        elif number == 6 and isinstance(value, bytes):
            port: dict[str, Any] = {}
            for field, item in fields(value):
                if field == 3 and isinstance(item, int):
                    port["containerPort"] = item
                elif field in (1, 4) and _text(item):
                    port["name" if field == 1 else "protocol"] = _text(item)
            container.setdefault("ports", []).append(port)
        elif number == 7 and isinstance(value, bytes):
            env = {n: _text(v) for n, v in fields(value) if n in (1, 2)}
            container.setdefault("env", []).append(
                {"name": env.get(1, ""), "value": env.get(2, "")}
            )
    return container


def decode_config_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded ConfigMap, Secret, Namespace, ServiceAccount, Service or Deployment
    as JSON: their metadata's name, namespace, labels and annotations, and their data or spec
    (the empty strings and zeros the encoder writes for fields not set are left out)."""
    if not body.startswith(MAGIC):
        raise ValueError("provided data does not appear to be a protobuf message")
    unknown = decode(body[len(MAGIC) :], {1: ("typeMeta", _TYPE_META)})
    type_meta = unknown.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in _CONFIG_KINDS:
        raise ValueError(f"no protobuf decoding for kind {kind!r}")
    raw = _raw(body[len(MAGIC) :])
    out: dict[str, Any] = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind}
    for number, value in fields(raw):
        if number == 1 and isinstance(value, bytes):
            out["metadata"] = _object_meta(value)
        elif number == 2 and kind == "Service" and isinstance(value, bytes):
            out["spec"] = _service_spec(value)
        elif number == 2 and kind == "Deployment" and isinstance(value, bytes):
            out["spec"] = _deployment_spec(value)
    for number, (name, how) in _CONFIG_KINDS[kind].items():
        if how == "map" and (values := _text_map(raw, number)):
            out[name] = values
        elif how == "bytes" and (encoded := _b64_map(raw, number)):
            out[name] = encoded
        elif how in ("text", "bool"):
            for field, value in fields(raw):
                if field == number:
                    out[name] = (
                        bool(value)
                        if how == "bool"
                        else (
                            value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                        )
                    )
    return out
