"""Every registered kind (store/kinds.py) served from one set of handlers, as the API server's
generic REST store serves a resource (apiserver: pkg/registry/generic/registry/store.go,
endpoints/handlers): list and watch (label and field selectors, resourceVersion), get,
create (POST), update (PUT, with the resourceVersion precondition), patch (JSON merge,
strategic merge - a merge for maps here - and JSON patch), delete, each write with
`?dryRun=All`. Admission (defaults and validation) is the kind's own (`Kind.admit`); a kind
with no local effect gets one `Warning` header saying so.

This module is the route table; the reads are `genericreads.py`'s, the writes
`genericwrites.py`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import subresources
from minikubelet.api.genericreads import get_object, list_objects, listing
from minikubelet.api.genericwrites import create, delete, patch_object, replace
from minikubelet.store.kinds import KINDS, Kind

Handler = Callable[[web.Request, Kind], Any]


def _bind(handler: Handler, kind: Kind) -> Callable[[web.Request], Any]:
    async def bound(request: web.Request) -> web.StreamResponse:
        result: web.StreamResponse = await handler(request, kind)
        return result

    return bound


def paths(kind: Kind) -> tuple[str, str]:
    """(the collection, the item) of a kind; a namespaced kind's collection is also served
    across namespaces (`/api/v1/configmaps`)."""
    prefix = f"/apis/{kind.api_version}" if kind.group else "/api/v1"
    if kind.namespaced:
        collection = f"{prefix}/namespaces/{{namespace}}/{kind.resource}"
    else:
        collection = f"{prefix}/{kind.resource}"
    item = "/api/v1/namespaces/{name}" if kind.resource == "namespaces" else collection + "/{name}"
    return collection, item


def add_routes(router: web.UrlDispatcher) -> None:
    for kind in KINDS:
        collection, item = paths(kind)
        prefix = f"/apis/{kind.api_version}" if kind.group else "/api/v1"
        if kind.namespaced:
            router.add_get(f"{prefix}/{kind.resource}", _bind(list_objects, kind))
        router.add_get(collection, _bind(list_objects, kind))
        router.add_post(collection, _bind(create, kind))
        router.add_get(item, _bind(get_object, kind))
        router.add_put(item, _bind(replace, kind))
        router.add_patch(item, _bind(patch_object, kind))
        router.add_delete(item, _bind(delete, kind))
        subresources.add_routes(router, kind, item, _bind, listing(kind))
