"""`kubectl port-forward`: the pods/portforward subresource over websockets.

Two protocols share the endpoint. kubectl 1.31+ asks for `SPDY/3.1+portforward.k8s.io` and
runs a SPDY session through the websocket (`spdy.py`): each forwarded connection is a pair
of streams (error and data) tied by a `requestid` header. Clients of the kubelet's own
websocket protocol (`v4.channel.k8s.io`, the Python client's `portforward`) name the ports in
the query and get a data and an error channel per port (`channels.py`).

Either way each connection dials the pod's port on 127.0.0.1 (pods share the host's network),
copies both ways, and when one direction ends gives the other a second, as containerd's
`portForward` does. A port nobody listens on is reported on the connection's error stream in
the kubelet's words (`error forwarding port 80 to pod ..., uid : failed to execute
portforward in network namespace ...: ... connect: connection refused`); the session goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from minikubelet.api import channels as ch
from minikubelet.api import spdy
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry
from minikubelet.api.sessions import MAX_MESSAGE, Channel, cancel, sessions, settle
from minikubelet.probe.goclient import go_errno

log = structlog.get_logger("minikubelet.api.portforward")

CHUNK = 32 * 1024
HALF_CLOSE_GRACE = 1.0  # containerd: after one direction ends, the other gets 1 s
DIAL_TIMEOUT = 10.0


def forward_error(port: int, sandbox: str, ipv4: str, ipv6: str) -> str:
    """kubelet: portforward/httpstream.go portForward wraps containerd's
    sandbox_portforward_linux.go error (the pod is its sandbox ID, the uid is empty)."""
    inner = (
        f'failed to connect to localhost:{port} inside namespace "{sandbox}", '
        f"IPv4: {ipv4} IPv6 {ipv6} "
    )
    return (
        f"error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward "
        f'in network namespace "host": {inner}'
    )


async def _dial_one(family: socket.AddressFamily, host: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(DIAL_TIMEOUT):
            await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _dial_text(network: str, addr: str, exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"dial {network} {addr}: i/o timeout"
    detail = go_errno(exc) if isinstance(exc, OSError) else str(exc)
    return f"dial {network} {addr}: connect: {detail}"


async def dial(port: int, sandbox: str) -> socket.socket:
    """containerd: tcp4 localhost, then tcp6. Raises ConnectionError with the kubelet's
    message."""
    try:
        return await _dial_one(socket.AF_INET, "127.0.0.1", port)
    except (OSError, TimeoutError) as exc4:
        err4 = _dial_text("tcp4", f"127.0.0.1:{port}", exc4)
    try:
        return await _dial_one(socket.AF_INET6, "::1", port)
    except (OSError, TimeoutError) as exc6:
        err6 = _dial_text("tcp6", f"[::1]:{port}", exc6)
    raise ConnectionError(forward_error(port, sandbox, err4, err6))


Send = Callable[[bytes], Awaitable[None]]


async def copy_connection(
    sock: socket.socket,
    incoming: asyncio.Queue[bytes | None],
    send: Send,
    send_eof: Callable[[], Awaitable[None]],
) -> None:
    """Copies the target's bytes to `send` and `incoming` (None: the client is done writing)
    to the target, until both directions end or one has ended for HALF_CLOSE_GRACE."""
    loop = asyncio.get_running_loop()

    async def upstream() -> None:
        while (chunk := await incoming.get()) is not None:
            await loop.sock_sendall(sock, chunk)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_WR)

    async def downstream() -> None:
        while chunk := await loop.sock_recv(sock, CHUNK):
            await send(chunk)
        await send_eof()

    tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
    try:
        _done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if pending:
            await asyncio.wait(pending, timeout=HALF_CLOSE_GRACE)
    finally:
        cancel(*tasks)
        await settle(*tasks)
        sock.close()


# --- the SPDY tunnel (kubectl) ----------------------------------------------------------


@dataclass(slots=True)
class _Pair:
    request_id: str
    port: int = 0
    error_id: int = 0
    data_id: int = 0
    incoming: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    data_done: bool = False  # our FIN on the data stream is sent


class SpdySession:
    """One `SPDY/3.1+portforward.k8s.io` websocket: the server side of the SPDY session."""

    def __init__(self, ws: web.WebSocketResponse, sandbox: str, channel: Channel) -> None:
        self.ws = ws
        self.sandbox = sandbox
        self.channel = channel  # for its idle clock
        self.reader = spdy.FrameReader()
        self.codec = spdy.HeaderCodec()
        self.pairs: dict[str, _Pair] = {}
        self.by_stream: dict[int, _Pair] = {}
        self._lock = asyncio.Lock()
        self.last_stream = 0

    async def write(self, frame: bytes) -> None:
        async with self._lock:
            await self.ws.send_bytes(frame)
        self.channel.touch()

    async def run(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    break  # tunneling_connection.go: only binary messages
                self.channel.touch()
                for frame in self.reader.feed(msg.data):
                    if not await self.handle(frame):
                        return
        finally:
            tasks = [p.task for p in self.pairs.values() if p.task is not None]
            cancel(*tasks)
            await settle(*tasks)

    async def handle(self, frame: spdy.Frame) -> bool:
        """False ends the session (GOAWAY)."""
        if isinstance(frame, spdy.DataFrame):
            pair = self.by_stream.get(frame.stream_id)
            if pair is not None and frame.stream_id == pair.data_id:
                if frame.data:
                    pair.incoming.put_nowait(frame.data)
                if frame.fin:
                    pair.incoming.put_nowait(None)
            return True
        if frame.type == spdy.SYN_STREAM:
            await self.syn_stream(self.codec.syn_stream(frame))
        elif frame.type == spdy.PING:
            await self.write(spdy.ping(spdy.ping_id(frame)))  # echo the client's ping
        elif frame.type == spdy.RST_STREAM:
            pair = self.by_stream.get(spdy.stream_id_of(frame))
            if pair is not None and pair.task is not None:
                pair.task.cancel()
        elif frame.type == spdy.GOAWAY:
            return False
        return True  # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do

    async def syn_stream(self, syn: spdy.SynStream) -> None:
        """kubelet: portforward/httpstream.go: streams pair up by `requestid`; the
        connection starts once both the error and the data stream are there."""
        self.last_stream = max(self.last_stream, syn.stream_id)
        headers = {k: v[0] if v else "" for k, v in syn.headers.items()}
        request_id = headers.get("requestid", "")
        kind = headers.get("streamtype", "")
        port_text = headers.get("port", "")
        await self.write(self.codec.syn_reply(syn.stream_id))
        if kind not in ("error", "data") or not port_text.isdigit() or not request_id:
            await self.write(spdy.rst_stream(syn.stream_id, spdy.RST_PROTOCOL_ERROR))
            return
        pair = self.pairs.setdefault(request_id, _Pair(request_id))
        pair.port = int(port_text)
        if kind == "error":
            pair.error_id = syn.stream_id
        else:
            pair.data_id = syn.stream_id
        self.by_stream[syn.stream_id] = pair
        if pair.error_id and pair.data_id and pair.task is None:
            pair.task = asyncio.create_task(
                self.forward(pair), name=f"portforward:{self.sandbox}/{pair.port}"
            )

    async def forward(self, pair: _Pair) -> None:
        try:
            sock = await dial(pair.port, self.sandbox)
        except ConnectionError as exc:
            log.info("port forward failed", port=pair.port, error=str(exc))
            with contextlib.suppress(Exception):
                await self.write(spdy.data(pair.error_id, str(exc).encode()))
        else:
            with contextlib.suppress(Exception):

                async def send(chunk: bytes) -> None:
                    await self.write(spdy.data(pair.data_id, chunk))

                async def send_eof() -> None:
                    pair.data_done = True
                    await self.write(spdy.data(pair.data_id, b"", fin=True))

                await copy_connection(sock, pair.incoming, send, send_eof)
        finally:
            with contextlib.suppress(Exception):
                if not pair.data_done:
                    await self.write(spdy.data(pair.data_id, b"", fin=True))
                await self.write(spdy.data(pair.error_id, b"", fin=True))
            self.pairs.pop(pair.request_id, None)
            self.by_stream.pop(pair.data_id, None)
            self.by_stream.pop(pair.error_id, None)


# --- the kubelet's websocket channels (v4) ----------------------------------------------


async def run_channels(channel: Channel, ports: list[int], sandbox: str) -> None:
    """kubelet: portforward/websocket.go handleWebSocketStreams: data channel 2i and error
    channel 2i+1 per port, each opened with the port; the session ends with its connections."""
    queues: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    for i, port in enumerate(ports):
        await channel.send(2 * i, ch.port_prefix(port))
        await channel.send(2 * i + 1, ch.port_prefix(port))

    async def one(i: int, port: int) -> None:
        try:
            sock = await dial(port, sandbox)
        except ConnectionError as exc:
            await channel.send(2 * i + 1, str(exc).encode())
            return

        async def send(chunk: bytes) -> None:
            await channel.send(2 * i, chunk)

        async def send_eof() -> None:
            pass

        await copy_connection(sock, queues[i], send, send_eof)

    async def client() -> None:
        async for msg in channel.ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                break
            channel.touch()
            number, data = ch.decode(msg.data, text=channel.text)
            if number % 2 == 0 and number // 2 < len(queues) and data:
                queues[number // 2].put_nowait(data)
        for queue in queues:
            queue.put_nowait(None)

    reader = asyncio.ensure_future(client())
    forwards = [asyncio.ensure_future(one(i, p)) for i, p in enumerate(ports)]
    everything: asyncio.Future[Any] = asyncio.gather(*forwards)
    try:
        await asyncio.wait([reader, everything], return_when="FIRST_COMPLETED")
    finally:
        cancel(reader, everything, *forwards)
        await settle(reader, everything, *forwards)


# --- the endpoint -------------------------------------------------------------------------


async def pod_deleted(request: web.Request, namespace: str, name: str) -> None:
    """Returns once the pod is gone: its sandbox, and with it every forwarded port, ends."""
    reg = registry(request)
    queue = reg.subscribe()
    try:
        if reg.get_pod(namespace, name) is None:
            return
        while True:
            event = await queue.get()
            meta = event.object.get("metadata", {})
            if (
                event.type == "DELETED"
                and event.kind == "Pod"
                and (meta.get("namespace"), meta.get("name")) == (namespace, name)
            ):
                return
    finally:
        reg.unsubscribe(queue)


async def portforward_handler(request: web.Request) -> web.StreamResponse:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    pod = registry(request).get_pod(namespace, name)
    if pod is None:
        raise se.not_found("pods", name)
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise se.bad_request("Upgrade request required")
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
    tunnel = ch.SPDY_TUNNEL in offered
    ports: list[int] = []
    if not tunnel:
        try:
            ports = ch.parse_ports(request.query.getall("ports", []))
        except ValueError as exc:
            raise se.bad_request(str(exc)) from None
    sandbox = str(pod.get("metadata", {}).get("uid", name))
    protocols = (ch.SPDY_TUNNEL,) if tunnel else ch.PORT_FORWARD_PROTOCOLS
    with sessions(request).admit() as stop:
        ws = web.WebSocketResponse(protocols=protocols, max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        channel = Channel(ws, sessions(request).limits)
        work: Any = SpdySession(ws, sandbox, channel).run() if tunnel else None
        if work is None:
            work = run_channels(channel, ports, sandbox)
        session = asyncio.ensure_future(work)
        stopped = asyncio.ensure_future(stop.wait())
        idle = asyncio.ensure_future(channel.idle(stop))
        gone = asyncio.ensure_future(pod_deleted(request, namespace, name))
        try:
            await asyncio.wait({session, stopped, idle, gone}, return_when="FIRST_COMPLETED")
        finally:
            cancel(session, stopped, idle, gone)
            await settle(session, stopped, idle, gone)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(channel.limits.close_timeout):
                    await ws.close()
        if session.done() and not session.cancelled() and session.exception() is not None:
            log.warning("port forward session failed", pod=name, error=repr(session.exception()))
    return ws


def add_routes(app: web.Application) -> None:
    path = "/api/v1/namespaces/{namespace}/pods/{name}/portforward"
    app.router.add_get(path, portforward_handler)
    app.router.add_post(path, portforward_handler)
