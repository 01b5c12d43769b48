"""Streaming sessions' bounds, against the app in-process with a real container process: the
cap on concurrent sessions (429 past it), the idle timeout (the session ends and its process
is killed), a session ending with its container, and faults that stay in their session."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest
from api_fakes import FakeRegistry, Server, serve

from minikubelet.api import channels as ch
from minikubelet.api.registry import ContainerTarget
from minikubelet.api.sessions import SESSIONS, StreamLimits
from minikubelet.runtime.process import ContainerProcess
from minikubelet.runtime.spawn import spawn


class _Discard:
    def feed(self, stream: str, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
async def container(tmp_path: Path) -> AsyncIterator[ContainerProcess]:
    process = await spawn(["sleep", "60"], env=dict(os.environ), cwd=str(tmp_path),
                          writer=_Discard())  # fmt: skip
    try:
        yield process
    finally:
        process.kill()
        await process.wait()


@pytest.fixture
async def server(tmp_path: Path, container: ContainerProcess) -> AsyncIterator[Server]:
    registry = FakeRegistry()
    registry.targets[("default", "web", "app")] = ContainerTarget(
        container_id="minikubelet://0c3d", env=dict(os.environ), cwd=str(tmp_path),
        process=container,
    )  # fmt: skip
    async with serve(registry, tmp_path) as s:
        yield s


def limit(server: Server, **changes: float) -> None:
    server.app[SESSIONS].limits = StreamLimits(**changes)  # type: ignore[arg-type]


EXEC = "/api/v1/namespaces/default/pods/web/exec?container=app&stdout=true&stdin=true"


def exec_url(server: Server, *command: str) -> str:
    return server.url + EXEC + "".join(f"&command={c}" for c in command)


async def read_pid(ws: aiohttp.ClientWebSocketResponse) -> int:
    async with asyncio.timeout(20):
        async for msg in ws:
            channel, data = ch.decode(msg.data)
            if channel == ch.STDOUT and data.strip():
                return int(data)
    raise AssertionError("no pid")


async def until_gone(pid: int) -> None:
    async with asyncio.timeout(20):
        while _alive(pid):
            await asyncio.sleep(0.05)


def _alive(pid: int) -> bool:
    """Running (a zombie is dead); a process that goes between two looks is gone too."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_sessions_past_the_cap_get_429(server: Server) -> None:
    limit(server, max_sessions=1)
    url = exec_url(server, "sh", "-c", "echo%20$$;%20exec%20sleep%2030")
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(url, protocols=[ch.V5])
        pid = await read_pid(first)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url, protocols=[ch.V5])
        assert refused.value.status == 429
        await first.close()
        await until_gone(pid)  # the client left: its process is killed
        async with asyncio.timeout(20):
            while server.app[SESSIONS].active:
                await asyncio.sleep(0.05)
        again = await http.ws_connect(url, protocols=[ch.V5])
        await read_pid(again)
        await again.close()


async def test_an_idle_session_ends_and_its_process_dies(server: Server) -> None:
    limit(server, idle_timeout=0.5)
    url = exec_url(server, "sh", "-c", "echo%20$$;%20exec%20sleep%2030")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, protocols=[ch.V5])
        pid = await read_pid(ws)
        async with asyncio.timeout(20):
            async for _msg in ws:
                pass  # the server closes the idle session
        assert ws.closed
        await until_gone(pid)


async def test_a_session_ends_with_its_container(
    server: Server, container: ContainerProcess
) -> None:
    url = exec_url(server, "sh", "-c", "echo%20$$;%20exec%20sleep%2030")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, protocols=[ch.V5])
        pid = await read_pid(ws)
        container.kill()
        statuses = []
        async with asyncio.timeout(20):
            async for msg in ws:
                channel, data = ch.decode(msg.data)
                if channel == ch.ERROR:
                    statuses.append(json.loads(data))
        await until_gone(pid)
    assert statuses == [ch.exit_status(137)]  # killed with its container


async def test_exec_in_a_container_that_is_not_running(server: Server) -> None:
    url = server.url + EXEC.replace("web", "crash") + "&command=true"
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, protocols=[ch.V5])
        messages = [ch.decode(m.data) async for m in ws]
    assert messages[0] == (ch.STDOUT, b"")  # the connection is established
    status = json.loads(messages[-1][1])
    assert status["message"] == (
        'Internal error occurred: unable to upgrade connection: container not found ("app")'
    )


async def test_a_fault_stays_in_its_session(server: Server) -> None:
    def broken(namespace: str, name: str, container: str) -> ContainerTarget:
        raise RuntimeError("the registry broke")

    server.registry.container_target = broken  # type: ignore[method-assign]
    url = exec_url(server, "true")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, protocols=[ch.V4])
        messages = [ch.decode(m.data) async for m in ws]
        status = json.loads(messages[-1][1])
        assert status["message"] == "Internal error occurred: the registry broke"
        async with http.get(server.url + "/healthz") as resp:
            assert (resp.status, await resp.text()) == (200, "ok")


async def test_v1_protocol_reports_errors_as_text(server: Server) -> None:
    url = exec_url(server, "sh", "-c", "exit%207")
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(url, protocols=[ch.V1])
        assert ws.protocol == ch.V1
        messages = [ch.decode(m.data) async for m in ws]
    assert messages[-1] == (
        ch.ERROR,
        b"command terminated with non-zero exit code: command terminated with exit code 7",
    )
