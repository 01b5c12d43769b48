"""The Services' variables (core/envvars.py), as the kubelet's envvars.FromServices."""

from __future__ import annotations

from typing import Any

from minikubelet.core import envvars


def svc(name: str, ns: str, ip: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"clusterIP": ip, "ports": ports}}


def test_from_service_names_and_links() -> None:
    env = envvars.from_service(
        "my-web", "127.96.0.5",
        [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns-u", "port": 53,
                                                            "protocol": "UDP"}],
    )  # fmt: skip
    assert env == {
        "MY_WEB_SERVICE_HOST": "127.96.0.5",
        "MY_WEB_SERVICE_PORT": "80",
        "MY_WEB_SERVICE_PORT_HTTP": "80",
        "MY_WEB_SERVICE_PORT_DNS_U": "53",
        "MY_WEB_PORT": "tcp://127.96.0.5:80",
        "MY_WEB_PORT_80_TCP": "tcp://127.96.0.5:80",
        "MY_WEB_PORT_80_TCP_PROTO": "tcp",
        "MY_WEB_PORT_80_TCP_PORT": "80",
        "MY_WEB_PORT_80_TCP_ADDR": "127.96.0.5",
        "MY_WEB_PORT_53_UDP": "udp://127.96.0.5:53",
        "MY_WEB_PORT_53_UDP_PROTO": "udp",
        "MY_WEB_PORT_53_UDP_PORT": "53",
        "MY_WEB_PORT_53_UDP_ADDR": "127.96.0.5",
    }


def test_for_pod_namespace_headless_and_links_off() -> None:
    services = [
        svc("web", "default", "127.96.0.5", [{"port": 80}]),
        svc("other", "team", "127.96.0.6", [{"port": 81}]),
        svc("headless", "default", "None", [{"port": 82}]),
    ]
    env = envvars.for_pod("default", True, services)
    assert env["WEB_SERVICE_HOST"] == "127.96.0.5"
    assert not any(k.startswith(("OTHER_", "HEADLESS_")) for k in env)
    assert envvars.for_pod("default", False, services) == {}
