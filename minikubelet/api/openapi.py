"""OpenAPI v3: `/openapi/v3` (the index, a hash per group-version document) and one document
per served group-version (`/openapi/v3/api/v1`, `/openapi/v3/apis/authorization.k8s.io/v1`...),
as the API server serves them to kubectl.

kubectl uses them twice. `create` and `apply` validate by default (`--validate=strict`): they
ask the document whether the server validates fields itself (the PATCH operation of the kind
lists a `fieldValidation` parameter); it does, so they send `fieldValidation=Strict` and the
manifest validation answers. `kubectl explain` reads the kind's schema from
`components.schemas` (found by `x-kubernetes-group-version-kind`). The schemas are the
official ones of the served kinds (openapi_schemas.py, from the `kubernetes-validate`
package); without that package the documents carry the operations only, which is enough for
`create` and `apply`, and `explain` reports that it finds no schema.

Start-up stays fast: nothing is loaded at import or start. The documents are built at the
first request, in a thread, once; the hash is of the final text, so kubectl's cache stays
valid for as long as the daemon runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from minikubelet import API_SERVER_VERSION, KUBERNETES_VERSION
from minikubelet.api import discovery, openapi_schemas
from minikubelet.api import status_errors as se

JSON = dict[str, Any]
log = structlog.get_logger("minikubelet.api")


def _query(name: str, type_: str = "string") -> JSON:
    return {"name": name, "in": "query", "schema": {"type": type_, "uniqueItems": True}}


def _path_param(name: str) -> JSON:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


_WRITE = ["dryRun", "fieldManager", "fieldValidation"]
# verb -> (path: collection or item, method, x-kubernetes-action, operationId verb, parameters)
_OPERATIONS: dict[str, tuple[str, str, str, str, list[str]]] = {
    "list": ("collection", "get", "list", "list", ["fieldSelector", "labelSelector"]),
    "create": ("collection", "post", "post", "create", _WRITE),
    "get": ("item", "get", "get", "read", []),
    "update": ("item", "put", "put", "replace", _WRITE),
    "patch": ("item", "patch", "patch", "patch", [*_WRITE, "force"]),
    "delete": ("item", "delete", "delete", "delete", ["dryRun", "gracePeriodSeconds"]),
}


def _paths(gv: discovery.GroupVersion) -> JSON:
    """The operations of every served verb, each naming its kind: kubectl explain finds a
    resource's kind from them (explain/v2 templates: the GVK of the resource's path), and
    create/apply see the `fieldValidation` parameter of PATCH (server-side validation)."""
    group = gv.group.split(".", 1)[0].capitalize() or "Core"
    tag = f"{gv.group.split('.', 1)[0] or 'core'}_{gv.version}"
    base = f"/apis/{gv.group}/{gv.version}" if gv.group else f"/api/{gv.version}"
    paths: JSON = {}
    for r in gv.resources:
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        where = {
            "collection": f"{base}{scope}/{r.name}",
            "item": f"{base}{scope}/{r.name}/{{name}}",
        }
        gvk = {"group": gv.group, "version": gv.version, "kind": r.kind}
        namespaced = "Namespaced" if r.namespaced else ""
        for verb in r.verbs:
            if verb not in _OPERATIONS:
                continue
            which, method, action, op_verb, params = _OPERATIONS[verb]
            entry = paths.setdefault(where[which], {})
            entry[method] = {
                "tags": [tag],
                "operationId": f"{op_verb}{group}{gv.version.capitalize()}{namespaced}{r.kind}",
                "parameters": [_query(p) for p in params],
                "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }
            names = (["name"] if which == "item" else []) + (["namespace"] if r.namespaced else [])
            entry["parameters"] = [_path_param(n) for n in names]
    return paths


def _kinds(gv: discovery.GroupVersion) -> list[tuple[str, str, str]]:
    kinds = []
    for r in gv.resources:
        kinds.append((gv.group, gv.version, r.kind))
        if "list" in r.verbs:
            kinds.append((gv.group, gv.version, f"{r.kind}List"))
    return kinds


def _path(gv: discovery.GroupVersion) -> str:
    return f"apis/{gv.group}/{gv.version}" if gv.group else f"api/{gv.version}"


@dataclass(frozen=True, slots=True)
class Document:
    text: str
    hash: str

    @classmethod
    def of(cls, body: JSON) -> Document:
        text = json.dumps(body)
        return cls(text, hashlib.sha512(text.encode()).hexdigest()[:128].upper())


def build_documents() -> dict[str, Document]:
    """Every served group-version's document, by path (`api/v1`). Blocking."""
    major, minor, patch = API_SERVER_VERSION  # info.version is the binary's, as /version
    try:
        definitions = openapi_schemas.load_definitions(KUBERNETES_VERSION)
    except openapi_schemas.SchemasUnavailable as exc:
        log.info("openapi without schemas", reason=str(exc),
                 hint="pip install kubernetes-validate for kubectl explain")  # fmt: skip
        definitions = {}
    documents = {}
    for gv in (discovery.CORE, *discovery.GROUPS):
        roots = openapi_schemas.definitions_for(definitions, _kinds(gv))
        if gv.group and not roots:
            continue  # not among the official schemas (metrics.k8s.io), or none loaded
        documents[_path(gv)] = Document.of({
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
            "paths": _paths(gv),
            "components": {"schemas": openapi_schemas.components(definitions, roots)},
        })  # fmt: skip
    return documents


class Documents:
    """Built once, at the first request, off the loop."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Document]:
        if self._documents is None:
            async with self._lock:
                if self._documents is None:
                    self._documents = await asyncio.to_thread(build_documents)
        return self._documents


DOCUMENTS = web.AppKey("openapi_documents", Documents)


async def index(request: web.Request) -> web.Response:
    documents = await request.app[DOCUMENTS].get()
    paths = {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={doc.hash}"}
             for path, doc in documents.items()}  # fmt: skip
    return web.json_response({"paths": paths})


async def group_version(request: web.Request) -> web.Response:
    documents = await request.app[DOCUMENTS].get()
    document = documents.get(request.match_info["path"])
    if document is None:
        raise se.path_not_found()
    headers = {"Etag": f'"{document.hash}"'}
    if request.query.get("hash") == document.hash:
        headers["Cache-Control"] = "public, immutable"
    return web.Response(text=document.text, content_type="application/json", headers=headers)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/openapi/v3", index)
    router.add_get("/openapi/v3/", index)
    router.add_get("/openapi/v3/{path:.+}", group_version)
