"""Field ownership (`metadata.managedFields`) and server-side apply, as the API server keeps them
(apimachinery: pkg/util/managedfields; sigs.k8s.io/structured-merge-diff merge/update.go).

A field set is a frozenset of paths; a path is a tuple of FieldsV1 elements: `f:<field>` for a
struct or map field, `k:{"name":"app"}` for an item of a list merged by key, and a final `.` for
such an item itself. Lists without merge keys are atomic (one leaf). `leaves` maps each path of
an object to its value; a set is the keys. Pure: dicts in, dicts out; the caller passes `now`.

The sets themselves (an object's leaves, compare, FieldsV1) are `fieldsets.py`'s; this module
keeps the managers (`managedFields` entries), update, apply and its conflicts.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from minikubelet.manifest.fieldsets import (
    JSON,
    LIST_KEYS,
    Comparison,
    FieldSet,
    Path,
    compare,
    field_set,
    from_fields_v1,
    item_key,
    keyed_list,
    owned_view,
    path_string,
    paths_under,
    to_fields_v1,
)

APPLY, UPDATE = "Apply", "Update"


@dataclass(frozen=True, slots=True)
class Manager:
    """One `managedFields` entry."""

    manager: str
    operation: str
    api_version: str
    fields: FieldSet
    time: str | None = None
    subresource: str = ""

    @property
    def identity(self) -> tuple[str, str, str]:
        # managedfields/internal/managedfields.go BuildManagerIdentifier: appliers are one
        # manager whatever version they apply with
        version = "" if self.operation == APPLY else self.api_version
        return (self.manager, self.operation, version + "/" + self.subresource)

    def printed(self) -> str:
        """internal/conflict.go printManager (the identifier carries no time)."""
        shown = json.dumps(self.manager)
        if self.subresource:
            shown += f" with subresource {json.dumps(self.subresource)}"
        return f"{shown} using {self.api_version}" if self.operation == UPDATE else shown


@dataclass(frozen=True, slots=True)
class Conflict:
    manager: Manager
    path: Path


class ApplyConflict(Exception):
    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(conflict_message(conflicts))
        self.conflicts = conflicts


# --- managedFields entries -----------------------------------------------------------------


def decode(entries: Any) -> list[Manager]:
    """`metadata.managedFields` as stored; malformed entries are dropped, as the API server
    resets managed fields it cannot decode."""
    if not isinstance(entries, list):
        return []
    managers = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("manager", ""), str):
            continue
        managers.append(
            Manager(
                manager=entry.get("manager", ""),
                operation=str(entry.get("operation", "")),
                api_version=str(entry.get("apiVersion", "")),
                fields=from_fields_v1(entry.get("fieldsV1")),
                time=entry.get("time"),
                subresource=str(entry.get("subresource", "")),
            )
        )
    return managers


def encode(managers: Iterable[Manager]) -> list[JSON]:
    """The entries as served, sorted as sortEncodedManagedFields sorts them (operation, time,
    manager, version)."""
    ordered = sorted(
        managers,
        key=lambda m: (m.operation, m.time or "", m.manager, m.api_version, m.subresource),
    )
    entries = []
    for m in ordered:
        entry: JSON = {"manager": m.manager, "operation": m.operation, "apiVersion": m.api_version}
        if m.time is not None:
            entry["time"] = m.time
        entry |= {"fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(m.fields)}
        if m.subresource:
            entry["subresource"] = m.subresource
        entries.append(entry)
    return entries


# --- update and apply ------------------------------------------------------------------------


def _stamped(
    before: list[Manager], after: dict[tuple[str, str, str], Manager], now: str
) -> list[Manager]:
    """Managers with an empty set go; a manager whose set changed gets `now`
    (managedfields/internal/managedfieldsupdater.go)."""
    previous = {m.identity: m for m in before}
    out = []
    for ident, m in after.items():
        if not m.fields:
            continue
        old = previous.get(ident)
        changed = old is None or old.fields != m.fields or old.api_version != m.api_version
        when = now if changed or old is None else old.time
        out.append(Manager(m.manager, m.operation, m.api_version, m.fields, when, m.subresource))
    return out


def _others_after(
    managers: list[Manager], me: tuple[str, str, str], comparison: Comparison, take: FieldSet
) -> dict[tuple[str, str, str], Manager]:
    """merge/update.go Updater.update: the other managers lose the fields taken from them and
    the fields removed from the object."""
    out = {}
    for m in managers:
        if m.identity == me:
            continue
        lost = (m.fields & take) | paths_under(m.fields, comparison.removed)
        out[m.identity] = Manager(
            m.manager, m.operation, m.api_version, m.fields - lost, m.time, m.subresource
        )
    return out


def update(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    entries: Any,
    manager: str,
    now: str,
    api_version: str = "v1",
) -> list[JSON]:
    """The managedFields after a create or update by `manager` (operation Update): it owns what
    it changed, others lose it (merge/update.go Updater.Update)."""
    managers = decode(entries)
    comparison = compare(owned_view(old), owned_view(new))
    me = Manager(manager, UPDATE, api_version, frozenset()).identity
    after = _others_after(managers, me, comparison, comparison.changed)
    mine = next((m.fields for m in managers if m.identity == me), frozenset())
    fields = (mine | comparison.changed) - paths_under(mine, comparison.removed)
    after[me] = Manager(manager, UPDATE, api_version, frozenset(fields))
    return encode(_stamped(managers, after, now))


def merge(live: Any, config: Any, field: str = "") -> Any:
    """The applied configuration merged into the live object (structured-merge-diff
    typed.Merge): maps by key, keyed lists by their keys (live order, new items last), any
    other value replaced; a null in the configuration removes the field."""
    if isinstance(config, dict) and isinstance(live, dict):
        result = dict(live)
        for name, value in config.items():
            if value is None:
                result.pop(name, None)
            else:
                result[name] = merge(live.get(name), value, name)
        return result
    if keyed_list(field, config) and keyed_list(field, live):
        merged = [copy.deepcopy(item) for item in live]
        index = {item_key(field, item): i for i, item in enumerate(merged)}
        for item in config:
            at = index.get(item_key(field, item))
            if at is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[at] = merge(merged[at], item)
        return merged
    return copy.deepcopy(config)


def remove_paths(obj: Any, paths: FieldSet) -> Any:
    """The object without the given leaves and keyed items (merge/update.go prune,
    typed.RemoveItems)."""
    result = copy.deepcopy(obj)
    # an item before its fields, which find it by its key
    for path in sorted(paths, key=lambda p: len(p) - (p[-1:] == (".",))):
        _remove(result, path[:-1] if path[-1] == "." else path)
    return result


def _remove(obj: Any, path: Path) -> None:
    node, parent_field = obj, ""
    for depth, element in enumerate(path):
        last = depth == len(path) - 1
        if element.startswith("f:") and isinstance(node, dict):
            name = element[2:]
            if last:
                node.pop(name, None)
                return
            node, parent_field = node.get(name), name
        elif element.startswith("k:") and isinstance(node, list) and parent_field in LIST_KEYS:
            at = next(
                (i for i, item in enumerate(node)
                 if isinstance(item, dict) and item_key(parent_field, item) == element),
                None,
            )  # fmt: skip
            if at is None:
                return
            if last:
                del node[at]
                return
            node = node[at]
        else:
            return


def apply(
    live: Mapping[str, Any],
    config: Mapping[str, Any],
    entries: Any,
    manager: str,
    *,
    force: bool,
) -> tuple[JSON, FieldSet]:
    """The object after `manager` applies `config` (merge/update.go Updater.Apply, first
    half): merged, then the fields it applied before and no longer applies pruned unless
    another manager owns them. Returns the object and the applied set; ownership and
    conflicts are `apply_ownership`'s, over the object as it will be stored."""
    managers = decode(entries)
    applied = field_set(owned_view(config))
    me = Manager(manager, APPLY, "", frozenset()).identity
    last = next((m.fields for m in managers if m.identity == me), frozenset())
    others: set[Path] = set()
    for m in managers:
        if m.identity != me:
            others |= m.fields
    # an item another manager still owns something of stays (update.go addBackOwnedItems)
    prune = frozenset(
        p
        for p in last - applied
        if p not in others and not (p[-1] == "." and paths_under(others, frozenset([p])))
    )
    merged = merge(dict(live), dict(config))
    return remove_paths(merged, prune), applied


def apply_ownership(
    live: Mapping[str, Any],
    new: Mapping[str, Any],
    entries: Any,
    manager: str,
    applied: FieldSet,
    now: str,
    *,
    force: bool,
    api_version: str = "v1",
) -> list[JSON]:
    """merge/update.go Updater.Apply, second half: a field another manager owns that the
    apply changes is a conflict (ApplyConflict) unless forced, when it changes hands; the
    applier owns exactly what it applied."""
    managers = decode(entries)
    comparison = compare(owned_view(live), owned_view(new))
    me = Manager(manager, APPLY, api_version, frozenset()).identity
    conflicts = [
        Conflict(m, path)
        for m in managers
        if m.identity != me
        for path in sorted(m.fields & comparison.changed & applied)
    ]
    if conflicts and not force:
        raise ApplyConflict(sorted(conflicts, key=lambda c: (c.manager.manager, c.path)))
    after = _others_after(managers, me, comparison, comparison.changed & applied)
    after[me] = Manager(manager, APPLY, api_version, applied)
    return encode(_stamped(managers, after, now))


def conflict_message(conflicts: list[Conflict]) -> str:
    """internal/conflict.go getConflictMessage."""
    if len(conflicts) == 1:
        only = conflicts[0]
        return (
            f"Apply failed with 1 conflict: conflict with {only.manager.printed()}: "
            f"{path_string(only.path)}"
        )
    by_manager: dict[str, list[Path]] = {}
    for c in conflicts:
        by_manager.setdefault(c.manager.printed(), []).append(c.path)
    lines = []
    for printed in sorted(by_manager):
        lines.append(f"conflicts with {printed}:")
        lines += [f"- {path_string(p)}" for p in by_manager[printed]]
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


def conflict_causes(conflicts: list[Conflict]) -> list[JSON]:
    return [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {c.manager.printed()}",
            "field": path_string(c.path),
        }
        for c in conflicts
    ]
