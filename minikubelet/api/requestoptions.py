"""The options of a write, as the API server reads and checks them: `dryRun`,
`fieldValidation`, `fieldManager`, DeleteOptions (grace period, propagation policy), and the
request body; each refused in the API server's words (apimachinery: pkg/apis/meta/v1/
validation). Shared by the pod handlers, the generic handlers and the subresources.
"""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from aiohttp import web

from minikubelet.api import bodies
from minikubelet.api import status_errors as se
from minikubelet.api.listing import query_int
from minikubelet.core import propagation as prop
from minikubelet.core.serialize import rfc3339

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")


def is_dry_run(request: web.Request, options: str, more: Any = None) -> bool:
    """`?dryRun=All` (and DeleteOptions' `dryRun`); any other value is refused as
    `ValidateDryRun` refuses it (apimachinery: pkg/apis/meta/v1/validation), in the
    `{options}.meta.k8s.io "" is invalid` Status of the handler that decodes the options."""
    values = list(request.query.getall("dryRun", []))
    if isinstance(more, list):
        values += [str(v) for v in more]
    if any(value != "All" for value in values):
        shown = "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"
        raise invalid_options(
            options, [f'dryRun: Unsupported value: {shown}: supported values: "All"']
        )
    return bool(values)


def invalid_options(options: str, errors: list[str]) -> se.StatusError:
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


def field_manager(request: web.Request, options: str, *, apply: bool = False) -> str:
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
        raise invalid_options(options, errors)
    if manager:
        return manager
    agent = request.headers.get("User-Agent", "").split("/", 1)[0]
    return "".join(c for c in agent if unicodedata.category(c)[0] not in "CZ" or c == " ")[:128]


def timestamp_now() -> str:
    return rfc3339(time.time()) or ""


def check_field_validation(request: web.Request) -> None:
    value = request.query.get("fieldValidation")
    if value is not None and value not in FIELD_VALIDATION:
        raise se.bad_request(
            f"fieldValidation: Unsupported value: {value!r}: supported values: "
            '"Ignore", "Strict", "Warn"'
        )


async def read_body(request: web.Request) -> Any:
    """The request body as JSON (or YAML), or a 400/415 `Status`."""
    return await bodies.read_body(request)


async def read_delete_options(request: web.Request) -> bodies.DeleteOptions:
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
        raise invalid_options("DeleteOptions", errors)
    return asked


def grace_period(request: web.Request, options: bodies.DeleteOptions) -> int | None:
    grace = query_int(request, "gracePeriodSeconds")
    if grace is None:
        grace = options.grace_period_seconds
    return grace


def apply_config(
    body: Any,
    api_version: str,
    namespace: str,
    name: str,
    *,
    check_kind: Callable[[dict[str, Any]], None],
    namespaced: bool = True,
) -> dict[str, Any]:
    """A server-side apply's configuration, checked as the API server checks it for any kind
    (managedfields/internal/structuredmerge.go Apply, handlers/patch.go checkName): an object
    of the URL's version, no managedFields, the URL's namespace and name (filled in where
    missing); `check_kind` refuses another kind, in the caller's words, after the version."""
    if not isinstance(body, dict):
        raise se.bad_request("error decoding YAML: the apply patch is not an object")
    version = body.get("apiVersion")
    if version != api_version:
        raise se.bad_request(
            "Incorrect version specified in apply patch. Specified patch version: "
            f"{version or ''}, expected: {api_version}"
        )
    check_kind(body)
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = body["metadata"] = {}
    if metadata.get("managedFields") is not None:
        raise se.bad_request("metadata.managedFields must be nil")
    if namespaced and metadata.setdefault("namespace", namespace) != namespace:
        raise se.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )
    if metadata.setdefault("name", name) != name:
        raise se.bad_request(
            f"the name of the object ({metadata['name']}) does not match the name on the URL "
            f"({name})"
        )
    return body
