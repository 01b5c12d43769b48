"""Go client behaviour the kubelet's probes and hooks depend on, with Go's error texts.

A dialer like `net.Dial("tcp")` and an HTTP/1.1 GET client like the kubelet's probe transport
(`http.Transport{DisableKeepAlives, DisableCompression, Proxy: nil, InsecureSkipVerify}` with
`RedirectChecker(false)`): no proxy from the environment, no keep-alive, no gzip, header names
canonicalised as textproto does, same-hostname redirects followed up to 10, a redirect to another
host returned as the answer, bodies read up to a limit. It is written on asyncio streams rather
than aiohttp because each of those rules is a line here and a workaround there, and it costs a
fraction of a millisecond of CPU per request. Errors are formatted as Go prints them
(`Get "http://127.0.0.1:8080/": dial tcp 127.0.0.1:8080: connect: connection refused`), since
they end up verbatim in events. Knows nothing of probes: `probes.py` and `hooks.py` use it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from minikubelet.core.gotext import quote as go_quote

MAX_REDIRECTS = 10  # Go http.Client default, kept by the kubelet's RedirectChecker
MAX_HEADER_BYTES = 1 << 20  # Go http.Transport default MaxResponseHeaderBytes
_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})  # Go client.go redirectBehavior

# --- Go formatting ------------------------------------------------------------------------


def go_errno(exc: OSError) -> str:
    """Go prints syscall errors in lower case: `connection refused`."""
    if exc.errno is None:
        return str(exc)
    text = os.strerror(exc.errno)
    return text[:1].lower() + text[1:]


def join_host_port(host: str, port: int | str) -> str:
    """Go's net.JoinHostPort."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- dialing ------------------------------------------------------------------------------


class ClientError(Exception):
    """A Go client error, already formatted (`Get "...": dial tcp ...`)."""


class Dialer:
    """Go's net.Dial("tcp"): tries each address in turn and reports the first error.
    `addr` is the address being dialed, for `i/o timeout` messages."""

    def __init__(self) -> None:
        self.addr = ""

    async def dial(self, host: str, port: int) -> socket.socket:
        first: ClientError | None = None
        for family, sockaddr in await self._resolve(host, port):
            self.addr = join_host_port(sockaddr[0], port)
            try:
                return await self._connect(family, sockaddr)
            except OSError as exc:
                first = first or ClientError(f"dial tcp {self.addr}: connect: {go_errno(exc)}")
        assert first is not None
        raise first

    async def _resolve(self, host: str, port: int) -> list[tuple[int, Any]]:
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            return [(family, (host, port))]
        self.addr = join_host_port(host, port)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise ClientError(f"dial tcp: lookup {host}: no such host") from None
        return [(info[0], info[4]) for info in infos]

    @staticmethod
    async def _connect(family: int, sockaddr: Any) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await asyncio.get_running_loop().sock_connect(sock, sockaddr)
        except BaseException:
            sock.close()
            raise
        return sock


# --- HTTP: the request --------------------------------------------------------------------

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def canonical_header_key(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `FOO-bAR` -> `Foo-Bar`; invalid names as is."""
    if not name or any(ch not in _TOKEN for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


@dataclass(frozen=True, slots=True)
class HTTPRequest:
    url: str  # as Go prints it: `http://127.0.0.1:8080/healthz`
    headers: Mapping[str, tuple[str, ...]]  # canonical names, values accumulated in order

    @property
    def virtual_host(self) -> str:
        """kubelet: http.go: a non-empty Host header becomes the request's Host."""
        values = self.headers.get("Host", ())
        return values[0] if values else ""


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    scheme: str
    hostname: str  # as written, case kept: the redirect checker compares it
    hostport: str
    port: int
    request_uri: str


def _target(url: str) -> _Target:
    parts = urlsplit(url)
    hostname, port_text = _split_hostport(parts.netloc.rpartition("@")[2])
    default = 443 if parts.scheme == "https" else 80
    port = int(port_text) if port_text.isdigit() else default
    uri = (parts.path or "/") + (f"?{parts.query}" if parts.query or url.endswith("?") else "")
    hostport = join_host_port(hostname, port_text) if port_text else hostname
    return _Target(url, parts.scheme, hostname, hostport, port, uri)


def _split_hostport(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = netloc.partition(":")
    return host, port


def _request_bytes(target: _Target, vhost: str, headers: Mapping[str, tuple[str, ...]]) -> bytes:
    """Go's Request.write: Host, User-Agent (first value; none when empty), the rest sorted."""
    lines = [f"GET {target.request_uri} HTTP/1.1", f"Host: {vhost or target.hostport}"]
    agent = headers.get("User-Agent", ("",))[0]
    if agent:
        lines.append(f"User-Agent: {agent}")
    lines.append("Connection: close")  # keep-alives disabled (kubelet: http.go New)
    for name in sorted(headers):
        if name not in ("Host", "User-Agent"):
            lines.extend(f"{name}: {value.strip()}" for value in headers[name])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _check_headers(headers: Mapping[str, tuple[str, ...]]) -> str | None:
    """Go's Transport.roundTrip header checks."""
    for name, values in headers.items():
        if not name or any(ch not in _TOKEN for ch in name):
            return f"net/http: invalid header field name {go_quote(name)}"
        if any(_BAD_VALUE.search(v) for v in values):
            return f"net/http: invalid header field value for {go_quote(name)}"
    return None


# --- HTTP: the exchange -------------------------------------------------------------------

_TLS: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """InsecureSkipVerify, as the kubelet's probe transport (kubelet: http.go New)."""
    global _TLS
    if _TLS is None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        _TLS = ctx
    return _TLS


class BodyError(Exception):
    """The response body could not be read (the kubelet reports it as a probe error)."""


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names, first value
    reader: asyncio.StreamReader


class HTTPExchange:
    """One GET with its redirects, the way the kubelet's Go client does it: no proxy, no
    keep-alive, no compression; same-hostname redirects followed up to 10, others returned as
    they are (kubelet: http.go RedirectChecker(false)). `phase` says what a timeout interrupted.
    Call `close()` when done."""

    def __init__(self, request: HTTPRequest) -> None:
        self.request = request
        self.phase = "dial"  # dial | headers | body
        self.url = request.url
        self._dialer = Dialer()
        self._writer: asyncio.StreamWriter | None = None

    async def response(self) -> Response:
        """The final response, head read, body not; raises ClientError."""
        first = target = _target(self.request.url)
        vhost, headers, via = self.request.virtual_host, dict(self.request.headers), 0
        while True:
            resp = await self._round_trip(target, vhost, headers)
            location = resp.headers.get("location", "")
            if resp.status not in _REDIRECT_CODES or not location:
                return resp
            nxt = _redirect_target(target, location)
            if nxt.hostname != first.hostname:
                return resp  # ErrUseLastResponse: the 3xx is the answer
            via += 1
            if via >= MAX_REDIRECTS:
                stopped = f"stopped after {MAX_REDIRECTS} redirects"
                raise ClientError(f"Get {go_quote(location)}: {stopped}")
            vhost = _redirect_host(vhost, target, location)
            headers["Referer"] = (target.url,)
            target = nxt

    async def _round_trip(
        self, target: _Target, vhost: str, headers: Mapping[str, tuple[str, ...]]
    ) -> Response:
        self.close()
        self.url, self.phase = target.url, "dial"
        problem = _check_headers(headers)
        if target.scheme not in ("http", "https"):
            problem = f"unsupported protocol scheme {go_quote(target.scheme)}"
        if problem:
            raise ClientError(f"Get {go_quote(target.url)}: {problem}")
        reader = await self._connect(target)
        self.phase = "headers"
        assert self._writer is not None
        self._writer.write(_request_bytes(target, vhost, headers))
        status, head = await self._read_head(reader)
        return Response(status, head, reader)

    async def _connect(self, target: _Target) -> asyncio.StreamReader:
        try:
            sock = await self._dialer.dial(target.hostname, target.port)
        except ClientError as exc:
            raise ClientError(f"Get {go_quote(target.url)}: {exc}") from None
        tls = _tls() if target.scheme == "https" else None
        try:
            reader, self._writer = await asyncio.open_connection(
                sock=sock,
                ssl=tls,
                server_hostname=target.hostname if tls else None,
                limit=MAX_HEADER_BYTES,
            )
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise self._error(_tls_error(exc)) from None
        return reader

    async def _read_head(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
        try:
            while True:
                status, head = await _read_status(reader), await _read_fields(reader)
                if not 100 <= status < 200 or status == 101:  # Go skips 1xx but 101
                    return status, head
        except OSError as exc:
            raise self._error(self._read_error(exc)) from None
        except BodyError as exc:
            raise self._error(str(exc)) from None

    async def body(self, resp: Response, limit: int) -> bytes:
        """At most `limit` bytes of the body (kubelet: ReadAtMost); raises BodyError."""
        self.phase = "body"
        try:
            return await _read_body(resp, limit)
        except OSError as exc:
            raise BodyError(self._read_error(exc)) from None

    def timeout_message(self) -> str:
        """Go's client timeout errors, before the response head arrived."""
        if self.phase == "dial" and self._dialer.addr:
            what = f"dial tcp {self._dialer.addr}: i/o timeout"
        else:
            what = "context deadline exceeded"
        return f"Get {go_quote(self.url)}: {what} (Client.Timeout exceeded while awaiting headers)"

    def close(self) -> None:
        if self._writer is not None:
            self._writer.transport.abort()
            self._writer = None

    def _error(self, message: str) -> ClientError:
        return ClientError(f"Get {go_quote(self.url)}: {message}")

    def _read_error(self, exc: OSError) -> str:
        assert self._writer is not None
        local = self._writer.get_extra_info("sockname")
        peer = self._writer.get_extra_info("peername")
        if not local or not peer:
            return go_errno(exc)
        pair = f"{join_host_port(local[0], local[1])}->{join_host_port(peer[0], peer[1])}"
        return f"read tcp {pair}: read: {go_errno(exc)}"


def _redirect_target(current: _Target, location: str) -> _Target:
    try:
        return _target(urljoin(current.url, location))
    except ValueError as exc:
        problem = f"failed to parse Location header {go_quote(location)}: {exc}"
        raise ClientError(f"Get {go_quote(current.url)}: {problem}") from None


def _redirect_host(vhost: str, current: _Target, location: str) -> str:
    """Go keeps a custom Host across a redirect only when the Location is relative."""
    if vhost and vhost != current.hostport and not urlsplit(location).scheme:
        return vhost
    return ""


def _tls_error(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        if exc.reason == "WRONG_VERSION_NUMBER":
            return "http: server gave HTTP response to HTTPS client"
        return f"tls: {exc.reason or exc}".lower()
    return go_errno(exc) if exc.errno else "EOF"


_BROKEN = "net/http: HTTP/1.x transport connection broken: "


async def _read_status(reader: asyncio.StreamReader) -> int:
    line = await _read_line(reader, eof="EOF")
    proto, _, rest = line.partition(" ")
    code = rest.partition(" ")[0]
    if not proto.startswith("HTTP/1.") or not rest:
        raise BodyError(f"{_BROKEN}malformed HTTP response {go_quote(line)}")
    if len(code) != 3 or not code.isdigit():
        raise BodyError(f"{_BROKEN}malformed HTTP status code {go_quote(code)}")
    return int(code)


async def _read_fields(reader: asyncio.StreamReader) -> dict[str, str]:
    fields: dict[str, str] = {}
    while line := await _read_line(reader, eof=f"{_BROKEN}unexpected EOF"):
        name, colon, value = line.partition(":")
        if not colon:
            raise BodyError(f"{_BROKEN}malformed MIME header line: {line}")
        fields.setdefault(name.strip().lower(), value.strip())
    return fields


async def _read_line(reader: asyncio.StreamReader, *, eof: str) -> str:
    try:
        raw = await reader.readline()
    except ValueError:  # longer than the stream limit
        limit = MAX_HEADER_BYTES
        raise BodyError(f"net/http: server response headers exceeded {limit} bytes") from None
    if not raw.endswith(b"\n"):
        raise BodyError(eof)
    return raw.decode("latin-1").rstrip("\r\n")


async def _read_body(resp: Response, limit: int) -> bytes:
    if resp.status in (204, 304) or 100 <= resp.status < 200:
        return b""
    if "chunked" in resp.headers.get("transfer-encoding", "").lower():
        return await _read_chunked(resp.reader, limit)
    length = resp.headers.get("content-length")
    if length is not None and length.isdigit():
        return await _read_exactly(resp.reader, min(int(length), limit))
    return await _read_to_eof(resp.reader, limit)


async def _read_exactly(reader: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await reader.readexactly(size)
    except asyncio.IncompleteReadError:
        raise BodyError("unexpected EOF") from None


async def _read_to_eof(reader: asyncio.StreamReader, limit: int) -> bytes:
    data = bytearray()
    while len(data) < limit and (chunk := await reader.read(limit - len(data))):
        data += chunk
    return bytes(data)


async def _read_chunked(reader: asyncio.StreamReader, limit: int) -> bytes:
    data = bytearray()
    while len(data) < limit:
        size_text = (await reader.readline()).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BodyError("malformed chunked encoding") from None
        if size == 0:
            break
        data += await _read_exactly(reader, min(size, limit - len(data)))
        if len(data) < limit:
            await _read_exactly(reader, 2)  # the chunk's CRLF
    return bytes(data)
