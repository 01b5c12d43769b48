"""GET on collections and objects, shared by pods, events and namespaces: list options,
selectors, the Table / plain forms, and handing watches to `watch.stream`.

List options are read as the API server decodes `metav1.ListOptions`: unknown parameters are
ignored, a malformed value of a known one is a 400 `BadRequest`. `limit` is honoured loosely
(every list fits one page, so no `continue` token is ever issued) and `continue` is tolerated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from minikubelet.api import table as tbl
from minikubelet.api import watch
from minikubelet.api.appkeys import REGISTRY, WATCH_CACHE
from minikubelet.api.negotiate import table_version
from minikubelet.api.selectors import Predicate, field_predicate, label_predicate
from minikubelet.api.status_errors import StatusError, bad_request

JSON = dict[str, Any]
RowMaker = Callable[[JSON, float, str], JSON]

_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"0", "f", "F", "false", "FALSE", "False"})


def query_bool(request: web.Request, name: str) -> bool:
    """Go's strconv.ParseBool, as query decoding uses it; a bare `?name` reads true."""
    value = request.query.get(name)
    if value is None:
        return False
    if value in _TRUE or value == "":
        return True
    if value in _FALSE:
        return False
    raise bad_request(
        f'invalid value for {name}: strconv.ParseBool: parsing "{value}": invalid syntax'
    )


def query_int(request: web.Request, name: str, *, minimum: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise bad_request(
            f'invalid value for {name}: strconv.ParseInt: parsing "{value}": invalid syntax'
        ) from None
    if minimum is not None and number < minimum:
        raise bad_request(f"invalid value for {name}: {number}: must be >= {minimum}")
    return number


@dataclass(frozen=True, slots=True)
class Resource:
    """How one resource is listed and printed."""

    kind: str  # "Pod"
    plural: str  # "pods"
    fields: frozenset[str]
    columns: Sequence[tbl.Column]
    row: RowMaker
    api_version: str = "v1"


def _selector(request: web.Request, resource: Resource) -> Predicate:
    labels = request.query.get("labelSelector", "")
    fields = request.query.get("fieldSelector", "")
    try:
        by_label = label_predicate(labels)
        by_field = field_predicate(fields, resource.fields)
    except ValueError as exc:
        raise bad_request(
            f'Unable to find "/v1, Resource={resource.plural}" that match label selector '
            f'"{labels}", field selector "{fields}": {exc}'
        ) from None
    return lambda obj: by_label(obj) and by_field(obj)


def selector(request: web.Request, resource: Resource) -> Predicate:
    """The request's label and field selectors as one predicate (a 400 for a bad one), for
    the handlers that act on a selection (deletecollection)."""
    return _selector(request, resource)


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise bad_request(f"includeObject: Unsupported value: {value!r}")
    return value


async def list_or_watch(
    request: web.Request,
    resource: Resource,
    current: Callable[[], list[JSON]],
    scope: Predicate | None = None,
) -> web.StreamResponse:
    """`scope`: what a watch's events must match beside the selectors (the namespace)."""
    selected = _selector(request, resource)
    matches = selected if scope is None else (lambda obj: scope(obj) and selected(obj))
    query_int(request, "limit", minimum=0)
    as_table = table_version(request)
    include = _include_object(request)
    if query_bool(request, "watch"):
        return await _watch(request, resource, current, matches, as_table, include)
    version = request.app[REGISTRY].resource_version
    items = [obj for obj in current() if matches(obj)]
    if as_table is not None:
        now = time.time()
        rows = [resource.row(obj, now, include) for obj in items]
        body = tbl.table(
            resource.columns, rows, resource_version=str(version), api_version=as_table
        )
        return web.json_response(body)
    return web.json_response({
        "kind": f"{resource.kind}List",
        "apiVersion": resource.api_version,
        "metadata": {"resourceVersion": str(version)},
        "items": items,
    })  # fmt: skip


def get_one(request: web.Request, resource: Resource, obj: JSON | None, name: str) -> web.Response:
    if obj is None:  # `jobs.batch "pi" not found`: the resource qualified by its group
        group = resource.api_version.rpartition("/")[0]
        qualified = f"{resource.plural}.{group}" if group else resource.plural
        details = {"name": name, **({"group": group} if group else {}), "kind": resource.plural}
        raise StatusError(404, "NotFound", f'{qualified} "{name}" not found', details)
    as_table = table_version(request)
    if as_table is None:
        return web.json_response(obj)
    row = resource.row(obj, time.time(), _include_object(request))
    metadata_version = obj.get("metadata", {}).get("resourceVersion")
    body = tbl.table(resource.columns, [row], resource_version=metadata_version,
                     api_version=as_table)  # fmt: skip
    return web.json_response(body)


def _renderer(
    resource: Resource, as_table: str | None, include: str
) -> Callable[[JSON, bool], JSON]:
    def render(obj: JSON, first: bool) -> JSON:
        if as_table is None:
            return obj
        columns = resource.columns if first else ()
        row = resource.row(obj, time.time(), include)
        version = obj.get("metadata", {}).get("resourceVersion")
        return tbl.table(columns, [row], resource_version=version, api_version=as_table)

    return render


async def _watch(
    request: web.Request,
    resource: Resource,
    current: Callable[[], list[JSON]],
    matches: Predicate,
    as_table: str | None,
    include: str,
) -> web.StreamResponse:
    since_text = request.query.get("resourceVersion", "")
    send_initial = query_bool(request, "sendInitialEvents")
    timeout = query_int(request, "timeoutSeconds", minimum=0)
    initial: list[JSON] = []
    if since_text in ("", "0") or send_initial:
        since = request.app[REGISTRY].resource_version
        initial = [obj for obj in current() if matches(obj)]
    else:
        since = _parse_version(since_text)
    spec = watch.WatchRequest(
        kind=resource.kind,
        matches=matches,
        render=_renderer(resource, as_table, include),
        since=since,
        initial=initial,
        timeout=float(timeout) if timeout else watch.DEFAULT_TIMEOUT,
        bookmarks=query_bool(request, "allowWatchBookmarks"),
        initial_events_end=send_initial,
    )
    return await watch.stream(request, request.app[WATCH_CACHE], spec)


def _parse_version(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise bad_request(f"invalid resource version: {text}") from None
