"""`/api/v1/namespaces/{ns}/pods/{name}/ephemeralcontainers`, the subresource `kubectl debug`
adds its container through, as the API server serves it (pkg/registry/core/pod/storage
EphemeralContainersREST): GET answers the pod; PUT and PATCH (merge, strategic merge, JSON
patch) change `spec.ephemeralContainers` and nothing else, by the rules of
`manifest/ephemeralvalidation.py` (only additions; no ports, probes, lifecycle or
resources; names unique across the pod; a target that names one of its containers), and
answer the pod. The node then runs each new one once (node/pod.py).
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, patch
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.podreads import current_pod, get_pod
from minikubelet.api.registry import JSON
from minikubelet.api.requestoptions import is_dry_run, read_body
from minikubelet.manifest import ephemeralvalidation as ephemeral

_PATCH_TYPES = tuple(t for t in patch.PATCH_TYPES if t != patch.APPLY)


def _conflict(name: str) -> se.StatusError:
    return se.StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "kind": "pods"},
    )


async def _write(request: web.Request, pod: JSON, written: Any) -> web.Response:
    name = pod["metadata"]["name"]
    if not isinstance(written, dict):
        raise se.bad_request("the body must be a Pod")
    meta = written.get("metadata") or {}
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if version and version != pod["metadata"].get("resourceVersion"):
        raise _conflict(name)
    try:
        containers, errors = ephemeral.admit(pod, written)
    except ephemeral.DecodeError as exc:
        raise se.bad_request(str(exc)) from None
    if errors:
        raise se.invalid("Pod", name, errors)
    old_spec = pod.get("spec", {})
    spec = {k: v for k, v in old_spec.items() if k != "ephemeralContainers"}
    if containers:
        spec["ephemeralContainers"] = containers
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if spec == old_spec:
        is_dry_run(request, options)
        return web.json_response(pod)
    if is_dry_run(request, options):
        return web.json_response({**pod, "spec": spec})
    metadata = pod["metadata"]
    result = await registry(request).update_pod_metadata(
        metadata.get("namespace", ""),
        name,
        labels=metadata.get("labels") or {},
        annotations=metadata.get("annotations") or {},
        spec=spec,
    )
    if result is None:
        raise se.not_found("pods", name)
    return web.json_response(result)


async def patch_ephemeral(request: web.Request) -> web.Response:
    if request.content_type not in _PATCH_TYPES:
        raise bodies.unsupported_media_type(", ".join(_PATCH_TYPES))
    body = await read_body(request)
    _, name, pod = current_pod(request)
    if pod is None:
        raise se.not_found("pods", name)
    try:
        updated = patch.apply(request.content_type, copy.deepcopy(pod), body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None
    return await _write(request, pod, updated)


async def replace_ephemeral(request: web.Request) -> web.Response:
    body = await read_body(request)
    _, name, pod = current_pod(request)
    if pod is None:
        raise se.not_found("pods", name)
    if isinstance(body, dict) and isinstance(body.get("metadata"), dict):
        given = body["metadata"].get("name", name)
        if given != name:
            raise se.bad_request(
                f"the name of the object ({given}) does not match the name on the URL ({name})"
            )
    return await _write(request, pod, body)


def add_routes(router: web.UrlDispatcher) -> None:
    item = "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers"
    router.add_get(item, get_pod)
    router.add_patch(item, patch_ephemeral)
    router.add_put(item, replace_ephemeral)
