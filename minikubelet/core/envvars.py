"""The Services' variables in a container's environment, as the kubelet makes them.

Upstream: pkg/kubelet/envvars envvars.go FromServices (`<NAME>_SERVICE_HOST`,
`<NAME>_SERVICE_PORT`, `<NAME>_SERVICE_PORT_<PORTNAME>` and the docker-link variables
`<NAME>_PORT`, `<NAME>_PORT_<port>_<PROTO>`, `_PROTO`, `_PORT`, `_ADDR`; only Services with a
clusterIP, headless ones none) and kubelet_pods.go getServiceEnvVarMap (the Services of the
pod's namespace when `enableServiceLinks` is not false, and the `kubernetes` Service of
`default` always, unless the namespace has its own of that name). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

JSON = Mapping[str, Any]


def _name(text: str) -> str:
    """makeEnvVariableName."""
    return text.upper().replace("-", "_")


def from_service(name: str, cluster_ip: str, ports: Iterable[JSON]) -> dict[str, str]:
    ports = list(ports)
    if not cluster_ip or cluster_ip == "None" or not ports:
        return {}
    prefix = _name(name)
    host = f"[{cluster_ip}]" if ":" in cluster_ip else cluster_ip
    env = {f"{prefix}_SERVICE_HOST": cluster_ip, f"{prefix}_SERVICE_PORT": str(ports[0]["port"])}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_name(port['name'])}"] = str(port["port"])
    for i, port in enumerate(ports):
        protocol = str(port.get("protocol") or "TCP")
        url = f"{protocol.lower()}://{host}:{port['port']}"
        if i == 0:
            env[f"{prefix}_PORT"] = url
        link = f"{prefix}_PORT_{port['port']}_{protocol.upper()}"
        env[link] = url
        env[f"{link}_PROTO"] = protocol.lower()
        env[f"{link}_PORT"] = str(port["port"])
        env[f"{link}_ADDR"] = cluster_ip
    return env


def for_pod(namespace: str, enable_service_links: bool, services: Iterable[JSON]) -> dict[str, str]:
    """getServiceEnvVarMap + FromServices over the stored Services (the daemon's own
    `kubernetes` Service is added by the caller, core/settings.py kubernetes_service_env)."""
    env: dict[str, str] = {}
    for service in services:
        meta = service.get("metadata") or {}
        if meta.get("namespace", "default") != namespace or not enable_service_links:
            continue
        spec = service.get("spec") or {}
        env.update(from_service(str(meta.get("name", "")), str(spec.get("clusterIP") or ""),
                                spec.get("ports") or []))  # fmt: skip
    return env
