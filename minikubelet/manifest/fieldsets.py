"""Field sets, the ground of field ownership (sigs.k8s.io/structured-merge-diff fieldpath and
typed compare; apimachinery FieldsV1): a pod object's owned view and its leaves, the field
set of an object, the compare of two objects, and the FieldsV1 encoding of a set.

A field set is a frozenset of paths; a path is a tuple of FieldsV1 elements: `f:<field>` for a
struct or map field, `k:{"name":"app"}` for an item of a list merged by key, and a final `.` for
such an item itself. Lists without merge keys are atomic (one leaf). Pure. `managedfields.py`
keeps the managers, update and apply over these sets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
Path = tuple[str, ...]
FieldSet = frozenset[Path]


# keys of the pod's associative lists (`+listType=map`, `+listMapKey` in core/v1 types.go);
# a missing key field takes the schema's default (ports' protocol is TCP)
LIST_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "ports": ("containerPort", "protocol"),
    "volumes": ("name",),
    "volumeMounts": ("mountPath",),
    "resourceClaims": ("name",),
}
_KEY_DEFAULTS = {"protocol": "TCP"}
# maps with free keys (not structs): a compare that adds one adds its `.` too, as
# structured-merge-diff's compare does for a map element type (labels: {.: {}, f:app: {}})
GRANULAR_MAPS = frozenset({"labels", "annotations", "nodeSelector", "limits", "requests",
                           "data", "binaryData", "stringData"})  # fmt: skip

# what ownership never covers: the fields StripMetaManager strips (managedfields/internal/
# stripmeta.go), the status (the pod strategy's reset fields) and what this server sets itself
_STRIPPED_META = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "resourceVersion",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SERVER_ANNOTATIONS = "kubernetes.io/config."


def owned_view(obj: Mapping[str, Any]) -> JSON:
    """The part of an object ownership covers: metadata less what the server sets, a pod's
    spec less the node name, and every other field of the object (a ConfigMap's data, a
    Service's spec); no apiVersion, kind or status."""
    view: JSON = {
        k: v
        for k, v in obj.items()
        if k not in ("apiVersion", "kind", "status", "metadata", "spec")
    }
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _STRIPPED_META}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        kept = {k: v for k, v in annotations.items() if not k.startswith(_SERVER_ANNOTATIONS)}
        if kept:
            meta["annotations"] = kept
        else:
            meta.pop("annotations")
    if meta:
        view["metadata"] = meta
    spec = obj.get("spec")
    if isinstance(spec, dict):
        view["spec"] = {k: v for k, v in spec.items() if k != "nodeName"}
    elif spec is not None:
        view["spec"] = spec
    return view


def item_key(field: str, item: Mapping[str, Any]) -> str:
    """The `k:` element of an item of an associative list (its key fields, sorted, as JSON)."""
    key = {name: item.get(name, _KEY_DEFAULTS.get(name)) for name in sorted(LIST_KEYS[field])}
    return "k:" + json.dumps(key, separators=(",", ":"))


def keyed_list(field: str, value: Any) -> bool:
    return (
        field in LIST_KEYS
        and isinstance(value, list)
        and all(isinstance(item, dict) for item in value)
    )


def leaves(obj: Any, prefix: Path = (), *, maps: bool = False) -> dict[Path, Any]:
    """Every owned path of an object and its value: scalars, atomic lists and empty maps are
    leaves; an item of a keyed list is a `.` leaf plus its fields (structured-merge-diff:
    typed/tofieldset.go); with `maps`, a granular map is a `.` leaf too (for compare)."""
    out: dict[Path, Any] = {}
    if not isinstance(obj, dict) or (not obj and prefix):
        out[prefix] = obj
        return out
    for name, value in obj.items():
        path = (*prefix, "f:" + name)
        if keyed_list(name, value):
            if not value:
                out[path] = value
            for item in value:
                item_path = (*path, item_key(name, item))
                out[(*item_path, ".")] = None
                out |= leaves(item, item_path, maps=maps) if item else {}
        else:
            if maps and name in GRANULAR_MAPS and isinstance(value, dict) and value:
                out[(*path, ".")] = None
            out |= leaves(value, path, maps=maps)
    return out


def field_set(obj: Any) -> FieldSet:
    return frozenset(leaves(obj))


@dataclass(frozen=True, slots=True)
class Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    @property
    def changed(self) -> FieldSet:
        return self.added | self.modified


def compare(old: Any, new: Any) -> Comparison:
    """structured-merge-diff typed.Compare, over leaves."""
    before, after = leaves(old, maps=True), leaves(new, maps=True)
    return Comparison(
        added=frozenset(after.keys() - before.keys()),
        modified=frozenset(p for p in after.keys() & before.keys() if after[p] != before[p]),
        removed=frozenset(before.keys() - after.keys()),
    )


def paths_under(paths: Iterable[Path], prefixes: FieldSet) -> FieldSet:
    """The paths at or below any of `prefixes` (an item's `.` owns the item)."""
    owners = {p[:-1] if p and p[-1] == "." else p for p in prefixes}
    return frozenset(p for p in paths if any(p[: len(o)] == o for o in owners))


# --- FieldsV1 ------------------------------------------------------------------------------


def to_fields_v1(fields: FieldSet) -> JSON:
    """The FieldsV1 JSON of a set, children in structured-merge-diff's order (`.` first, then
    fields, then keys)."""
    tree: JSON = {}
    for path in fields:
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return _sorted_tree(tree)


def _sorted_tree(tree: JSON) -> JSON:
    return {k: _sorted_tree(tree[k]) for k in sorted(tree)}


def from_fields_v1(tree: Any, prefix: Path = ()) -> FieldSet:
    """A FieldsV1 value back to a set; anything not a FieldsV1 object is an empty set."""
    if not isinstance(tree, dict):
        return frozenset()
    out: set[Path] = set()
    for element, child in tree.items():
        path = (*prefix, str(element))
        if isinstance(child, dict) and child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return frozenset(out)


def path_string(path: Path) -> str:
    """fieldpath.Path.String: `.spec.containers[name="app"].image`."""
    parts = []
    for element in path:
        kind, _, rest = element.partition(":")
        if kind == "f":
            parts.append("." + rest)
        elif kind == "k":
            key = json.loads(rest)
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in key.items()) + "]")
        elif kind == "v":
            parts.append(f"[={rest}]")
        elif kind == "i":
            parts.append(f"[{rest}]")
    return "".join(parts)
