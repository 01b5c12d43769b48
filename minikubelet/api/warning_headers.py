"""Warnings in the response, as the API server returns admission and validation warnings:
one `Warning: 299 - "text"` header each (`k8s.io/apiserver/pkg/warning`, headers made by
`apimachinery/pkg/util/net NewWarningHeader`, the text quoted by `makeQuotedString`). kubectl
prints each as `Warning: text` on stderr, for create, apply and replace alike.

The warnings are those the manifest boundary gives for fields with no local meaning
(manifest/load.py `IGNORED`), so a user sees in kubectl what the daemon's console says.
"""

from __future__ import annotations

from typing import Any, TypeVar

from aiohttp import web

from minikubelet.manifest.load import ignored_fields

# What every served pod carries because the daemon fills it in (defaults, the node name, the
# status): a replacement or patch built from `kubectl get -o yaml` or `kubectl edit` sends
# these back, and the user is not warned about what the server wrote.
SERVER_FILLED = frozenset({
    "status", "spec.nodeName", "spec.schedulerName", "spec.securityContext", "spec.dnsPolicy",
    "spec.enableServiceLinks", "spec.containers[*].imagePullPolicy",
    "spec.initContainers[*].imagePullPolicy",
})  # fmt: skip


def header_value(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


R = TypeVar("R", bound=web.StreamResponse)


def add(response: R, texts: list[str]) -> R:
    for text in dict.fromkeys(texts):  # the API server's recorder drops repeats
        response.headers.add("Warning", header_value(text))
    return response


def for_document(document: Any, *, update: bool = False) -> list[str]:
    """The no-local-meaning warnings of a new pod document or, with `update`, of a
    replacement or a merge patch (less what the server filled in)."""
    if not isinstance(document, dict):
        return []
    texts = ignored_fields(document)
    if update:
        texts = [t for t in texts if t.split(": ", 1)[0] not in SERVER_FILLED]
    return texts
