"""The API server's `Status` answers, and the exception handlers raise to produce them.

Every error the Kubernetes API subset returns is a v1 `Status` object with the reason, code and
message the API server would give (`k8s.io/apimachinery/pkg/api/errors`), because kubectl prints
its errors from exactly these fields (`Error from server (NotFound): pods "x" not found`).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

# field error type (prefix of the message) -> Status cause reason (`field.ErrorType`)
_CAUSE_REASONS = {
    "Invalid value": "FieldValueInvalid",
    "Required value": "FieldValueRequired",
    "Unsupported value": "FieldValueNotSupported",
    "Duplicate value": "FieldValueDuplicate",
    "Forbidden": "FieldValueForbidden",
    "Too long": "FieldValueTooLong",
    "Too many": "FieldValueTooMany",
    "Not found": "FieldValueNotFound",
    "Internal error": "InternalError",
}


class StatusError(Exception):
    """Raised inside handlers; the error middleware answers it as a `Status`."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def to_status(self) -> JSON:
        return status_object(self.code, self.reason, self.message, self.details)


def status_object(code: int, reason: str, message: str, details: JSON | None = None) -> JSON:
    status: JSON = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        status["details"] = details
    status["code"] = code
    return status


def status_response(error: StatusError) -> web.Response:
    return web.Response(
        status=error.code,
        text=json.dumps(error.to_status()),
        content_type="application/json",
    )


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def _details(resource: str, name: str, group: str) -> JSON:
    return {"name": name, **({"group": group} if group else {}), "kind": resource}


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    """`deployments.apps "web" not found`: the resource qualified by its group."""
    qualified = f"{resource}.{group}" if group else resource
    return StatusError(
        404, "NotFound", f'{qualified} "{name}" not found', _details(resource, name, group)
    )


def path_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> StatusError:
    return StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    qualified = f"{resource}.{group}" if group else resource
    return StatusError(
        409,
        "AlreadyExists",
        f'{qualified} "{name}" already exists',
        _details(resource, name, group),
    )


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def forbidden(message: str) -> StatusError:
    return StatusError(403, "Forbidden", message)


def internal_error(summary: str) -> StatusError:
    return StatusError(
        500,
        "InternalError",
        f"Internal error occurred: {summary}",
        {"causes": [{"message": summary}]},
    )


def split_field_error(text: str) -> JSON:
    """`spec.x: Invalid value: 1: must be ...` -> a Status cause {reason, message, field}."""
    field, sep, message = text.partition(": ")
    if not sep or " " in field:
        return {"reason": "FieldValueInvalid", "message": text}
    reason = next(
        (r for prefix, r in _CAUSE_REASONS.items() if message.startswith(prefix)),
        "FieldValueInvalid",
    )
    return {"reason": reason, "message": message, "field": field}


def invalid(kind: str, name: str, errors: list[str], group: str = "") -> StatusError:
    """The API server's `NewInvalid`: one error printed bare, several as `[a, b]`; the kind
    qualified by its group (`Deployment.apps "web" is invalid: ...`)."""
    aggregate = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    qualified = f"{kind}.{group}" if group else kind
    details = {**_details(kind, name, group), "causes": [split_field_error(e) for e in errors]}
    return StatusError(422, "Invalid", f'{qualified} "{name}" is invalid: {aggregate}', details)


def admission_forbidden(resource: str, name: str, message: str) -> StatusError:
    """An admission plugin's refusal (apiserver: admission.NewForbidden): a 403 whose details
    name the resource."""
    return StatusError(403, "Forbidden", message, {"name": name, "kind": resource})
