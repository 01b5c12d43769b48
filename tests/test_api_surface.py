"""The rest of kubectl's surface with the real kubectl and the in-memory registry: the Node
(`get nodes`, `describe node`), `cluster-info`, `api-resources`, `api-versions`, `auth can-i`,
`top`, and the Warning headers kubectl prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from api_fakes import NODE, FakeRegistry, Server, kubectl, serve

from minikubelet.api import authorization, nodes, protowire, warning_headers


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
async def server(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> AsyncIterator[Server]:
    registry = FakeRegistry()
    registry.pids[("default", "web")] = {"app": sleeper.pid}
    async with serve(registry, tmp_path) as s:
        yield s


def columns(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


async def test_get_nodes(server: Server) -> None:
    result = await kubectl(server, "get", "nodes")
    assert result.err == ""
    assert columns(result.out) == [
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        [NODE, "Ready", "<none>", "60m", "v1.34.0"],
    ]
    wide = await kubectl(server, "get", "no", "-o", "wide")
    header, row = columns(wide.out)
    assert dict(zip(header, row, strict=True))["INTERNAL-IP"] == "127.0.0.1"
    assert dict(zip(header, row, strict=True))["CONTAINER-RUNTIME"] == "minikubelet://0.1.0"
    missing = await kubectl(server, "get", "node", "other")
    assert missing.err == 'Error from server (NotFound): nodes "other" not found\n'


async def test_describe_node(server: Server) -> None:
    result = await kubectl(server, "describe", "node", NODE)
    assert result.err == ""
    out = result.out
    for type_, status, reason, message in (
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ):  # fmt: skip
        assert re.search(rf"\n  {type_}\s+{status}\s+.*\s{reason}\s+{message}\n", out), type_
    capacity = out.split("Capacity:")[1].split("Allocatable:")[0]
    assert re.search(rf"cpu:\s+{os.cpu_count()}\n", capacity)
    assert re.search(r"memory:\s+\d+Ki\n", capacity)
    assert re.search(r"pods:\s+110\n", capacity)
    assert re.search(r"ephemeral-storage:\s+\d+Ki\n", capacity)
    assert re.search(r"InternalIP:\s+127\.0\.0\.1\n\s+Hostname:\s+testnode\n", out)
    assert re.search(r"Kubelet Version:\s+v1\.34\.0\n", out)
    assert re.search(r"Container Runtime Version:\s+minikubelet://0\.1\.0\n", out)
    assert re.search(r"Architecture:\s+\S+\n", out)
    assert re.search(r"Lease:\n\s+HolderIdentity:\s+testnode\n", out)
    # the pods on the node, found by kubectl with fieldSelector=spec.nodeName=...,
    # status.phase!=Succeeded,status.phase!=Failed
    assert "Non-terminated Pods:          (5 in total)" in out
    assert re.search(r"\n  tools\s+tool\s+0 \(0%\)", out)
    assert re.search(r"Allocated resources:.*\n  cpu\s+0 \(0%\)\s+0 \(0%\)\n", out, re.S)


def test_pressure_uses_the_kubelet_eviction_thresholds() -> None:
    roomy = nodes.Machine(2, 8 << 30, 4 << 30, 100 << 30, 50 << 30, 1000, 900)
    assert nodes.pressure(roomy) == nodes.Pressure(memory=False, disk=False)
    low_memory = nodes.Machine(2, 8 << 30, 99 << 20, 100 << 30, 50 << 30, 1000, 900)
    assert nodes.pressure(low_memory).memory
    low_disk = nodes.Machine(2, 8 << 30, 4 << 30, 100 << 30, 9 << 30, 1000, 900)
    assert nodes.pressure(low_disk).disk
    no_inodes = nodes.Machine(2, 8 << 30, 4 << 30, 100 << 30, 50 << 30, 1000, 40)
    assert nodes.pressure(no_inodes).disk
    conditions = nodes.conditions(nodes.pressure(low_memory), now=100.0, since=50.0)
    memory = next(c for c in conditions if c["type"] == "MemoryPressure")
    assert (memory["status"], memory["reason"]) == ("True", "KubeletHasInsufficientMemory")
    capacity, allocatable = nodes.resources(roomy)
    assert (capacity["memory"], allocatable["memory"]) == ("8388608Ki", "8286208Ki")
    assert allocatable["ephemeral-storage"] == str(int((100 << 30) * 0.9))


def test_os_image_is_pretty_name() -> None:
    text = 'NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
    assert nodes.os_image(text) == "Debian GNU/Linux 12 (bookworm)"
    assert nodes.os_image("") == "Linux"


async def test_cluster_info(server: Server) -> None:
    result = await kubectl(server, "cluster-info")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines()[0] == f"Kubernetes control plane is running at {server.url}"
    svc = await kubectl(server, "get", "svc", "kubernetes", "-o", "json")
    port = int(server.url.rsplit(":", 1)[1])
    assert json.loads(svc.out)["spec"]["ports"][0]["port"] == port


async def test_api_resources_are_what_is_served(server: Server) -> None:
    result = await kubectl(server, "api-resources", "-o", "wide")
    assert result.err == ""
    header, *rows = columns(result.out)
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS",
                      "CATEGORIES"]  # fmt: skip
    # the APIVERSION cell: SHORTNAMES and CATEGORIES may each be blank
    table = {(r[0], next(c for c in r[1:] if re.fullmatch(r"([\w.-]+/)?v\d\w*", c))): r
             for r in rows}  # fmt: skip
    assert table[("pods", "v1")] == [
        "pods",
        "po",
        "v1",
        "true",
        "Pod",
        "create,delete,deletecollection,get,list,patch,update,watch",
        "all",
    ]
    assert table[("nodes", "v1")][1:6] == ["no", "v1", "false", "Node", "get,list"]
    registered = "create,delete,get,list,patch,update,watch"
    assert table[("namespaces", "v1")][1:6] == ["ns", "v1", "false", "Namespace", registered]
    assert table[("configmaps", "v1")][1:6] == ["cm", "v1", "true", "ConfigMap", registered]
    assert {(name, version) for name, version in table} == {
        ("events", "v1"), ("namespaces", "v1"), ("nodes", "v1"), ("pods", "v1"),
        ("services", "v1"), ("selfsubjectaccessreviews", "authorization.k8s.io/v1"),
        ("selfsubjectrulesreviews", "authorization.k8s.io/v1"),
        ("leases", "coordination.k8s.io/v1"), ("nodes", "metrics.k8s.io/v1beta1"),
        ("pods", "metrics.k8s.io/v1beta1"),
        ("configmaps", "v1"), ("secrets", "v1"), ("serviceaccounts", "v1"),
        ("persistentvolumeclaims", "v1"), ("ingresses", "networking.k8s.io/v1"),
        ("networkpolicies", "networking.k8s.io/v1"),
        ("horizontalpodautoscalers", "autoscaling/v2"), ("poddisruptionbudgets", "policy/v1"),
        ("roles", "rbac.authorization.k8s.io/v1"),
        ("rolebindings", "rbac.authorization.k8s.io/v1"),
        ("clusterroles", "rbac.authorization.k8s.io/v1"),
        ("clusterrolebindings", "rbac.authorization.k8s.io/v1"),
        ("endpoints", "v1"), ("endpointslices", "discovery.k8s.io/v1"),
        ("deployments", "apps/v1"),
        ("replicasets", "apps/v1"), ("replicationcontrollers", "v1"),
        ("statefulsets", "apps/v1"), ("daemonsets", "apps/v1"),
        ("controllerrevisions", "apps/v1"),
        ("jobs", "batch/v1"), ("cronjobs", "batch/v1"),
        ("resourcequotas", "v1"), ("limitranges", "v1"),
        ("priorityclasses", "scheduling.k8s.io/v1"),
    }  # fmt: skip
    assert table[("statefulsets", "apps/v1")][1:7] == [
        "sts", "apps/v1", "true", "StatefulSet", "create,delete,get,list,patch,update,watch",
        "all"]  # fmt: skip
    assert table[("deployments", "apps/v1")][1:] == [
        "deploy",
        "apps/v1",
        "true",
        "Deployment",
        registered,
        "all",
    ]


async def test_api_versions(server: Server) -> None:
    result = await kubectl(server, "api-versions")
    assert (result.out.split(), result.err) == (
        [
            "apps/v1",
            "authorization.k8s.io/v1",
            "autoscaling/v2",
            "batch/v1",
            "coordination.k8s.io/v1",
            "discovery.k8s.io/v1",
            "metrics.k8s.io/v1beta1",
            "networking.k8s.io/v1",
            "policy/v1",
            "rbac.authorization.k8s.io/v1",
            "scheduling.k8s.io/v1",
            "v1",
        ],
        "",
    )


async def test_auth_can_i(server: Server) -> None:
    async def can_i(*args: str) -> tuple[str, str]:
        result = await kubectl(server, "auth", "can-i", *args)
        return result.out.strip(), result.err.strip()

    assert await can_i("create", "pods") == ("yes", "")
    assert await can_i("get", "pods", "--subresource", "log") == ("yes", "")
    assert await can_i("watch", "events", "-A") == ("yes", "")
    assert await can_i("get", "/healthz") == ("yes", "")
    out, err = await can_i("delete", "nodes")
    assert out == "no - minikubelet does not serve delete on nodes"
    assert await can_i("patch", "deployments", "--subresource", "scale") == ("yes", "")
    out, err = await can_i("create", "storageclasses")
    assert out == "no - minikubelet does not serve storageclasses"
    assert "the server doesn't have a resource type 'storageclasses'" in err
    listed = await kubectl(server, "auth", "can-i", "--list")
    rules = {r[0]: r[-1] for r in columns(listed.out)[1:]}
    assert rules["pods"] == "[create delete deletecollection get list patch update watch]"
    assert rules["pods/log"] == "[get]"


def test_writes_are_allowed_from_loopback_only() -> None:
    create = {"verb": "create", "resource": "pods", "namespace": "default"}
    assert authorization.decide(create, local=True) == (True, "")
    assert authorization.decide(create, local=False) == (
        False, "minikubelet accepts writes from the local machine only")  # fmt: skip
    assert authorization.decide({"verb": "list", "resource": "pods"}, local=False) == (True, "")
    top = {"verb": "list", "group": "metrics.k8s.io", "resource": "pods"}
    assert authorization.decide(top, local=False) == (True, "")
    exec_ = {"verb": "create", "resource": "pods", "subresource": "exec"}
    assert authorization.decide(exec_, local=True) == (True, "")
    # exec starts a process in the container: a write, whatever the verb of its upgrade
    for verb in ("create", "get"):
        assert not authorization.decide({**exec_, "verb": verb}, local=False)[0]
    assert not authorization.decide({**exec_, "subresource": "bogus"}, local=True)[0]


async def test_review_is_not_a_write(server: Server) -> None:
    """A review is a POST, but a question: it is answered as JSON, as the API server does."""
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "list", "resource": "nodes"}}}  # fmt: skip
    async with aiohttp.ClientSession() as session:
        url = f"{server.url}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        async with session.post(url, json=body) as response:
            assert response.status == 201
            assert (await response.json())["status"] == {"allowed": True}
        async with session.post(url, json={"spec": {}}) as response:
            assert response.status == 422


def test_protobuf_review_decodes() -> None:
    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    attributes = field(2, b"create") + field(5, b"pods") + field(1, b"default")
    raw = field(2, field(1, attributes))
    type_meta = field(1, b"authorization.k8s.io/v1") + field(2, b"SelfSubjectAccessReview")
    body = protowire.MAGIC + field(1, type_meta) + field(2, raw)
    assert protowire.decode_object(body) == {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "create", "resource": "pods",
                                        "namespace": "default"}},
    }  # fmt: skip
    with pytest.raises(ValueError, match="protobuf"):
        protowire.decode_object(b"{}")


async def test_top_pod_and_node(server: Server) -> None:
    pod = await kubectl(server, "top", "pod")
    assert pod.err == ""
    header, *rows = columns(pod.out)
    assert header == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [r[0] for r in rows] == ["web"]  # only pods with running processes have metrics
    assert re.fullmatch(r"\d+m", rows[0][1])
    assert re.fullmatch(r"\d+Mi", rows[0][2])
    node = await kubectl(server, "top", "node")
    assert node.err == ""
    header, row = columns(node.out)
    assert header == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    assert row[0] == NODE
    assert re.fullmatch(r"\d+%", row[4])
    missing = await kubectl(server, "top", "pod", "crash")
    assert missing.err == ('Error from server (NotFound): podmetrics.metrics.k8s.io "crash" '
                           "not found\n")  # fmt: skip


async def test_pod_metrics_shape(server: Server, sleeper: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{server.url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web"
        async with session.get(url) as response:
            metrics = await response.json()
        listed = f"{server.url}/apis/metrics.k8s.io/v1beta1/pods?labelSelector=app%3Dnone"
        async with session.get(listed) as response:
            assert (await response.json())["items"] == []
    assert metrics["kind"] == "PodMetrics"
    assert metrics["metadata"]["labels"] == {"app": "web"}
    usage = metrics["containers"][0]["usage"]
    assert re.fullmatch(r"\d+n", usage["cpu"])
    assert re.fullmatch(r"\d+Ki", usage["memory"])
    assert int(usage["memory"][:-2]) > 0
    assert re.fullmatch(r"[\d.]+m?s", metrics["window"])


async def test_apply_prints_the_warnings(server: Server, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: picky\nspec:\n  nodeSelector:\n"
        "    disk: ssd\n  containers:\n  - name: app\n    image: busybox\n"
    )
    warning = ("Warning: spec.nodeSelector: has no local meaning in minikubelet and is ignored "
               "(there is one node)\n")  # fmt: skip
    result = await kubectl(server, "apply", "-f", str(manifest))
    assert (result.out, result.err) == ("pod/picky created\n", warning)
    replaced = await kubectl(server, "replace", "-f", str(manifest))
    assert (replaced.out, replaced.err) == ("pod/picky replaced\n", warning)
    # what the server filled in (the status, the node name) is not warned about on the way back
    served = await kubectl(server, "get", "pod", "picky", "-o", "yaml")
    manifest.write_text(served.out)
    again = await kubectl(server, "replace", "-f", str(manifest))
    assert (again.out, again.err) == ("pod/picky replaced\n", warning)


def test_warning_header_is_quoted_as_the_api_server_quotes_it() -> None:
    assert warning_headers.header_value('a "b" \\c') == '299 - "a \\"b\\" \\\\c"'
    served = {"spec": {"nodeName": "n", "nodeSelector": {"a": "b"}}, "status": {}}
    assert warning_headers.for_document(served, update=True) == [
        "spec.nodeSelector: has no local meaning in minikubelet and is ignored (there is one node)"
    ]
    assert len(warning_headers.for_document(served)) == 3
    assert warning_headers.for_document(["not", "a", "pod"]) == []
