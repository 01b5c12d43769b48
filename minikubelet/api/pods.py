"""`/api/v1/.../pods`: list, watch, get, create, delete, patch and replace, as the API server
answers them (status codes, `Status` errors and bodies that kubectl prints from)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from minikubelet.api import patch, warning_headers
from minikubelet.api import status_errors as se
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import registry
from minikubelet.api.listing import Resource, get_one, list_or_watch, query_int
from minikubelet.api.registry import JSON, InvalidPod, ManifestError, PodExists
from minikubelet.api.selectors import POD_FIELDS

PODS = Resource("Pod", "pods", POD_FIELDS, tbl.POD_COLUMNS, tbl.pod_row)
FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
_ACCEPTED_BODIES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"


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


def _dry_run(request: web.Request) -> bool:
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise se.bad_request(f'Invalid dryRun value: "{value}"; only "All" is supported')
    return bool(values)


def _check_field_validation(request: web.Request) -> None:
    value = request.query.get("fieldValidation")
    if value is not None and value not in FIELD_VALIDATION:
        raise se.bad_request(
            f"fieldValidation: Unsupported value: {value!r}: supported values: "
            '"Ignore", "Strict", "Warn"'
        )


async def read_body(request: web.Request) -> Any:
    """The request body as JSON (or YAML), or a 400/415 `Status`."""
    content_type = request.content_type
    try:
        text = await request.text()  # undecodable bytes are a ValueError too
        if content_type in ("application/yaml", "application/apply-patch+yaml"):
            return yaml.safe_load(text)
        if content_type.endswith("json") or content_type == "application/octet-stream":
            return json.loads(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise se.bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
    raise se.StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{_ACCEPTED_BODIES}",
    )


def _check_pod_document(body: Any, namespace: str) -> JSON:
    if not isinstance(body, dict):
        raise se.bad_request("couldn't get version/kind; json parse error: not an object")
    version, kind = body.get("apiVersion", "v1"), body.get("kind", "Pod")
    if version != "v1":
        raise se.bad_request(
            f"the API version in the data ({version}) does not match the expected API version (v1)"
        )
    if kind != "Pod":
        raise se.bad_request(f'Pod in version "v1" cannot be handled as a {kind}')
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
    dry_run = _dry_run(request)
    document = _check_pod_document(await read_body(request), namespace)
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


async def _delete_options(request: web.Request) -> JSON:
    if not request.can_read_body:
        return {}
    body = await read_body(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise se.bad_request("DeleteOptions must be an object")
    return body


async def delete_pod(request: web.Request) -> web.Response:
    namespace, name, pod = current_pod(request)
    options = await _delete_options(request)
    grace = query_int(request, "gracePeriodSeconds")
    if grace is None and options.get("gracePeriodSeconds") is not None:
        grace = int(options["gracePeriodSeconds"])
    if pod is None:
        raise se.not_found("pods", name)
    _check_preconditions(pod, options.get("preconditions") or {})
    if _dry_run(request) or options.get("dryRun"):
        return web.json_response(pod)
    deleted = await registry(request).delete_pod(namespace, name, grace_period_seconds=grace)
    if deleted is None:
        raise se.not_found("pods", name)
    return web.json_response(deleted)


def _conflict(name: str, why: str) -> se.StatusError:
    return se.StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on pods "{name}": {why}',
        {"name": name, "kind": "pods"},
    )


def _check_preconditions(pod: JSON, preconditions: JSON) -> None:
    metadata = pod.get("metadata", {})
    uid, version = preconditions.get("uid"), preconditions.get("resourceVersion")
    if uid and uid != metadata.get("uid"):
        raise _conflict(
            metadata.get("name", ""),
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{metadata.get('uid')}",
        )
    if version and version != metadata.get("resourceVersion"):
        raise _conflict(metadata.get("name", ""), "the object has been modified; please apply "
                        "your changes to the latest version and try again")  # fmt: skip


async def patch_pod(request: web.Request) -> web.Response:
    _, name, pod = current_pod(request)
    if request.content_type not in patch.PATCH_TYPES:
        raise se.StatusError(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(patch.PATCH_TYPES),
        )
    body = await read_body(request)
    if pod is None:
        raise se.not_found("pods", name)
    try:
        updated = patch.apply(request.content_type, pod, body)
    except ValueError as exc:
        raise se.StatusError(422, "Invalid", str(exc)) from None
    response = await _update(request, pod, updated)
    return warning_headers.add(response, warning_headers.for_document(body, update=True))


async def replace_pod(request: web.Request) -> web.Response:
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
    response = await _update(request, pod, body)
    return warning_headers.add(response, warning_headers.for_document(body, update=True))


async def _update(request: web.Request, pod: JSON, updated: JSON) -> web.Response:
    """Only labels and annotations may change; the status in a body is ignored."""
    metadata, new_metadata = pod.get("metadata", {}), updated.get("metadata") or {}
    name = metadata.get("name", "")
    error = patch.spec_change_error(pod, updated)
    if error is not None:
        raise se.invalid("Pod", name, [error])
    labels = _string_map(new_metadata.get("labels"), "labels")
    annotations = _string_map(new_metadata.get("annotations"), "annotations")
    unchanged = labels == (metadata.get("labels") or {}) and annotations == (
        metadata.get("annotations") or {}
    )
    if unchanged or _dry_run(request):
        return web.json_response(pod)
    result = await registry(request).update_pod_metadata(
        metadata.get("namespace", ""), name, labels=labels, annotations=annotations
    )
    if result is None:
        raise se.not_found("pods", name)
    return web.json_response(result)


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
    item = collection + "/{name}"
    router.add_get(item, get_pod)
    router.add_get(item + "/status", get_pod)
    router.add_delete(item, delete_pod)
    router.add_patch(item, patch_pod)
    router.add_put(item, replace_pod)
