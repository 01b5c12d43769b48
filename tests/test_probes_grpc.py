"""gRPC probes against a real grpc.aio health server (upstream pkg/probe/grpc/grpc_test.go)."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator

import pytest

grpc = pytest.importorskip("grpc")
health = pytest.importorskip("grpc_health.v1.health")
health_pb2 = pytest.importorskip("grpc_health.v1.health_pb2")
health_pb2_grpc = pytest.importorskip("grpc_health.v1.health_pb2_grpc")

from minikubelet.core.spec import Container, GRPCAction, Probe  # noqa: E402
from minikubelet.probe.grpcprobe import grpc_probe  # noqa: E402
from minikubelet.probe.handlers import ProbeOutcome, ProbeResultKind, run_probe  # noqa: E402

SUCCESS, FAILURE = ProbeResultKind.SUCCESS, ProbeResultKind.FAILURE


async def start_server(*, with_health: bool = True) -> tuple[object, int]:
    server = grpc.aio.server()
    if with_health:
        servicer = health.aio.HealthServicer()
        await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
        await servicer.set("sick", health_pb2.HealthCheckResponse.NOT_SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def health_port() -> AsyncIterator[int]:
    server, port = await start_server()
    yield port
    await server.stop(None)  # type: ignore[attr-defined]


async def test_serving_is_success(health_port: int) -> None:
    spec = Probe(handler=GRPCAction(port=health_port))
    out = await run_probe(spec, container=Container(name="app"), env={}, cwd=None)
    assert out == ProbeOutcome(SUCCESS, "service healthy")


async def test_not_serving_is_failure(health_port: int) -> None:
    out = await grpc_probe("127.0.0.1", health_port, "sick", 1)
    assert out == ProbeOutcome(FAILURE, 'service unhealthy (responded with "NOT_SERVING")')


async def test_unknown_service(health_port: int) -> None:
    out = await grpc_probe("127.0.0.1", health_port, "nope", 1)
    # grpcio's servicer sends NOT_FOUND without details (grpc-go's says "unknown service")
    expected = "error: health rpc probe failed: rpc error: code = NotFound desc = "
    assert out == ProbeOutcome(FAILURE, expected)


async def test_server_without_health_service() -> None:
    server, port = await start_server(with_health=False)
    try:
        out = await grpc_probe("127.0.0.1", port, "", 1)
    finally:
        await server.stop(None)  # type: ignore[attr-defined]
    assert out.result == FAILURE
    prefix = "error: this server does not implement the grpc health protocol"
    assert out.output.startswith(f"{prefix} (grpc.health.v1.Health): ")


async def test_nothing_listening_times_out() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    began = time.monotonic()
    out = await grpc_probe("127.0.0.1", port, "", 1)
    assert time.monotonic() - began < 10
    expected = (
        f'timeout: failed to connect service "127.0.0.1:{port}" within 1s: '
        "context deadline exceeded"
    )
    assert out == ProbeOutcome(FAILURE, expected)
