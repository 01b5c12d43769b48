"""httpGet probes against real servers on 127.0.0.1 (upstream http_test.go, request_test.go:
cases 1-23 of the reference)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from minikubelet.core.spec import Container, ContainerPort, HTTPGetAction, HTTPHeader, Probe
from minikubelet.probe.goclient import canonical_header_key
from minikubelet.probe.handlerbase import MAX_OUTPUT
from minikubelet.probe.handlers import ProbeError, ProbeOutcome, ProbeResultKind, run_probe
from minikubelet.probe.httpprobe import build_headers, format_url

SUCCESS, WARNING, FAILURE = (
    ProbeResultKind.SUCCESS,
    ProbeResultKind.WARNING,
    ProbeResultKind.FAILURE,
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[dict[str, Handler]], Awaitable[int]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Starts aiohttp servers on 127.0.0.1:0 from {path: handler}; returns the port."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler]) -> int:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_get(path, handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.base_events.Server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def raw_server() -> AsyncIterator[Callable[..., Awaitable[int]]]:
    """Starts a plain asyncio server running `handle(reader, writer)`; returns the port."""
    servers: list[asyncio.base_events.Server] = []
    tasks: set[asyncio.Task[None]] = set()

    async def start(
        handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ) -> int:
        async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await handle(reader, writer)
            finally:
                writer.transport.abort()

        server = await asyncio.start_server(tracked, "127.0.0.1", 0)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for server in servers:
        await server.wait_closed()


async def probe(
    port: int | str,
    path: str = "/",
    *,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    timeout: int = 1,
    host: str = "",
    container: Container | None = None,
) -> ProbeOutcome:
    pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    action = HTTPGetAction(
        port=port,
        path=path,
        host=host,
        http_headers=tuple(HTTPHeader(name=n, value=v) for n, v in pairs),
    )
    spec = Probe(handler=action, timeout_seconds=timeout)
    return await run_probe(spec, container=container or Container(name="app"), env={}, cwd=None)


def text(body: str, status: int = 200) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text=body, status=status)

    return handle


def redirect(location: str, status: int = 302) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": location}, text="moved")

    return handle


async def echo_headers(request: web.Request) -> web.Response:
    lines = [f"{k}: {v}" for k, v in request.headers.items()]
    return web.Response(text="\n".join(lines))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- cases 1-9: results and headers ---------------------------------------------------------


async def test_case1_ok_body(serve: Serve) -> None:
    port = await serve({"/": text("ok body")})
    assert await probe(port) == ProbeOutcome(SUCCESS, "ok body")


async def test_case2_custom_header_sent(serve: Serve) -> None:
    port = await serve({"/": echo_headers})
    out = await probe(port, headers={"X-Muffins-Or-Cupcakes": "muffins"})
    assert out.result == SUCCESS
    assert "X-Muffins-Or-Cupcakes: muffins" in out.output.splitlines()


async def test_case3_user_agent_given_is_sent_as_is(serve: Serve) -> None:
    port = await serve({"/": echo_headers})
    out = await probe(port, headers={"User-Agent": "foo/1.0"})
    assert "User-Agent: foo/1.0" in out.output.splitlines()
    assert "kube-probe" not in out.output


async def test_case4_empty_user_agent_sends_none(serve: Serve) -> None:
    port = await serve({"/": echo_headers})
    out = await probe(port, headers={"User-Agent": ""})
    assert out.result == SUCCESS
    assert "User-Agent" not in out.output


async def test_case5_default_headers(serve: Serve) -> None:
    port = await serve({"/": echo_headers})
    lines = (await probe(port)).output.splitlines()
    assert "User-Agent: kube-probe/1.34" in lines
    assert "Accept: */*" in lines
    assert "Connection: close" in lines  # no keep-alive
    assert f"Host: 127.0.0.1:{port}" in lines
    assert not any(line.startswith("Accept-Encoding") for line in lines)  # no gzip


async def test_empty_accept_removes_it(serve: Serve) -> None:
    port = await serve({"/": echo_headers})
    out = await probe(port, headers={"Accept": ""})
    assert "Accept" not in out.output


async def test_case6_host_header_is_the_virtual_host(serve: Serve) -> None:
    async def host(request: web.Request) -> web.Response:
        return web.Response(text=request.host)

    port = await serve({"/": host})
    out = await probe(port, headers={"Host": "muffins.cupcakes.org"})
    assert out == ProbeOutcome(SUCCESS, "muffins.cupcakes.org")


async def test_case7_aborted_response_is_a_failure(
    raw_server: Callable[..., Awaitable[int]],
) -> None:
    async def abort(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    port = await raw_server(abort)
    out = await probe(port, "/x")
    assert out == ProbeOutcome(FAILURE, f'Get "http://127.0.0.1:{port}/x": EOF')


async def test_case8_server_error(serve: Serve) -> None:
    port = await serve({"/": text("fail body", status=500)})
    assert await probe(port) == ProbeOutcome(FAILURE, "HTTP probe failed with statuscode: 500")


async def test_case9_slow_server_times_out(serve: Serve) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(60)
        return web.Response(text="late")

    port = await serve({"/": slow})
    began = time.monotonic()
    out = await probe(port, "/", timeout=1)
    assert time.monotonic() - began < 10  # the timeout ended it, not the server
    expected = (
        f'Get "http://127.0.0.1:{port}/": context deadline exceeded '
        "(Client.Timeout exceeded while awaiting headers)"
    )
    assert out == ProbeOutcome(FAILURE, expected)


async def test_connection_refused_message() -> None:
    port = free_port()
    out = await probe(port, "/healthz")
    expected = (
        f'Get "http://127.0.0.1:{port}/healthz": dial tcp 127.0.0.1:{port}: '
        "connect: connection refused"
    )
    assert out == ProbeOutcome(FAILURE, expected)


async def test_status_399_success_and_100s_skipped(
    raw_server: Callable[..., Awaitable[int]],
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    port = await raw_server(answer)
    assert await probe(port) == ProbeOutcome(SUCCESS, "")


async def test_malformed_response(raw_server: Callable[..., Awaitable[int]]) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"garbage\r\n\r\n")
        writer.close()

    port = await raw_server(garbage)
    out = await probe(port)
    broken = "net/http: HTTP/1.x transport connection broken"
    assert (
        out.output == f'Get "http://127.0.0.1:{port}/": {broken}: malformed HTTP response "garbage"'
    )


async def test_path_with_query_is_kept(serve: Serve) -> None:
    async def query(request: web.Request) -> web.Response:
        return web.Response(text=request.path_qs)

    port = await serve({"/q": query})
    assert await probe(port, "/q?a=1&b") == ProbeOutcome(SUCCESS, "/q?a=1&b")


async def test_named_port(serve: Serve) -> None:
    port = await serve({"/": text("named")})
    container = Container(name="app", ports=(ContainerPort(container_port=port, name="http"),))
    assert await probe("http", container=container) == ProbeOutcome(SUCCESS, "named")


async def test_unresolvable_named_port_is_an_error() -> None:
    with pytest.raises(ProbeError) as caught:
        await probe("http")
    assert str(caught.value) == 'strconv.Atoi: parsing "http": invalid syntax'


# --- cases 10-17: redirects -------------------------------------------------------------------


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_case10_redirect_followed(serve: Serve, code: int) -> None:
    port = await serve({"/": redirect("/new", code), "/new": text("new")})
    assert await probe(port) == ProbeOutcome(SUCCESS, "new")


@pytest.mark.parametrize("code", [301, 302, 307, 308])
async def test_case11_redirect_to_failure(serve: Serve, code: int) -> None:
    port = await serve({"/": redirect("/new", code), "/new": text("bad", 500)})
    assert await probe(port) == ProbeOutcome(FAILURE, "HTTP probe failed with statuscode: 500")


async def test_case12_13_same_server_redirects(serve: Serve) -> None:
    routes = {
        "/to-success": redirect("/success"),
        "/to-fail": redirect("/fail"),
        "/success": text("yes"),
        "/fail": text("no", 500),
    }
    port = await serve(routes)
    assert (await probe(port, "/to-success")).result == SUCCESS
    assert (await probe(port, "/to-fail")).result == FAILURE


async def test_case14_other_port_same_host_is_followed(serve: Serve) -> None:
    other = await serve({"/success": text("other"), "/fail": text("no", 500)})
    routes = {
        "/ok": redirect(f"http://127.0.0.1:{other}/success"),
        "/bad": redirect(f"http://127.0.0.1:{other}/fail"),
    }
    port = await serve(routes)
    assert await probe(port, "/ok") == ProbeOutcome(SUCCESS, "other")
    assert (await probe(port, "/bad")).result == FAILURE


async def test_case15_other_host_is_not_followed(serve: Serve) -> None:
    port = await serve({"/": redirect("http://0.0.0.0/fail")})
    out = await probe(port)
    assert out == ProbeOutcome(WARNING, "Probe terminated redirects, Response body: moved")


async def test_redirect_without_location_is_a_warning(serve: Serve) -> None:
    async def bare(request: web.Request) -> web.Response:
        return web.Response(status=302, text="")

    port = await serve({"/": bare})
    assert await probe(port) == ProbeOutcome(WARNING, "Probe terminated redirects, Response body: ")


async def test_case16_redirect_loop(serve: Serve) -> None:
    port = await serve({"/loop": redirect("/loop")})
    out = await probe(port, "/loop")
    assert out == ProbeOutcome(FAILURE, 'Get "/loop": stopped after 10 redirects')


async def hop(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    if n == 0:
        return web.Response(text="landed")
    return web.Response(status=302, headers={"Location": f"/hop/{n - 1}"})


@pytest.mark.parametrize(("hops", "result"), [(9, SUCCESS), (10, FAILURE)])
async def test_redirect_cap_is_ten_requests(
    serve: Serve, hops: int, result: ProbeResultKind
) -> None:
    port = await serve({"/hop/{n}": hop})
    assert (await probe(port, f"/hop/{hops}")).result == result


@pytest.mark.parametrize(
    ("vhost", "result"), [("www.success.com", SUCCESS), ("www.fail.com", FAILURE)]
)
async def test_case17_host_kept_across_redirect(
    serve: Serve, vhost: str, result: ProbeResultKind
) -> None:
    async def check(request: web.Request) -> web.Response:
        return web.Response(status=200 if request.host == "www.success.com" else 500)

    port = await serve({"/redirect": redirect("/success"), "/success": check})
    assert (await probe(port, "/redirect", headers={"Host": vhost})).result == result


# --- cases 18-19: the body cut, and an exchange bounded in time -------------------------------


@pytest.mark.parametrize("size", [MAX_OUTPUT + 1, MAX_OUTPUT - 1, 5 * 1024 * 1024])
async def test_case18_19_body_is_cut_at_10k(serve: Serve, size: int) -> None:
    body = ("0123456789" * (size // 10 + 1))[:size]
    port = await serve({"/": text(body)})
    assert await probe(port) == ProbeOutcome(SUCCESS, body[:MAX_OUTPUT])


async def test_endless_chunked_body_ends_at_the_cut(serve: Serve) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            while True:  # until the prober hangs up
                await resp.write(b"x" * 1000)
        except ConnectionError:
            pass
        return resp

    port = await serve({"/": endless})
    out = await probe(port)
    assert out == ProbeOutcome(SUCCESS, "x" * MAX_OUTPUT)


async def test_headers_a_byte_a_second_time_out(raw_server: Callable[..., Awaitable[int]]) -> None:
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n":
            writer.write(bytes([byte]))
            await asyncio.sleep(1)

    port = await raw_server(trickle)
    began = time.monotonic()
    out = await probe(port, timeout=1)
    assert time.monotonic() - began < 10  # the timeout ended it: the headers take 38 s
    assert out.result == FAILURE
    assert out.output.endswith("(Client.Timeout exceeded while awaiting headers)")


async def test_slow_body_is_a_probe_error(raw_server: Callable[..., Awaitable[int]]) -> None:
    async def slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        await asyncio.sleep(60)

    port = await raw_server(slow_body)
    began = time.monotonic()
    with pytest.raises(ProbeError) as caught:
        await probe(port, timeout=1)
    assert time.monotonic() - began < 10  # the timeout ended it, not the server
    assert caught.value.result == FAILURE  # kubelet: DoHTTPProbe returns Failure with the error
    expected = (
        "context deadline exceeded (Client.Timeout or context cancellation while reading body)"
    )
    assert str(caught.value) == expected


# --- cases 20-22: URL and headers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "host", "port", "path", "url"),
    [
        ("http", "localhost", 93, "", "http://localhost:93"),
        ("https", "localhost", 93, "/path", "https://localhost:93/path"),
        ("http", "localhost", 93, "?foo", "http://localhost:93?foo"),
        ("https", "localhost", 93, "/path?bar", "https://localhost:93/path?bar"),
        ("http", "hostname", 76, "path", "http://hostname:76/path"),
        ("http", "::1", 80, "/", "http://[::1]:80/"),
    ],
)
def test_case20_format_url(scheme: str, host: str, port: int, path: str, url: str) -> None:
    assert format_url(scheme, host, port, path) == url


def test_case21_header_names_canonicalised() -> None:
    given = (HTTPHeader(name="HOST", value="example.com"), HTTPHeader(name="FOO-bAR", value="v"))
    headers = build_headers(given, "probe")
    assert headers["Host"] == ("example.com",)
    assert headers["Foo-Bar"] == ("v",)
    assert canonical_header_key("x forwarded") == "x forwarded"  # invalid names kept as is


def test_case22_header_values_accumulate() -> None:
    pairs = [
        ("accept", "application/json"),
        ("Accept", "*/*"),
        ("pragma", "no-cache"),
        ("X-forwarded-for", "username"),
    ]
    headers = build_headers(tuple(HTTPHeader(name=n, value=v) for n, v in pairs), "probe")
    assert headers["Accept"] == ("application/json", "*/*")
    assert headers["Pragma"] == ("no-cache",)
    assert headers["X-Forwarded-For"] == ("username",)
    assert headers["User-Agent"] == ("kube-probe/1.34",)


async def test_repeated_header_sent_twice(serve: Serve) -> None:
    async def accepts(request: web.Request) -> web.Response:
        return web.Response(text=",".join(request.headers.getall("Accept")))

    port = await serve({"/": accepts})
    out = await probe(port, headers=[("accept", "application/json"), ("Accept", "text/plain")])
    assert out == ProbeOutcome(SUCCESS, "application/json,text/plain")


# --- case 23: no proxy ------------------------------------------------------------------------


async def test_case23_proxy_environment_is_ignored(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxied: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        proxied.append(str(request.url))
        return web.Response(text="via proxy")

    proxy_port = await serve({"/{tail:.*}": proxy})
    target = await serve({"/": text("direct")})
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy_port}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    assert await probe(target) == ProbeOutcome(SUCCESS, "direct")
    assert proxied == []


# --- HTTPS: no certificate check -------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = str(where / "cert.pem"), str(where / "key.pem")
    args = ["req", "-x509", "-nodes", "-days", "1", "-newkey", "ec"]
    args += ["-pkeyopt", "ec_paramgen_curve:prime256v1"]
    args += ["-subj", "/CN=minikubelet-test", "-keyout", key, "-out", cert]
    subprocess.run(["openssl", *args], check=True, capture_output=True)
    return cert, key


async def test_https_without_certificate_check(self_signed: tuple[str, str]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed)
    app = web.Application()
    app.router.add_get("/", text("secure"))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context).start()
        port = runner.addresses[0][1]
        action = HTTPGetAction(port=port, scheme="HTTPS")
        out = await run_probe(
            Probe(handler=action), container=Container(name="a"), env={}, cwd=None
        )
    finally:
        await runner.cleanup()
    assert out == ProbeOutcome(SUCCESS, "secure")


async def test_https_probe_of_a_plain_http_server(serve: Serve) -> None:
    port = await serve({"/": text("plain")})
    action = HTTPGetAction(port=port, scheme="HTTPS")
    out = await run_probe(Probe(handler=action), container=Container(name="a"), env={}, cwd=None)
    expected = f'Get "https://127.0.0.1:{port}/": http: server gave HTTP response to HTTPS client'
    assert out == ProbeOutcome(FAILURE, expected)
