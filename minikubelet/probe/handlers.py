"""Probe handlers: one async function per kind of check, as the kubelet's `pkg/probe/*`.

Each handler runs one check and returns a `ProbeOutcome` whose kind is the kubelet's
probe.Result (success, warning, failure, unknown) and whose output is the text the kubelet
would put in an event. An unhealthy target (connection refused, exit code 1, HTTP 500, a
timeout) is an outcome, never an exception; `ProbeError` means the probe itself could not run
(an unresolvable named port, a command that cannot be started), which the worker discards.
Messages are the Go client's and the kubelet's, byte for byte where events show them; the
Go client itself (dialing, HTTP/1.1, redirects) is `goclient.py`.

`hooks.py` reuses the command runner and the HTTP request builder. No state outlives a call;
threshold bookkeeping is `prober.py`'s.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from minikubelet import KUBERNETES_VERSION
from minikubelet.core.expand import expand_all
from minikubelet.core.gotext import duration as go_duration
from minikubelet.core.gotext import quote as go_quote
from minikubelet.core.spec import (
    Container,
    ExecAction,
    GRPCAction,
    Handler,
    HTTPGetAction,
    HTTPHeader,
    Probe,
    TCPSocketAction,
)
from minikubelet.probe.goclient import (
    BodyError,
    ClientError,
    Dialer,
    HTTPExchange,
    HTTPRequest,
    canonical_header_key,
    go_errno,
    join_host_port,
)
from minikubelet.runtime import watchdog
from minikubelet.runtime.process import StartError
from minikubelet.runtime.spawn import exec_in_new_session, namespace_preexec

MAX_OUTPUT = 10 * 1024  # kubelet: exec.go maxReadLength, http.go maxRespBodyLength


class ProbeResultKind(StrEnum):
    """kubelet: pkg/probe/probe.go Result."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    result: ProbeResultKind
    output: str = ""


class ProbeError(Exception):
    """The probe could not be run. `result` is the kind the kubelet reports with the error
    (`... errored and resulted in unknown state: ...`)."""

    def __init__(self, message: str, result: ProbeResultKind = ProbeResultKind.UNKNOWN) -> None:
        super().__init__(message)
        self.message = message
        self.result = result

    def __str__(self) -> str:
        return self.message


def user_agent(kind: str) -> str:
    """`kube-probe/1.34`, `kube-lifecycle/1.34` (kubelet: probe/http/request.go userAgent)."""
    major, minor = KUBERNETES_VERSION[0], KUBERNETES_VERSION[1]
    return f"kube-{kind}/{major}.{minor}"


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


# --- ports --------------------------------------------------------------------------------

_ATOI = re.compile(r"[+-]?[0-9]+")


def resolve_port(port: int | str, container: Container) -> int:
    """kubelet: pkg/probe/util.go ResolveContainerPort."""
    if isinstance(port, int):
        value = port
    else:
        named = [p.container_port for p in container.ports if p.name == port]
        value = named[0] if named else _atoi(port)
    if 0 < value < 65536:
        return value
    raise ProbeError(f"invalid port number: {value}")


def _atoi(text: str) -> int:
    """Go's strconv.Atoi, with its error texts."""
    if not _ATOI.fullmatch(text):
        raise ProbeError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise ProbeError(f"strconv.Atoi: parsing {go_quote(text)}: value out of range")
    return value


# --- exec ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int | None  # None: timed out, and the process group was killed
    stdout: bytes
    stderr: bytes

    @property
    def output(self) -> str:
        """stdout then stderr, cut at 10 KiB (kubelet: RunInContainer + LimitWriter)."""
        return _decode((self.stdout + self.stderr)[:MAX_OUTPUT])


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the first MAX_OUTPUT bytes of stdout and of stderr; the rest is read and dropped,
    so a command printing 100 MB costs 20 KiB of memory."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        buf = self.out if fd == 1 else self.err
        room = MAX_OUTPUT - len(buf)
        if room > 0:
            buf += data[:room]

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout_s: float | None,
    enter: int | None = None,
) -> CommandResult:
    """Runs argv (no shell) in a new session. On timeout, on return and on cancellation the
    whole process group is SIGKILLed and the process reaped: nothing is left behind.
    `enter`: the pid of a container in a mount namespace of its own, which the command
    joins (it sees the container's volumes, as an ExecSync in the container does).
    Raises ProbeError when the command cannot be started."""
    loop = asyncio.get_running_loop()
    transport, capture = await _spawn(loop, argv, env, cwd, enter)
    pid = transport.get_pid()
    timed_out = False
    try:
        async with asyncio.timeout(timeout_s):
            # shielded: a cancelled wait must not cancel the protocol's own futures
            await asyncio.shield(capture.exited)
            _kill_group(pid)  # children it left behind; also lets their pipes close
            await asyncio.shield(capture.closed)
    except TimeoutError:
        timed_out = True
    finally:
        if not capture.exited.done():
            _kill_group(pid)  # timed out or cancelled: the whole group goes
        transport.close()
        await _reaped(capture)
    code = None if timed_out else _exit_code(transport.get_returncode())
    return CommandResult(code, bytes(capture.out), bytes(capture.err))


async def _spawn(
    loop: asyncio.AbstractEventLoop,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    enter: int | None,
) -> tuple[asyncio.SubprocessTransport, _Capture]:
    if not argv:
        raise ProbeError("exec: no command")
    try:
        ns = namespace_preexec(mounts=(), enter=enter, cwd=cwd, scratch=None)
    except StartError as exc:
        raise ProbeError(str(exc)) from None
    try:
        transport, capture = await exec_in_new_session(
            lambda: _Capture(loop),
            argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd if ns is None else None,
            preexec_fn=ns.preexec if ns is not None else None,
        )
    except subprocess.SubprocessError:  # joining the container's namespaces failed
        reason = ns.failure() if ns is not None else ""
        raise ProbeError(reason or "cannot enter the container's namespaces") from None
    except OSError as exc:
        raise ProbeError(_start_error(argv[0], cwd, exc)) from None
    except (ValueError, UnicodeError):  # a NUL byte or a lone surrogate: execve's EINVAL
        raise ProbeError(f"fork/exec {argv[0]}: invalid argument") from None
    finally:
        if ns is not None:
            ns.close()
    watchdog.track(transport.get_pid())
    return transport, capture


def _start_error(program: str, cwd: str | None, exc: OSError) -> str:
    """Go's os/exec wording for a command that cannot start."""
    if cwd is not None and exc.filename == cwd:
        return f"chdir {cwd}: {go_errno(exc)}"
    if isinstance(exc, FileNotFoundError) and "/" not in program:
        return f"exec: {go_quote(program)}: executable file not found in $PATH"
    return f"fork/exec {program}: {go_errno(exc)}"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _reaped(capture: _Capture) -> None:
    """Waits for the child watcher to reap the process; shielded so a second cancellation
    cannot leave a zombie behind (the watcher reaps it regardless)."""
    await asyncio.shield(capture.exited)


def _exit_code(returncode: int | None) -> int:
    if returncode is None:
        return -1
    return 128 - returncode if returncode < 0 else returncode  # killed by N: 128+N, as a runtime


def static_env(container: Container) -> dict[str, str]:
    """kubelet: EnvVarsToMap, what ExpandContainerCommandOnlyStatic expands with."""
    return {var.name: var.value for var in container.env}


async def exec_probe(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout_s: float,
    enter: int | None = None,
) -> ProbeOutcome:
    """kubelet: pkg/probe/exec/exec.go Probe over the runtime's ExecSync (in the container's
    mount namespace when it has one: `enter`)."""
    res = await run_command(argv, env=env, cwd=cwd, timeout_s=timeout_s, enter=enter)
    if res.exit_code is None:
        # kubelet: remote_runtime.go ExecSync turns DeadlineExceeded into this TimeoutError
        return ProbeOutcome(
            ProbeResultKind.FAILURE, f"command {go_quote(' '.join(argv))} timed out"
        )
    kind = ProbeResultKind.SUCCESS if res.exit_code == 0 else ProbeResultKind.FAILURE
    return ProbeOutcome(kind, res.output)


# --- tcp --------------------------------------------------------------------------------


async def tcp_probe(host: str, port: int, timeout_s: float) -> ProbeOutcome:
    """kubelet: pkg/probe/tcp/tcp.go DoTCPProbe: connect, close, nothing sent."""
    if not 0 <= port <= 65535:
        return ProbeOutcome(ProbeResultKind.FAILURE, f"dial tcp: address {port}: invalid port")
    dialer = Dialer()
    try:
        async with asyncio.timeout(timeout_s):
            sock = await dialer.dial(host, port)
    except TimeoutError:
        return ProbeOutcome(ProbeResultKind.FAILURE, f"dial tcp {dialer.addr}: i/o timeout")
    except ClientError as exc:
        return ProbeOutcome(ProbeResultKind.FAILURE, str(exc))
    sock.close()
    return ProbeOutcome(ProbeResultKind.SUCCESS, "")


# --- http --------------------------------------------------------------------------------


def build_headers(headers: Sequence[HTTPHeader], agent: str) -> dict[str, tuple[str, ...]]:
    """kubelet: request.go newProbeRequest: http.Header.Add for each, then the defaults."""
    out: dict[str, tuple[str, ...]] = {}
    for header in headers:
        key = canonical_header_key(header.name)
        out[key] = (*out.get(key, ()), header.value)
    if "User-Agent" not in out:
        out["User-Agent"] = (user_agent(agent),)
    if "Accept" not in out:
        out["Accept"] = ("*/*",)
    elif out["Accept"][0] == "":
        del out["Accept"]
    return out


def format_url(scheme: str, host: str, port: int, path: str) -> str:
    """kubelet: request.go formatURL (url.Parse(path) with scheme and host:port set)."""
    rest, hash_, fragment = path.partition("#")
    rest, qmark, query = rest.partition("?")
    escaped = quote(rest, safe="/!$&'()*+,;=:@%~")
    if escaped and not escaped.startswith("/"):
        escaped = "/" + escaped
    return f"{scheme}://{join_host_port(host, port)}{escaped}{qmark}{query}{hash_}{fragment}"


def http_request(
    action: HTTPGetAction, container: Container, pod_ip: str, agent: str = "probe"
) -> HTTPRequest:
    """kubelet: request.go NewRequestForHTTPGetAction. Raises ProbeError for a bad port."""
    scheme = action.scheme.lower() or "http"
    port = resolve_port(action.port, container)
    url = format_url(scheme, action.host or pod_ip, port, action.path)
    return HTTPRequest(url=url, headers=build_headers(action.http_headers, agent))


def _evaluate(status: int, body: bytes) -> ProbeOutcome:
    """kubelet: http.go DoHTTPProbe."""
    if 200 <= status < 400:
        if status >= 300:
            text = f"Probe terminated redirects, Response body: {_decode(body)}"
            return ProbeOutcome(ProbeResultKind.WARNING, text)
        return ProbeOutcome(ProbeResultKind.SUCCESS, _decode(body))
    # kubelet: the body is deliberately left out of the failure message (issue 99425)
    return ProbeOutcome(ProbeResultKind.FAILURE, f"HTTP probe failed with statuscode: {status}")


_BODY_TIMEOUT = (
    "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
)


async def http_probe(request: HTTPRequest, timeout_s: float) -> ProbeOutcome:
    """kubelet: http.go Probe/DoHTTPProbe. The whole exchange, redirects and body included,
    is bounded by `timeout`. A failed body read is a probe error, as upstream."""
    exchange = HTTPExchange(request)
    try:
        async with asyncio.timeout(timeout_s):
            resp = await exchange.response()
            body = await exchange.body(resp, MAX_OUTPUT)
    except TimeoutError:
        if exchange.phase == "body":
            raise ProbeError(_BODY_TIMEOUT, ProbeResultKind.FAILURE) from None
        return ProbeOutcome(ProbeResultKind.FAILURE, exchange.timeout_message())
    except ClientError as exc:
        return ProbeOutcome(ProbeResultKind.FAILURE, str(exc))
    except BodyError as exc:
        raise ProbeError(str(exc), ProbeResultKind.FAILURE) from None
    finally:
        exchange.close()
    return _evaluate(resp.status, body)


# --- gRPC ---------------------------------------------------------------------------------

_GO_CODE_NAMES = {"CANCELLED": "Canceled", "OK": "OK"}


def _go_code(name: str) -> str:
    """grpc-go's codes.Code String(): NOT_FOUND -> NotFound."""
    return _GO_CODE_NAMES.get(name) or "".join(p.capitalize() for p in name.split("_"))


async def grpc_probe(host: str, port: int, service: str, timeout_s: float) -> ProbeOutcome:
    """kubelet: pkg/probe/grpc/grpc.go Probe: grpc.health.v1.Health/Check, SERVING is
    success, everything else a failure with the kubelet's message. Needs minikubelet[grpc]."""
    try:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc
    except ImportError:
        raise ProbeError("gRPC probes need the grpc extra: pip install minikubelet[grpc]") from None
    addr = join_host_port(host, port)
    options = [("grpc.primary_user_agent", user_agent("probe"))]
    channel = grpc.aio.insecure_channel(addr, options=options)
    try:
        return await _grpc_check(channel, health_pb2, health_pb2_grpc, addr, service, timeout_s)
    finally:
        await channel.close()


async def _grpc_check(
    channel: Any, pb2: Any, pb2_grpc: Any, addr: str, service: str, timeout_s: float
) -> ProbeOutcome:
    import grpc

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        async with asyncio.timeout(timeout_s):
            await channel.channel_ready()  # grpc.WithBlock
    except TimeoutError:
        text = (
            f"timeout: failed to connect service {go_quote(addr)} within {go_duration(timeout_s)}"
        )
        return _grpc_failure(f"{text}: context deadline exceeded")
    stub = pb2_grpc.HealthStub(channel)
    try:
        remaining = max(deadline - loop.time(), 0.001)
        resp = await stub.Check(pb2.HealthCheckRequest(service=service), timeout=remaining)
    except grpc.aio.AioRpcError as exc:
        return _grpc_failure(_grpc_rpc_error(exc.code(), exc.details() or "", timeout_s))
    status = pb2.HealthCheckResponse.ServingStatus.Name(resp.status)
    if resp.status != pb2.HealthCheckResponse.SERVING:
        return _grpc_failure(f"service unhealthy (responded with {go_quote(status)})")
    return ProbeOutcome(ProbeResultKind.SUCCESS, "service healthy")


def _grpc_failure(text: str) -> ProbeOutcome:
    return ProbeOutcome(ProbeResultKind.FAILURE, text)


def _grpc_rpc_error(code: Any, details: str, timeout_s: float) -> str:
    name = code.name
    if name == "UNIMPLEMENTED":
        protocol = "the grpc health protocol (grpc.health.v1.Health)"
        return f"error: this server does not implement {protocol}: {details}"
    if name == "DEADLINE_EXCEEDED":
        return f"timeout: health rpc did not complete within {go_duration(timeout_s)}"
    return f"error: health rpc probe failed: rpc error: code = {_go_code(name)} desc = {details}"


# --- dispatch -----------------------------------------------------------------------------


def handler_name(handler: Handler) -> str:
    """The handler's field name in the API, for metric labels."""
    if isinstance(handler, ExecAction):
        return "exec"
    if isinstance(handler, HTTPGetAction):
        return "httpGet"
    if isinstance(handler, TCPSocketAction):
        return "tcpSocket"
    return "grpc" if isinstance(handler, GRPCAction) else "sleep"


async def run_probe(
    probe: Probe,
    *,
    container: Container,
    env: Mapping[str, str],
    cwd: str | None,
    pod_ip: str = "127.0.0.1",
    enter: int | None = None,
) -> ProbeOutcome:
    """kubelet: prober.go runProbe: one run of the probe's handler with its timeout.
    `enter`: the container's pid when it runs in a mount namespace of its own."""
    timeout_s = float(probe.timeout_seconds)
    handler = probe.handler
    if isinstance(handler, ExecAction):
        argv = expand_all(handler.command, static_env(container))
        return await exec_probe(argv, env=env, cwd=cwd, timeout_s=timeout_s, enter=enter)
    if isinstance(handler, HTTPGetAction):
        return await http_probe(http_request(handler, container, pod_ip), timeout_s)
    if isinstance(handler, TCPSocketAction):
        port = resolve_port(handler.port, container)
        return await tcp_probe(handler.host or pod_ip, port, timeout_s)
    if isinstance(handler, GRPCAction):
        return await grpc_probe(pod_ip, handler.port, handler.service or "", timeout_s)
    raise ProbeError(f"missing probe handler for {container.name}")
