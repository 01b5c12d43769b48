"""Every registered kind (store/kinds.py) served from one set of handlers, as the API server's
generic REST store serves a resource (apiserver: pkg/registry/generic/registry/store.go,
endpoints/handlers): list and watch (label and field selectors, resourceVersion), get,
create (POST), update (PUT, with the resourceVersion precondition), patch (JSON merge,
strategic merge - a merge for maps here - and JSON patch), delete, each write with
`?dryRun=All`. Admission (defaults and validation) is the kind's own (`Kind.admit`); a kind
with no local effect gets one `Warning` header saying so.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import (
    bodies,
    patch,
    prototyped,
    protowire,
    resources,
    services,
    subresources,
    warning_headers,
)
from minikubelet.api import status_errors as se
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import STORE, registry
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.api.requestoptions import cascade, check_field_validation, is_dry_run, read_body
from minikubelet.core import propagation as prop
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest.configmaps import (
    ObjectInvalid,
    ObjectUndecodable,
    strict_decoding_error,
    unknown_fields,
)
from minikubelet.store.kinds import KINDS, Kind, default_service_account
from minikubelet.store.objects import JSON, AlreadyExists, ObjectStore

_NAME = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time "
        "when this object was created.")  # fmt: skip
_CREATED_AT = ("Created At", "date", 0, "CreationTimestamp is a timestamp representing the "
               "server time when this object was created.")  # fmt: skip
_SERVER_META = ("uid", "creationTimestamp", "generation", "resourceVersion")
_DELETION_META = ("deletionTimestamp", "deletionGracePeriodSeconds")  # only a DELETE sets them


def qualified(kind: Kind) -> str:
    """`deployments.apps`, as the API server names a resource in its messages."""
    return f"{kind.resource}.{kind.group}" if kind.group else kind.resource


def store_of(request: web.Request) -> ObjectStore:
    return request.app[STORE]


def listing(kind: Kind) -> Resource:
    if kind.resource == "services":
        return Resource("Service", "services", services.SERVICE_FIELDS,
                        services.SERVICE_COLUMNS, services.service_row)  # fmt: skip
    last = _CREATED_AT if kind.created_at else _AGE
    # the wide columns (priority 1: CONTAINERS, IMAGES, SELECTOR) come after Age, as printers.go
    # defines them
    wide = [i for i, column in enumerate(kind.columns) if column[2] > 0]
    narrow = [i for i in range(len(kind.columns)) if i not in wide]
    columns = (_NAME, *(kind.columns[i] for i in narrow), last, *(kind.columns[i] for i in wide))

    def row(obj: JSON, now: float, include: str) -> JSON:
        created = obj.get("metadata", {}).get("creationTimestamp")
        end = created if kind.created_at else tbl.since(created, now)
        cells = kind.timed_cells(obj, now) if kind.timed_cells else kind.cells(obj)
        ordered = [*(cells[i] for i in narrow), end, *(cells[i] for i in wide)]
        return tbl.row(obj, [obj["metadata"]["name"], *ordered], include)

    return Resource(kind.kind, kind.resource, kind.fields, columns, row, kind.api_version)


def _extra(request: web.Request, kind: Kind, namespace: str | None) -> list[JSON]:
    """Objects served beside the stored ones: the `kubernetes` Service, and a Namespace for
    every namespace a pod lives in."""
    if kind.resource == "services":
        return services.services(request, namespace)
    if kind.resource == "namespaces":
        return resources.namespaces(request)
    return []


def objects(request: web.Request, kind: Kind, namespace: str | None) -> list[JSON]:
    stored = store_of(request).list(kind.resource, namespace if kind.namespaced else None)
    names = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in stored}
    extra = [
        o for o in _extra(request, kind, namespace)
        if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) not in names
    ]  # fmt: skip
    return sorted([*stored, *extra], key=_key)


def _key(obj: JSON) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def _find(request: web.Request, kind: Kind) -> tuple[str, str, JSON | None]:
    namespace = request.match_info.get("namespace", "") if kind.namespaced else ""
    name = request.match_info["name"]
    found = store_of(request).get(kind.resource, namespace, name)
    if found is None:
        found = next(
            (o for o in _extra(request, kind, namespace or None)
             if o["metadata"]["name"] == name), None,
        )  # fmt: skip
    return namespace, name, found


def _document(body: Any, kind: Kind, namespace: str) -> JSON:
    """The body as the API server decodes it into the kind: kind and apiVersion default from
    the URL, another kind is refused (endpoints/handlers/create.go)."""
    if not isinstance(body, dict):
        raise se.bad_request("couldn't get version/kind; json parse error: not an object")
    version = body.get("apiVersion") or kind.api_version
    got = body.get("kind") or kind.kind
    body["apiVersion"], body["kind"] = version, got
    if got != kind.kind or version != kind.api_version:
        raise se.bad_request(
            f'{got} in version "{version.rpartition("/")[2]}" cannot be handled as a '
            f"{kind.kind}: the API version in the data ({version}) does not match the "
            f"expected API version ({kind.api_version})"
            if got == kind.kind
            else f'{got} in version "{version.rpartition("/")[2]}" cannot be handled as a '
            f'{kind.kind}: no kind "{got}" is registered for the object'
        )
    metadata = body.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise se.bad_request("metadata: expected an object")
    if kind.namespaced:
        if (metadata.get("namespace") or namespace) != namespace:
            raise se.bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        metadata["namespace"] = namespace
    else:
        metadata.pop("namespace", None)
    body.pop("status", None)
    return body


async def _body(request: web.Request) -> Any:
    """JSON or YAML, or the protobuf kubectl's typed clients send (`kubectl create
    configmap`, `kubectl create job --from=cronjob/x`)."""
    if request.content_type == protowire.MEDIA_TYPE:
        raw = await request.read()
        try:
            if prototyped.kind_of(raw) in prototyped.KINDS:
                return prototyped.decode_typed_object(raw)
            return protowire.decode_config_object(raw)
        except ValueError as exc:
            raise se.bad_request(str(exc)) from None
    return await read_body(request)


def _admit(kind: Kind, obj: JSON, old: JSON | None) -> JSON:
    try:
        return kind.admit(obj, old)
    except ObjectInvalid as exc:
        raise se.invalid(exc.kind, exc.name, exc.errors, kind.group) from None
    except ObjectUndecodable as exc:
        raise se.bad_request(str(exc)) from None


def _warnings(kind: Kind, obj: JSON | None = None) -> list[str]:
    found = kind.object_warnings(obj) if obj is not None else []
    if kind.warning:
        return [kind.warning, *found]
    return [kind.no_effect_warning, *found] if kind.effect == "none" else found


def _field_validation(request: web.Request, kind: Kind, body: JSON) -> list[str]:
    """`?fieldValidation=`: Strict refuses unknown fields (400), Warn (the default) warns of
    each, Ignore says nothing (apiserver: endpoints/handlers/rest.go fieldValidation)."""
    unknown = unknown_fields(kind.kind, body)
    mode = request.query.get("fieldValidation", "Warn")
    if not unknown or mode == "Ignore":
        return []
    if mode == "Strict":
        raise se.bad_request(strict_decoding_error(kind.kind, unknown))
    return unknown


def admit_new(kind: Kind, document: JSON) -> JSON:
    """A new object as the store is to take it (a generated name filled in, admitted)."""
    meta = document.setdefault("metadata", {})
    if not meta.get("name") and meta.get("generateName"):
        alphabet = string.ascii_lowercase + string.digits
        meta["name"] = meta["generateName"] + "".join(secrets.choice(alphabet) for _ in range(5))
    for key in _SERVER_META + _DELETION_META:
        meta.pop(key, None)
    return _admit(kind, document, None)


async def create(request: web.Request, kind: Kind) -> web.Response:
    namespace = request.match_info.get("namespace", "")
    check_field_validation(request)
    dry_run = is_dry_run(request, "CreateOptions")
    document = _document(await _body(request), kind, namespace)
    return await _create_document(request, kind, document, dry_run)


async def _create_document(
    request: web.Request, kind: Kind, document: JSON, dry_run: bool
) -> web.Response:
    unknown = _field_validation(request, kind, document)
    admitted = admit_new(kind, document)
    name = admitted["metadata"]["name"]
    store = store_of(request)
    exists = store.get(kind.resource, admitted["metadata"].get("namespace", ""), name)
    if exists is not None or (kind.resource == "services" and name == "kubernetes"):
        raise se.already_exists(kind.resource, name, kind.group)
    if dry_run:
        result = admitted
    else:
        try:
            result = store.create(kind.resource, admitted)
        except AlreadyExists:
            raise se.already_exists(kind.resource, name, kind.group) from None
        if kind.resource == "namespaces":
            default_service_account(store, name)
    response = web.json_response(result, status=201)
    return warning_headers.add(response, unknown + _warnings(kind, result))


async def _write(request: web.Request, kind: Kind, old: JSON, new: JSON) -> web.Response:
    """An update (PUT or PATCH): the server's metadata kept, admitted against the old object,
    the resourceVersion precondition checked."""
    name = old["metadata"]["name"]
    if new.get("metadata", {}).get("name", name) != name:
        raise se.bad_request(
            f"the name of the object ({new['metadata'].get('name')}) does not match the name "
            f"on the URL ({name})"
        )
    version = (new.get("metadata") or {}).get("resourceVersion")
    if version and version != old["metadata"].get("resourceVersion"):
        raise se.StatusError(
            409, "Conflict",
            f'Operation cannot be fulfilled on {qualified(kind)} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            {"name": name, "kind": kind.resource},
        )  # fmt: skip
    new.setdefault("metadata", {})
    for key in _DELETION_META:
        new["metadata"].pop(key, None)
    for key in _SERVER_META + _DELETION_META:
        if key in old["metadata"]:
            new["metadata"][key] = old["metadata"][key]
    errors = prop.new_finalizer_errors(new, old)
    if errors:
        raise se.invalid(kind.kind, name, errors)
    if kind.status_subresource:
        subresources.keep_status(new, old)
    admitted = _admit(kind, new, old)
    if kind.status_subresource:
        subresources.bump_generation(admitted, old)
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if is_dry_run(request, options) or admitted == old:
        return warning_headers.add(web.json_response(admitted), _warnings(kind, admitted))
    namespace = old["metadata"].get("namespace", "")
    if store_of(request).get(kind.resource, namespace, name) is None:
        raise se.StatusError(405, "MethodNotAllowed",
                             f'{kind.resource} "{name}" cannot be changed here')  # fmt: skip
    if prop.gone_after_update(admitted, old):  # the last finalizer went: the object goes
        store_of(request).remove(kind.resource, namespace, name)
        return warning_headers.add(web.json_response(admitted), _warnings(kind))
    stored = store_of(request).put(kind.resource, admitted)
    return warning_headers.add(web.json_response(stored), _warnings(kind, stored))


async def replace(request: web.Request, kind: Kind) -> web.Response:
    namespace, name, old = _find(request, kind)
    check_field_validation(request)
    body = _document(await _body(request), kind, namespace)
    unknown = _field_validation(request, kind, body)
    if old is None:
        raise se.not_found(kind.resource, name, kind.group)
    return warning_headers.add(await _write(request, kind, old, body), unknown)


async def patch_object(request: web.Request, kind: Kind) -> web.Response:
    _, name, old = _find(request, kind)
    if request.content_type not in patch.PATCH_TYPES:
        raise bodies.unsupported_media_type(", ".join(patch.PATCH_TYPES))
    body = await read_body(request)
    if old is None and request.content_type == patch.APPLY and isinstance(body, dict):
        # server-side apply of an object that does not exist creates it (handlers/patch.go)
        namespace = request.match_info.get("namespace", "")
        document = _document(body, kind, namespace)
        if document["metadata"].get("name") != name:
            raise se.bad_request(
                "the name of the object "
                f"({document['metadata'].get('name')}) does not match the name on the URL ({name})"
            )
        return await _create_document(request, kind, document, is_dry_run(request, "PatchOptions"))
    if old is None:
        raise se.not_found(kind.resource, name, kind.group)
    try:
        updated = patch.apply(request.content_type, old, body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None
    unknown = _field_validation(request, kind, updated)
    return warning_headers.add(await _write(request, kind, old, updated), unknown)


async def delete(request: web.Request, kind: Kind) -> web.Response:
    namespace, name, old = _find(request, kind)
    options = bodies.DeleteOptions()
    if request.can_read_body:
        options = bodies.delete_options(await read_body(request))
    asked = cascade(request, options)
    dry_run = is_dry_run(request, "DeleteOptions", list(options.dry_run))
    if old is None:
        raise se.not_found(kind.resource, name, kind.group)
    if kind.resource == "namespaces" and name in ("default", "kube-system", "kube-public"):
        raise se.forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
    if store_of(request).get(kind.resource, namespace, name) is None:
        raise se.forbidden(f'{kind.resource} "{name}" is forbidden: it is the server\'s own')
    _check_uid(old, options, kind)
    warned = prop.default_warning(kind.api_version, kind.kind, asked)
    default_orphan = prop.orphans_by_default(kind.api_version, kind.kind)
    kept = prop.deleted(old, asked, rfc3339(time.time()) or "", default_orphan=default_orphan)
    if kept is not None and kind.resource != "namespaces":
        # finalizers hold it: marked, and answered as it stays (200; 202 for the older
        # orphanDependents=false), as Store.Delete and the delete handler answer
        if not dry_run and kept != old:
            kept = store_of(request).put(kind.resource, kept)
        code = 202 if asked.orphan_dependents is False else 200
        return warning_headers.add(web.json_response(kept, status=code), [warned] if warned else [])
    if not dry_run:
        if kind.resource == "namespaces":
            await _empty_namespace(request, name)
        store_of(request).remove(kind.resource, namespace, name)
    details = {"name": name, "group": kind.group, "kind": kind.resource, "uid":
               old["metadata"].get("uid", "")}  # fmt: skip
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    response = web.json_response({**status, "details": details})
    return warning_headers.add(response, [warned] if warned else [])


def _check_uid(old: JSON, options: bodies.DeleteOptions, kind: Kind) -> None:
    """DeleteOptions.preconditions.uid (the garbage collector's deletes carry it)."""
    uid, name = old["metadata"].get("uid"), old["metadata"]["name"]
    if options.uid is not None and options.uid != uid:
        raise se.StatusError(
            409, "Conflict",
            f'Operation cannot be fulfilled on {kind.resource} "{name}": the UID in the '
            f"precondition ({options.uid}) does not match the UID in record ({uid}). The object "
            "might have been deleted and then recreated",
            {"name": name, "kind": kind.resource},
        )  # fmt: skip


async def _empty_namespace(request: web.Request, namespace: str) -> None:
    """What the namespace controller does before a namespace goes: its objects are deleted,
    its pods gracefully (they finish terminating after the namespace is gone)."""
    store = store_of(request)
    for kind in KINDS:
        if kind.namespaced:
            for obj in store.list(kind.resource, namespace):
                store.remove(kind.resource, namespace, obj["metadata"]["name"])
    pods = registry(request)
    for pod in pods.list_pods(namespace):
        await pods.delete_pod(namespace, pod["metadata"]["name"])


async def list_objects(request: web.Request, kind: Kind) -> web.StreamResponse:
    namespace = request.match_info.get("namespace") if kind.namespaced else None

    def in_namespace(obj: JSON) -> bool:
        return namespace is None or obj.get("metadata", {}).get("namespace") == namespace

    return await list_or_watch(request, listing(kind), lambda: objects(request, kind, namespace),
                               in_namespace)  # fmt: skip


async def get_object(request: web.Request, kind: Kind) -> web.Response:
    _, name, found = _find(request, kind)
    return get_one(request, listing(kind), found, name)


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
