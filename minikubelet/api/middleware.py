"""Request filters: authentication, the loopback rule for writes, cross-site requests, and
errors as `Status`.

Order (outermost first): `errors` turns anything raised below into a Kubernetes `Status`
(router 404/405 included; an unexpected exception becomes a logged 500 without a traceback
for the client), then `authenticate` (every request carries the bearer token when one is
set; a malformed credential is a 401 like a wrong one), then `loopback_writes` (POST, PUT,
PATCH and DELETE only from the local machine), then `same_site`: a request whose `Origin` is
another site is refused, and a write must carry a JSON, YAML or patch media type, so that a
web page the user visits cannot drive the daemon (it can send a form post or a `fetch` to
127.0.0.1 without asking, but a browser always names its `Origin` on those). A write with no
`Content-Type` and no `Origin` is decoded as JSON, as the API server does
(`NegotiateInputSerializer` takes its first type): the official Python client sends its
bodies so, and no browser can.
"""

from __future__ import annotations

import hmac
import ipaddress

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import settings
from minikubelet.api.bodies import BODY_TYPES, unsupported_media_type

log = structlog.get_logger("minikubelet.api")

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Reviews are questions, not writes: the API server answers them for any authenticated caller.
REVIEWS = frozenset({
    "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
    "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
})  # fmt: skip
MAX_HEADER_BYTES = 1 << 20  # the kubelet's http.Server MaxHeaderBytes

_HTTP_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Gone",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    431: "RequestHeaderFieldsTooLarge",
}


def _from_http_exception(exc: web.HTTPException) -> se.StatusError:
    if exc.status == 404:
        return se.path_not_found()
    if exc.status == 405:
        return se.method_not_allowed()
    reason = _HTTP_REASONS.get(exc.status, "BadRequest" if exc.status < 500 else "InternalError")
    return se.StatusError(exc.status, reason, exc.text or exc.reason)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except se.StatusError as exc:
        return se.status_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return se.status_response(_from_http_exception(exc))
    except Exception as exc:
        log.exception("api handler failed", method=request.method, path=request.path)
        return se.status_response(se.internal_error(type(exc).__name__))


def _header_bytes(request: web.Request) -> int:
    return sum(len(k) + len(v) + 4 for k, v in request.raw_headers)


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _header_bytes(request) > MAX_HEADER_BYTES:
        raise se.StatusError(431, "RequestHeaderFieldsTooLarge", "request header too large")
    token = settings(request).token
    if (
        token is not None
        and not _page_file(request)
        and not bearer_matches(request.headers.get("Authorization", ""), token)
    ):
        raise se.unauthorized()
    return await handler(request)


def _page_file(request: web.Request) -> bool:
    """The timeline page's static files hold no data (a browser cannot attach a bearer token
    to a page it opens): the page itself sends the token, from its URL's `#token=` fragment,
    with every request it makes."""
    path = request.path
    return request.method in ("GET", "HEAD") and (
        path in ("/ui", "/ui/") or path.startswith("/ui/")
    )


def bearer_matches(header: str, token: str) -> bool:
    """Whether `Authorization: Bearer <token>` carries `token`. Anything malformed (another
    scheme, no token, bytes that are not ASCII) simply does not match."""
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given or not token or not given.isascii():
        return False
    return hmac.compare_digest(given.encode("ascii"), token.encode("utf-8", "surrogateescape"))


def is_loopback(peer: str | None) -> bool:
    if peer is None:
        return False
    try:
        address = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


# exec, attach and port-forward start processes and connections in a container: writes, whatever
# the method of their websocket upgrade (RBAC asks `create` on pods/exec too)
STREAMING = ("/exec", "/attach", "/portforward")


@web.middleware
async def loopback_writes(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (
        (request.method in MUTATING or request.path.endswith(STREAMING))
        and request.path not in REVIEWS
        and not is_loopback(request.remote)
    ):
        raise se.forbidden(
            f"{request.method} requests are accepted from the local machine only "
            f"(peer {request.remote})"
        )
    return await handler(request)


def own_origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}".lower()


def _carries_body(request: web.Request) -> bool:
    """A write that reaches a handler (no router 404/405) and has, or needs, a body."""
    if request.match_info.http_exception is not None:
        return False
    return request.method != "DELETE" or request.can_read_body


@web.middleware
async def same_site(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    if origin is not None and origin.lower() != own_origin(request):
        raise se.forbidden(
            f"cross-site requests are refused: Origin {origin!r} is not {own_origin(request)!r}"
        )
    if request.method in MUTATING and _carries_body(request):
        given = request.headers.get("Content-Type")
        if given is None and origin is not None:
            raise unsupported_media_type()
        if given is not None and request.content_type not in BODY_TYPES:
            raise unsupported_media_type()
    return await handler(request)
