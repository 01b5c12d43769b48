"""OpenAPI v3 built from the official schemas (kubernetes-validate): `kubectl explain` for
every served kind, the index and its hashes, the conversion from JSON Schema, and the
document without the package (operations only, which create and apply need)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from api_fakes import FakeRegistry, Server, kubectl, serve

from minikubelet.api import openapi, openapi_schemas


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


async def test_explain_a_pod_field(server: Server) -> None:
    result = await kubectl(server, "explain", "pod.spec.containers.livenessProbe")
    assert result.err == ""
    lines = result.out.splitlines()
    assert lines[:4] == ["KIND:       Pod", "VERSION:    v1", "", "FIELD: livenessProbe <Probe>"]
    assert "    Periodic probe of container liveness. Container will be restarted if the" in lines
    assert "  periodSeconds\t<integer>" in lines
    assert "  httpGet\t<HTTPGetAction>" in lines
    port = await kubectl(server, "explain", "pod.spec.containers.livenessProbe.httpGet.port")
    assert "FIELD: port <string>" in port.out  # IntOrString, as the API server's document says


@pytest.mark.parametrize(
    ("resource", "header"),
    [
        ("nodes", "KIND:       Node\nVERSION:    v1\n"),
        ("namespaces", "KIND:       Namespace\nVERSION:    v1\n"),
        ("events", "KIND:       Event\nVERSION:    v1\n"),
        ("services", "KIND:       Service\nVERSION:    v1\n"),
        ("leases", "GROUP:      coordination.k8s.io\nKIND:       Lease\nVERSION:    v1\n"),
        ("selfsubjectaccessreviews",
         "GROUP:      authorization.k8s.io\nKIND:       SelfSubjectAccessReview\n"),
    ],
)  # fmt: skip
async def test_explain_every_served_kind(server: Server, resource: str, header: str) -> None:
    result = await kubectl(server, "explain", resource)
    assert result.err == ""
    assert result.out.startswith(header)


async def test_index_hashes_and_documents(server: Server) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/openapi/v3") as response:
            paths = (await response.json())["paths"]
        assert set(paths) == {"api/v1", "apis/authorization.k8s.io/v1",
                              "apis/coordination.k8s.io/v1", "apis/networking.k8s.io/v1",
                              "apis/rbac.authorization.k8s.io/v1", "apis/policy/v1",
                              "apis/autoscaling/v2", "apis/discovery.k8s.io/v1",
                              "apis/apps/v1",
                              "apis/batch/v1",
                              "apis/scheduling.k8s.io/v1"}  # fmt: skip
        async with session.get(server.url + paths["api/v1"]["serverRelativeURL"]) as response:
            assert response.headers["Cache-Control"] == "public, immutable"
            document = json.loads(await response.text())
        async with session.get(f"{server.url}/openapi/v3/apis/metrics.k8s.io/v1beta1") as r:
            assert r.status == 404
    schemas = document["components"]["schemas"]
    assert "io.k8s.api.core.v1.Pod" in schemas
    assert "io.k8s.api.apps.v1.Deployment" not in schemas  # only the served kinds' closure
    patch = document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert "fieldValidation" in [p["name"] for p in patch["parameters"]]
    node = document["paths"]["/api/v1/nodes/{name}"]["get"]
    assert node["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1",
                                                       "kind": "Node"}  # fmt: skip
    assert "post" not in document["paths"]["/api/v1/nodes"]  # not served, not described


async def test_documents_are_built_at_the_first_request(tmp_path: Path) -> None:
    async with serve(FakeRegistry(), tmp_path) as server:
        documents = server.app[openapi.DOCUMENTS]
        assert documents._documents is None
        await kubectl(server, "get", "pods")
        assert documents._documents is None  # get needs no OpenAPI document
        await kubectl(server, "explain", "pods")
        assert documents._documents is not None


def test_conversion_from_json_schema() -> None:
    definitions = {
        "io.k8s.api.core.v1.Thing": {
            "x-kubernetes-group-version-kind": [{"group": "", "version": "v1", "kind": "Thing"}],
            "type": ["object", "null"],
            "properties": {
                "kind": {"type": ["string", "null"], "enum": ["Thing"]},
                "port": {"$ref": "#/$defs/io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                         "description": "the port"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/io.k8s.api.core.v1.Part"}},
            },
        },
        "io.k8s.api.core.v1.Part": {"type": ["object", "null"], "properties": {}},
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
            "oneOf": [{"type": ["string", "null"]}, {"type": ["integer", "null"]}]},
        "io.k8s.api.core.v1.Unrelated": {"type": "object"},
    }  # fmt: skip
    roots = openapi_schemas.definitions_for(definitions, [("", "v1", "Thing")])
    assert roots == ["io.k8s.api.core.v1.Thing"]
    schemas = openapi_schemas.components(definitions, roots)
    assert sorted(schemas) == ["io.k8s.api.core.v1.Part", "io.k8s.api.core.v1.Thing",
                               "io.k8s.apimachinery.pkg.util.intstr.IntOrString"]  # fmt: skip
    thing = schemas["io.k8s.api.core.v1.Thing"]
    assert thing["type"] == "object"
    assert thing["properties"]["kind"] == {"type": "string"}
    assert thing["properties"]["port"] == {
        "allOf": [{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}],
        "description": "the port",
    }
    assert thing["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Part"}  # fmt: skip
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "type": "string", "format": "int-or-string"}  # fmt: skip


def test_the_release_is_ours_or_the_nearest_before() -> None:
    definitions = openapi_schemas.load_definitions((1, 34, 0))
    assert "io.k8s.api.core.v1.Pod" in definitions
    assert openapi_schemas.load_definitions((1, 34, 9)) == definitions


def test_without_the_package_the_documents_carry_the_operations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from minikubelet.manifest import schemas

    monkeypatch.setattr(schemas, "PACKAGE", "no_such_package_here")
    documents = openapi.build_documents()
    assert set(documents) == {"api/v1"}
    document = json.loads(documents["api/v1"].text)
    assert document["components"]["schemas"] == {}
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in document["paths"]
