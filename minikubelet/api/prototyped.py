"""Objects of the kinds kubectl's typed clients send as protobuf with a whole pod template in
them (`kubectl create job`, `kubectl create job --from=cronjob/x`, `kubectl create cronjob`)
and the HorizontalPodAutoscaler `kubectl autoscale` sends (autoscaling/v2, or v1),
decoded to JSON from the messages' field numbers (api/protoschemas.py, generated from
k8s.io/api) and apimachinery's ObjectMeta, LabelSelector, Quantity, IntOrString and Time.

gogo-protobuf writes every field of a Go struct that is not a pointer, zero or not: a zero
string, number or bool of such a field is left out (the JSON encoder's `omitempty` would
leave it out too), one of a pointer field (`backoffLimit: 0`, `runAsUser: 0`) is kept. An
embedded struct (a Probe's ProbeHandler, a Volume's VolumeSource, a key selector's
LocalObjectReference) is its own message on the wire and inline in JSON. Pure; raises
ValueError on anything malformed.
"""

from __future__ import annotations

import base64
from typing import Any

from minikubelet.api.protoschemas import SCHEMAS, Field
from minikubelet.api.protowire import MAGIC, _raw, decode, fields
from minikubelet.core.gotext import rfc3339_nano

JSON = dict[str, Any]
KINDS = {"Job": "Job", "CronJob": "CronJob", "ResourceQuota": "ResourceQuota",
         "PriorityClass": "PriorityClass", "Pod": "Pod",
         "HorizontalPodAutoscaler": "HorizontalPodAutoscaler"}  # fmt: skip

# k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
_META: dict[str, dict[int, Field]] = {
    "ObjectMeta": {
        1: ("name", "string", False, False), 2: ("generateName", "string", False, False),
        3: ("namespace", "string", False, False), 5: ("uid", "string", False, False),
        6: ("resourceVersion", "string", False, False), 7: ("generation", "int64", False, False),
        11: ("labels", "map:string", False, False),
        12: ("annotations", "map:string", False, False),
        13: ("ownerReferences", "msg:OwnerReference", True, False),
        14: ("finalizers", "string", True, False),
    },
    "OwnerReference": {
        1: ("kind", "string", False, False), 3: ("name", "string", False, False),
        4: ("uid", "string", False, False), 5: ("apiVersion", "string", False, False),
        6: ("controller", "bool", False, True), 7: ("blockOwnerDeletion", "bool", False, True),
    },
    "LabelSelector": {
        1: ("matchLabels", "map:string", False, False),
        2: ("matchExpressions", "msg:LabelSelectorRequirement", True, False),
    },
    # k8s.io/api/autoscaling/v1/generated.proto (`kubectl autoscale`'s fallback when the
    # server has no autoscaling/v2); the v2 messages are in api/protoschemas.py
    "autoscaling/v1.HorizontalPodAutoscaler": {
        1: ("metadata", "msg:ObjectMeta", False, False),
        2: ("spec", "msg:autoscaling/v1.HorizontalPodAutoscalerSpec", False, False),
    },
    "autoscaling/v1.HorizontalPodAutoscalerSpec": {
        1: ("scaleTargetRef", "msg:CrossVersionObjectReference", False, False),
        2: ("minReplicas", "int32", False, True), 3: ("maxReplicas", "int32", False, False),
        4: ("targetCPUUtilizationPercentage", "int32", False, True),
    },
    # k8s.io/api/core/v1/generated.proto Pod (the typed client's create of a pod: `kubectl
    # debug --copy-to`); its spec's messages are the generated ones
    "Pod": {
        1: ("metadata", "msg:ObjectMeta", False, False), 2: ("spec", "msg:PodSpec", False, False),
    },
    "LabelSelectorRequirement": {
        1: ("key", "string", False, False), 2: ("operator", "string", False, False),
        3: ("values", "string", True, False),
    },
}  # fmt: skip
# `kubectl create quota` and `kubectl create priorityclass`: k8s.io/api core/v1 and
# scheduling/v1 generated.proto
_POLICY: dict[str, dict[int, Field]] = {
    "ResourceQuota": {
        1: ("metadata", "msg:ObjectMeta", False, False),
        2: ("spec", "msg:ResourceQuotaSpec", False, False),
    },
    "ResourceQuotaSpec": {
        1: ("hard", "map:quantity", False, False), 2: ("scopes", "string", True, False),
        3: ("scopeSelector", "msg:ScopeSelector", False, True),
    },
    "ScopeSelector": {1: ("matchExpressions", "msg:ScopedResourceSelectorRequirement", True,
                          False)},
    "ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string", False, False), 2: ("operator", "string", False, False),
        3: ("values", "string", True, False),
    },
    "PriorityClass": {
        1: ("metadata", "msg:ObjectMeta", False, False), 2: ("value", "int32", False, False),
        3: ("globalDefault", "bool", False, False), 4: ("description", "string", False, False),
        5: ("preemptionPolicy", "string", False, True),
    },
}  # fmt: skip


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: int | bytes) -> Any:
    if kind in ("int32", "int64"):
        return _signed(value) if isinstance(value, int) else None
    if kind == "bool":
        return bool(value) if isinstance(value, int) else None
    if not isinstance(value, bytes):
        return None
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "quantity":
        return decode(value, {1: ("string", None)}).get("string", "")
    if kind == "intorstring":
        parts = dict(fields(value))
        if parts.get(1) == 1:
            text = parts.get(3, b"")
            return text.decode() if isinstance(text, bytes) else ""
        number = parts.get(2, 0)
        return _signed(number) if isinstance(number, int) else 0
    if kind == "time":
        parts = dict(fields(value))
        seconds, nanos = parts.get(1, 0), parts.get(2, 0)
        if not isinstance(seconds, int) or not isinstance(nanos, int) or not (seconds or nanos):
            return None
        return rfc3339_nano(seconds + nanos / 1e9)
    if kind == "duration":
        return _signed(dict(fields(value)).get(1, 0))  # type: ignore[arg-type]
    return value.decode("utf-8", "replace")


def _zero(value: Any) -> bool:
    return value in ("", 0, False, None) and value is not True


def message(name: str, data: bytes) -> JSON:
    """One message as JSON."""
    schema = SCHEMAS.get(name) or _META.get(name) or _POLICY.get(name) or {}
    out: JSON = {}
    for number, value in fields(data):
        if number not in schema:
            continue
        field, kind, repeated, pointer = schema[number]
        if kind.startswith("map:"):
            if not isinstance(value, bytes):
                continue
            entry = dict(fields(value))
            key = entry.get(1, b"")
            raw = entry.get(2, b"")
            inner = kind[4:]
            item = message(inner[4:], raw) if inner.startswith("msg:") and isinstance(
                raw, bytes) else _scalar(inner, raw)  # fmt: skip
            out.setdefault(field, {})[key.decode() if isinstance(key, bytes) else ""] = item
            continue
        if kind.startswith("msg:"):
            if not isinstance(value, bytes):
                continue
            item = message(kind[4:], value)
            if not field:  # embedded: `json:",inline"`
                out.update(item)
                continue
        else:
            item = _scalar(kind, value)
            if item is None or (not repeated and not pointer and _zero(item)):
                continue
        if repeated:
            out.setdefault(field, []).append(item)
        else:
            out[field] = item
    return out


def kind_of(body: bytes) -> str:
    """The kind a protobuf body names (its TypeMeta), or "" for none."""
    if not body.startswith(MAGIC):
        return ""
    try:
        unknown = decode(body[len(MAGIC) :], {1: ("typeMeta", {2: ("kind", None)})})
    except ValueError:
        return ""
    return str((unknown.get("typeMeta") or {}).get("kind", ""))


def decode_typed_object(body: bytes) -> JSON:
    """A protobuf-encoded Job, CronJob or HorizontalPodAutoscaler as JSON (its status left
    out: a create does not keep it)."""
    if not body.startswith(MAGIC):
        raise ValueError("provided data does not appear to be a protobuf message")
    unknown = decode(body[len(MAGIC) :], {1: ("typeMeta", {1: ("apiVersion", None),
                                                          2: ("kind", None)})})  # fmt: skip
    type_meta = unknown.get("typeMeta") or {}
    kind = str(type_meta.get("kind", ""))
    if kind not in KINDS:
        raise ValueError(f"no protobuf decoding for kind {kind!r}")
    raw = _raw(body[len(MAGIC) :])
    version = str(type_meta.get("apiVersion", ""))
    obj = message(f"{version}.{kind}" if version == "autoscaling/v1" else kind, raw)
    obj.pop("status", None)
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
