"""The httpGet probe (kubelet: pkg/probe/http/http.go and request.go): the request built as
the kubelet builds it (URL, headers, user agent), sent by the Go client of `goclient.py`, and
the response judged as DoHTTPProbe judges it (2xx and 3xx success, a redirect to another host
a warning, the body up to the output limit). `hooks.py` reuses the request builder.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import quote

from minikubelet.core.spec import Container, HTTPGetAction, HTTPHeader
from minikubelet.probe.goclient import (
    BodyError,
    ClientError,
    HTTPExchange,
    HTTPRequest,
    canonical_header_key,
    join_host_port,
)
from minikubelet.probe.handlerbase import (
    MAX_OUTPUT,
    ProbeError,
    ProbeOutcome,
    ProbeResultKind,
    decode_output,
    resolve_port,
    user_agent,
)


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
            text = f"Probe terminated redirects, Response body: {decode_output(body)}"
            return ProbeOutcome(ProbeResultKind.WARNING, text)
        return ProbeOutcome(ProbeResultKind.SUCCESS, decode_output(body))
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
