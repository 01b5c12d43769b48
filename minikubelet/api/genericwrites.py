"""The writes of every registered kind (store/kinds.py), as the API server's generic REST
store takes them (apiserver: pkg/registry/generic/registry/store.go, endpoints/handlers):
create (POST), update (PUT, with the resourceVersion precondition), patch (JSON merge,
strategic merge - a merge for maps here - and JSON patch) and delete, each with
`?dryRun=All`; the body decoded as the kind, admission (`Kind.admit`), `fieldValidation`, and
the `Warning` header of a kind with no local effect.
"""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, patch, prototyped, protowire, subresources, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.genericreads import find_object, qualified, store_of
from minikubelet.api.requestoptions import (
    apply_config,
    cascade,
    check_field_validation,
    field_manager,
    is_dry_run,
    read_body,
    timestamp_now,
)
from minikubelet.core import propagation as prop
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest import fieldsets, managedfields
from minikubelet.manifest.configmaps import (
    ObjectInvalid,
    ObjectUndecodable,
    strict_decoding_error,
    unknown_fields,
)
from minikubelet.manifest.forbidden import Forbidden
from minikubelet.manifest.load import template_warnings
from minikubelet.store import admission
from minikubelet.store.kinds import KINDS, Kind, default_service_account
from minikubelet.store.objects import JSON, AlreadyExists

_SERVER_META = ("uid", "creationTimestamp", "generation", "resourceVersion")
# the managedFields an update is to have, from the object as it will be stored
Ownership = Callable[[JSON], list[JSON]]
_DELETION_META = ("deletionTimestamp", "deletionGracePeriodSeconds")  # only a DELETE sets them


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
    manager = field_manager(request, "CreateOptions")
    document = _document(await _body(request), kind, namespace)
    return await _create_document(request, kind, document, dry_run, _update_ownership({}, manager))


def _update_ownership(old: JSON, manager: str) -> Ownership:
    """A create's, PUT's or non-apply PATCH's managedFields: an `Update` entry for the
    request's manager over what it changed (fieldmanager.go Update; the body's own entries
    are not taken, as for pods)."""
    entries = (old.get("metadata") or {}).get("managedFields")
    now = timestamp_now()

    def ownership(new: JSON) -> list[JSON]:
        version = str(new.get("apiVersion") or "v1")
        return managedfields.update(old, new, entries, manager, now, api_version=version)

    return ownership


async def _create_document(
    request: web.Request, kind: Kind, document: JSON, dry_run: bool, ownership: Ownership
) -> web.Response:
    unknown = _field_validation(request, kind, document)
    unknown += template_warnings(document)  # the template as written, before its defaults
    admitted = admit_new(kind, document)
    admitted["metadata"]["managedFields"] = ownership(admitted)
    name = admitted["metadata"]["name"]
    store = store_of(request)
    exists = store.get(kind.resource, admitted["metadata"].get("namespace", ""), name)
    if exists is not None or (kind.resource == "services" and name == "kubernetes"):
        raise se.already_exists(kind.resource, name, kind.group)
    try:  # ResourceQuota's object counts, Priority's one default class
        admission.check_create(store, kind.resource, kind.group, admitted)
    except Forbidden as exc:
        raise se.admission_forbidden(exc.resource, exc.name, str(exc)) from None
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


async def _write(
    request: web.Request, kind: Kind, old: JSON, new: JSON, ownership: Ownership | None = None
) -> web.Response:
    """An update (PUT or PATCH): the server's metadata kept, admitted against the old object,
    the resourceVersion precondition checked; `ownership` gives the managedFields (an Update
    entry for the request's field manager unless given)."""
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
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if ownership is None:
        ownership = _update_ownership(old, field_manager(request, options))
    admitted = _admit(kind, new, old)
    if kind.status_subresource:
        subresources.bump_generation(admitted, old)
    managed = ownership(admitted)
    if managed:
        admitted["metadata"]["managedFields"] = managed
    else:
        admitted["metadata"].pop("managedFields", None)
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
    namespace, name, old = find_object(request, kind)
    check_field_validation(request)
    body = _document(await _body(request), kind, namespace)
    unknown = _field_validation(request, kind, body)
    if old is None:
        raise se.not_found(kind.resource, name, kind.group)
    return warning_headers.add(await _write(request, kind, old, body), unknown)


async def patch_object(request: web.Request, kind: Kind) -> web.Response:
    _, name, old = find_object(request, kind)
    if request.content_type not in patch.PATCH_TYPES:
        raise bodies.unsupported_media_type(", ".join(patch.PATCH_TYPES))
    if request.content_type == patch.APPLY:
        return await _apply(request, kind, name, old)
    field_manager(request, "PatchOptions")  # the options are checked before the body
    body = await read_body(request)
    if old is None:
        raise se.not_found(kind.resource, name, kind.group)
    try:
        updated = patch.apply(request.content_type, old, body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None
    unknown = _field_validation(request, kind, updated)
    return warning_headers.add(await _write(request, kind, old, updated), unknown)


async def _apply(request: web.Request, kind: Kind, name: str, old: JSON | None) -> web.Response:
    """Server-side apply (endpoints/handlers/patch.go applyPatcher): an object that does not
    exist is created from the configuration (201); otherwise the configuration is merged in,
    what the manager applied before and no longer applies is pruned, and a changed field
    another manager owns is a 409 unless `force=true`."""
    check_field_validation(request)
    dry_run = is_dry_run(request, "PatchOptions")
    manager = field_manager(request, "PatchOptions", apply=True)
    force = request.query.get("force", "false").lower() == "true"
    body = await read_body(request)
    namespace = request.match_info.get("namespace", "")
    config = _apply_config(body, kind, namespace, name)
    now = timestamp_now()
    if old is None:
        applied = fieldsets.field_set(fieldsets.owned_view(config))
        document = _document(config, kind, namespace)
        created = managedfields.Manager(manager, managedfields.APPLY, kind.api_version, applied,
                                        now)  # fmt: skip
        return await _create_document(
            request, kind, document, dry_run, lambda _obj: managedfields.encode([created])
        )
    entries = (old.get("metadata") or {}).get("managedFields")
    merged, applied = managedfields.apply(old, config, entries, manager, force=force)

    def ownership(new: JSON) -> list[JSON]:
        try:
            return managedfields.apply_ownership(
                old, new, entries, manager, applied, now, force=force, api_version=kind.api_version
            )
        except managedfields.ApplyConflict as exc:
            raise se.StatusError(
                409, "Conflict", str(exc), {"causes": managedfields.conflict_causes(exc.conflicts)}
            ) from None

    unknown = _field_validation(request, kind, merged)
    return warning_headers.add(await _write(request, kind, old, merged, ownership), unknown)


def _apply_config(body: Any, kind: Kind, namespace: str, name: str) -> JSON:
    """The applied configuration (requestoptions.apply_config), of the URL's kind."""

    def check_kind(config: JSON) -> None:
        got = config.get("kind")
        if got != kind.kind:
            raise se.bad_request(
                f'{got or ""} in version "{kind.version}" cannot be handled as a {kind.kind}: '
                f'no kind "{got or ""}" is registered for the object'
            )

    return apply_config(
        body, kind.api_version, namespace, name, check_kind=check_kind, namespaced=kind.namespaced
    )


async def delete(request: web.Request, kind: Kind) -> web.Response:
    namespace, name, old = find_object(request, kind)
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
