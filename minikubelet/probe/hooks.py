"""Lifecycle handlers (postStart, preStop): the kubelet's `lifecycle/handlers.go` Run.

`run_hook()` runs one handler to completion and returns None, or the kubelet's failure message
(`Exec lifecycle hook ([sh -c exit 1]) for Container "app" in Pod "web_default(uid)" failed -
error: ...`), which the caller puts in the container's waiting message; the events
(`FailedPostStartHook`, `FailedPreStopHook`) are the caller's. Hooks have no timeout of their
own: the caller bounds them (the grace period for preStop) by cancelling, and cancellation kills
an exec hook's whole process group. Processes and sockets go through `probes.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace

from minikubelet.core.gotext import quote as go_quote
from minikubelet.core.spec import (
    Container,
    ExecAction,
    Handler,
    HTTPGetAction,
    Pod,
    SleepAction,
)
from minikubelet.probe.execprobe import run_command
from minikubelet.probe.goclient import (
    BodyError,
    ClientError,
    HTTPExchange,
    HTTPRequest,
)
from minikubelet.probe.handlers import ProbeError
from minikubelet.probe.httpprobe import http_request
from minikubelet.runtime.aio import wait_event

_DISCARD_BODY = 4 * 1024  # kubelet: handlers.go discardHTTPRespBody maxReadSize


async def run_hook(
    handler: Handler,
    *,
    pod: Pod,
    container: Container,
    env: Mapping[str, str],
    cwd: str | None,
    stop: asyncio.Event | None = None,
    pod_ip: str = "127.0.0.1",
    record_event: Callable[..., object] | None = None,
    enter: int | None = None,
) -> str | None:
    """kubelet: handlers.go Run. `stop` set ends a sleep hook early (the container is
    terminating); `record_event` receives the LifecycleHTTPFallback event. `enter`: the
    container's pid when it runs in a mount namespace of its own, which an exec hook joins."""
    where = f"for Container {go_quote(container.name)} in Pod {go_quote(pod.full_name)}"
    if isinstance(handler, ExecAction):
        return await _exec_hook(handler, where, env, cwd, enter)
    if isinstance(handler, HTTPGetAction):
        return await _http_hook(handler, where, container, pod_ip, record_event)
    if isinstance(handler, SleepAction):
        return await _sleep_hook(handler, where, stop)
    return f"Cannot run handler: invalid handler: {type(handler).__name__}"


async def _exec_hook(
    handler: ExecAction, where: str, env: Mapping[str, str], cwd: str | None, enter: int | None
) -> str | None:
    """The command runs as written: unlike probes, hooks get no `$(VAR)` expansion."""
    argv = list(handler.command)
    head = f"Exec lifecycle hook ([{' '.join(argv)}]) {where} failed - error: "
    try:
        res = await run_command(argv, env=env, cwd=cwd, timeout_s=None, enter=enter)
    except ProbeError as exc:
        return f'{head}{exc}, message: ""'
    if res.exit_code == 0:
        return None
    # kubelet: remote_runtime.go ExecSync's error for a non-zero exit carries the stderr
    stderr = res.stderr.decode("utf-8", errors="replace")
    error = f"command '{' '.join(argv)}' exited with {res.exit_code}: {stderr}"
    return f"{head}{error}, message: {go_quote(res.output)}"


async def _http_hook(
    handler: HTTPGetAction,
    where: str,
    container: Container,
    pod_ip: str,
    record_event: Callable[..., object] | None,
) -> str | None:
    """kubelet: handlers.go runHTTPHandler: only a transport error fails the hook; the
    status code is not looked at."""
    try:
        request = http_request(handler, container, pod_ip, agent="lifecycle")
    except ProbeError as exc:
        return _http_failure(handler, where, str(exc))
    error = await _get(request)
    if error is not None and "server gave HTTP response" in error:
        error = await _http_fallback(request, error, record_event)
    return None if error is None else _http_failure(handler, where, error)


async def _http_fallback(
    request: HTTPRequest, error: str, record_event: Callable[..., object] | None
) -> str | None:
    """kubelet: an HTTPS hook answered in plain HTTP is retried over HTTP, without the
    Authorization header; the original error stands if the retry fails too."""
    headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
    plain = replace(request, url="http" + request.url.removeprefix("https"), headers=headers)
    if await _get(plain) is not None:
        return error
    if record_event is not None:
        host = plain.url.removeprefix("http://").partition("/")[0]
        text = (
            f"request to HTTPS lifecycle hook {host} got HTTP response, retry with HTTP succeeded"
        )
        record_event(reason="LifecycleHTTPFallback", message=text, type="Warning")
    return None


async def _get(request: HTTPRequest) -> str | None:
    exchange = HTTPExchange(request)
    try:
        resp = await exchange.response()
        with contextlib.suppress(BodyError):
            await exchange.body(resp, _DISCARD_BODY)
    except ClientError as exc:
        return str(exc)
    finally:
        exchange.close()
    return None


def _http_failure(handler: HTTPGetAction, where: str, error: str) -> str:
    return f"HTTP lifecycle hook ({handler.path}) {where} failed - error: {error}"


async def _sleep_hook(handler: SleepAction, where: str, stop: asyncio.Event | None) -> str | None:
    """kubelet: handlers.go runSleepHandler."""
    if handler.seconds <= 0:
        return None
    if stop is None:
        await asyncio.sleep(handler.seconds)
        return None
    if not await wait_event(stop, handler.seconds):
        return None
    error = "container terminated before sleep hook finished"
    return f"Sleep lifecycle hook ({handler.seconds}) {where} failed - error: {error}"
