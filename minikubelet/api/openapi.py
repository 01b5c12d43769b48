"""A minimal OpenAPI v3 document for `api/v1`: the pod operations and their query parameters.

kubectl's `create` and `apply` validate by default (`--validate=strict`). They first ask the
OpenAPI v3 document whether the server validates fields itself (the PATCH operation of the kind
lists a `fieldValidation` parameter); if it does, they send `fieldValidation=Strict` and leave
validation to the server, which for pods is the registry's manifest validation. Without any
OpenAPI document kubectl refuses with `failed to download openapi`. No schemas are published:
`kubectl apply` then computes its patches from its built-in Pod type, as it does for any
server without schemas, and `kubectl explain` is not supported.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aiohttp import web

from minikubelet import KUBERNETES_VERSION

JSON = dict[str, Any]
_POD_GVK = {"group": "", "version": "v1", "kind": "Pod"}


def _query(name: str, type_: str = "string") -> JSON:
    return {"name": name, "in": "query", "schema": {"type": type_, "uniqueItems": True}}


def _operation(action: str, operation_id: str, params: list[str]) -> JSON:
    return {
        "tags": ["core_v1"],
        "operationId": operation_id,
        "parameters": [_query(p) for p in params],
        "responses": {"200": {"description": "OK"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _POD_GVK,
    }


def _document() -> JSON:
    write = ["dryRun", "fieldManager", "fieldValidation"]
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ns_param = {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
    major, minor, patch = KUBERNETES_VERSION
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v{major}.{minor}.{patch}"},
        "paths": {
            "/api/v1/namespaces/{namespace}/pods": {
                "get": _operation("list", "listCoreV1NamespacedPod", ["labelSelector"]),
                "post": _operation("post", "createCoreV1NamespacedPod", write),
                "parameters": [ns_param],
            },
            "/api/v1/namespaces/{namespace}/pods/{name}": {
                "get": _operation("get", "readCoreV1NamespacedPod", []),
                "put": _operation("put", "replaceCoreV1NamespacedPod", write),
                "patch": _operation("patch", "patchCoreV1NamespacedPod", [*write, "force"]),
                "delete": _operation(
                    "delete", "deleteCoreV1NamespacedPod", ["dryRun", "gracePeriodSeconds"]
                ),
                "parameters": [name_param, ns_param],
            },
        },
        "components": {"schemas": {}},
    }


DOCUMENT = json.dumps(_document())
HASH = hashlib.sha512(DOCUMENT.encode()).hexdigest()[:128].upper()


async def index(request: web.Request) -> web.Response:
    paths = {"api/v1": {"serverRelativeURL": f"/openapi/v3/api/v1?hash={HASH}"}}
    return web.json_response({"paths": paths})


async def core_v1(request: web.Request) -> web.Response:
    headers = {"Etag": f'"{HASH}"'}
    if request.query.get("hash") == HASH:
        headers["Cache-Control"] = "public, immutable"
    return web.Response(text=DOCUMENT, content_type="application/json", headers=headers)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/openapi/v3", index)
    router.add_get("/openapi/v3/", index)
    router.add_get("/openapi/v3/api/v1", core_v1)
