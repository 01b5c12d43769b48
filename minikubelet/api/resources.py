"""Read-only resources beside pods: `events` (from the registry, already v1 Event JSON) and
`namespaces` (derived: `default` plus every namespace a pod lives in, all Active since the
daemon started)."""

from __future__ import annotations

import uuid

from aiohttp import web

from minikubelet.api import table as tbl
from minikubelet.api.appkeys import registry, settings
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.api.registry import JSON
from minikubelet.api.selectors import EVENT_FIELDS, NAMESPACE_FIELDS
from minikubelet.core.gotext import rfc3339

EVENTS = Resource("Event", "events", EVENT_FIELDS, tbl.EVENT_COLUMNS, tbl.event_row)
NAMESPACES = Resource(
    "Namespace", "namespaces", NAMESPACE_FIELDS, tbl.NAMESPACE_COLUMNS, tbl.namespace_row
)
_NAMESPACE_UIDS = uuid.UUID("5b8e7a52-3c1f-4d0e-9a65-6f0b1e2d7c44")


async def list_all_events(request: web.Request) -> web.StreamResponse:
    return await list_or_watch(request, EVENTS, lambda: registry(request).list_events())


async def list_events(request: web.Request) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    return await list_or_watch(request, EVENTS, lambda: registry(request).list_events(namespace))


async def get_event(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    events = registry(request).list_events(namespace)
    found = next((e for e in events if e.get("metadata", {}).get("name") == name), None)
    return get_one(request, EVENTS, found, name)


def namespace_object(name: str, created: float) -> JSON:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(_NAMESPACE_UIDS, name)),
            "creationTimestamp": rfc3339(created),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def namespaces(request: web.Request) -> list[JSON]:
    names = {"default", "kube-node-lease"}  # the node's Lease lives in kube-node-lease
    names.update(p.get("metadata", {}).get("namespace", "default")
                 for p in registry(request).list_pods())  # fmt: skip
    started = settings(request).started_at
    return [namespace_object(n, started) for n in sorted(names)]


async def list_namespaces(request: web.Request) -> web.StreamResponse:
    return await list_or_watch(request, NAMESPACES, lambda: namespaces(request))


async def get_namespace(request: web.Request) -> web.Response:
    name = request.match_info["namespace"]
    found = next((n for n in namespaces(request) if n["metadata"]["name"] == name), None)
    return get_one(request, NAMESPACES, found, name)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/events", list_all_events)
    router.add_get("/api/v1/namespaces/{namespace}/events", list_events)
    router.add_get("/api/v1/namespaces/{namespace}/events/{name}", get_event)
    # namespaces are a registered kind (api/generic.py), served with those derived here
