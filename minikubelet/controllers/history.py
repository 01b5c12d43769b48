"""ControllerRevisions: the template history of a StatefulSet or DaemonSet, as
pkg/controller/history (controller_history.go) and the two controllers keep it. Pure.

A revision holds the owner's template as a strategic merge patch
(`{"spec":{"template":{...,"$patch":"replace"}}}`: statefulset stateful_set_utils.go
getPatch, daemon update.go getPatch), so that `kubectl rollout undo` applies it as is; it is
named `<owner>-<hash>` (history.ControllerRevisionName), labelled with the template's labels
and `controller.kubernetes.io/hash` (StatefulSet) or `controller-revision-hash` (DaemonSet),
owned by its controller, and numbered by `revision` (nextRevision: the highest plus one).

The hashes are upstream's: history.HashControllerRevision is FNV-1 over the patch bytes
(JSON with sorted keys, as Go marshals a map) and then the collision count in decimal, so a
StatefulSet's revision is named as on a cluster (stateful_set_compatibility_test.go's
`test-776999688b`); controller.ComputeHash (the DaemonSet's) is FNV-1a over the template
(upstream hashes the Go struct's dump, here its sorted JSON: the same scheme, not the same
value) and then the collision count as 8 little-endian bytes; both encoded with
rand.SafeEncodeString.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from minikubelet.core.workloads import is_controlled_by, owner_reference

JSON = dict[str, Any]
STS_HASH_LABEL = "controller.kubernetes.io/hash"  # history.ControllerRevisionHashLabel
REVISION_HASH_LABEL = "controller-revision-hash"  # apps.ControllerRevisionHashLabelKey
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand
MAX_PREFIX = 223  # history.ControllerRevisionName: the owner's name is cut to 223 characters


def fnv32(data: bytes, value: int = 0x811C9DC5) -> int:
    """hash/fnv New32 (FNV-1: multiply, then xor)."""
    for byte in data:
        value = ((value * 0x01000193) & 0xFFFFFFFF) ^ byte
    return value


def fnv32a(data: bytes, value: int = 0x811C9DC5) -> int:
    """hash/fnv New32a (FNV-1a: xor, then multiply)."""
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each byte mapped onto consonants and digits (no vowels)."""
    return "".join(_ALPHANUMS[b % len(_ALPHANUMS)] for b in text.encode())


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
               "\u2029": "\\u2029"}  # fmt: skip


def canonical(obj: Any) -> bytes:
    """JSON as Go's encoding/json marshals a map: keys sorted, no spaces, `<`, `>`, `&`
    escaped (they only occur inside strings)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode()


def template_patch(owner: JSON) -> JSON:
    """getPatch: the owner's template as a patch that replaces the template."""
    template = copy.deepcopy((owner.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def revision_hash(data: JSON, collision_count: int | None) -> str:
    """history.HashControllerRevision (FNV-1 over the patch, then the count)."""
    value = fnv32(canonical(data))
    if collision_count is not None:
        value = fnv32(str(collision_count).encode(), value)
    return safe_encode(str(value))


def template_hash(template: JSON, collision_count: int | None) -> str:
    """controller.ComputeHash (the DaemonSet's revision hash, its pods' label)."""
    value = fnv32a(canonical(template))
    if collision_count is not None:
        value = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(8, "little"), value)
    return safe_encode(str(value))


def revision_name(owner_name: str, hash_: str) -> str:
    return f"{owner_name[:MAX_PREFIX]}-{hash_}"


def new_revision(owner: JSON, revision: int, hash_: str, hash_label: str) -> JSON:
    """history.NewControllerRevision (and daemon's snapshot): the owner's template now."""
    meta = owner["metadata"]
    template_labels = ((owner.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = {**(template_labels.get("labels") or {}), hash_label: hash_}
    out_meta: JSON = {
        "name": revision_name(meta["name"], hash_),
        "namespace": meta.get("namespace", "default"),
        "labels": labels,
        "ownerReferences": [owner_reference(owner)],
    }
    if owner["kind"] == "DaemonSet" and meta.get("annotations"):
        out_meta["annotations"] = dict(meta["annotations"])
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": out_meta,
        "data": template_patch(owner),
        "revision": revision,
    }


def owned_revisions(revisions: list[JSON], owner: JSON) -> list[JSON]:
    """The owner's revisions, oldest first (history.SortControllerRevisions: by revision,
    then creation time, then name)."""
    mine = [r for r in revisions if is_controlled_by(r, owner)]
    return sorted(mine, key=lambda r: (int(r.get("revision") or 0),
                                       r["metadata"].get("creationTimestamp") or "",
                                       r["metadata"]["name"]))  # fmt: skip


def next_revision(revisions: list[JSON]) -> int:
    """nextRevision: one more than the highest revision."""
    return max((int(r.get("revision") or 0) for r in revisions), default=0) + 1


def equal_revision(a: JSON, b: JSON, hash_label: str = STS_HASH_LABEL) -> bool:
    """history.EqualRevision: the same hash label (if both have one) and the same data."""
    ha = (a["metadata"].get("labels") or {}).get(hash_label)
    hb = (b["metadata"].get("labels") or {}).get(hash_label)
    if ha and hb and ha != hb:
        return False
    return canonical(a.get("data")) == canonical(b.get("data"))


def apply_revision(owner: JSON, revision: JSON) -> JSON:
    """ApplyRevision: the owner with the revision's template (the patch replaces it)."""
    patched = copy.deepcopy(owner)
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template"))
    if isinstance(template, dict):
        template.pop("$patch", None)
        patched.setdefault("spec", {})["template"] = template
    return patched


def history_to_delete(
    revisions: list[JSON], live: set[str], limit: int
) -> list[JSON]:  # fmt: skip
    """truncateHistory / cleanupHistory: the oldest revisions no pod uses and that are neither
    the current nor the update revision (`live`), beyond `revisionHistoryLimit`."""
    history = [r for r in revisions if r["metadata"]["name"] not in live]
    return history[: max(0, len(history) - limit)]
