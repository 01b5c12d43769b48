"""`kubectl exec` and `kubectl attach`: the pods/exec and pods/attach subresources over
websockets, as the API server serves them (`v5.channel.k8s.io` through its stream translator,
v4 and older as the kubelet's websocket server).

A request is checked as the API server checks it before anything is upgraded (the pod, the
container, the command, the streams: 4xx `Status`); what the kubelet would report (a container
that is not running, a command that cannot start) comes after the upgrade as a `Status` on
the error channel, as kubectl 1.30+ sees it (`error: Internal error occurred: unable to
upgrade connection: container not found ("app")`). The exit code goes back the same way
(`command terminated with exit code 3`).

Every session is bounded (`StreamLimits`: a cap on concurrent sessions, an idle timeout), ends
when its container's process ends, when the client leaves or when the daemon stops, and always
kills and reaps what it started. Faults stay in the session: nothing raised in one reaches the
server. The framing is `channels.py`'s; processes are started by `runtime.spawn.spawn`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from minikubelet.api import channels as ch
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.logs import container_names
from minikubelet.api.registry import JSON, ContainerTarget
from minikubelet.api.sessions import (
    MAX_MESSAGE,
    SESSIONS,
    Channel,
    ChannelSink,
    Input,
    Sessions,
    StreamLimits,
    Terminal,
    cancel,
    first,
    pump_output,
    read_client,
    sessions,
    settle,
)
from minikubelet.runtime.containertty import ContainerTerminal
from minikubelet.runtime.process import ContainerProcess, StartError
from minikubelet.runtime.spawn import spawn

log = structlog.get_logger("minikubelet.api.streaming")


# --- what the API server checks before the upgrade -------------------------------------------


@dataclass(frozen=True, slots=True)
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool


def _query_bool(request: web.Request, name: str) -> bool:
    """PodExecOptions booleans, as the parameter codec reads them (strconv.ParseBool)."""
    value = request.query.get(name)
    if value is None:
        return False
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False", ""):
        return False
    raise se.bad_request(f'strconv.ParseBool: parsing "{value}": invalid syntax')


def stream_options(request: web.Request) -> StreamOptions:
    """kubelet: remotecommand NewOptions: with a TTY stderr is folded into stdout."""
    tty = _query_bool(request, "tty")
    opts = StreamOptions(
        stdin=_query_bool(request, "stdin"),
        stdout=_query_bool(request, "stdout"),
        stderr=_query_bool(request, "stderr") and not tty,
        tty=tty,
    )
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise se.bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return opts


def validate_container(pod: JSON, name: str, requested: str) -> str:
    """apiserver: pod/strategy.go validateContainer."""
    names = container_names(pod)
    if requested:
        if requested not in names:
            raise se.bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    regular = [c["name"] for c in pod.get("spec", {}).get("containers") or []]
    if len(regular) == 1:
        return str(regular[0])
    if not regular:
        raise se.bad_request(f"a container name must be specified for pod {name}")
    raise se.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
    )


def exec_command(request: web.Request) -> list[str]:
    command = request.query.getall("command", [])
    if not command:
        raise se.bad_request("you must specify at least one command for the container")
    for i, part in enumerate(command):
        if "\0" in part:
            raise se.invalid(
                "PodExecOptions",
                request.match_info["name"],
                [f"command[{i}]: Invalid value: {part!r}: must not contain a NUL byte"],
            )
    return command


def _target_pod(request: web.Request) -> tuple[str, str, JSON]:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pod = registry(request).get_pod(namespace, name)
    if pod is None:
        raise se.not_found("pods", name)
    return namespace, name, pod


def _require_websocket(request: web.Request) -> None:
    if request.headers.get("Upgrade", "").lower() != "websocket":
        # kubectl falls back to SPDY only when the websocket upgrade fails, which it does not
        raise se.bad_request("Upgrade request required")


async def _announce(channel: Channel, opts: StreamOptions) -> None:
    """apiserver: createWebSocketStreams sends an empty message on the lowest writable
    channel to tell the client the connection is established."""
    first = ch.STDOUT if opts.stdout else ch.STDERR if opts.stderr else ch.ERROR
    await channel.send(first, b"")


# --- exec ---------------------------------------------------------------------------------


def _start_error(target: ContainerTarget, exc: StartError) -> str:
    """What containerd's exec failure reads like through the kubelet."""
    cid = target.container_id.rpartition("/")[2]
    return (
        "error executing command in container: failed to exec in container: failed to start "
        f'exec "{cid}": OCI runtime exec failed: exec failed: unable to start container '
        f"process: {exc}: unknown"
    )


async def exec_handler(request: web.Request) -> web.StreamResponse:
    """GET (websocket) /api/v1/namespaces/{ns}/pods/{name}/exec; POST answers the same
    checks (kubectl's SPDY fallback) and then asks for a websocket."""
    namespace, name, pod = _target_pod(request)
    container = validate_container(pod, name, request.query.get("container", ""))
    command = exec_command(request)
    opts = stream_options(request)
    _require_websocket(request)

    async def session(channel: Channel, stop: asyncio.Event) -> None:
        target = await _lookup(request, channel, namespace, name, container)
        if target is not None:
            await run_exec(channel, target, command, opts, stop)

    return await _serve(request, opts, session, f"{namespace}/{name}/{container} exec")


async def _lookup(
    request: web.Request, channel: Channel, namespace: str, name: str, container: str
) -> ContainerTarget | None:
    """The running container, or None once the kubelet's error is reported (after the
    upgrade, as the API server's stream translator reports it)."""
    try:
        return registry(request).container_target(namespace, name, container)
    except LookupError as exc:
        message = f"unable to upgrade connection: {exc.args[0] if exc.args else exc}"
        await channel.finish(ch.internal_error_status(message))
        return None


Session = Callable[[Channel, asyncio.Event], Awaitable[None]]


async def _serve(
    request: web.Request, opts: StreamOptions, session: Session, what: str
) -> web.StreamResponse:
    """Admits, upgrades and runs one session; from the upgrade on, nothing it raises
    leaves it (the response is the websocket, whatever happens)."""
    with sessions(request).admit() as stop:
        ws = web.WebSocketResponse(
            protocols=ch.REMOTE_COMMAND_PROTOCOLS, max_msg_size=MAX_MESSAGE, autoping=True
        )
        await ws.prepare(request)
        channel = Channel(ws, sessions(request).limits)
        try:
            await _announce(channel, opts)
            await session(channel, stop)
        except Exception as exc:
            log.warning("streaming session failed", session=what, error=repr(exc))
            await channel.finish(ch.internal_error_status(str(exc) or type(exc).__name__))
        return ws


async def run_exec(
    channel: Channel,
    target: ContainerTarget,
    argv: list[str],
    opts: StreamOptions,
    stop: asyncio.Event,
) -> None:
    # with a terminal, stdout and stderr are one stream, the terminal's
    sink = ChannelSink({"stdout": ch.STDOUT, "stderr": ch.STDERR})
    terminal = Terminal() if opts.tty else None
    try:
        try:
            process = await spawn(
                argv,
                env=target.env,
                cwd=target.cwd,
                writer=sink if terminal is None else _Discard(),
                stdin=opts.stdin and terminal is None,
                terminal=terminal.slave if terminal is not None else None,
                enter=target.process.pid if target.process.mount_namespace else None,
            )
        except StartError as exc:
            await channel.finish(ch.internal_error_status(_start_error(target, exc)))
            return
        if terminal is not None:
            terminal.close_slave()
            terminal.start_reading(sink)
        else:
            sink.pause = process.pause_output
        into = _exec_input(process, terminal, opts)
        code = await _supervise(channel, sink, process, target.process, into, stop)
    finally:
        if terminal is not None:
            terminal.close()
    if code is not None:
        await channel.finish(ch.success_status() if code == 0 else ch.exit_status(code))


class _Discard:
    def feed(self, stream: str, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass


def _exec_input(process: ContainerProcess, terminal: Terminal | None, opts: StreamOptions) -> Input:
    if not opts.stdin:
        return Input(resize=terminal.resize if terminal is not None else None)
    if terminal is not None:
        return Input(write=terminal.write, resize=terminal.resize)
    return Input(write=process.write_stdin, close=process.close_stdin)


async def _supervise(
    channel: Channel,
    sink: ChannelSink,
    process: ContainerProcess,
    container: ContainerProcess,
    into: Input,
    stop: asyncio.Event,
) -> int | None:
    """Runs an exec'd process to its end; returns its exit code, or None when the client
    left (nobody to tell). The process is killed when the client leaves, the container
    stops, the session idles out or the daemon stops."""
    exited = asyncio.ensure_future(process.wait())
    output = asyncio.ensure_future(pump_output(channel, sink))
    client = asyncio.ensure_future(read_client(channel, into))
    ended = asyncio.ensure_future(container.until_exited())
    stopped = asyncio.ensure_future(stop.wait())
    idle = asyncio.ensure_future(channel.idle(stop))
    try:
        await first(exited, client, ended, stopped, idle)
        if not exited.done():
            process.kill()
        info = await asyncio.shield(exited)
        if not client.done():
            # the rest of the output, unless the client goes first
            await first(output, client, stopped, idle)
        if output.done() and not output.cancelled() and output.exception() is None:
            return info.exit_code
        return None
    finally:
        cancel(output, client, ended, stopped, idle)
        if not exited.done():
            process.kill()
        await asyncio.shield(process.wait())
        await settle(exited, output, client, ended, stopped, idle)


# --- attach -------------------------------------------------------------------------------


async def attach_handler(request: web.Request) -> web.StreamResponse:
    """GET (websocket) /api/v1/namespaces/{ns}/pods/{name}/attach: the container's output
    from now on, and its stdin when the container has `stdin: true`."""
    namespace, name, pod = _target_pod(request)
    container = validate_container(pod, name, request.query.get("container", ""))
    asked = stream_options(request)
    _require_websocket(request)

    async def session(channel: Channel, stop: asyncio.Event) -> None:
        target = await _lookup(request, channel, namespace, name, container)
        if target is not None:
            # a terminal only where the container has one (`tty: true`), as the CRI's attach
            tty = asked.tty and target.tty
            opts = StreamOptions(stdin=asked.stdin, stdout=asked.stdout,
                                 stderr=asked.stderr and not tty, tty=tty)  # fmt: skip
            await run_attach(channel, target, opts, stop)

    return await _serve(request, asked, session, f"{namespace}/{name}/{container} attach")


async def run_attach(
    channel: Channel, target: ContainerTarget, opts: StreamOptions, stop: asyncio.Event
) -> None:
    wanted = {"stdout": ch.STDOUT} if opts.stdout else {}
    if opts.stderr:
        wanted["stderr"] = ch.STDERR
    sink = ChannelSink(wanted)
    process = target.process
    detach = process.attach_output(sink.feed)
    terminal = process.terminal if opts.tty else None
    into = Input(resize=_resizer(terminal))
    if opts.stdin and target.stdin:
        # the client's end of stdin ends the container's only with stdinOnce (CRI attach)
        close = process.close_stdin if target.stdin_once else None
        into = Input(write=process.write_stdin, close=close, resize=into.resize)
    exited = asyncio.ensure_future(process.until_exited())  # the supervisor reaps it
    output = asyncio.ensure_future(pump_output(channel, sink))
    client = asyncio.ensure_future(read_client(channel, into))
    stopped = asyncio.ensure_future(stop.wait())
    idle = asyncio.ensure_future(channel.idle(stop))
    try:
        await first(exited, client, stopped, idle)
        detach()
        sink.close()
        if exited.done() and not client.done():
            await first(output, client)
    finally:
        detach()
        if target.stdin_once and opts.stdin:
            process.close_stdin()  # kubelet: stdinOnce, the first attach's end closes it
        cancel(exited, output, client, stopped, idle)
        await settle(exited, output, client, stopped, idle)
    if not client.done() or exited.done():
        await channel.finish(ch.success_status())


def _resizer(terminal: ContainerTerminal | None) -> Callable[[ch.TerminalSize], None] | None:
    if terminal is None:
        return None
    return lambda size: terminal.resize(size.width, size.height)


async def _on_shutdown(app: web.Application) -> None:
    app[SESSIONS].stop_all()


def add_routes(app: web.Application, limits: StreamLimits | None = None) -> None:
    app[SESSIONS] = Sessions(limits or StreamLimits())
    app.on_shutdown.append(_on_shutdown)
    for verb, handler in (("exec", exec_handler), ("attach", attach_handler)):
        path = f"/api/v1/namespaces/{{namespace}}/pods/{{name}}/{verb}"
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)
