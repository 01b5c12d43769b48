"""`/api/v1/.../pods` creates and deletes: POST (the body decoded as the API server decodes a
Pod), DELETE of one pod (graceful, with preconditions and propagation) and of a collection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, prototyped, protowire, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.listing import selector
from minikubelet.api.podreads import PODS, current_pod
from minikubelet.api.registry import JSON, InvalidPod, ManifestError, PodExists
from minikubelet.api.requestoptions import (
    cascade,
    check_field_validation,
    field_manager,
    grace_period,
    is_dry_run,
    read_body,
    read_delete_options,
    timestamp_now,
)
from minikubelet.core import propagation as prop
from minikubelet.manifest import load as manifest
from minikubelet.manifest import managedfields
from minikubelet.manifest.forbidden import Forbidden

# core/v1 kinds the API server knows (it converts them, and fails, rather than not finding them)
_CORE_KINDS = frozenset(
    [
        "Binding",
        "ComponentStatus",
        "ConfigMap",
        "Endpoints",
        "Event",
        "LimitRange",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PersistentVolumeClaim",
        "PodTemplate",
        "ReplicationController",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ]
)


def check_pod_document(body: Any, namespace: str) -> JSON:
    """The body as the API server decodes it into a Pod: a missing `kind` or `apiVersion` is
    taken from the URL (apiserver: endpoints/handlers/create.go, `decoder.Decode(body,
    &defaultGVK, ...)`), so clients that send bare objects (the Python client's
    `create_namespaced_pod(V1Pod(...))`) are served; another kind is refused with
    `transformDecodeError`'s message."""
    if not isinstance(body, dict):
        raise se.bad_request("couldn't get version/kind; json parse error: not an object")
    version = body.setdefault("apiVersion", "v1") or "v1"
    kind = body.setdefault("kind", "Pod") or "Pod"
    body["apiVersion"], body["kind"] = version, kind
    if kind != "Pod" and version == "v1":
        cause = (
            f"converting (v1.{kind}) to (core.Pod): unknown conversion"
            if kind in _CORE_KINDS
            else f'no kind "{kind}" is registered for version "v1" in scheme '
            '"pkg/api/legacyscheme/scheme.go:30"'
        )
        raise se.bad_request(f'{kind} in version "v1" cannot be handled as a Pod: {cause}')
    if version != "v1":
        raise se.bad_request(
            f"the API version in the data ({version}) does not match the expected API version (v1)"
        )
    metadata = body.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise se.bad_request("metadata: expected an object")
    if metadata.setdefault("namespace", namespace) != namespace:
        raise se.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    return body


async def create_pod(request: web.Request) -> web.Response:
    namespace = request.match_info["namespace"]
    check_field_validation(request)
    dry_run = is_dry_run(request, "CreateOptions")
    manager = field_manager(request, "CreateOptions")
    document = check_pod_document(await _pod_body(request), namespace)
    return await create_pod_from(request, document, dry_run, lambda pod: managedfields.update(
        {}, pod, None, manager, timestamp_now()
    ))  # fmt: skip


async def _pod_body(request: web.Request) -> Any:
    """JSON or YAML, or the protobuf Pod the typed client sends (`kubectl debug --copy-to`)."""
    if request.content_type != protowire.MEDIA_TYPE:
        return await read_body(request)
    raw = await request.read()
    try:
        if prototyped.kind_of(raw) != "Pod":
            raise ValueError("the protobuf body is not a Pod")
        return prototyped.decode_typed_object(raw)
    except ValueError as exc:
        raise se.bad_request(str(exc)) from None


async def create_pod_from(
    request: web.Request,
    document: JSON,
    dry_run: bool,
    ownership: Callable[[JSON], list[JSON]],
) -> web.Response:
    """A create (POST, or an apply of a pod that does not exist): the document's
    `metadata.managedFields` are `ownership` of the pod as it is decoded and defaulted (the
    create refuses one that does not decode, in the registry's words)."""
    try:
        candidate, _ = manifest.pod_from_document(document, source="api", node_name="")
        defaulted = dict(candidate.manifest)
    except (InvalidPod, ManifestError):
        defaulted = document
    document["metadata"]["managedFields"] = ownership(defaulted)
    try:
        pod = await registry(request).create_pod(document, dry_run=dry_run)
    except InvalidPod as exc:
        raise se.invalid("Pod", exc.name, exc.errors) from None
    except ManifestError as exc:
        raise se.bad_request("; ".join(exc.lines)) from None
    except PodExists as exc:
        raise se.already_exists("pods", exc.name) from None
    except Forbidden as exc:  # LimitRanger, Priority, ResourceQuota
        raise se.admission_forbidden(exc.resource, exc.name, str(exc)) from None
    return warning_headers.add(
        web.json_response(pod, status=201), warning_headers.for_document(document)
    )


async def delete_pod(request: web.Request) -> web.Response:
    """Graceful deletion (the daemon marks the pod and stops it; a finished pod goes at
    once); with a dry run, the pod as the deletion would leave it, and nothing changes."""
    namespace, name, pod = current_pod(request)
    options = await read_delete_options(request)
    grace = grace_period(request, options)
    asked = cascade(request, options)
    dry_run = is_dry_run(request, "DeleteOptions", list(options.dry_run))
    if pod is None:
        raise se.not_found("pods", name)
    _check_preconditions(pod, options)
    finalizers = prop.deletion_finalizers(prop.finalizers_of(pod), asked)
    deleted = await registry(request).delete_pod(
        namespace, name, grace_period_seconds=grace, dry_run=dry_run, finalizers=finalizers
    )
    if deleted is None:
        raise se.not_found("pods", name)
    return web.json_response(deleted)


async def delete_collection(request: web.Request) -> web.Response:
    """DELETE on the collection: every pod the label and field selectors match is deleted as
    one DELETE would delete it, and the answer is the list of what was deleted
    (apiserver: registry/generic/registry/store.go Store.DeleteCollection)."""
    namespace = request.match_info["namespace"]
    matches = selector(request, PODS)
    options = await read_delete_options(request)
    grace = grace_period(request, options)
    asked = cascade(request, options)
    dry_run = is_dry_run(request, "DeleteOptions", list(options.dry_run))
    pods = registry(request)
    version = pods.resource_version
    deleted = []
    for pod in [p for p in pods.list_pods(namespace) if matches(p)]:
        name = pod.get("metadata", {}).get("name", "")
        finalizers = prop.deletion_finalizers(prop.finalizers_of(pod), asked)
        gone = await pods.delete_pod(namespace, name, grace_period_seconds=grace,
                                     dry_run=dry_run, finalizers=finalizers)  # fmt: skip
        if gone is not None:  # a pod that went meanwhile is not an error (NotFound ignored)
            deleted.append({k: v for k, v in gone.items() if k not in ("kind", "apiVersion")})
    return web.json_response({
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": str(version)},
        "items": deleted,
    })  # fmt: skip


def _check_preconditions(pod: JSON, options: bodies.DeleteOptions) -> None:
    """DeleteOptions.preconditions, checked and worded as BeforeDelete does (apiserver:
    registry/rest/delete.go; the conflict names the kind, `Pod`, not the resource)."""
    metadata = pod.get("metadata", {})
    name, uid, version = (
        metadata.get("name", ""),
        metadata.get("uid"),
        metadata.get("resourceVersion"),
    )
    wanted_uid, wanted_version = options.uid, options.resource_version
    why = ""
    if wanted_uid is not None and wanted_uid != uid:
        why = (
            f"the UID in the precondition ({wanted_uid}) does not match the UID in record "
            f"({uid}). The object might have been deleted and then recreated"
        )
    elif wanted_version is not None and wanted_version != version:
        why = (
            f"the ResourceVersion in the precondition ({wanted_version}) does not match the "
            f"ResourceVersion in record ({version}). The object might have been modified"
        )
    if why:
        raise se.StatusError(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on Pod "{name}": {why}',
            {"name": name, "kind": "Pod"},
        )
