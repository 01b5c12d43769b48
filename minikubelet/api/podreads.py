"""`/api/v1/.../pods` reads: list and watch (all namespaces or one), get, as the API server
answers them.
"""

from __future__ import annotations

from aiohttp import web

from minikubelet.api import table as tbl
from minikubelet.api.appkeys import registry
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.api.registry import JSON
from minikubelet.api.selectors import POD_FIELDS

PODS = Resource("Pod", "pods", POD_FIELDS, tbl.POD_COLUMNS, tbl.pod_row)


async def list_all(request: web.Request) -> web.StreamResponse:
    return await list_or_watch(request, PODS, lambda: registry(request).list_pods())


async def list_namespaced(request: web.Request) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    return await list_or_watch(request, PODS, lambda: registry(request).list_pods(namespace))


def current_pod(request: web.Request) -> tuple[str, str, JSON | None]:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    return namespace, name, registry(request).get_pod(namespace, name)


async def get_pod(request: web.Request) -> web.Response:
    _, name, pod = current_pod(request)
    return get_one(request, PODS, pod, name)
