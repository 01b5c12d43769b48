"""Hostile probe targets, many times over: each gets the right result within its timeout, and
200 runs leave no file descriptor, task, child process or memory behind.

Servers are raw asyncio servers on 127.0.0.1:0 in the test's own loop, each counting its open
connections so that the measurement waits until the server side has let go too. Memory is
measured with tracemalloc after a warm-up (caches filled) and a full collection.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from minikubelet.core.spec import Container, HTTPGetAction
from minikubelet.probe.execprobe import exec_probe
from minikubelet.probe.handlerbase import MAX_OUTPUT
from minikubelet.probe.handlers import ProbeOutcome, ProbeResultKind
from minikubelet.probe.httpprobe import http_probe, http_request

SUCCESS, WARNING, FAILURE = (
    ProbeResultKind.SUCCESS,
    ProbeResultKind.WARNING,
    ProbeResultKind.FAILURE,
)
RUNS = 200
CONCURRENCY = 50
TIMEOUT = 0.3  # seconds: for the targets whose answer is a timeout
ROOMY = 2.0  # seconds: for the others, so that a loaded CI machine cannot turn them into one
MEMORY_SLACK = 48 * 1024  # bytes of growth allowed in RUNS / 2 runs (under 500 bytes a run)
Handle = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Probe = Callable[[], Awaitable[ProbeOutcome]]


class Servers:
    """Raw servers that count live connections; `idle()` waits until none is left."""

    def __init__(self) -> None:
        self.active = 0
        self._servers: list[asyncio.Server] = []

    async def start(self, handle: Handle, context: ssl.SSLContext | None = None) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.active += 1
            try:
                await handle(reader, writer)
            except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
                pass  # the prober hung up
            finally:
                writer.transport.abort()
                self.active -= 1

        server = await asyncio.start_server(tracked, "127.0.0.1", 0, ssl=context)
        self._servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    async def idle(self) -> None:
        async with asyncio.timeout(5):
            while self.active:
                await asyncio.sleep(0.01)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()


@pytest.fixture
async def servers() -> AsyncIterator[Servers]:
    s = Servers()
    yield s
    await s.close()


@dataclass
class Usage:
    fds: int
    tasks: int
    children: int
    memory: int


async def usage() -> Usage:
    # asyncio's default child watcher (outside the daemon, which uses pidfds) waits for each
    # child in a thread of its own, which ends just after it has reported the exit; on a
    # loaded machine dozens are still ending, with their frames on the heap, when a probe
    # has returned. Let them end first: they are the watcher's, not the probe's.
    async with asyncio.timeout(30):
        while any(t.name.startswith("asyncio-waitpid") for t in threading.enumerate()):
            await asyncio.sleep(0.01)
    gc.collect()
    me = psutil.Process()
    return Usage(
        fds=me.num_fds(),
        tasks=len(asyncio.all_tasks()),
        children=len(me.children(recursive=True)),
        memory=tracemalloc.get_traced_memory()[0],
    )


async def hammer(
    probe: Probe,
    check: Callable[[ProbeOutcome], None],
    servers: Servers | None = None,
    *,
    runs: int = RUNS,
    concurrency: int = CONCURRENCY,
    deadline: float = ROOMY + 10.0,
) -> None:
    """Warm up, then `runs` probes `concurrency` at a time, each checked and each finished
    within `deadline`; then nothing may have grown."""

    async def one() -> None:
        began = time.monotonic()
        out = await probe()
        assert time.monotonic() - began < deadline, out
        check(out)

    async def batch(n: int) -> None:
        for start in range(0, n, concurrency):
            await asyncio.gather(*(one() for _ in range(min(concurrency, n - start))))
        if servers is not None:
            await servers.idle()

    await batch(min(concurrency, runs))
    tracemalloc.start()
    try:
        before = await usage()
        await batch(runs // 2)
        middle = await usage()
        await batch(runs - runs // 2)
        after = await usage()
    finally:
        tracemalloc.stop()
    for later in (middle, after):
        assert later.fds <= before.fds, (before, later)
        assert later.tasks <= before.tasks, (before, later)
        assert later.children <= before.children, (before, later)
    # a leak grows the heap in both halves; a container resized once on the way does not
    grew = min(middle.memory - before.memory, after.memory - middle.memory)
    assert grew < MEMORY_SLACK, (before, middle, after)


def http(port: int, path: str = "/", scheme: str = "HTTP", timeout: float = ROOMY) -> Probe:
    request = http_request(
        HTTPGetAction(port=port, path=path, scheme=scheme), Container(name="app"), "127.0.0.1"
    )

    async def run() -> ProbeOutcome:
        return await http_probe(request, timeout)

    return run


def expect(
    result: ProbeResultKind, *, contains: str = "", equals: str | None = None
) -> Callable[[ProbeOutcome], None]:
    def check(out: ProbeOutcome) -> None:
        assert out.result == result, out
        assert contains in out.output, out
        if equals is not None:
            assert out.output == equals, out

    return check


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


# --- HTTP targets ------------------------------------------------------------------------------


async def test_server_that_never_answers(servers: Servers) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the prober hangs up

    port = await servers.start(silent)
    check = expect(FAILURE, contains="awaiting headers")
    await hammer(http(port, timeout=TIMEOUT), check, servers, deadline=TIMEOUT + 10)


async def test_headers_a_byte_at_a_time(servers: Servers) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    port = await servers.start(trickle)
    check = expect(FAILURE, contains="awaiting headers")
    await hammer(http(port, timeout=TIMEOUT), check, servers, deadline=TIMEOUT + 10)


async def test_endless_body(servers: Servers) -> None:
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        while True:  # no length, no end: until the prober hangs up
            writer.write(b"x" * 16384)
            await writer.drain()
            await asyncio.sleep(0.001)  # the server shares the loop with the probes under test

    port = await servers.start(endless)
    check = expect(SUCCESS, equals="x" * MAX_OUTPUT)
    await hammer(http(port), check, servers, concurrency=10)


def redirecting(location: Callable[[bytes], str]) -> Handle:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: the client may reuse the connection for the next hop
            head = await read_request(reader)
            path = head.split(b" ", 2)[1]
            body = b"moved"
            writer.write(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: %d\r\n\r\n%s"
                % (location(path).encode(), len(body), body)
            )
            await writer.drain()

    return handle


async def test_redirect_loop(servers: Servers) -> None:
    port = await servers.start(redirecting(lambda path: "/loop"))
    check = expect(FAILURE, equals='Get "/loop": stopped after 10 redirects')
    # eleven exchanges a probe, the server in the same loop: a roomier timeout
    await hammer(http(port, "/loop"), check, servers, concurrency=10)


async def test_redirect_to_another_host(servers: Servers) -> None:
    port = await servers.start(redirecting(lambda path: "http://192.0.2.1:9/elsewhere"))
    check = expect(WARNING, equals="Probe terminated redirects, Response body: moved")
    await hammer(http(port), check, servers, concurrency=10)


async def test_reset_connection(servers: Servers) -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # RST instead of FIN

    port = await servers.start(reset)
    await hammer(http(port), expect(FAILURE, contains="connection reset by peer"), servers)


async def test_plain_http_answer_to_https_probe(servers: Servers) -> None:
    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)  # the TLS ClientHello's first byte
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()

    port = await servers.start(plain)
    check = expect(FAILURE, contains="server gave HTTP response to HTTPS client")
    await hammer(http(port, scheme="HTTPS"), check, servers)


@pytest.fixture(scope="module")
def bad_certificate(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A self-signed certificate for another name: every check would fail it."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    args = ["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"]
    args += ["-pkeyopt", "ec_paramgen_curve:prime256v1"]
    args += ["-subj", "/CN=not-this-host.invalid", "-keyout", key, "-out", cert]
    subprocess.run(["openssl", *args], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_tls_server_with_a_bad_certificate(
    servers: Servers, bad_certificate: ssl.SSLContext
) -> None:
    """The kubelet skips certificate checks: a bad certificate is still a success."""

    async def ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()

    port = await servers.start(ok, bad_certificate)
    # a TLS handshake each, both ends in one loop: a roomier timeout
    probe = http(port, scheme="HTTPS")
    await hammer(probe, expect(SUCCESS, equals="ok"), servers, concurrency=10)


# --- exec targets ------------------------------------------------------------------------------

ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


def command(*argv: str, timeout: float = ROOMY) -> Probe:
    async def run() -> ProbeOutcome:
        return await exec_probe(argv, env=ENV, cwd=None, timeout_s=timeout)

    return run


async def test_exec_that_never_exits() -> None:
    check = expect(FAILURE, equals='command "sleep 1000" timed out')
    probe = command("sleep", "1000", timeout=TIMEOUT)
    await hammer(probe, check, concurrency=25, deadline=TIMEOUT + 10)


async def test_exec_that_leaves_a_child_and_exits() -> None:
    probe = command("sh", "-c", "sleep 1000 & echo left")
    await hammer(probe, expect(SUCCESS, equals="left\n"), concurrency=25)


async def test_exec_that_prints_a_lot() -> None:
    probe = command("head", "-c", "1000000", "/dev/zero", timeout=5)
    await hammer(probe, expect(SUCCESS, equals="\0" * MAX_OUTPUT), concurrency=10, deadline=30)


async def test_exec_that_prints_100_megabytes(tmp_path: Path) -> None:
    probe = command("head", "-c", "100000000", "/dev/zero", timeout=10)
    await hammer(
        probe, expect(SUCCESS, equals="\0" * MAX_OUTPUT), runs=4, concurrency=2, deadline=60
    )
