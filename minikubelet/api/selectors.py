"""Label and field selectors, as the API server parses and matches them.

Label selectors follow `k8s.io/apimachinery/pkg/labels` (`a=b`, `a==b`, `a!=b`, `a in (x,y)`,
`a notin (x)`, `a`, `!a`, comma-separated, all must hold). Field selectors follow
`k8s.io/apimachinery/pkg/fields` (`=`, `==`, `!=` only) against the fields each resource
supports (`pkg/registry/core/pod/strategy.go: ToSelectableFields`, `event/strategy.go`).
Parse errors raise ValueError with the API server's wording; the caller answers 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[A-Za-z0-9_./-]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9_.-]*)"
    r"|\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: frozenset[str]

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        match self.op:
            case "exists":
                return present
            case "!":
                return not present
            case "=" | "in":
                return present and value in self.values
            case _:  # "!=" and "notin" also match objects without the label
                return not present or value not in self.values


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_label_selector(text: str) -> list[Requirement]:
    if not text.strip():
        return []
    return [_parse_requirement(part) for part in _split_top_level(text)]


def _parse_requirement(part: str) -> Requirement:
    m = _REQUIREMENT.match(part)
    if m is None or (m["neg"] and (m["op"] or m["setop"])):
        raise ValueError(
            f"unable to parse requirement: found '{part.strip()}', expected: valid label selector"
        )
    if m["neg"]:
        return Requirement(m["key"], "!", frozenset())
    if m["op"]:
        return Requirement(m["key"], "=" if m["op"] != "!=" else "!=", frozenset({m["value"]}))
    if m["setop"]:
        values = frozenset(v.strip() for v in m["values"].split(","))
        return Requirement(m["key"], m["setop"], values)
    return Requirement(m["key"], "exists", frozenset())


def label_predicate(text: str) -> Predicate:
    requirements = parse_label_selector(text)

    def matches(obj: JSON) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return matches


def _dig(obj: JSON, path: str) -> str:
    value: Any = obj
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


POD_FIELDS = frozenset({
    "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy",
    "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
    "status.podIP", "status.nominatedNodeName",
})  # fmt: skip
EVENT_FIELDS = frozenset({
    "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace",
    "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
    "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
    "reportingComponent", "source", "type",
})  # fmt: skip
NAMESPACE_FIELDS = frozenset({"metadata.name", "status.phase"})


def _field_value(obj: JSON, field: str) -> str:
    if field == "source":  # events: source.component, as the event strategy exposes it
        return _dig(obj, "source.component")
    if field == "spec.hostNetwork" and not _dig(obj, field):
        return "false"
    return _dig(obj, field)


def field_predicate(text: str, supported: frozenset[str]) -> Predicate:
    """Raises ValueError `field label not supported: x` for unknown fields."""
    terms: list[tuple[str, bool, str]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.match(r"^([^=!]+)(==|=|!=)(.*)$", part)
        if m is None:
            raise ValueError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m[1].strip(), m[2], m[3].strip()
        if field not in supported:
            raise ValueError(f"field label not supported: {field}")
        terms.append((field, op != "!=", value))

    def matches(obj: JSON) -> bool:
        return all((_field_value(obj, f) == v) == eq for f, eq, v in terms)

    return matches
