"""The official Python client against the API: its typed models decode what is served (the
Node, the kubernetes Service, the Lease, the reviews, the metrics and the version)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fakes import NODE, FakeRegistry, Server, serve

client = pytest.importorskip("kubernetes.client")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


@pytest.fixture
def api(server: Server) -> Iterator[Any]:
    configuration = client.Configuration(host=server.url)
    with client.ApiClient(configuration) as api_client:
        yield api_client


async def call(function: Any, *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, _request_timeout=30, **kwargs)


async def test_node(api: Any) -> None:
    nodes = await call(client.CoreV1Api(api).list_node)
    assert [n.metadata.name for n in nodes.items] == [NODE]
    node = await call(client.CoreV1Api(api).read_node, NODE)
    assert node.status.node_info.kubelet_version == "v1.34.0"
    assert node.status.node_info.container_runtime_version == "minikubelet://0.1.0"
    assert [c.type for c in node.status.conditions] == [
        "MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]  # fmt: skip
    assert node.status.allocatable["pods"] == "110"
    assert [(a.type, a.address) for a in node.status.addresses] == [
        ("InternalIP", "127.0.0.1"), ("Hostname", NODE)]  # fmt: skip


async def test_service_lease_and_version(api: Any) -> None:
    service = await call(client.CoreV1Api(api).read_namespaced_service, "kubernetes", "default")
    assert service.spec.ports[0].name == "https"
    lease = await call(client.CoordinationV1Api(api).read_namespaced_lease, NODE,
                       "kube-node-lease")  # fmt: skip
    assert lease.spec.holder_identity == NODE
    assert lease.spec.renew_time is not None
    version = await call(client.VersionApi(api).get_code)
    assert (version.git_version, version.emulation_minor) == ("v1.36.0", "34")


async def test_reviews(api: Any) -> None:
    authorization = client.AuthorizationV1Api(api)
    attributes = client.V1ResourceAttributes(verb="create", resource="pods", namespace="default")
    review = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
    )
    answer = await call(authorization.create_self_subject_access_review, review)
    assert answer.status.allowed is True
    rules = client.V1SelfSubjectRulesReview(
        spec=client.V1SelfSubjectRulesReviewSpec(namespace="default")
    )
    listed = await call(authorization.create_self_subject_rules_review, rules)
    pods = next(r for r in listed.status.resource_rules if r.resources == ["pods"])
    assert "delete" in pods.verbs


async def test_metrics(api: Any, server: Server) -> None:
    metrics = client.CustomObjectsApi(api)
    nodes = await call(metrics.list_cluster_custom_object, "metrics.k8s.io", "v1beta1", "nodes")
    assert [n["metadata"]["name"] for n in nodes["items"]] == [NODE]
    assert nodes["items"][0]["usage"]["memory"].endswith("Ki")
