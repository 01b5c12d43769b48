"""`/api/v1/.../pods`: list, watch, get, create, delete, patch and replace, as the API server
answers them (status codes, `Status` errors and bodies that kubectl prints from).

This module is the route table; the handlers are `podreads.py` (list, watch, get),
`podwrites.py` (create, delete), `podupdates.py` (patch, apply, replace, status), and the
options they share `requestoptions.py`.
"""

from __future__ import annotations

from aiohttp import web

from minikubelet.api.podreads import get_pod, list_all, list_namespaced
from minikubelet.api.podupdates import patch_pod, patch_status, replace_pod, replace_status
from minikubelet.api.podwrites import create_pod, delete_collection, delete_pod


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/pods", list_all)
    collection = "/api/v1/namespaces/{namespace}/pods"
    router.add_get(collection, list_namespaced)
    router.add_post(collection, create_pod)
    router.add_delete(collection, delete_collection)
    item = collection + "/{name}"
    router.add_get(item, get_pod)
    router.add_get(item + "/status", get_pod)
    router.add_put(item + "/status", replace_status)
    router.add_patch(item + "/status", patch_status)
    router.add_delete(item, delete_pod)
    router.add_patch(item, patch_pod)
    router.add_put(item, replace_pod)
