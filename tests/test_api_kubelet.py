"""The kubelet's endpoints over HTTP: healthz, /pods, metrics, /stats/summary, /containerLogs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from api_fakes import FakeRegistry, Server, cri, serve

from minikubelet.api.registry import LogSource

T0 = 1_795_000_000.0


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


async def get(server: Server, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.get(server.url + path) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def write_log(server: Server, tmp_path: Path, lines: list[str], *, running: bool = False) -> Path:
    path = tmp_path / "0.log"
    path.write_text("".join(line + "\n" for line in lines))
    server.registry.logs[("default", "web", "app", False)] = LogSource((path,), running)
    return path


async def test_healthz(server: Server) -> None:
    assert await get(server, "/healthz") == (200, "text/plain; charset=utf-8", "ok")
    assert (await get(server, "/healthz/syncloop"))[2] == "ok"
    verbose = await get(server, "/healthz?verbose")
    assert verbose[2] == "[+]ping ok\n[+]log ok\n[+]syncloop ok\nhealthz check passed\n"


async def test_pods_is_a_pod_list(server: Server) -> None:
    async with aiohttp.ClientSession() as session, session.get(server.url + "/pods") as response:
        body = await response.json()
    assert (body["kind"], body["apiVersion"], body["metadata"]) == ("PodList", "v1", {})
    assert {p["metadata"]["name"] for p in body["items"]} >= {"web", "crash", "tool"}


async def test_metrics_are_prometheus_text(server: Server) -> None:
    status, content_type, text = await get(server, "/metrics/probes")
    assert status == 200
    assert content_type.startswith("text/plain; version=")
    assert "# TYPE prober_probe_total counter" in text
    assert "process_start_time_seconds" in text
    assert "minikubelet_containers_running" in (await get(server, "/metrics"))[2]


async def test_stats_summary_sums_the_process_tree(server: Server) -> None:
    # the child says when its interpreter is up: before that, its RSS is the fork's, not
    # Python's (under load the stats could be read first)
    script = "import time; print('up', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None
        assert await asyncio.to_thread(child.stdout.readline) == b"up\n"
        server.registry.pids[("default", "web")] = {"app": child.pid}
        async with (
            aiohttp.ClientSession() as session,
            session.get(server.url + "/stats/summary") as response,
        ):
            summary = await response.json()
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    assert summary["node"]["nodeName"] == "testnode"
    assert summary["node"]["memory"]["availableBytes"] > 0
    web = next(p for p in summary["pods"] if p["podRef"]["name"] == "web")
    (app,) = web["containers"]
    assert app["name"] == "app"
    assert app["memory"]["rssBytes"] > 1_000_000
    assert app["cpu"]["usageCoreNanoSeconds"] >= 0
    assert web["process_stats"] == {"process_count": 1}


async def test_container_logs_options(server: Server, tmp_path: Path) -> None:
    write_log(
        server,
        tmp_path,
        [
            cri(T0, "one"),
            cri(T0 + 1, "two", "stderr"),
            cri(T0 + 2, "thr", tag="P"),
            cri(T0 + 2, "ee"),
        ],
    )
    base = "/containerLogs/default/web/app"
    assert (await get(server, base))[2] == "one\ntwo\nthree\n"
    assert (await get(server, base + "?tailLines=2"))[2] == "three\n"
    assert (await get(server, base + "?tail=1"))[2] == "ee\n"
    assert (await get(server, base + "?tail=all"))[2] == "one\ntwo\nthree\n"
    assert (await get(server, base + "?limitBytes=6"))[2] == "one\ntw"
    assert (await get(server, base + "?stream=Stderr"))[2] == "two\n"
    since = await get(
        server, base + "?sinceTime=" + time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 1))
    )
    assert since[2] == "two\nthree\n"
    stamped = (await get(server, base + "?timestamps=true&tailLines=3"))[2]
    assert stamped == "2026-11-18T11:06:41.000000000Z two\n2026-11-18T11:06:42.000000000Z three\n"


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/containerLogs/default", 400, '{"message": "Missing podID."}'),
        ("/containerLogs/default/web", 400, '{"message": "Missing container name."}'),
        ("/containerLogs/default/nope/app", 404, 'pod "nope" does not exist\n'),
        ("/containerLogs/default/web/x", 404, 'container "x" not found in pod "web"\n'),
        ("/containerLogs/default/web/app?tailLines=-1", 422, '{"message": "Invalid request."}'),
        (
            "/containerLogs/default/web/app?follow=maybe",
            400,
            '{"message": "Unable to decode query."}',
        ),
        (
            "/containerLogs/default/crash/app?previous=true",
            400,
            'previous terminated container "app" in pod "crash" not found',
        ),
    ],
)
async def test_container_logs_errors(server: Server, path: str, status: int, body: str) -> None:
    got = await get(server, path)
    assert (got[0], got[2]) == (status, body)


async def test_follow_survives_rotation(server: Server, tmp_path: Path) -> None:
    path = write_log(server, tmp_path, [cri(T0, "before")], running=True)
    url = server.url + "/containerLogs/default/web/app?follow=true"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert await asyncio.wait_for(response.content.readline(), 5) == b"before\n"
        with path.open("a") as f:
            f.write(cri(T0 + 1, "rotated-away") + "\n")
        path.rename(tmp_path / "0.log.1")
        path.write_text(cri(T0 + 2, "after") + "\n")
        assert await asyncio.wait_for(response.content.readline(), 5) == b"rotated-away\n"
        assert await asyncio.wait_for(response.content.readline(), 5) == b"after\n"
        server.registry.logs[("default", "web", "app", False)] = LogSource((path,), False)
        assert await asyncio.wait_for(response.content.read(), 5) == b""
