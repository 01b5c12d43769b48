"""PATCH on a pod: the patch types kubectl sends, applied to the pod as it is served.

Patches: JSON merge patch (RFC 7386), strategic merge patch (merge patch plus lists of named
items merged by their key and the `$patch`/`$setElementOrder`/`$retainKeys` directives, as far as
kubectl sends them for pods), JSON patch (RFC 6902). What the patched pod may change is
decided after it (`podupdatevalidation.validate_pod_update`, the API server's ValidatePodUpdate).
Pure: dicts in, dicts out, ValueError for a malformed patch.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]

MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"  # server-side apply: `manifest/managedfields.py`
PATCH_TYPES = (JSON_PATCH, MERGE, STRATEGIC, APPLY)

# merge keys of the pod's lists of objects (`patchMergeKey` in the v1 types)
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "ports": "containerPort",
    "imagePullSecrets": "name",
    "conditions": "type",
    "tolerations": "key",
    "hostAliases": "ip",
    "resourceClaims": "name",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # $setElementOrder/..., $retainKeys, $deleteFromPrimitiveList
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    if not all(isinstance(item, dict) and key in item for item in patch):
        return copy.deepcopy(patch)
    merged = [dict(item) for item in current]
    for item in patch:
        index = next((i for i, c in enumerate(merged) if c.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge_patch({}, item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node, parts[-1]


def _get(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts)
    return parent[int(last)] if isinstance(parent, list) else parent[last]


def _add(doc: Any, parts: list[str], value: Any) -> None:
    parent, last = _parent(doc, parts)
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value


def _remove(doc: Any, parts: list[str]) -> Any:
    parent, last = _parent(doc, parts)
    return parent.pop(int(last)) if isinstance(parent, list) else parent.pop(last)


def json_patch(target: JSON, operations: Any) -> JSON:
    """RFC 6902; ValueError for anything malformed or a failed `test`."""
    if not isinstance(operations, list):
        raise ValueError("json patch must be a list of operations")
    doc = copy.deepcopy(target)
    try:
        for op in operations:
            _apply_op(doc, op)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ValueError(f"unable to apply json patch: {exc!r}") from None
    return doc


def _pointer_field(op: Any, name: str) -> list[str]:
    """A pointer member of an operation; anything but a string is a malformed patch."""
    value = op.get(name)
    if not isinstance(value, str):
        shown = "missing" if value is None else f"not a string: {value!r}"
        raise ValueError(f"json patch operation {op.get('op')!r}: {name!r} is {shown}")
    return _pointer(value)


def _apply_op(doc: JSON, op: Any) -> None:
    if not isinstance(op, dict):
        raise ValueError(f"json patch operation is not an object: {op!r}")
    kind, parts = op.get("op"), _pointer_field(op, "path")
    if not parts:
        raise ValueError("replacing the whole object is not supported")
    if kind == "add":
        _add(doc, parts, copy.deepcopy(op["value"]))
    elif kind == "remove":
        _remove(doc, parts)
    elif kind == "replace":
        _remove(doc, parts)
        _add(doc, parts, copy.deepcopy(op["value"]))
    elif kind in ("move", "copy"):
        source = _pointer_field(op, "from")
        value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
        _add(doc, parts, value)
    elif kind == "test":
        if _get(doc, parts) != op["value"]:
            raise ValueError(f"testing value {op['path']} failed")
    else:
        raise ValueError(f"unknown json patch operation {kind!r}")


def apply(content_type: str, current: JSON, body: Any) -> JSON:
    if content_type == JSON_PATCH:
        return json_patch(current, body)
    if not isinstance(body, dict):
        raise ValueError("patch body must be a JSON object")
    if content_type == MERGE:
        result = merge_patch(current, body)
    else:
        result = strategic_merge_patch(current, body)
    if not isinstance(result, dict):
        raise ValueError("patch removed the object")
    return result
