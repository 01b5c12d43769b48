"""The status and scale subresources of the registered kinds that have them, as the API
server's status and scale REST storages serve them (pkg/registry/apps/deployment/storage
StatusREST and ScaleREST, and the same for replicasets, statefulsets, replicationcontrollers).

`/status`: GET answers the object; PUT and PATCH change its `status` and nothing else
(the status strategies' PrepareForUpdate keep the stored spec and metadata). `/scale`: an
`autoscaling/v1` Scale built from `spec.replicas`, `status.replicas` and the selector; PUT and
PATCH set `spec.replicas` (admitted as an update of the object, so that its validation and
`generation` apply), which is what `kubectl scale` does.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, patch, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import STORE
from minikubelet.api.listing import Resource, get_one
from minikubelet.api.requestoptions import is_dry_run, read_body
from minikubelet.core.workloads import selector_string
from minikubelet.manifest.configmaps import ObjectInvalid
from minikubelet.store.kinds import Kind
from minikubelet.store.objects import JSON, ObjectStore


def _store(request: web.Request) -> ObjectStore:
    return request.app[STORE]


def keep_status(new: JSON, old: JSON) -> None:
    """A write to the main resource of a kind with a status subresource keeps the stored
    status (the strategies' PrepareForUpdate: `newObj.Status = oldObj.Status`)."""
    if "status" in old:
        new["status"] = old["status"]
    else:
        new.pop("status", None)


def bump_generation(new: JSON, old: JSON) -> None:
    """`metadata.generation` moves on when the spec changes (the strategies'
    PrepareForUpdate: `if !apiequality.Semantic.DeepEqual(newObj.Spec, oldObj.Spec)`)."""
    generation = int(old["metadata"].get("generation") or 1)
    if new.get("spec") != old.get("spec"):
        generation += 1
    new["metadata"]["generation"] = generation


def _stored(request: web.Request, kind: Kind) -> JSON:
    namespace = request.match_info.get("namespace", "") if kind.namespaced else ""
    name = request.match_info["name"]
    found = _store(request).get(kind.resource, namespace, name)
    if found is None:
        raise se.not_found(kind.resource, name, kind.group)
    return found


def _conflict(kind: Kind, name: str) -> se.StatusError:
    resource = f"{kind.resource}.{kind.group}" if kind.group else kind.resource
    return se.StatusError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, **({"group": kind.group} if kind.group else {}), "kind": kind.resource},
    )  # fmt: skip


def _check_version(kind: Kind, stored: JSON, body: Any) -> None:
    if not isinstance(body, dict):
        raise se.bad_request("the body must be an object")
    meta = body.get("metadata") or {}
    if not isinstance(meta, dict):
        raise se.bad_request("metadata: expected an object")
    version = meta.get("resourceVersion")
    if version and version != stored["metadata"].get("resourceVersion"):
        raise _conflict(kind, stored["metadata"]["name"])


def _patched(request: web.Request, current: JSON, body: Any) -> JSON:
    if request.content_type not in patch.PATCH_TYPES or request.content_type == patch.APPLY:
        types = [t for t in patch.PATCH_TYPES if t != patch.APPLY]
        raise bodies.unsupported_media_type(", ".join(types))
    try:
        return patch.apply(request.content_type, copy.deepcopy(current), body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None


# --- status ------------------------------------------------------------------------------


async def get_status(request: web.Request, kind: Kind, printed: Resource) -> web.Response:
    """The object, or as a Table the object's own row (StatusREST uses the store's table
    convertor: `kubectl get rs x --subresource=status` prints DESIRED CURRENT READY)."""
    stored = _stored(request, kind)
    return get_one(request, printed, stored, stored["metadata"]["name"])


async def _write_status(request: web.Request, kind: Kind, stored: JSON, status: Any) -> JSON:
    if status is not None and not isinstance(status, dict):
        raise se.invalid(kind.kind, stored["metadata"]["name"],
                         ["status: Invalid value: expected an object"], kind.group)  # fmt: skip
    new = {**stored, "status": status or {}}
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if is_dry_run(request, options) or new == stored:
        return new
    return _store(request).put(kind.resource, new)


async def put_status(request: web.Request, kind: Kind) -> web.Response:
    stored = _stored(request, kind)
    body = await read_body(request)
    _check_version(kind, stored, body)
    return web.json_response(await _write_status(request, kind, stored, body.get("status")))


async def patch_status(request: web.Request, kind: Kind) -> web.Response:
    stored = _stored(request, kind)
    body = await read_body(request)
    updated = _patched(request, stored, body)
    _check_version(kind, stored, updated)
    return web.json_response(await _write_status(request, kind, stored, updated.get("status")))


# --- scale -------------------------------------------------------------------------------


def scale_of(obj: JSON) -> JSON:
    """The autoscaling/v1 Scale of a scalable object (ScaleREST's scaleFromDeployment):
    `status.selector` is the label selector as a string (a map selector for an RC)."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    selector = spec.get("selector")
    if isinstance(selector, dict) and not ({"matchLabels", "matchExpressions"} & set(selector)):
        selector = {"matchLabels": selector}  # a ReplicationController's map selector
    scale_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    scale_status: JSON = {"replicas": int(status.get("replicas") or 0)}
    text = selector_string(selector) if isinstance(selector, dict) else ""
    if text:
        scale_status["selector"] = text
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": scale_status,
    }


# printers.go scaleColumnDefinitions / printScale: NAME DESIRED AVAILABLE AGE
_SCALE_COLUMNS: tuple[tbl.Column, ...] = (
    ("Name", "string", 0, "Name must be unique within a namespace."),
    ("Desired", "integer", 0, "replicas is the desired number of instances for the scaled "
     "object."),
    ("Available", "integer", 0, "replicas is the actual number of observed instances of the "
     "scaled object."),
    ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when "
     "this object was created."),
)  # fmt: skip


def _scale_row(scale: JSON, now: float, include: str) -> JSON:
    created = scale["metadata"].get("creationTimestamp")
    cells: list[tbl.Cell] = [scale["metadata"]["name"], int(scale["spec"]["replicas"]),
                             int(scale["status"]["replicas"]), tbl.since(created, now)]  # fmt: skip
    return tbl.row(scale, cells, include)


SCALE = Resource("Scale", "scale", frozenset(), _SCALE_COLUMNS, _scale_row, "autoscaling/v1")


async def get_scale(request: web.Request, kind: Kind) -> web.Response:
    stored = _stored(request, kind)
    return get_one(request, SCALE, scale_of(stored), stored["metadata"]["name"])


async def _write_scale(request: web.Request, kind: Kind, stored: JSON, scale: Any) -> JSON:
    name = stored["metadata"]["name"]
    if not isinstance(scale, dict) or not isinstance(scale.get("spec") or {}, dict):
        raise se.bad_request("the body must be an autoscaling/v1 Scale")
    _check_version(kind, stored, scale)
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise se.bad_request(
            f'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal '
            f"{type(replicas).__name__} into Go struct field ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise se.invalid("Scale", name, [
            f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        ], "autoscaling")  # fmt: skip
    new = copy.deepcopy(stored)
    new.setdefault("spec", {})["replicas"] = replicas
    try:
        admitted = kind.admit(new, stored)
    except ObjectInvalid as exc:
        raise se.invalid(exc.kind, exc.name, exc.errors, kind.group) from None
    admitted["status"] = stored.get("status", {})
    bump_generation(admitted, stored)
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if is_dry_run(request, options) or admitted == stored:
        return scale_of(admitted)
    return scale_of(_store(request).put(kind.resource, admitted))


async def put_scale(request: web.Request, kind: Kind) -> web.Response:
    stored = _stored(request, kind)
    body = await read_body(request)
    return web.json_response(await _write_scale(request, kind, stored, body))


async def patch_scale(request: web.Request, kind: Kind) -> web.Response:
    stored = _stored(request, kind)
    body = await read_body(request)
    updated = _patched(request, scale_of(stored), body)
    response = web.json_response(await _write_scale(request, kind, stored, updated))
    return warning_headers.add(response, [])


def add_routes(
    router: web.UrlDispatcher, kind: Kind, item: str, bind: Any, printed: Resource
) -> None:
    """`printed`: how the kind is printed (its Table), for a status GET as a Table."""
    if kind.status_subresource:

        async def status(request: web.Request) -> web.Response:
            return await get_status(request, kind, printed)

        router.add_get(item + "/status", status)
        router.add_put(item + "/status", bind(put_status, kind))
        router.add_patch(item + "/status", bind(patch_status, kind))
    if kind.scalable:
        router.add_get(item + "/scale", bind(get_scale, kind))
        router.add_put(item + "/scale", bind(put_scale, kind))
        router.add_patch(item + "/scale", bind(patch_scale, kind))
