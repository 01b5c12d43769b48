"""Untrusted text -> JSON-shaped documents, safely: YAML or JSON, one or many documents.

Owns the parsing guards: YAML read with the safe loader, timestamps kept as strings and
non-string keys turned into strings (as the YAML-to-JSON step of `kubectl` does), duplicate keys
remembered for strict decoding, nesting depth and alias use bounded while composing, and the
expanded size of each document bounded afterwards, so an alias bomb or a self-referencing
anchor is refused instead of exhausting memory. Errors name the source, line and column.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import yaml

from minikubelet.manifest.schema import DuplicateKeys

MAX_DEPTH = 100
MAX_ALIASES = 10_000
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class DocumentError(Exception):
    """One problem in a text, already worded for a person (without the source name)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that bounds nesting and alias use while composing the node graph."""

    yaml_implicit_resolvers = {  # noqa: RUF012 (PyYAML reads it as a class attribute)
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise DocumentError(f"more than {MAX_ALIASES} YAML aliases")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise DocumentError(f"{_where(mark)}nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> DuplicateKeys:
    own = [loader.construct_object(key, deep=True) for key, _ in node.value if key.tag != _MERGE]
    loader.flatten_mapping(node)
    pairs = [
        (
            _json_key(loader.construct_object(key, deep=True), key),
            loader.construct_object(value, deep=True),
        )
        for key, value in node.value
    ]
    mapping = DuplicateKeys(pairs)
    seen: set[str] = set()
    mapping.duplicates = []
    for key in own:
        text = _json_key(key, node)
        if text in seen and text not in mapping.duplicates:
            mapping.duplicates.append(text)
        seen.add(text)
    return mapping


def _json_key(key: Any, node: yaml.Node) -> str:
    """Keys as the YAML-to-JSON conversion writes them: scalars become strings."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str | int | float):
        return str(key)
    raise DocumentError(f"{_where(node.start_mark)}a mapping key must be a string or a number")


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def parse_text(text: str) -> list[Any]:
    """Every non-empty document of `text`; raises DocumentError."""
    text = text.removeprefix("\ufeff")
    return _checked(_parse_json if text.lstrip().startswith("{") else _parse_yaml, text)


def parse_body(text: str, *, yaml_body: bool) -> Any:
    """A request body: exactly one JSON (or, with `yaml_body`, YAML) document, None when
    empty, under the same guards as a manifest; raises DocumentError."""
    documents = _checked(_parse_yaml if yaml_body else _parse_json, text.removeprefix("\ufeff"))
    if len(documents) > 1:
        raise DocumentError("the body holds more than one document")
    return documents[0] if documents else None


def _checked(parse: Callable[[str], list[Any]], text: str) -> list[Any]:
    """Parses with the depth guard, then checks each document's shape and size. A decimal
    integer past Python's digit limit is a ValueError from the constructor; it is refused
    here, as Go refuses a number it cannot hold."""
    try:
        documents = parse(text)
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:
        raise DocumentError(_value_message(err)) from None
    budget = 2 * len(text) + 10_000
    for document in documents:
        check_shape(document, budget)
    return documents


def _value_message(err: ValueError) -> str:
    digits = re.search(r"value has (\d+) digits", str(err))
    if digits is not None:  # "Exceeds the limit (4300 digits) for integer string conversion"
        return f"an integer of {digits[1]} digits is out of range"
    return f"a value cannot be decoded: {err}"


def _parse_yaml(text: str) -> list[Any]:
    try:
        loader = _Loader(text)
    except yaml.YAMLError as err:
        raise DocumentError(_plain_message(err)) from None
    try:
        documents = []
        while loader.check_node():
            node = loader.get_node()
            documents.append(None if node is None else loader.construct_document(node))
        return [document for document in documents if document is not None]
    except yaml.MarkedYAMLError as err:
        raise DocumentError(_yaml_message(err)) from None
    except yaml.YAMLError as err:
        raise DocumentError(_plain_message(err)) from None
    finally:
        loader.dispose()


def _plain_message(err: yaml.YAMLError) -> str:
    """A reader error (`unacceptable character #x0000: ...`) without PyYAML's second line."""
    if isinstance(err, yaml.reader.ReaderError):
        return f"character {err.position + 1}: {str(err).splitlines()[0]}"
    return str(err).splitlines()[0]


def _yaml_message(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    context = f"{err.context}, " if err.context and err.problem else (err.context or "")
    return f"{_where(mark)}{context}{err.problem or ''}".rstrip(", ")


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""


def _parse_json(text: str) -> list[Any]:
    decoder = json.JSONDecoder(
        object_pairs_hook=DuplicateKeys, parse_constant=_no_constant, parse_float=_finite_float
    )
    documents: list[Any] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position >= len(text):
            return documents
        try:
            document, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as err:
            raise DocumentError(f"line {err.lineno}, column {err.colno}: {err.msg}") from None
        if document is not None:
            documents.append(document)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise DocumentError(f"the number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not a JSON value")


def check_shape(document: Any, budget: int) -> None:
    """Refuse what JSON cannot hold and documents whose expansion (aliases repeated in full,
    as a JSON encoder would write them) exceeds `budget` nodes or MAX_DEPTH levels."""
    stack: list[tuple[Any, int]] = [(document, 0)]
    while stack:
        budget -= 1
        if budget < 0:
            raise DocumentError("the document expands to too many values (YAML alias bomb?)")
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DocumentError(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        else:
            _check_scalar(value)


def _check_scalar(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise DocumentError(f"{value} is not a JSON number")
    if value is not None and not isinstance(value, str | int | float):
        raise DocumentError(f"a YAML {type(value).__name__} value has no JSON form")
