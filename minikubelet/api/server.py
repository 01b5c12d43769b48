"""The aiohttp application: the kubelet's endpoints and the Kubernetes API subset kubectl needs.

`make_app()` builds the app; the daemon runs it with an AppRunner and `serve()`, which
accepts connections through a `ConnectionLimiter`. The app reads the daemon only through the
`Registry` protocol. Its one background task, the watch cache's subscription, lives and dies
with the app (`cleanup_ctx`).

Descriptors are the daemon's scarcest resource (every container takes pipes, a pidfd and a
log file): a connection that sends no complete request within IDLE_TIMEOUT is closed, and at
most `max_connections` are open at once. Past that, a new connection closes the oldest one
that has no request in flight, so idle connections can neither pin descriptors nor lock
clients out.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from minikubelet.api import (
    authorization,
    discovery,
    ephemeral,
    generic,
    kubelet,
    logs,
    metrics_api,
    middleware,
    nodes,
    openapi,
    pods,
    portforward,
    resources,
    stats,
    streaming,
)
from minikubelet.api import timeline as timeline_api
from minikubelet.api.appkeys import REGISTRY, SETTINGS, STORE, WATCH_CACHE, Settings
from minikubelet.api.registry import Registry
from minikubelet.api.sessions import StreamLimits
from minikubelet.api.timeline import TimelineSource
from minikubelet.api.watch import run_cache
from minikubelet.store.objects import ObjectStore

# Header lines up to the kubelet's MaxHeaderBytes reach the middleware, which answers a
# `Status`; only beyond that does aiohttp's own parser refuse (400, plain text).
_PARSER_LIMITS = {"max_line_size": 2 * middleware.MAX_HEADER_BYTES,
                  "max_field_size": 2 * middleware.MAX_HEADER_BYTES}  # fmt: skip
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's limit for a request body
# aiohttp's keepalive timeout runs from the connection's start (3.10+): no complete request
# within it, at the start or between requests, and the connection is closed
IDLE_TIMEOUT = 30.0
IN_FLIGHT = web.AppKey("in_flight", dict)  # RequestHandler -> requests (no weakrefs: slots)

log = structlog.get_logger("minikubelet.api")


@web.middleware
async def _in_flight(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Counts the requests in flight on each connection (a watch or a log follow is in flight
    for as long as it streams), for the limiter to tell idle connections from busy ones."""
    counts: dict[object, int] = request.app[IN_FLIGHT]
    proto = request.protocol
    counts[proto] = counts.get(proto, 0) + 1
    try:
        return await handler(request)
    finally:
        left = counts.get(proto, 1) - 1
        if left > 0:
            counts[proto] = left
        else:
            counts.pop(proto, None)


class _Refused(asyncio.Protocol):
    """Every connection busy: this one is closed at once (the client sees a reset)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class ConnectionLimiter:
    """The protocol factory the listening socket serves with: aiohttp's own, capped."""

    def __init__(self, server: web.Server, in_flight: dict[object, int],
                 max_connections: int) -> None:  # fmt: skip
        self._server = server
        self._in_flight = in_flight
        self.max_connections = max(max_connections, 2)
        self._closing: set[RequestHandler] = set()  # closed by us, not yet gone
        self.evicted = 0

    def __call__(self) -> asyncio.BaseProtocol:
        connections = self._server.connections
        self._closing.intersection_update(connections)
        open_ = [h for h in connections if h not in self._closing]
        if len(open_) >= self.max_connections:
            idle = next((h for h in open_ if h not in self._in_flight), None)
            if idle is None:
                log.warning("connection refused", reason="every connection is busy",
                            max_connections=self.max_connections)  # fmt: skip
                return _Refused()
            self._closing.add(idle)
            idle.force_close()
            self.evicted += 1
            if self.evicted == 1 or self.evicted % 1000 == 0:
                log.warning("idle connection closed", reason="too many connections",
                            max_connections=self.max_connections, evicted=self.evicted)  # fmt: skip
        return self._server()


def max_connections_for(open_files_limit: int) -> int:
    """A quarter of the descriptors for the API, the rest for containers (each takes about
    four: two pipes, a pidfd, its log file) and the daemon itself."""
    return max(8, min(4096, open_files_limit // 4))


async def serve(
    runner: web.AppRunner,
    sock: socket.socket,
    *,
    ssl_context: ssl.SSLContext | None,
    max_connections: int,
) -> asyncio.AbstractServer:
    """Serves `runner` (set up) on the listening socket through a ConnectionLimiter."""
    server = runner.server
    assert server is not None
    limiter = ConnectionLimiter(server, runner.app[IN_FLIGHT], max_connections)
    loop = asyncio.get_running_loop()
    # a TLS connection reaches aiohttp (and the limiter's count) only once its handshake is
    # done: until then asyncio's handshake timeout is what bounds it
    handshake = IDLE_TIMEOUT if ssl_context is not None else None
    return await loop.create_server(
        limiter, sock=sock, ssl=ssl_context, ssl_handshake_timeout=handshake
    )


async def _watch_cache(app: web.Application) -> AsyncIterator[None]:
    async for cache in run_cache(app[REGISTRY]):
        app[WATCH_CACHE] = cache
        yield


def make_app(
    registry: Registry,
    *,
    token: str | None = None,
    node_name: str,
    started_at: float,
    state_dir: Path | None = None,
    stream_limits: StreamLimits | None = None,
    timeline: TimelineSource | None = None,
    store: ObjectStore | None = None,
) -> web.Application:
    """`token`: when set, every request must carry `Authorization: Bearer <token>`.
    `started_at`: the daemon's start (epoch seconds). `state_dir`: whose filesystem is the
    node's ephemeral storage (the root filesystem when not given). `stream_limits`: exec,
    attach and port-forward sessions. `store`: where the registered kinds (ConfigMaps,
    Secrets...) live, the registry's own (an empty one when not given)."""
    app = web.Application(
        middlewares=[
            _in_flight,
            middleware.errors,
            middleware.authenticate,
            middleware.loopback_writes,
            middleware.same_site,
        ],
        client_max_size=MAX_BODY_BYTES,
        handler_args={**_PARSER_LIMITS, "keepalive_timeout": IDLE_TIMEOUT},
    )
    app[IN_FLIGHT] = {}
    app[REGISTRY] = registry
    app[STORE] = store if store is not None else ObjectStore()
    app[SETTINGS] = Settings(token=token, node_name=node_name, started_at=started_at)
    app[stats.SAMPLER] = stats.CpuSampler()
    app[openapi.DOCUMENTS] = openapi.Documents()
    if state_dir is not None:
        app[nodes.STATE_DIR] = state_dir
    app.cleanup_ctx.append(_watch_cache)
    for module in (kubelet, stats, logs, discovery, openapi, pods, resources, nodes, generic,
                   authorization, metrics_api, ephemeral):  # fmt: skip
        module.add_routes(app.router)
    streaming.add_routes(app, stream_limits)
    portforward.add_routes(app)
    timeline_api.add_routes(app, timeline)
    return app
