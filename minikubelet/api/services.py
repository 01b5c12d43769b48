"""`/api/v1/.../services`: the one Service there is, `default/kubernetes`, the API itself.

Containers get its `KUBERNETES_SERVICE_*` variables (core/settings.py kubernetes_service_env,
as the kubelet's `envvars.FromServices`); listing it makes the same fact visible to kubectl,
and lets `kubectl cluster-info` (a list of the `kube-system` services labelled
`kubernetes.io/cluster-service=true`, of which there are none) print the control plane's URL.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from minikubelet.api import table as tbl
from minikubelet.api.appkeys import settings
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.api.registry import JSON
from minikubelet.core.gotext import rfc3339

SERVICE_FIELDS = frozenset({"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"})
SERVICE_COLUMNS: tuple[tbl.Column, ...] = (
    ("Name", "string", 0, "Name must be unique within a namespace."),
    ("Type", "string", 0, "type determines how the Service is exposed."),
    ("Cluster-IP", "string", 0, "clusterIP is the IP address of the service."),
    ("External-IP", "string", 0, "externalIPs is a list of IP addresses for which nodes in the "
     "cluster will also accept traffic for this service."),
    ("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
    ("Age", "string", 0, "CreationTimestamp is the time this object was created, in UTC."),
    ("Selector", "string", 1, "Route service traffic to pods with label keys and values "
     "matching this selector."),
)  # fmt: skip
_UIDS = uuid.UUID("3f1b2c4d-6e7f-4a8b-9c0d-1e2f3a4b5c6d")


def kubernetes_service(host: str, port: int, created: float) -> JSON:
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "uid": str(uuid.uuid5(_UIDS, "default/kubernetes")),
            "resourceVersion": "1",
            "creationTimestamp": rfc3339(created),
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "ports": [{"name": "https", "protocol": "TCP", "port": port, "targetPort": port}],
            "clusterIP": host,
            "clusterIPs": [host],
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv6" if ":" in host else "IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }


def service_row(service: JSON, now: float, include_object: str = "Metadata") -> JSON:
    """printService."""
    spec = service.get("spec", {})
    ports = ",".join(f"{p['port']}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    cells: list[tbl.Cell] = [
        service["metadata"]["name"],
        spec.get("type", ""),
        spec.get("clusterIP") or "<none>",
        ",".join(spec.get("externalIPs") or []) or "<none>",
        ports or "<none>",
        tbl.since(service["metadata"].get("creationTimestamp"), now),
        selector or "<none>",
    ]
    return tbl.row(service, cells, include_object)


SERVICES = Resource("Service", "services", SERVICE_FIELDS, SERVICE_COLUMNS, service_row)


def services(request: web.Request, namespace: str | None) -> list[JSON]:
    if namespace not in (None, "default"):
        return []
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    host, port = (str(sockname[0]), int(sockname[1])) if sockname else ("127.0.0.1", 0)
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    return [kubernetes_service(host, port, settings(request).started_at)]


async def list_all(request: web.Request) -> web.StreamResponse:
    return await list_or_watch(request, SERVICES, lambda: services(request, None))


async def list_namespaced(request: web.Request) -> web.StreamResponse:
    namespace = request.match_info["namespace"]
    return await list_or_watch(request, SERVICES, lambda: services(request, namespace))


async def get_service(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    found = next((s for s in services(request, namespace) if s["metadata"]["name"] == name), None)
    return get_one(request, SERVICES, found, name)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/services", list_all)
    router.add_get("/api/v1/namespaces/{namespace}/services", list_namespaced)
    router.add_get("/api/v1/namespaces/{namespace}/services/{name}", get_service)
