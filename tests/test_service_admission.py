"""Service admission (manifest/services.py): defaults, the loopback clusterIP, validation in
the API server's words."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from minikubelet.manifest.configmaps import ObjectInvalid
from minikubelet.manifest.services import SERVICE_CIDR, admit_service


def svc(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec}  # fmt: skip


def test_defaults() -> None:
    got = admit_service(svc(selector={"app": "web"}, ports=[{"port": 80}]))
    spec = got["spec"]
    assert (spec["type"], spec["sessionAffinity"]) == ("ClusterIP", "None")
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert ipaddress.ip_address(spec["clusterIP"]) in SERVICE_CIDR
    assert spec["clusterIPs"] == [spec["clusterIP"]]


def test_headless_stays_none_and_update_keeps_ip() -> None:
    assert admit_service(svc(clusterIP="None"))["spec"]["clusterIP"] == "None"
    old = admit_service(svc(ports=[{"port": 80}], clusterIP="127.96.1.2"))
    new = admit_service(svc(ports=[{"port": 81}]), old)
    assert new["spec"]["clusterIP"] == "127.96.1.2"


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({}, "spec.ports: Required value"),
        ({"ports": [{"port": 0}]},
         "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
        ({"ports": [{"name": "a", "port": 80}, {"name": "a", "port": 81}]},
         'spec.ports[1].name: Duplicate value: "a"'),
        ({"ports": [{"port": 80}, {"name": "b", "port": 81}]}, "spec.ports[0].name: Required value"),
        ({"ports": [{"name": "a", "port": 80}, {"name": "b", "port": 80}]},
         'spec.ports[1]: Duplicate value: core.ServicePort{Name:"", Protocol:"TCP"'),
        ({"ports": [{"port": 80}], "selector": {"app": "a b"}},
         'spec.selector: Invalid value: "a b": a valid label must be'),
        ({"ports": [{"port": 80}], "clusterIP": "10.0.0.1"},
         "provided IP (10.0.0.1) is not in the valid range. The range of valid IPs is "
         "127.96.0.0/16"),
        ({"ports": [{"port": 80}], "type": "Magic"}, 'spec.type: Unsupported value: "Magic"'),
    ],
)  # fmt: skip
def test_validation(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ObjectInvalid) as raised:
        admit_service(svc(**spec))
    assert error in str(raised.value)
    assert str(raised.value).startswith('Service "web" is invalid: ')
