"""The kubelet's own endpoints (`pkg/kubelet/server/server.go`): `/healthz` with its checks,
`/pods` (the legacy-codec `PodList`), and the Prometheus registries at `/metrics` and
`/metrics/probes`, rendered by prometheus_client."""

from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.runtime import metrics

HEALTH_CHECKS = ("ping", "log", "syncloop")
_TEXT = "text/plain; charset=utf-8"


def _plain(body: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body.encode(), headers={"Content-Type": _TEXT})


async def healthz(request: web.Request) -> web.Response:
    check = request.match_info.get("check", "")
    if check and check not in HEALTH_CHECKS:
        raise se.path_not_found()
    if check or "verbose" not in request.query:
        return _plain("ok")
    lines = [f"[+]{name} ok" for name in HEALTH_CHECKS]
    return _plain("\n".join([*lines, "healthz check passed"]) + "\n")


class _PodList:
    """`/pods` is polled hard by monitoring, and encoding every pod on each request was
    its whole cost. The encoded body is kept while the resource version and the very pod
    objects (which the registry replaces, never mutates, on a change) are the same."""

    def __init__(self) -> None:
        self._key: tuple[int, tuple[int, ...]] | None = None
        self._body = b""

    async def handler(self, request: web.Request) -> web.Response:
        reg = registry(request)
        version = reg.resource_version
        items = reg.list_pods()
        key = (version, tuple(id(obj) for obj in items))
        if key != self._key:
            body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
            self._body, self._key = json.dumps(body).encode(), key
        return web.Response(body=self._body, content_type="application/json", charset="utf-8")


def _metrics(collectors: CollectorRegistry) -> web.Response:
    return web.Response(
        body=generate_latest(collectors), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


async def daemon_metrics(request: web.Request) -> web.Response:
    return _metrics(metrics.DAEMON)


async def probe_metrics(request: web.Request) -> web.Response:
    return _metrics(metrics.PROBES)


def add_routes(router: web.UrlDispatcher) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        router.add_get(path, healthz)
        router.add_get(path + "/{check}", healthz)
    pods = _PodList().handler  # one cache per app
    router.add_get("/pods", pods)
    router.add_get("/pods/", pods)
    router.add_get("/metrics", daemon_metrics)
    router.add_get("/metrics/probes", probe_metrics)
