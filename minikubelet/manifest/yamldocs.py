"""YAML text -> documents: the part of documents.py that needs PyYAML, imported only when a
YAML text is read (documents.py owns the guards; this is its safe loader with the depth and
alias bounds, and the wording of PyYAML's errors)."""

from __future__ import annotations

from typing import Any

import yaml

from minikubelet.manifest.documents import MAX_ALIASES, MAX_DEPTH, DocumentError
from minikubelet.manifest.schema import DuplicateKeys

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


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


def parse(text: str) -> list[Any]:
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
