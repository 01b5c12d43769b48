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

from minikubelet.manifest.schema import DuplicateKeys

MAX_DEPTH = 100
MAX_ALIASES = 10_000


class DocumentError(Exception):
    """One problem in a text, already worded for a person (without the source name)."""


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
    # imported here: a JSON manifest (the JSON API's bodies too) needs no PyYAML, which
    # costs `minikubelet run` a tenth of its start
    from minikubelet.manifest import yamldocs

    return yamldocs.parse(text)


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
