"""Admission of the kinds beside Pod: decoding, defaults and validation as the API server does
them, for ConfigMap, Secret, Namespace, ServiceAccount and the kinds only stored here.

Each `admit_*` takes the new object (a JSON-ready dict, kind and apiVersion already checked)
and the stored one for an update (None for a create), and returns the object as it is to be
stored, or raises `ObjectInvalid` (a 422 `Invalid`, the field errors in upstream's words) or
`ObjectUndecodable` (a 400, the decoder's words). Upstream: pkg/apis/core/validation
(ValidateConfigMap[Update], ValidateSecret[Update], ValidateNamespace, ValidateServiceAccount),
pkg/apis/core/v1 (SetDefaults_Secret, SetDefaults_Namespace... and the Secret's `stringData`
conversion). Pure.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Mapping
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import ownership, schemas
from minikubelet.manifest.validation import validate_annotations, validate_labels

JSON = dict[str, Any]
MAX_SECRET_SIZE = 1 * 1024 * 1024  # core.MaxSecretSize (ConfigMaps share it)
IMMUTABLE = "field is immutable when `immutable` is set"
SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"


class ObjectInvalid(Exception):
    """A 422: `{kind} "{name}" is invalid: ...`."""

    def __init__(self, kind: str, name: str, errors: list[str]) -> None:
        super().__init__(f'{kind} "{name}" is invalid: ' + "; ".join(errors))
        self.kind, self.name, self.errors = kind, name, errors


class ObjectUndecodable(Exception):
    """A 400: the body does not decode as the kind."""


def _data_key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _string_map(obj: JSON, field: str, kind: str) -> dict[str, str]:
    value = obj.get(field)
    if value is None:
        return {}
    where = f"Go struct field {kind}.{field}"
    prefix = f'{kind} in version "v1" cannot be handled as a {kind}: json: cannot unmarshal'
    if not isinstance(value, dict):
        raise ObjectUndecodable(f"{prefix} {_json_type(value)} into {where} of type "
                                "map[string]string")  # fmt: skip
    for item in value.values():
        if not isinstance(item, str):
            raise ObjectUndecodable(f"{prefix} {_json_type(item)} into {where} of type string")
    return dict(value)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"


def validate_object_meta(obj: JSON, *, namespaced: bool, label_name: bool = False) -> list[str]:
    """ValidateObjectMeta: the name (a DNS subdomain, or label for Namespace), namespace,
    labels, annotations, owner references and finalizers."""
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    errors: list[str] = []
    if not name:
        errors.append(fe.required("metadata.name", "name or generateName is required"))
    else:
        check = fe.dns1123_label if label_name else fe.dns1123_subdomain
        errors += fe.invalid_each("metadata.name", name, check(name))
    namespace = meta.get("namespace") or ""
    if namespaced and not namespace:
        errors.append(fe.required("metadata.namespace"))
    elif not namespaced and namespace:
        errors.append(fe.forbidden("metadata.namespace", "not allowed on this type"))
    errors += validate_labels(meta.get("labels") or {}, "metadata.labels")
    errors += validate_annotations(meta.get("annotations") or {})
    return errors + ownership.metadata_errors(meta)


def _name(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _immutable_errors(new: JSON, old: JSON | None, fields: tuple[str, ...]) -> list[str]:
    """The `immutable` rules of ValidateConfigMapUpdate / ValidateSecretUpdate."""
    if old is None or not old.get("immutable"):
        return []
    errors = []
    if not new.get("immutable"):
        errors.append(fe.forbidden("immutable", IMMUTABLE))
    for field in fields:
        if (new.get(field) or {}) != (old.get(field) or {}):
            errors.append(fe.forbidden(field, IMMUTABLE))
    return errors


def admit_configmap(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateConfigMap (and, for an update, ValidateConfigMapUpdate)."""
    obj = copy.deepcopy(obj)
    data = _string_map(obj, "data", "ConfigMap")
    binary = _string_map(obj, "binaryData", "ConfigMap")
    binary_bytes = {k: _b64(v, "ConfigMap") for k, v in binary.items()}
    errors = validate_object_meta(obj, namespaced=True)
    total = 0
    for key, value in data.items():
        errors += fe.invalid_each(_data_key("data", key), key, fe.config_map_key(key))
        if key in binary:
            errors.append(
                fe.invalid(_data_key("data", key), key, "duplicate of key present in binaryData")
            )
        total += len(value.encode())
    for key, raw in binary_bytes.items():
        errors += fe.invalid_each(_data_key("binaryData", key), key, fe.config_map_key(key))
        total += len(raw)
    if total > MAX_SECRET_SIZE:
        errors.append(fe.too_long("", MAX_SECRET_SIZE).removeprefix(": "))
    errors = _immutable_errors(obj, old, ("data", "binaryData")) + errors
    if errors:
        raise ObjectInvalid("ConfigMap", _name(obj), errors)
    return obj


def _b64(text: str, kind: str) -> bytes:
    """Go's base64.StdEncoding, as `[]byte` fields decode."""
    try:
        return base64.b64decode(text.encode(), validate=True)
    except (binascii.Error, ValueError):
        at = next((i for i, c in enumerate(text) if not (c.isalnum() or c in "+/=")), None)
        if at is None:
            at = len(text) - len(text) % 4 if len(text) % 4 else len(text)
        raise ObjectUndecodable(
            f'{kind} in version "v1" cannot be handled as a {kind}: illegal base64 data at '
            f"input byte {at}"
        ) from None


def secret_data(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A stored Secret's data, decoded."""
    return {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}


def _go_json_error(raw: bytes) -> str | None:
    try:
        value = json.loads(raw.decode("utf-8", "replace"))
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()):
            return "unexpected end of JSON input"
        if exc.msg.startswith("Expecting value"):
            char = exc.doc[exc.pos : exc.pos + 1]
            if not char:
                return "unexpected end of JSON input"
            return f"invalid character {char!r} looking for beginning of value"
        return f"invalid character at offset {exc.pos}: {exc.msg}"
    if not isinstance(value, dict):
        go_type = "map[string]interface {}"
        return f"json: cannot unmarshal {_json_type(value)} into Go value of type {go_type}"
    return None


def _secret_type_errors(secret_type: str, data: Mapping[str, bytes], meta: JSON) -> list[str]:
    """The `switch secret.Type` of ValidateSecret."""
    errors: list[str] = []

    def key(name: str) -> str:
        return _data_key("data", name)

    if secret_type == "kubernetes.io/service-account-token":
        if not (meta.get("annotations") or {}).get(SERVICE_ACCOUNT_NAME_KEY):
            errors.append(fe.required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]"))
    elif secret_type in ("kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"):
        name = ".dockercfg" if secret_type.endswith("dockercfg") else ".dockerconfigjson"
        if name not in data:
            errors.append(fe.required(key(name)))
        else:
            problem = _go_json_error(data[name])
            if problem:
                errors.append(fe.invalid(key(name), "<secret contents redacted>", problem))
    elif secret_type == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            errors += [fe.required(key("username")), fe.required(key("password"))]
    elif secret_type == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            errors.append(fe.required(key("ssh-privatekey")))
    elif secret_type == "kubernetes.io/tls":
        for name in ("tls.crt", "tls.key"):
            if name not in data:
                errors.append(fe.required(key(name)))
    return errors


def admit_secret(obj: JSON, old: JSON | None = None) -> JSON:
    """The Secret's `stringData` merged into `data` (the v1 conversion: a stringData key wins),
    the type defaulted to Opaque (SetDefaults_Secret), then ValidateSecret (and
    ValidateSecretUpdate for an update)."""
    obj = copy.deepcopy(obj)
    encoded = _string_map(obj, "data", "Secret")
    string_data = _string_map(obj, "stringData", "Secret")
    data = {k: _b64(v, "Secret") for k, v in encoded.items()}
    data.update({k: v.encode() for k, v in string_data.items()})
    obj.pop("stringData", None)
    if data:
        obj["data"] = {k: base64.b64encode(v).decode() for k, v in data.items()}
    else:
        obj.pop("data", None)
    if not obj.get("type"):
        obj["type"] = "Opaque"
    errors = validate_object_meta(obj, namespaced=True)
    total = 0
    for key, value in data.items():
        errors += fe.invalid_each(_data_key("data", key), key, fe.config_map_key(key))
        total += len(value)
    if total > MAX_SECRET_SIZE:
        errors.append(fe.too_long("data", MAX_SECRET_SIZE))
    errors += _secret_type_errors(str(obj["type"]), data, obj.get("metadata") or {})
    if old is not None:
        if obj["type"] != old.get("type", "Opaque"):
            errors.insert(0, fe.invalid("type", obj["type"], "field is immutable"))
        errors = _immutable_errors(obj, old, ("data",)) + errors
    if errors:
        raise ObjectInvalid("Secret", _name(obj), errors)
    return obj


def admit_namespace(obj: JSON, old: JSON | None = None) -> JSON:
    """SetDefaults_Namespace (the `kubernetes.io/metadata.name` label), the `kubernetes`
    finalizer and phase Active, ValidateNamespace (the name is a DNS label)."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    errors = validate_object_meta(obj, namespaced=False, label_name=True)
    if errors:
        raise ObjectInvalid("Namespace", _name(obj), errors)
    meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    obj["spec"] = (old or {}).get("spec") or {"finalizers": ["kubernetes"]}
    obj["status"] = (old or {}).get("status") or {"phase": "Active"}
    return obj


def admit_service_account(obj: JSON, old: JSON | None = None) -> JSON:
    """ValidateServiceAccount: its metadata (the name a DNS subdomain)."""
    obj = copy.deepcopy(obj)
    errors = validate_object_meta(obj, namespaced=True)
    if errors:
        raise ObjectInvalid("ServiceAccount", _name(obj), errors)
    return obj


def admit_stored(kind: str, namespaced: bool) -> Any:
    """Admission of a kind that is only stored: its metadata is validated, nothing else."""

    def admit(obj: JSON, old: JSON | None = None) -> JSON:
        obj = copy.deepcopy(obj)
        errors = validate_object_meta(obj, namespaced=namespaced)
        if errors:
            raise ObjectInvalid(kind, _name(obj), errors)
        return obj

    return admit


_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
})  # fmt: skip
_TOP_FIELDS = {
    "ConfigMap": frozenset({"data", "binaryData", "immutable"}),
    "Secret": frozenset({"data", "stringData", "type", "immutable"}),
    "Namespace": frozenset({"spec", "status"}),
    "ServiceAccount": frozenset({"secrets", "imagePullSecrets", "automountServiceAccountToken"}),
}


def unknown_fields(kind: str, obj: Mapping[str, Any]) -> list[str]:
    """The strict decoder's complaints (`unknown field "x"`, `unknown field "metadata.x"`):
    for the kinds whose fields are known here from that list, for the others from the
    official schema of their kind (`manifest/schemas.py`)."""
    if kind not in _TOP_FIELDS:
        return schemas.unknown_fields(str(obj.get("apiVersion") or ""), kind, obj)
    known = _TOP_FIELDS[kind] | {"apiVersion", "kind", "metadata"}
    found = [f'unknown field "{key}"' for key in obj if key not in known]
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        found += [f'unknown field "metadata.{key}"' for key in meta if key not in _META_FIELDS]
    return found


def strict_decoding_error(kind: str, unknown: list[str]) -> str:
    return (
        f'{kind} in version "v1" cannot be handled as a {kind}: strict decoding error: '
        + ", ".join(unknown)
    )
