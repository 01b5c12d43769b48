"""`/debug/timeline` (the pod timeline as JSON) and `/ui` (the page that draws it).

`GET /debug/timeline[?pod=namespace/name][&since=SEQ]`: `{"seq": the latest record's number,
"pods": [...], "records": [...], "groups": [...]}`, records after `since`, oldest first
(core/timeline.py lists their kinds); `groups`, the pods by their chain of controller owners
(a Deployment -> its ReplicaSet -> its pods; a Job -> its pods; bare pods last). The page
polls it with the last `seq` it has. `/ui` and `/ui/<file>` are the page's static files
(package data in `api/ui/`), read once and served from memory.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from minikubelet.api.appkeys import STORE
from minikubelet.api.status_errors import bad_request
from minikubelet.core import rollout
from minikubelet.store.kinds import KINDS


class TimelineSource(Protocol):
    seq: int

    def pods(self) -> list[str]: ...

    def since(self, seq: int = 0, pod: str | None = None) -> list[dict[str, Any]]: ...


TIMELINE = web.AppKey("timeline", TimelineSource)
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
_FILES: dict[str, tuple[bytes, str]] = {}


async def timeline(request: web.Request) -> web.Response:
    source = request.app[TIMELINE]
    pod = request.query.get("pod") or None
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise bad_request(
            f"since: Invalid value: {request.query['since']!r}: must be an integer"
        ) from None
    if pod is not None and "/" not in pod:
        pod = f"default/{pod}"
    body = {"seq": source.seq, "pods": source.pods(), "records": source.since(since, pod),
            "groups": _groups(request)}  # fmt: skip
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _groups(request: web.Request) -> list[dict[str, Any]]:
    """The pods by owner chain (core/rollout.py pod_groups), from every object that may own."""
    store = request.app.get(STORE)
    if store is None:
        return []
    owners = [o for kind in KINDS for o in store.list(kind.resource)]
    return rollout.pod_groups(store.list("pods"), owners)


def _file(name: str) -> tuple[bytes, str] | None:
    if name not in _FILES:
        suffix = name[name.rfind(".") :]
        if suffix not in _TYPES or "/" in name:
            return None
        from importlib import resources  # here: the API serves sooner without it

        try:
            data = resources.files("minikubelet.api").joinpath("ui", name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
        _FILES[name] = (data, _TYPES[suffix])
    return _FILES[name]


async def page(request: web.Request) -> web.StreamResponse:
    name = request.match_info.get("name") or "index.html"
    found = _file(name)
    if found is None:
        raise web.HTTPNotFound(text=f"no such file: /ui/{name}")
    return web.Response(body=found[0], content_type=found[1])


def add_routes(app: web.Application, source: TimelineSource | None) -> None:
    if source is None:
        return
    app[TIMELINE] = source
    app.router.add_get("/debug/timeline", timeline)
    app.router.add_get("/ui", page)
    app.router.add_get("/ui/", page)
    app.router.add_get("/ui/{name}", page)
