"""`/api/v1/.../pods/{name}` updates: PATCH (merge, strategic, JSON patch, and server-side
apply), PUT, and the `status` subresource, as the API server takes them: what may change
(labels, annotations, finalizers, owners, what ValidatePodUpdate lets a spec change), the
managedFields of the result, and the 409s and 422s it gives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, patch, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.podreads import current_pod
from minikubelet.api.podwrites import check_pod_document, create_pod_from
from minikubelet.api.registry import JSON, InvalidPod, ManifestError
from minikubelet.api.requestoptions import (
    apply_config,
    check_field_validation,
    field_manager,
    is_dry_run,
    read_body,
    timestamp_now,
)
from minikubelet.core import propagation as prop
from minikubelet.manifest import (
    fieldsets,
    managedfields,
    podupdatevalidation,
    priorityclasses,
    statusupdate,
)
from minikubelet.manifest import load as manifest
from minikubelet.manifest import ownership as owner_rules
from minikubelet.manifest.validation import validate_annotations, validate_labels


def _conflict(name: str, why: str) -> se.StatusError:
    return se.StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods "{name}": {why}',
        {"name": name, "kind": "pods"},
    )


async def _patched(request: web.Request) -> tuple[JSON, JSON, Any]:
    """The current pod, the pod with the request's patch applied (or a 404/415/422), and
    the patch."""
    _, name, pod = current_pod(request)
    if request.content_type not in patch.PATCH_TYPES or request.content_type == patch.APPLY:
        raise bodies.unsupported_media_type(", ".join(patch.PATCH_TYPES[:-1]))
    body = await read_body(request)
    if pod is None:
        raise se.not_found("pods", name)
    try:
        updated = patch.apply(request.content_type, pod, body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None
    return pod, updated, body


async def patch_pod(request: web.Request) -> web.Response:
    if request.content_type == patch.APPLY:
        return await apply_pod(request)
    manager = field_manager(request, "PatchOptions")
    pod, updated, body = await _patched(request)
    response = await _update(request, pod, updated, _update_ownership(pod, manager))
    return warning_headers.add(response, warning_headers.for_document(body, update=True))


async def _replacement(request: web.Request) -> tuple[JSON, JSON]:
    """The current pod and the request's whole new pod (or a 400/404/409)."""
    namespace, name, pod = current_pod(request)
    body = check_pod_document(await read_body(request), namespace)
    if body["metadata"].get("name", name) != name:
        raise se.bad_request(
            f"the name of the object ({body['metadata'].get('name')}) does not match the name "
            f"on the URL ({name})"
        )
    if pod is None:
        raise se.not_found("pods", name)
    version = body["metadata"].get("resourceVersion")
    if version and version != pod.get("metadata", {}).get("resourceVersion"):
        raise _conflict(name, "the object has been modified; please apply your changes to the "
                        "latest version and try again")  # fmt: skip
    return pod, body


async def replace_pod(request: web.Request) -> web.Response:
    manager = field_manager(request, "UpdateOptions")
    pod, body = await _replacement(request)
    response = await _update(request, pod, body, _update_ownership(pod, manager))
    return warning_headers.add(response, warning_headers.for_document(body, update=True))


async def patch_status(request: web.Request) -> web.Response:
    pod, updated, _ = await _patched(request)
    return await _update_status(request, pod, updated)


async def replace_status(request: web.Request) -> web.Response:
    pod, body = await _replacement(request)
    return await _update_status(request, pod, body)


async def _update_status(request: web.Request, pod: JSON, written: JSON) -> web.Response:
    """PUT/PATCH on `pods/{name}/status`, as the pod status strategy takes them (apiserver:
    pkg/registry/core/pod/strategy.go podStatusStrategy): spec changes are ignored, the
    write is validated as `ValidatePodStatusUpdate` validates it, labels and annotations are
    taken; the kubelet then keeps the conditions it does not own (a readiness gate's) and
    writes its own fields over the rest."""
    name = pod.get("metadata", {}).get("name", "")
    try:
        status = statusupdate.decode_status(written.get("status"))
    except ValueError as exc:
        raise se.bad_request(str(exc)) from None
    prepared = statusupdate.prepare(pod, {**written, "status": status})
    errors = statusupdate.validate(pod, prepared)
    if errors:
        raise se.invalid("Pod", name, errors)
    metadata = prepared.get("metadata") or {}
    labels = _string_map(metadata.get("labels"), "labels")
    annotations = _string_map(metadata.get("annotations"), "annotations")
    if is_dry_run(request, "PatchOptions" if request.method == "PATCH" else "UpdateOptions"):
        meta = pod.get("metadata", {})
        kept = (prop.finalizers_of(pod), list(meta.get("ownerReferences") or []))
        would_be = _with_metadata(pod, labels, annotations, *kept)
        return web.json_response({**would_be, "status": prepared["status"]})
    result = await registry(request).update_pod_status(
        pod.get("metadata", {}).get("namespace", ""),
        name,
        labels=labels,
        annotations=annotations,
        status=prepared["status"],
    )
    if result is None:
        raise se.not_found("pods", name)
    return web.json_response(result)


Ownership = Callable[[JSON], list[JSON]]


def _update_ownership(pod: JSON, manager: str) -> Ownership:
    """A PUT's or a non-apply PATCH's managedFields: an `Update` entry for the request's
    manager over what it changed (the body's own managedFields are not taken)."""
    entries = pod.get("metadata", {}).get("managedFields")
    return lambda new: managedfields.update(pod, new, entries, manager, timestamp_now())


async def apply_pod(request: web.Request) -> web.Response:
    """PATCH with `application/apply-patch+yaml`: server-side apply (apiserver: endpoints/
    handlers/patch.go applyPatcher). The body is the manager's whole intent: a pod that does
    not exist is created from it (201); otherwise it is merged in, what the manager applied
    before and no longer applies is pruned, and the result is an update as any other, with
    a 409 for a changed field another manager owns unless `force=true`."""
    check_field_validation(request)
    dry_run = is_dry_run(request, "PatchOptions")  # the options are checked before all else
    manager = field_manager(request, "PatchOptions", apply=True)
    force = request.query.get("force", "false").lower() == "true"
    body = await read_body(request)
    namespace, name, pod = current_pod(request)  # after the body: no await until the write
    config = _apply_config(body, namespace, name)
    now = timestamp_now()
    if pod is None:
        applied = fieldsets.field_set(fieldsets.owned_view(config))
        document = check_pod_document(json.loads(json.dumps(config)), namespace)
        return await create_pod_from(
            request,
            document,
            dry_run,
            lambda created: managedfields.encode(
                [managedfields.Manager(manager, managedfields.APPLY, "v1", applied, now)]
            ),
        )
    entries = pod.get("metadata", {}).get("managedFields")
    merged, applied = managedfields.apply(pod, config, entries, manager, force=force)

    def ownership(new: JSON) -> list[JSON]:
        try:
            return managedfields.apply_ownership(
                pod, new, entries, manager, applied, now, force=force
            )
        except managedfields.ApplyConflict as exc:
            raise se.StatusError(
                409,
                "Conflict",
                str(exc),
                {"causes": managedfields.conflict_causes(exc.conflicts)},
            ) from None

    response = await _update(request, pod, merged, ownership)
    return warning_headers.add(response, warning_headers.for_document(config, update=True))


def _apply_config(body: Any, namespace: str, name: str) -> JSON:
    """The applied configuration (requestoptions.apply_config) of a v1 Pod; another kind is
    refused as a create of it would be (its 400)."""

    def check_kind(config: JSON) -> None:
        if config.get("kind") != "Pod":
            check_pod_document(dict(config, kind=config.get("kind") or "Pod"), namespace)

    return apply_config(body, "v1", namespace, name, check_kind=check_kind)


async def _update(
    request: web.Request, pod: JSON, updated: JSON, ownership: Ownership
) -> web.Response:
    """Labels, annotations and what ValidatePodUpdate lets a spec change (images, a set or
    lowered activeDeadlineSeconds, added tolerations); the status in a body is ignored.
    `ownership` gives the managedFields of the pod as it will be."""
    bodies.check_pod_shape(updated)
    metadata, new_metadata = pod.get("metadata", {}), updated.get("metadata") or {}
    name = metadata.get("name", "")
    spec = _spec_update(pod, updated)
    labels = _string_map(new_metadata.get("labels"), "labels")
    annotations = _string_map(new_metadata.get("annotations"), "annotations")
    finalizers = [str(f) for f in new_metadata.get("finalizers") or []]
    owners = list(new_metadata.get("ownerReferences") or [])
    errors = validate_labels(labels, "metadata.labels") + validate_annotations(annotations)
    errors += owner_rules.metadata_errors(new_metadata) + prop.new_finalizer_errors(updated, pod)
    if errors:
        raise se.invalid("Pod", name, errors)
    would_be = _with_metadata(pod, labels, annotations, finalizers, owners)
    if spec is not None:
        would_be["spec"] = spec
    managed = ownership(would_be)
    unchanged = (
        labels == (metadata.get("labels") or {})
        and annotations == (metadata.get("annotations") or {})
        and managed == (metadata.get("managedFields") or [])
        and finalizers == prop.finalizers_of(pod)
        and owners == (metadata.get("ownerReferences") or [])
    )
    options = "PatchOptions" if request.method == "PATCH" else "UpdateOptions"
    if unchanged and spec is None:
        is_dry_run(request, options)
        return web.json_response(pod)
    if is_dry_run(request, options):
        would_be["metadata"]["managedFields"] = managed
        return web.json_response(would_be)
    result = await registry(request).update_pod_metadata(
        metadata.get("namespace", ""),
        name,
        labels=labels,
        annotations=annotations,
        spec=spec,
        managed_fields=managed,
        finalizers=finalizers,
        owner_references=owners,
    )
    if result is None:
        raise se.not_found("pods", name)
    return web.json_response(result)


def _spec_update(pod: JSON, updated: JSON) -> JSON | None:
    """The new spec, decoded, defaulted and validated as the API server does an update
    (`ValidatePodUpdate`: the new pod's own rules, then what may change), or None when the
    spec is unchanged; a 400 or 422 `Status` otherwise."""
    old, new = pod.get("spec", {}), updated.get("spec")
    if isinstance(new, dict):
        new = priorityclasses.keep_on_update(new, old)
    if new == old:
        return None
    metadata = pod.get("metadata", {})
    name = metadata.get("name", "")
    # ephemeral containers come only through pods/ephemeralcontainers: the rest of the spec
    # is validated as a pod's, and a change to them is refused with the other spec changes
    ephemeral = new.get("ephemeralContainers") if isinstance(new, dict) else None
    if isinstance(new, dict) and "ephemeralContainers" in new:
        new = {k: v for k, v in new.items() if k != "ephemeralContainers"}
    document = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": new}
    try:
        candidate, _warnings = manifest.pod_from_document(
            document, source="api", node_name=old.get("nodeName", "")
        )
    except InvalidPod as exc:
        raise se.invalid("Pod", name, exc.errors) from None
    except ManifestError as exc:
        raise se.bad_request("; ".join(exc.lines)) from None
    defaulted = dict(candidate.manifest["spec"])
    # the node name is the server's to set: an update that changes or drops it is refused
    if isinstance(new, dict) and new.get("nodeName") is not None:
        defaulted["nodeName"] = new["nodeName"]
    else:
        defaulted.pop("nodeName", None)
    if ephemeral is not None:
        defaulted["ephemeralContainers"] = ephemeral
    errors = podupdatevalidation.validate_pod_update(old, defaulted)
    if errors:
        raise se.invalid("Pod", name, errors)
    return None if defaulted == old else defaulted


def _with_metadata(
    pod: JSON,
    labels: dict[str, str],
    annotations: dict[str, str],
    finalizers: list[str],
    owners: list[Any],
) -> JSON:
    """The pod as an update of its labels, annotations, finalizers and owner references would
    leave it (a dry run's answer: the stored version, since nothing is stored)."""
    metadata = dict(pod.get("metadata", {}))
    fields: tuple[tuple[str, Any], ...] = (
        ("labels", labels), ("annotations", annotations), ("finalizers", finalizers),
        ("ownerReferences", owners),
    )  # fmt: skip
    for key, value in fields:
        if value:
            metadata[key] = dict(value) if isinstance(value, dict) else list(value)
        else:
            metadata.pop(key, None)
    return {**pod, "metadata": metadata}


def _string_map(value: Any, field: str) -> dict[str, str]:
    """Labels and annotations decode as map[string]string, or the request is refused as the
    API server refuses it."""
    if value is None:
        return {}
    where = f"Go struct field ObjectMeta.metadata.{field}"
    if not isinstance(value, dict):
        raise se.bad_request(
            f"json: cannot unmarshal {_go_json_type(value)} into {where} of type map[string]string"
        )
    for item in value.values():
        if not isinstance(item, str):
            raise se.bad_request(
                f"json: cannot unmarshal {_go_json_type(item)} into {where} of type string"
            )
    return value


def _go_json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "string"
