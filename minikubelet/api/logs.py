"""Container logs over HTTP: the kubelet's `/containerLogs/{ns}/{pod}/{container}` and the API's
`/api/v1/namespaces/{ns}/pods/{name}/log`, one reader behind both.

The two differ only in their errors: the kubelet answers plain text (`pod "x" does not exist`),
the API a `Status` (`pods "x" not found`, `container x is not valid for pod web`, the kubelet's
reader errors as 400 BadRequest, invalid options as 422 `PodLogOptions "web" is invalid`).
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable

from aiohttp import web

from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.channels import LOG_PROTOCOLS
from minikubelet.api.crireader import LogOptions, LogReader
from minikubelet.api.listing import query_bool, query_int
from minikubelet.api.registry import JSON, LogSource
from minikubelet.api.watch import client_gone
from minikubelet.runtime.crilog import parse_time_ns

_STREAMS = {"Stdout": "stdout", "Stderr": "stderr", "All": None}


def parse_options(request: web.Request) -> tuple[LogOptions, list[str]]:
    """Decodes PodLogOptions (400 via StatusError when undecodable); returns the options and
    the validation errors (`ValidatePodLogOptions`)."""
    tail = _tail_lines(request)
    since_seconds = query_int(request, "sinceSeconds")
    since_time = _since_time(request)
    limit = query_int(request, "limitBytes")
    stream = request.query.get("stream", "All")
    if stream not in _STREAMS:
        raise se.bad_request(f"stream: Unsupported value: {stream!r}")
    errors = _validate(tail, limit, since_seconds, since_time)
    since_ns = since_time
    if since_seconds is not None:
        since_ns = time.time_ns() - since_seconds * 1_000_000_000
    options = LogOptions(
        follow=query_bool(request, "follow"),
        previous=query_bool(request, "previous"),
        timestamps=query_bool(request, "timestamps"),
        tail_lines=tail,
        since_ns=since_ns,
        limit_bytes=limit,
        stream=_STREAMS[stream],
    )
    return options, errors


def _tail_lines(request: web.Request) -> int | None:
    """`tailLines`, or the kubelet's legacy `tail` (`all` for no limit)."""
    name = "tailLines" if "tailLines" in request.query else "tail"
    if request.query.get(name) in (None, "all"):
        return None
    return query_int(request, name)


def _since_time(request: web.Request) -> int | None:
    text = request.query.get("sinceTime")
    if not text:
        return None
    ns = parse_time_ns(text.encode())
    if ns is None:
        raise se.bad_request(f'parsing time "{text}" as RFC3339: cannot parse')
    return ns


def _validate(
    tail: int | None, limit: int | None, since_seconds: int | None, since_time: int | None
) -> list[str]:
    errors = []
    if tail is not None and tail < 0:
        errors.append(f"tailLines: Invalid value: {tail}: must be greater than or equal to 0")
    if limit is not None and limit < 1:
        errors.append(f"limitBytes: Invalid value: {limit}: must be greater than 0")
    if since_seconds is not None and since_time is not None:
        errors.append(": Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified")
    elif since_seconds is not None and since_seconds < 1:
        errors.append(f"sinceSeconds: Invalid value: {since_seconds}: must be greater than 0")
    return errors


def container_names(pod: JSON) -> list[str]:
    spec = pod.get("spec", {})
    return [
        c["name"]
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
    ]


async def stream_log(
    request: web.Request, namespace: str, pod: str, container: str, options: LogOptions
) -> web.StreamResponse:
    """Opens the log (LookupError before anything is sent) and streams it."""

    def refresh() -> LogSource:
        return registry(request).log_source(namespace, pod, container, previous=options.previous)

    source = refresh()
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _stream_log_websocket(request, options, source, refresh)
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    reader = LogReader(options, response.write, lambda: client_gone(request))
    try:
        await reader.run(source, refresh)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left; nothing to answer
    return response


async def _stream_log_websocket(
    request: web.Request, options: LogOptions, source: LogSource, refresh: Callable[[], LogSource]
) -> web.WebSocketResponse:
    """apiserver: generic/rest/streamer.go over wsstream.NewReader: every chunk one binary
    message (`binary.k8s.io`, also with no subprotocol) or one base64 text message
    (`base64.binary.k8s.io`); the socket closes at the end of the log."""
    ws = web.WebSocketResponse(protocols=LOG_PROTOCOLS)
    await ws.prepare(request)
    text = ws.ws_protocol == "base64.binary.k8s.io"

    async def write(chunk: bytes) -> None:
        if text:
            await ws.send_str(base64.b64encode(chunk).decode("ascii"))
        else:
            await ws.send_bytes(chunk)

    reader = LogReader(options, write, lambda: ws.closed or client_gone(request))
    with contextlib.suppress(ConnectionResetError):
        await reader.run(source, refresh)
    with contextlib.suppress(Exception):
        await ws.close()
    return ws


# --- the API server's pods/log ------------------------------------------------------------


def _api_container(pod: JSON, name: str, requested: str) -> str:
    """`validateContainer` of the pod log REST storage."""
    names = container_names(pod)
    if requested:
        if requested not in names:
            raise se.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    regular: list[str] = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
    if len(regular) == 1:
        return regular[0]
    if not regular:
        raise se.bad_request(f"a container name must be specified for pod {name}")
    raise se.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


async def pod_log(request: web.Request) -> web.StreamResponse:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pod = registry(request).get_pod(namespace, name)
    if pod is None:
        raise se.not_found("pods", name)
    container = _api_container(pod, name, request.query.get("container", ""))
    options, errors = parse_options(request)
    if errors:
        raise se.invalid("PodLogOptions", name, errors)
    try:
        return await stream_log(request, namespace, name, container, options)
    except LookupError as exc:
        raise se.bad_request(_lookup_text(exc)) from None


def _lookup_text(exc: LookupError) -> str:
    return str(exc.args[0] if exc.args else exc)


# --- the kubelet's /containerLogs ---------------------------------------------------------


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain")


async def container_logs(request: web.Request) -> web.StreamResponse:
    parts = [p for p in request.match_info["rest"].split("/") if p]
    missing = _missing_part(parts)
    if missing:
        return _text(400, f'{{"message": "{missing}"}}')
    namespace, pod_name, container = parts[:3]
    try:
        options, errors = parse_options(request)
    except se.StatusError:
        return _text(400, '{"message": "Unable to decode query."}')
    if errors:
        return _text(422, '{"message": "Invalid request."}')
    pod = registry(request).get_pod(namespace, pod_name)
    if pod is None:
        return _text(404, f'pod "{pod_name}" does not exist\n')
    if container not in container_names(pod):
        return _text(404, f'container "{container}" not found in pod "{pod_name}"\n')
    try:
        return await stream_log(request, namespace, pod_name, container, options)
    except LookupError as exc:
        return _text(400, _lookup_text(exc))


def _missing_part(parts: list[str]) -> str:
    checks: list[tuple[int, str]] = [
        (1, "Missing podNamespace."),
        (2, "Missing podID."),
        (3, "Missing container name."),
    ]
    return next((message for need, message in checks if len(parts) < need), "")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", pod_log)
    router.add_get("/containerLogs{rest:(/.*)?}", container_logs)
