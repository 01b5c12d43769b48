"""The gRPC probe (kubelet: pkg/probe/grpc/grpc.go): grpc.health.v1 Check over an insecure
channel, with the kubelet's messages for each way it fails. Needs the `grpc` extra, which
validation checks before a pod with a gRPC probe is admitted.
"""

from __future__ import annotations

import asyncio
from typing import Any

from minikubelet.core.gotext import duration as go_duration
from minikubelet.core.gotext import quote as go_quote
from minikubelet.probe.goclient import join_host_port
from minikubelet.probe.handlerbase import ProbeError, ProbeOutcome, ProbeResultKind, user_agent

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
