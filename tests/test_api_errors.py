"""Error answers as Kubernetes `Status` objects, the security rules, and the watch protocol."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from api_fakes import FakeRegistry, Server, serve

from minikubelet.api import middleware
from minikubelet.api.appkeys import WATCH_CACHE

JSON = dict[str, Any]
PODS = "/api/v1/namespaces/default/pods"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


async def call(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, JSON]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.url + path, **kwargs) as response,
    ):
        return response.status, json.loads(await response.text())


def status(code: int, reason: str, message: str, **extra: Any) -> JSON:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        **extra,
        "code": code,
    }


async def test_unknown_path_and_method(server: Server) -> None:
    missing = "the server could not find the requested resource"
    assert await call(server, "GET", "/nope") == (404, status(404, "NotFound", missing, details={}))
    code, body = await call(server, "POST", "/healthz")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")


async def test_not_found_names_the_pod(server: Server) -> None:
    code, body = await call(server, "GET", PODS + "/x")
    assert (code, body) == (
        404,
        status(404, "NotFound", 'pods "x" not found', details={"name": "x", "kind": "pods"}),
    )


@pytest.mark.parametrize(
    "query", ["watch=maybe", "limit=ten", "timeoutSeconds=x&watch=1", "fieldSelector=spec.x%3Dy"]
)
async def test_bad_query_parameters(server: Server, query: str) -> None:
    code, body = await call(server, "GET", f"{PODS}?{query}")
    assert (code, body["reason"]) == (400, "BadRequest")


async def test_bodies(server: Server) -> None:
    json_type = {"Content-Type": "application/json"}
    code, body = await call(server, "POST", PODS, data=b"{bad", headers=json_type)
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = await call(server, "POST", PODS, data=b"x", headers={"Content-Type": "text/csv"})
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "a"}, {"name": "b", "image": "x"}]},
    }
    code, body = await call(server, "POST", PODS, json=doc)
    assert code == 422
    assert body["message"] == 'Pod "web" is invalid: spec.containers[0].image: Required value'
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.containers[0].image",
        },
    ]
    doc["spec"]["containers"][0]["image"] = "x"
    code, body = await call(server, "POST", PODS, json=doc)
    assert (code, body["message"]) == (409, 'pods "web" already exists')


async def test_huge_header(server: Server) -> None:
    code, body = await call(server, "GET", "/healthz", headers={"X-Big": "a" * (1 << 20)})
    assert (code, body["reason"]) == (431, "RequestHeaderFieldsTooLarge")


async def test_handler_exception_is_a_500_status(tmp_path: Path) -> None:
    registry = FakeRegistry()
    registry.list_pods = mock.Mock(side_effect=RuntimeError("secret detail"))  # type: ignore[method-assign]
    async with serve(registry, tmp_path) as server:
        code, body = await call(server, "GET", "/pods")
    assert (code, body["reason"]) == (500, "InternalError")
    assert "secret detail" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


async def test_token_is_checked_on_every_request(tmp_path: Path) -> None:
    async with serve(FakeRegistry(), tmp_path, token="s3cret") as server:
        assert await call(server, "GET", "/healthz/nope") == (
            401,
            status(401, "Unauthorized", "Unauthorized"),
        )
        ok = await call(server, "GET", "/version", headers={"Authorization": "Bearer s3cret"})
        assert ok[0] == 200
        wrong = await call(server, "GET", "/version", headers={"Authorization": "Bearer nope"})
        assert wrong[0] == 401


@pytest.mark.parametrize(
    ("peer", "method", "allowed"),
    [
        ("10.1.2.3", "DELETE", False),
        ("10.1.2.3", "GET", True),
        ("::1", "POST", True),
        ("::ffff:127.0.0.1", "PATCH", True),
        ("127.0.0.1", "PUT", True),
    ],
)
async def test_writes_only_from_loopback(peer: str, method: str, allowed: bool) -> None:
    transport = mock.Mock()
    transport.get_extra_info.return_value = (peer, 40000)
    request = make_mocked_request(method, PODS + "/web", transport=transport)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="done")

    if allowed:
        response = await middleware.loopback_writes(request, handler)
        assert response.status == 200
    else:
        with pytest.raises(Exception, match="from the local machine only") as raised:
            await middleware.loopback_writes(request, handler)
        assert getattr(raised.value, "code", None) == 403


async def test_patch_rules(server: Server) -> None:
    label = [{"op": "add", "path": "/metadata/labels/tier", "value": "db"}]
    code, body = await call(
        server,
        "PATCH",
        PODS + "/web",
        json=label,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert (code, body["metadata"]["labels"]) == (200, {"app": "web", "tier": "db"})
    spec = {"spec": {"restartPolicy": "Never"}}
    code, body = await call(
        server,
        "PATCH",
        PODS + "/web",
        json=spec,
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec"


async def test_delete_precondition(server: Server) -> None:
    options = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "other"}}
    code, body = await call(server, "DELETE", PODS + "/web", json=options)
    assert (code, body["reason"]) == (409, "Conflict")
    assert ("default", "web") in server.registry.pods


async def read_events(
    server: Server, query: str, headers: dict[str, str] | None = None
) -> list[JSON]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}{PODS}?{query}", headers=headers or {}) as response,
    ):
        assert response.status == 200
        return [json.loads(line) async for line in response.content]


async def test_watch_replays_after_resource_version_and_times_out(server: Server) -> None:
    version = server.registry.resource_version
    web_pod = server.registry.pods[("default", "web")]
    server.registry.publish("MODIFIED", web_pod)
    server.registry.publish("MODIFIED", server.registry.pods[("default", "crash")])
    events = await read_events(
        server,
        f"watch=1&resourceVersion={version}&timeoutSeconds=1&fieldSelector=metadata.name%3Dweb",
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "web")]


async def test_watch_without_version_starts_with_the_current_state_as_table(server: Server) -> None:
    events = await read_events(
        server,
        "watch=true&timeoutSeconds=1&labelSelector=app%20in%20(web,crash)",
        headers={"Accept": TABLE},
    )
    assert [e["type"] for e in events] == ["ADDED", "ADDED"]
    first, second = (e["object"] for e in events)
    assert first["kind"] == "Table"
    assert first["columnDefinitions"][0]["name"] == "Name"
    assert second["columnDefinitions"] == []
    assert second["rows"][0]["cells"][:3] == ["web", "1/1", "Running"]


async def test_watch_too_old_is_expired(server: Server) -> None:
    code, body = await call(server, "GET", PODS + "?watch=1&resourceVersion=-5")
    assert (code, body["reason"]) == (410, "Expired")


async def test_watch_ends_when_the_client_leaves(server: Server) -> None:
    cache = server.app[WATCH_CACHE]
    async with aiohttp.ClientSession() as session:
        response = await session.get(f"{server.url}{PODS}?watch=1")
        assert json.loads(await response.content.readline())["type"] == "ADDED"
        assert cache.watchers == 1
        response.close()
    deadline = asyncio.get_running_loop().time() + 5
    while cache.watchers and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert cache.watchers == 0
