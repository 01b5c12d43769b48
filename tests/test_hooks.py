"""Lifecycle hooks with real processes and servers: the kubelet's failure messages."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
from aiohttp import web

from minikubelet.core.spec import (
    Container,
    ExecAction,
    Handler,
    HTTPGetAction,
    Pod,
    PodSpec,
    SleepAction,
    TCPSocketAction,
)
from minikubelet.probe.hooks import run_hook

CONTAINER = Container(name="app")
POD = Pod(name="web", uid="uid-1", spec=PodSpec(containers=(CONTAINER,)))
WHERE = 'for Container "app" in Pod "web_default(uid-1)"'
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


async def hook(handler: Handler, **kwargs: object) -> str | None:
    return await run_hook(handler, pod=POD, container=CONTAINER, env=ENV, cwd=None, **kwargs)  # type: ignore[arg-type]


# --- exec -----------------------------------------------------------------------------------------


async def test_exec_success() -> None:
    assert await hook(ExecAction(command=("sh", "-c", "echo fine"))) is None


async def test_exec_failure_message() -> None:
    message = await hook(ExecAction(command=("sh", "-c", "exit 1")))
    assert message == (
        f"Exec lifecycle hook ([sh -c exit 1]) {WHERE} failed - error: "
        "command 'sh -c exit 1' exited with 1: , message: \"\""
    )


async def test_exec_failure_carries_stderr_and_output() -> None:
    message = await hook(ExecAction(command=("sh", "-c", "echo out; echo err >&2; exit 3")))
    assert message == (
        f"Exec lifecycle hook ([sh -c echo out; echo err >&2; exit 3]) {WHERE} failed - error: "
        "command 'sh -c echo out; echo err >&2; exit 3' exited with 3: err\n, "
        'message: "out\\nerr\\n"'
    )


async def test_exec_is_not_expanded() -> None:
    container = Container(name="app", env=())
    message = await run_hook(
        ExecAction(command=("sh", "-c", "test '$(X)' = \"\\$(X)\" || exit 1; exit 2")),
        pod=POD,
        container=container,
        env=ENV,
        cwd=None,
    )
    assert message is not None
    assert "exited with 2" in message


async def test_exec_cannot_start() -> None:
    message = await hook(ExecAction(command=("no-such-hook-command",)))
    assert message == (
        f"Exec lifecycle hook ([no-such-hook-command]) {WHERE} failed - error: "
        'exec: "no-such-hook-command": executable file not found in $PATH, message: ""'
    )


async def test_exec_cancelled_kills_the_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 30 & echo $! >> {pids}; echo $$ >> {pids}; wait"
    task = asyncio.create_task(hook(ExecAction(command=("sh", "-c", script))), name="hook")
    async with asyncio.timeout(2):
        while not pids.exists() or len(pids.read_text().split()) < 2:
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    alive = [int(p) for p in pids.read_text().split()]
    deadline = time.monotonic() + 2
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        await asyncio.sleep(0.02)
    for pid in alive:
        os.kill(pid, 9)
    assert alive == []


def _alive(pid: int) -> bool:
    """Zombies count as gone: an orphan's reaping is its new parent's business."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- http -----------------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[web.Request]]]:
    seen: list[web.Request] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(request)
        return web.Response(status=500, text="no matter")

    app = web.Application()
    app.router.add_get("/{tail:.*}", record)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port: int = runner.addresses[0][1]
    yield port, seen
    await runner.cleanup()


async def test_http_status_code_is_not_checked(server: tuple[int, list[web.Request]]) -> None:
    port, seen = server
    assert await hook(HTTPGetAction(port=port, path="/stop?now=1")) is None
    assert seen[0].path_qs == "/stop?now=1"
    assert seen[0].headers["User-Agent"] == "kube-lifecycle/1.34"


async def test_http_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = await hook(HTTPGetAction(port=port, path="/stop"))
    assert message == (
        f"HTTP lifecycle hook (/stop) {WHERE} failed - error: "
        f'Get "http://127.0.0.1:{port}/stop": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused"
    )


async def test_http_bad_port() -> None:
    message = await hook(HTTPGetAction(port="web", path="/stop"))
    expected = 'strconv.Atoi: parsing "web": invalid syntax'
    assert message == f"HTTP lifecycle hook (/stop) {WHERE} failed - error: {expected}"


async def test_https_hook_answered_in_http_falls_back(
    server: tuple[int, list[web.Request]],
) -> None:
    port, seen = server
    events: list[tuple[str, str]] = []

    def record(*, reason: str, message: str, type: str) -> None:
        events.append((reason, message))

    handler = HTTPGetAction(port=port, path="/stop", scheme="HTTPS")
    assert await hook(handler, record_event=record) is None
    assert len(seen) == 1
    text = (
        f"request to HTTPS lifecycle hook 127.0.0.1:{port} got HTTP response, "
        "retry with HTTP succeeded"
    )
    assert events == [("LifecycleHTTPFallback", text)]


# --- sleep and others -------------------------------------------------------------------------


async def test_sleep_runs_its_time() -> None:
    began = time.monotonic()
    assert await hook(SleepAction(seconds=1), stop=asyncio.Event()) is None
    assert 0.95 < time.monotonic() - began < 10


async def test_sleep_cut_short_by_stop() -> None:
    stop = asyncio.Event()

    async def later() -> None:
        await asyncio.sleep(0.1)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(later(), name="stop-later")
        message = await hook(SleepAction(seconds=5), stop=stop)
    assert message == (
        f"Sleep lifecycle hook (5) {WHERE} failed - error: "
        "container terminated before sleep hook finished"
    )


async def test_tcp_socket_is_not_a_lifecycle_handler() -> None:
    message = await hook(TCPSocketAction(port=80))
    assert message is not None
    assert message.startswith("Cannot run handler: invalid handler")
