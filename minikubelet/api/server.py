"""The aiohttp application: the kubelet's endpoints and the Kubernetes API subset kubectl needs.

`make_app()` is the whole public surface; the daemon runs it with AppRunner/TCPSite. The app
reads the daemon only through the `Registry` protocol. Its one background task, the watch
cache's subscription, lives and dies with the app (`cleanup_ctx`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from minikubelet.api import (
    discovery,
    kubelet,
    logs,
    middleware,
    openapi,
    pods,
    portforward,
    resources,
    stats,
    streaming,
)
from minikubelet.api.appkeys import REGISTRY, SETTINGS, WATCH_CACHE, Settings
from minikubelet.api.registry import Registry
from minikubelet.api.sessions import StreamLimits
from minikubelet.api.watch import run_cache

# Header lines up to the kubelet's MaxHeaderBytes reach the middleware, which answers a
# `Status`; only beyond that does aiohttp's own parser refuse (400, plain text).
_PARSER_LIMITS = {"max_line_size": 2 * middleware.MAX_HEADER_BYTES,
                  "max_field_size": 2 * middleware.MAX_HEADER_BYTES}  # fmt: skip
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's limit for a request body


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
    stream_limits: StreamLimits | None = None,
) -> web.Application:
    """`token`: when set, every request must carry `Authorization: Bearer <token>`.
    `started_at`: the daemon's start (epoch seconds). `stream_limits`: exec, attach and
    port-forward sessions."""
    app = web.Application(
        middlewares=[middleware.errors, middleware.authenticate, middleware.loopback_writes],
        client_max_size=MAX_BODY_BYTES,
        handler_args=_PARSER_LIMITS,
    )
    app[REGISTRY] = registry
    app[SETTINGS] = Settings(token=token, node_name=node_name, started_at=started_at)
    app[stats.SAMPLER] = stats.CpuSampler()
    app.cleanup_ctx.append(_watch_cache)
    for module in (kubelet, stats, logs, discovery, openapi, pods, resources):
        module.add_routes(app.router)
    streaming.add_routes(app, stream_limits)
    portforward.add_routes(app)
    return app
