"""`/api/v1/.../pods`: list, watch, get, create, delete, patch and replace, as the API server
answers them (status codes, `Status` errors and bodies that kubectl prints from)."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import bodies, patch, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import registry
from minikubelet.api.listing import Resource, get_one, list_or_watch, query_int, selector
from minikubelet.api.registry import JSON, InvalidPod, ManifestError, PodExists
from minikubelet.api.selectors import POD_FIELDS
from minikubelet.core import propagation as prop
from minikubelet.core.serialize import rfc3339
from minikubelet.manifest import load as manifest
from minikubelet.manifest import managedfields, podupdatevalidation, statusupdate
from minikubelet.manifest import ownership as owner_rules
from minikubelet.manifest.validation import validate_annotations, validate_labels

PODS = Resource("Pod", "pods", POD_FIELDS, tbl.POD_COLUMNS, tbl.pod_row)
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


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


def _dry_run(request: web.Request, options: str, more: Any = None) -> bool:
    """`?dryRun=All` (and DeleteOptions' `dryRun`); any other value is refused as
    `ValidateDryRun` refuses it (apimachinery: pkg/apis/meta/v1/validation), in the
    `{options}.meta.k8s.io "" is invalid` Status of the handler that decodes the options."""
    values = list(request.query.getall("dryRun", []))
    if isinstance(more, list):
        values += [str(v) for v in more]
    if any(value != "All" for value in values):
        shown = "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"
        raise _invalid_options(
            options, [f'dryRun: Unsupported value: {shown}: supported values: "All"']
        )
    return bool(values)


def _invalid_options(options: str, errors: list[str]) -> se.StatusError:
    """The `{options}.meta.k8s.io "" is invalid` Status of an options object that fails its
    validation (apimachinery: pkg/apis/meta/v1/validation)."""
    shown = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    return se.StatusError(
        422,
        "Invalid",
        f'{options}.meta.k8s.io "" is invalid: {shown}',
        {
            "group": "meta.k8s.io",
            "kind": options,
            "causes": [se.split_field_error(e) for e in errors],
        },
    )


def _field_manager(request: web.Request, options: str, *, apply: bool = False) -> str:
    """The request's field manager: `?fieldManager=`, else (not for apply, where it is
    required) the user agent's first part (apiserver: endpoints/handlers/rest.go
    managerOrUserAgent, prefixFromUserAgent); validated as ValidatePatchOptions and
    ValidateFieldManager validate it."""
    manager = request.query.get("fieldManager", "")
    errors = []
    if apply and not manager:
        errors.append("fieldManager: Required value: is required for apply patch")
    if not apply and options == "PatchOptions" and "force" in request.query:
        errors.append("force: Forbidden: may not be specified for non-apply patch")
    if len(manager) > 128:
        errors.append("fieldManager: Too long: may not be more than 128 bytes")
    if errors:
        raise _invalid_options(options, errors)
    if manager:
        return manager
    agent = request.headers.get("User-Agent", "").split("/", 1)[0]
    return "".join(c for c in agent if unicodedata.category(c)[0] not in "CZ" or c == " ")[:128]


def _now() -> str:
    return rfc3339(time.time()) or ""


def _check_field_validation(request: web.Request) -> None:
    value = request.query.get("fieldValidation")
    if value is not None and value not in FIELD_VALIDATION:
        raise se.bad_request(
            f"fieldValidation: Unsupported value: {value!r}: supported values: "
            '"Ignore", "Strict", "Warn"'
        )


async def read_body(request: web.Request) -> Any:
    """The request body as JSON (or YAML), or a 400/415 `Status`."""
    return await bodies.read_body(request)


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


def _check_pod_document(body: Any, namespace: str) -> JSON:
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
    _check_field_validation(request)
    dry_run = _dry_run(request, "CreateOptions")
    manager = _field_manager(request, "CreateOptions")
    document = _check_pod_document(await read_body(request), namespace)
    return await _create(request, document, dry_run, lambda pod: managedfields.update(
        {}, pod, None, manager, _now()
    ))  # fmt: skip


async def _create(
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
    return warning_headers.add(
        web.json_response(pod, status=201), warning_headers.for_document(document)
    )


async def _delete_options(request: web.Request) -> bodies.DeleteOptions:
    if not request.can_read_body:
        return bodies.DeleteOptions()
    return bodies.delete_options(await read_body(request))


def cascade(request: web.Request, options: bodies.DeleteOptions) -> prop.Request:
    """What the DELETE asks of the dependents (`propagationPolicy`, the older
    `orphanDependents`; the query's, else the body's), or the `DeleteOptions.meta.k8s.io ""
    is invalid` Status ValidateDeleteOptions gives."""
    policy = request.query.get("propagationPolicy", options.propagation_policy)
    orphan = options.orphan_dependents
    if "orphanDependents" in request.query:
        text = request.query["orphanDependents"]
        if text not in ("true", "false", "1", "0", "t", "f", "True", "False"):
            raise se.bad_request(f'strconv.ParseBool: parsing "{text}": invalid syntax')
        orphan = text in ("true", "1", "t", "True")
    asked = prop.Request(policy, orphan)
    errors = prop.option_errors(asked)
    if errors:
        raise _invalid_options("DeleteOptions", errors)
    return asked


def _grace_period(request: web.Request, options: bodies.DeleteOptions) -> int | None:
    grace = query_int(request, "gracePeriodSeconds")
    if grace is None:
        grace = options.grace_period_seconds
    return grace


async def delete_pod(request: web.Request) -> web.Response:
    """Graceful deletion (the daemon marks the pod and stops it; a finished pod goes at
    once); with a dry run, the pod as the deletion would leave it, and nothing changes."""
    namespace, name, pod = current_pod(request)
    options = await _delete_options(request)
    grace = _grace_period(request, options)
    asked = cascade(request, options)
    dry_run = _dry_run(request, "DeleteOptions", list(options.dry_run))
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
    options = await _delete_options(request)
    grace = _grace_period(request, options)
    asked = cascade(request, options)
    dry_run = _dry_run(request, "DeleteOptions", list(options.dry_run))
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


def _conflict(name: str, why: str) -> se.StatusError:
    return se.StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods "{name}": {why}',
        {"name": name, "kind": "pods"},
    )


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
    manager = _field_manager(request, "PatchOptions")
    pod, updated, body = await _patched(request)
    response = await _update(request, pod, updated, _update_ownership(pod, manager))
    return warning_headers.add(response, warning_headers.for_document(body, update=True))


async def _replacement(request: web.Request) -> tuple[JSON, JSON]:
    """The current pod and the request's whole new pod (or a 400/404/409)."""
    namespace, name, pod = current_pod(request)
    body = _check_pod_document(await read_body(request), namespace)
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
    manager = _field_manager(request, "UpdateOptions")
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
    if _dry_run(request, "PatchOptions" if request.method == "PATCH" else "UpdateOptions"):
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
    return lambda new: managedfields.update(pod, new, entries, manager, _now())


async def apply_pod(request: web.Request) -> web.Response:
    """PATCH with `application/apply-patch+yaml`: server-side apply (apiserver: endpoints/
    handlers/patch.go applyPatcher). The body is the manager's whole intent: a pod that does
    not exist is created from it (201); otherwise it is merged in, what the manager applied
    before and no longer applies is pruned, and the result is an update as any other, with
    a 409 for a changed field another manager owns unless `force=true`."""
    _check_field_validation(request)
    dry_run = _dry_run(request, "PatchOptions")  # the options are checked before all else
    manager = _field_manager(request, "PatchOptions", apply=True)
    force = request.query.get("force", "false").lower() == "true"
    body = await read_body(request)
    namespace, name, pod = current_pod(request)  # after the body: no await until the write
    config = _apply_config(body, namespace, name)
    now = _now()
    if pod is None:
        applied = managedfields.field_set(managedfields.owned_view(config))
        document = _check_pod_document(json.loads(json.dumps(config)), namespace)
        return await _create(request, document, dry_run, lambda created: managedfields.encode(
            [managedfields.Manager(manager, managedfields.APPLY, "v1", applied, now)]
        ))  # fmt: skip
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
    """The applied configuration, checked as the API server checks it (managedfields/
    internal/structuredmerge.go Apply, handlers/patch.go checkName)."""
    if not isinstance(body, dict):
        raise se.bad_request("error decoding YAML: the apply patch is not an object")
    version, kind = body.get("apiVersion"), body.get("kind")
    if version != "v1":
        raise se.bad_request(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{version or ''}, expected: v1"
        )
    if kind != "Pod":
        _check_pod_document(dict(body, kind=kind or "Pod"), namespace)  # its 400
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = body["metadata"] = {}
    if metadata.get("managedFields") is not None:
        raise se.bad_request("metadata.managedFields must be nil")
    if metadata.setdefault("namespace", namespace) != namespace:
        raise se.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if metadata.setdefault("name", name) != name:
        raise se.bad_request(
            f"the name of the object ({metadata['name']}) does not match the name on the URL "
            f"({name})"
        )
    return body


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
        _dry_run(request, options)
        return web.json_response(pod)
    if _dry_run(request, options):
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
    if new == old:
        return None
    metadata = pod.get("metadata", {})
    name = metadata.get("name", "")
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
