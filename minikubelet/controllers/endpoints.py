"""The endpoints controller's reconcile: from one Service and the pods in its namespace, the
`Endpoints` and `EndpointSlice` objects it wants. Pure.

Upstream: pkg/controller/endpoint endpoints_controller.go (syncService: pods the selector
matches, with an IP, not terminal; ready ones under `addresses`, the others under
`notReadyAddresses` unless `publishNotReadyAddresses`; terminating pods left out; each
service port resolved with podutil.FindPort, a pod whose named port is missing is left out of
that port; subsets repacked by their ports, endpoints.RepackSubsets) and
pkg/controller/endpointslice (reconciler.go, utils.go podToEndpoint: `conditions.ready` =
serving and not terminating, `serving` = the pod is Ready, `terminating` = it is being
deleted; one slice per set of ports; the `kubernetes.io/service-name` and
`endpointslice.kubernetes.io/managed-by` labels; the Service as the controller owner).
A Service without a selector is not the controller's (its Endpoints are the user's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"

Port = tuple[str, int, str]  # name, port, protocol


def selects(selector: dict[str, str], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


def pod_ready(pod: JSON) -> bool:
    """podutil.IsPodReady: the Ready condition is True."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def find_port(pod: JSON, service_port: JSON) -> int | None:
    """podutil.FindPort: a number as is; a name looked up in the pod's container ports of the
    same protocol; None when no container has it."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _pod_ip(pod: JSON) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def _target_ref(pod: JSON) -> JSON:
    meta = pod["metadata"]
    ref = {"kind": "Pod", "namespace": meta.get("namespace", "default"), "name": meta["name"]}
    if meta.get("uid"):
        ref["uid"] = meta["uid"]
    return ref


def _pod_ports(service: JSON, pod: JSON) -> tuple[Port, ...]:
    ports: list[Port] = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, sp)
        if number is not None:
            ports.append((str(sp.get("name") or ""), number, str(sp.get("protocol", "TCP"))))
    return tuple(ports)


def _port_json(ports: Iterable[Port]) -> list[JSON]:
    out: list[JSON] = []
    for name, number, protocol in ports:
        port: JSON = {"port": number, "protocol": protocol}
        if name:
            port = {"name": name, **port}
        out.append(port)
    return out


def _candidates(service: JSON, pods: Iterable[JSON]) -> list[JSON]:
    selector = (service.get("spec") or {}).get("selector") or {}
    namespace = service["metadata"].get("namespace", "default")
    return sorted(
        (
            p
            for p in pods
            if p["metadata"].get("namespace", "default") == namespace
            and selects(selector, p["metadata"].get("labels"))
            and _pod_ip(p)
            and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        ),
        key=lambda p: (_pod_ip(p), p["metadata"]["name"]),
    )


def _headless_no_ports(service: JSON) -> bool:
    spec = service.get("spec") or {}
    return spec.get("clusterIP") == "None" and not spec.get("ports")


def desired_endpoints(service: JSON, pods: Iterable[JSON]) -> JSON | None:
    """The Endpoints object of the Service (named as it), or None for a Service without a
    selector."""
    spec = service.get("spec") or {}
    if not spec.get("selector"):
        return None
    meta = service["metadata"]
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[Port, ...], tuple[list[JSON], list[JSON]]] = {}
    for pod in _candidates(service, pods):
        if pod["metadata"].get("deletionTimestamp") and not publish:
            continue
        ports = _pod_ports(service, pod)
        if not ports and not _headless_no_ports(service):
            continue
        address: JSON = {"ip": _pod_ip(pod)}
        if (pod.get("spec") or {}).get("nodeName"):
            address["nodeName"] = pod["spec"]["nodeName"]
        address["targetRef"] = _target_ref(pod)
        ready, not_ready = groups.setdefault(ports, ([], []))
        (ready if publish or pod_ready(pod) else not_ready).append(address)
    subsets: list[JSON] = []
    for ports, (ready, not_ready) in sorted(groups.items()):
        subset: JSON = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = _port_json(ports)
        subsets.append(subset)
    labels = dict(meta.get("labels") or {})
    if spec.get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    out_meta: JSON = {"name": meta["name"], "namespace": meta.get("namespace", "default")}
    if labels:
        out_meta["labels"] = labels
    endpoints: JSON = {"apiVersion": "v1", "kind": "Endpoints", "metadata": out_meta}
    if subsets:
        endpoints["subsets"] = subsets
    return endpoints


def _slice_name(service: JSON, ports: tuple[Port, ...]) -> str:
    """The controller names slices `<service>-<random>`; here the suffix is a digest of the
    Service's uid and the ports, so a reconcile finds the slice it made before."""
    meta = service["metadata"]
    seed = f"{meta.get('uid', '')}/{meta['name']}/{ports}".encode()
    digest = hashlib.sha256(seed).hexdigest()
    suffix = "".join("bcdfghjklmnpqrstvwxz2456789"[int(digest[i : i + 2], 16) % 27]
                     for i in range(0, 10, 2))  # fmt: skip
    return f"{meta['name'][:57]}-{suffix}"


def desired_slices(service: JSON, pods: Iterable[JSON]) -> list[JSON]:
    """The EndpointSlices of the Service: one per set of ports its pods resolve; a Service
    with a selector and no pods has one empty slice."""
    spec = service.get("spec") or {}
    if not spec.get("selector"):
        return []
    meta = service["metadata"]
    namespace = meta.get("namespace", "default")
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[tuple[Port, ...], list[JSON]] = {}
    for pod in _candidates(service, pods):
        ports = _pod_ports(service, pod)
        if not ports and not _headless_no_ports(service) and spec.get("ports"):
            continue
        terminating = bool(pod["metadata"].get("deletionTimestamp"))
        serving = publish or pod_ready(pod)
        endpoint: JSON = {
            "addresses": [_pod_ip(pod)],
            "conditions": {
                "ready": serving and not terminating,
                "serving": serving,
                "terminating": terminating,
            },
            "targetRef": _target_ref(pod),
        }
        if (pod.get("spec") or {}).get("nodeName"):
            endpoint["nodeName"] = pod["spec"]["nodeName"]
        groups.setdefault(ports, []).append(endpoint)
    if not groups:
        groups[()] = []
    labels = {
        **(meta.get("labels") or {}),
        SERVICE_NAME_LABEL: meta["name"],
        MANAGED_BY_LABEL: MANAGED_BY,
    }
    if spec.get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    owner: JSON = {
        "apiVersion": "v1",
        "kind": "Service",
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }
    slices = []
    for ports, endpoints in sorted(groups.items()):
        slices.append({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": _slice_name(service, ports),
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [owner],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": _port_json(ports),
        })  # fmt: skip
    return slices
