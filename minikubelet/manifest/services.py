"""Admission of a Service: the API server's defaults, its clusterIP from a loopback range,
and validation in its words. Pure.

Upstream: pkg/apis/core/v1/defaults.go (SetDefaults_Service: `type: ClusterIP`,
`sessionAffinity: None`, ports' `protocol: TCP`, `targetPort` = `port`,
`internalTrafficPolicy: Cluster`), pkg/registry/core/service/storage (the IP allocator:
`clusterIP: None` stays headless, an address given must be in the range, one kept on update)
and pkg/apis/core/validation ValidateService (ports required, port numbers, names required
when more than one and unique, (protocol, port) unique, the selector's labels, `type`).

The range is `127.96.0.0/16`: every address in it is this machine's own loopback, so a
clusterIP never points elsewhere. The address is a digest of the Service's namespace and
name (upstream picks at random), so one Service keeps its address across restarts.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, _name, validate_object_meta
from minikubelet.manifest.validation import validate_labels

JSON = dict[str, Any]
SERVICE_CIDR = ipaddress.ip_network("127.96.0.0/16")
TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")


def allocate_ip(namespace: str, name: str) -> str:
    digest = int.from_bytes(hashlib.sha256(f"{namespace}/{name}".encode()).digest()[:4], "big")
    size = SERVICE_CIDR.num_addresses - 2  # neither the network nor the broadcast address
    return str(SERVICE_CIDR.network_address + 1 + digest % size)


def _default(obj: JSON, old: JSON | None) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
    if spec["type"] == "ExternalName":
        return
    old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
    if not spec.get("clusterIP") and old_ip:
        spec["clusterIP"] = old_ip
    if not spec.get("clusterIP"):
        meta = obj.get("metadata") or {}
        spec["clusterIP"] = allocate_ip(str(meta.get("namespace", "default")), _name(obj))
    spec.setdefault("clusterIPs", [spec["clusterIP"]])
    if spec["clusterIP"] != "None":
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
    obj.setdefault("status", {"loadBalancer": {}})


def _port_key(port: JSON) -> str:
    return (
        f'core.ServicePort{{Name:"", Protocol:"{port.get("protocol", "TCP")}", '
        f"AppProtocol:(*string)(nil), Port:{port.get('port')}, "
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def validate_service(obj: JSON, old: JSON | None) -> list[str]:
    errors = validate_object_meta(obj, namespaced=True)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [*errors, fe.required("spec")]
    kind = spec.get("type")
    if kind not in TYPES:
        errors.append(fe.not_supported("spec.type", kind, TYPES))
    headless = spec.get("clusterIP") == "None"
    ports = spec.get("ports") or []
    if not ports and not headless and kind != "ExternalName":
        errors.append(fe.required("spec.ports"))
    names: set[str] = set()
    keys: set[tuple[Any, Any]] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            errors.append(fe.invalid(path, port, "must be an object"))
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            errors.append(fe.required(f"{path}.name"))
        elif name:
            errors += fe.invalid_each(f"{path}.name", name, fe.dns1123_label(name))
            if name in names:
                errors.append(fe.duplicate(f"{path}.name", name))
            names.add(name)
        number = port.get("port")
        if not isinstance(number, int) or isinstance(number, bool):
            errors.append(fe.required(f"{path}.port") if number is None else
                          fe.invalid(f"{path}.port", number, fe.range_error(1, 65535)))  # fmt: skip
        else:
            errors += fe.invalid_each(f"{path}.port", number, fe.port_number(number))
        protocol = port.get("protocol")
        if protocol not in PROTOCOLS:
            errors.append(fe.not_supported(f"{path}.protocol", protocol, PROTOCOLS))
        target = port.get("targetPort")
        if isinstance(target, int) and not isinstance(target, bool):
            errors += fe.invalid_each(f"{path}.targetPort", target, fe.port_number(target))
        elif isinstance(target, str):
            errors += fe.invalid_each(f"{path}.targetPort", target, fe.port_name(target))
        key = (protocol, number)
        if key in keys:
            errors.append(f"{path}: Duplicate value: {_port_key(port)}")
        keys.add(key)
    selector = spec.get("selector") or {}
    if isinstance(selector, dict):
        errors += validate_labels(selector, "spec.selector")
    ip = spec.get("clusterIP")
    if ip not in (None, "", "None"):
        try:
            address = ipaddress.ip_address(str(ip))
        except ValueError:
            errors.append(fe.invalid("spec.clusterIPs[0]", ip, "must be a valid IP address, "
                                     '(e.g. 10.9.8.7 or 2001:db8::ffff)'))  # fmt: skip
        else:
            if address not in SERVICE_CIDR:
                errors.append(
                    f'spec.clusterIPs: Invalid value: ["{ip}"]: failed to allocate IP {ip}: '
                    f"provided IP ({ip}) is not in the valid range. The range of valid IPs "
                    f"is {SERVICE_CIDR}"
                )
    old_ip = ((old or {}).get("spec") or {}).get("clusterIP")
    if old is not None and old_ip and ip != old_ip:
        errors.append(fe.invalid("spec.clusterIPs[0]", ip, "may not change once set"))
    return errors


def admit_service(obj: JSON, old: JSON | None = None) -> JSON:
    obj = copy.deepcopy(obj)
    _default(obj, old)
    errors = validate_service(obj, old)
    if errors:
        raise ObjectInvalid("Service", _name(obj), errors)
    return obj
