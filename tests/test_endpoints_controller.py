"""The endpoints controller's reconcile (controllers/endpoints.py) as tables."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.controllers import endpoints as ep

JSON = dict[str, Any]


def service(ports: list[JSON] | None = None, selector: JSON | None = None, **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-uid"},
        "spec": {
            "selector": {"app": "web"} if selector is None else selector,
            "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
            if ports is None
            else ports,
            **spec,
        },
    }


def pod(name: str, ready: bool, *, labels: JSON | None = None, ip: str = "127.0.0.1",
        ports: list[JSON] | None = None, ns: str = "default", phase: str = "Running",
        deleting: bool = False) -> JSON:  # fmt: skip
    meta: JSON = {"name": name, "namespace": ns, "uid": f"{name}-uid",
                  "labels": {"app": "web"} if labels is None else labels}  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": "node1", "containers": [{"name": "c", "ports": ports or []}]},
        "status": {
            "phase": phase,
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def names(addresses: list[JSON] | None) -> list[str]:
    return [a["targetRef"]["name"] for a in addresses or []]


def test_ready_and_unready_pods() -> None:
    got = ep.desired_endpoints(service(), [pod("a", True), pod("b", False)])
    assert got is not None
    (subset,) = got["subsets"]
    assert names(subset["addresses"]) == ["a"]
    assert names(subset["notReadyAddresses"]) == ["b"]
    assert subset["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert subset["addresses"][0]["nodeName"] == "node1"
    assert subset["addresses"][0]["targetRef"] == {
        "kind": "Pod", "namespace": "default", "name": "a", "uid": "a-uid"}  # fmt: skip
    (slice_,) = ep.desired_slices(service(), [pod("a", True), pod("b", False)])
    assert slice_["addressType"] == "IPv4"
    assert slice_["metadata"]["labels"][ep.SERVICE_NAME_LABEL] == "web"
    assert slice_["metadata"]["labels"][ep.MANAGED_BY_LABEL] == ep.MANAGED_BY
    assert [e["conditions"] for e in slice_["endpoints"]] == [
        {"ready": True, "serving": True, "terminating": False},
        {"ready": False, "serving": False, "terminating": False},
    ]
    assert slice_["ports"] == [{"port": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize(
    ("labels", "ns", "ip", "phase", "selected"),
    [
        ({"app": "web"}, "default", "127.0.0.1", "Running", True),
        ({"app": "web", "tier": "x"}, "default", "127.0.0.1", "Running", True),
        ({"app": "db"}, "default", "127.0.0.1", "Running", False),
        ({}, "default", "127.0.0.1", "Running", False),
        ({"app": "web"}, "other", "127.0.0.1", "Running", False),
        ({"app": "web"}, "default", "", "Pending", False),
        ({"app": "web"}, "default", "127.0.0.1", "Succeeded", False),
        ({"app": "web"}, "default", "127.0.0.1", "Failed", False),
    ],
)
def test_selector_matching(labels: JSON, ns: str, ip: str, phase: str, selected: bool) -> None:
    p = pod("a", True, labels=labels, ns=ns, ip=ip, phase=phase)
    got = ep.desired_endpoints(service(), [p])
    assert got is not None
    assert bool(got.get("subsets")) is selected
    (slice_,) = ep.desired_slices(service(), [p])
    assert bool(slice_["endpoints"]) is selected


@pytest.mark.parametrize(
    ("target", "container_ports", "want"),
    [
        ("http", [{"name": "http", "containerPort": 9000}], 9000),
        ("http", [{"name": "http", "containerPort": 9000, "protocol": "UDP"}], None),
        ("http", [{"name": "other", "containerPort": 9000}], None),
        (7000, [], 7000),
        (None, [], 80),
    ],
)
def test_named_target_ports(target: Any, container_ports: list[JSON], want: int | None) -> None:
    port: JSON = {"name": "web", "port": 80, "protocol": "TCP"}
    if target is not None:
        port["targetPort"] = target
    got = ep.desired_endpoints(service([port]), [pod("a", True, ports=container_ports)])
    assert got is not None
    if want is None:
        assert "subsets" not in got
    else:
        assert got["subsets"][0]["ports"] == [{"name": "web", "port": want, "protocol": "TCP"}]


def test_pods_resolving_different_ports_get_different_subsets_and_slices() -> None:
    svc = service([{"name": "web", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    pods = [pod("a", True, ports=[{"name": "http", "containerPort": 1}]),
            pod("b", True, ports=[{"name": "http", "containerPort": 2}])]  # fmt: skip
    got = ep.desired_endpoints(svc, pods)
    assert got is not None
    assert [s["ports"][0]["port"] for s in got["subsets"]] == [1, 2]
    slices = ep.desired_slices(svc, pods)
    assert len({s["metadata"]["name"] for s in slices}) == 2


def test_headless_without_ports() -> None:
    svc = service([], clusterIP="None")
    got = ep.desired_endpoints(svc, [pod("a", True)])
    assert got is not None
    assert got["metadata"]["labels"][ep.HEADLESS_LABEL] == ""
    assert got["subsets"] == [{"addresses": got["subsets"][0]["addresses"]}]
    assert names(got["subsets"][0]["addresses"]) == ["a"]


def test_no_selector_is_not_the_controllers() -> None:
    assert ep.desired_endpoints(service(selector={}), [pod("a", True)]) is None
    assert ep.desired_slices(service(selector={}), [pod("a", True)]) == []


def test_terminating_pods() -> None:
    p = pod("a", True, deleting=True)
    got = ep.desired_endpoints(service(), [p])
    assert got is not None
    assert "subsets" not in got
    (slice_,) = ep.desired_slices(service(), [p])
    assert slice_["endpoints"][0]["conditions"] == {
        "ready": False, "serving": True, "terminating": True}  # fmt: skip


def test_publish_not_ready_addresses() -> None:
    got = ep.desired_endpoints(service(publishNotReadyAddresses=True), [pod("a", False)])
    assert got is not None
    assert names(got["subsets"][0]["addresses"]) == ["a"]


def test_slice_name_is_stable() -> None:
    one = ep.desired_slices(service(), [pod("a", True)])
    two = ep.desired_slices(service(), [pod("a", False)])
    assert one[0]["metadata"]["name"] == two[0]["metadata"]["name"]
    assert one[0]["metadata"]["name"].startswith("web-")
