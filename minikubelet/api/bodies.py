"""Request bodies and the options they carry, decoded in one place.

Everything a client sends in a body comes through here: `read_body` decodes JSON or YAML under
the manifest parser's guards (depth, size, numbers Python cannot hold), and `decode_error` is the
one door through which a decoding problem leaves, as a 400 `BadRequest` in Go's words where the
API server has them (`json: cannot unmarshal string into Go struct field
DeleteOptions.gracePeriodSeconds of type int64`). Handlers receive typed values or nothing.
The media types a write may carry are listed here too; the middleware refuses any other before
a handler runs, so a browser's form post (no preflight) never reaches one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from minikubelet.api import status_errors as se
from minikubelet.api.patch import PATCH_TYPES
from minikubelet.manifest.documents import DocumentError, parse_body
from minikubelet.manifest.schema import decode_pod, json_kind

JSON_TYPE = "application/json"
YAML_TYPES = frozenset({"application/yaml", "application/apply-patch+yaml"})
PROTOBUF = "application/vnd.kubernetes.protobuf"
# what a write may carry: anything else is refused before a handler runs
BODY_TYPES = frozenset({JSON_TYPE, PROTOBUF, *YAML_TYPES, *PATCH_TYPES})
_ACCEPTED_BODIES = f"{JSON_TYPE}, application/yaml, {PROTOBUF}"
_INT64 = (-(2**63), 2**63 - 1)


def decode_error(message: str) -> se.StatusError:
    """The API server's answer to a body it cannot decode."""
    return se.bad_request(f"couldn't get version/kind; json parse error: {message}")


def unsupported_media_type(accepted: str = _ACCEPTED_BODIES) -> se.StatusError:
    return se.StatusError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + accepted,
    )


async def read_body(request: web.Request) -> Any:
    """The request body as JSON (or YAML), None when empty, or a 400/415 `Status`. Without a
    `Content-Type` it is JSON, the API server's first type (the middleware has refused such a
    body from a browser)."""
    content_type = request.content_type if "Content-Type" in request.headers else JSON_TYPE
    yaml_body = content_type in YAML_TYPES
    if not yaml_body and (content_type == PROTOBUF or not content_type.endswith("json")):
        raise unsupported_media_type()
    try:
        text = await request.text()
    except ValueError as exc:  # undecodable bytes
        raise decode_error(str(exc)) from None
    try:
        return parse_body(text, yaml_body=yaml_body)
    except DocumentError as exc:
        raise decode_error(str(exc)) from None


def check_pod_shape(document: Any) -> None:
    """A pod as a patch or PUT left it must still decode as a v1.Pod (`{"metadata": "x"}` does
    not): the first type error, as Go's decoder words it, is a 400."""
    if not isinstance(document, dict):
        raise se.bad_request(f"json: cannot unmarshal {json_kind(document, False)} into Go value "
                             "of type v1.Pod")  # fmt: skip
    error = decode_pod(document).error
    if error is not None:
        raise se.bad_request(error)


# --- DeleteOptions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeleteOptions:
    """`metav1.DeleteOptions`, the fields minikubelet reads."""

    grace_period_seconds: int | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: tuple[str, ...] = ()
    propagation_policy: str | None = None
    orphan_dependents: bool | None = None


def _mismatch(value: Any, field: str, go_type: str, numeric: bool = False) -> se.StatusError:
    return se.bad_request(
        f"json: cannot unmarshal {json_kind(value, numeric)} into Go struct field "
        f"DeleteOptions.{field} of type {go_type}"
    )


def _int64(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _mismatch(value, field, "int64")
    if isinstance(value, float) and not value.is_integer():
        raise _mismatch(value, field, "int64", numeric=True)
    if not _INT64[0] <= value <= _INT64[1]:
        raise _mismatch(value, field, "int64", numeric=True)
    return int(value)


def _string(value: Any, field: str, go_type: str = "string") -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise _mismatch(value, field, go_type)


def delete_options(body: Any) -> DeleteOptions:
    """Decodes a DELETE body (None for none) as the API server decodes `DeleteOptions`."""
    if body is None:
        return DeleteOptions()
    if not isinstance(body, dict):
        raise se.bad_request(f"json: cannot unmarshal {json_kind(body, False)} into Go value of "
                             "type v1.DeleteOptions")  # fmt: skip
    preconditions = body.get("preconditions")
    if preconditions is None:
        preconditions = {}
    elif not isinstance(preconditions, dict):
        raise _mismatch(preconditions, "preconditions", "v1.Preconditions")
    dry_run = body.get("dryRun")
    if dry_run is None:
        dry_run = []
    if not isinstance(dry_run, list):
        raise _mismatch(dry_run, "dryRun", "[]string")
    return DeleteOptions(
        grace_period_seconds=_int64(body.get("gracePeriodSeconds"), "gracePeriodSeconds"),
        uid=_string(preconditions.get("uid"), "preconditions.uid", "types.UID"),
        resource_version=_string(
            preconditions.get("resourceVersion"), "preconditions.resourceVersion"
        ),
        dry_run=tuple(_string(v, "dryRun") or "" for v in dry_run),
        propagation_policy=_string(
            body.get("propagationPolicy"), "propagationPolicy", "v1.DeletionPropagation"
        ),
        orphan_dependents=_bool(body.get("orphanDependents"), "orphanDependents"),
    )


def _bool(value: Any, field: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _mismatch(value, field, "bool")
