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

This module holds the tcpSocket handler and the dispatch (`run_probe`); exec is
`execprobe.py`'s, httpGet `httpprobe.py`'s, gRPC `grpcprobe.py`'s, and what they share (the
outcome types, ports, the user agent) `handlerbase.py`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from minikubelet.core.expand import expand_all
from minikubelet.core.spec import (
    Container,
    ExecAction,
    GRPCAction,
    Handler,
    HTTPGetAction,
    Probe,
    TCPSocketAction,
)
from minikubelet.probe.execprobe import exec_probe, static_env
from minikubelet.probe.goclient import ClientError, Dialer
from minikubelet.probe.grpcprobe import grpc_probe
from minikubelet.probe.handlerbase import ProbeError as ProbeError  # re-exported: the outcome
from minikubelet.probe.handlerbase import ProbeOutcome as ProbeOutcome  # types every caller of
from minikubelet.probe.handlerbase import ProbeResultKind as ProbeResultKind  # a handler uses
from minikubelet.probe.handlerbase import resolve_port
from minikubelet.probe.httpprobe import http_probe, http_request

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
