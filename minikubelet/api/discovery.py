"""Discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]`, in the legacy
and aggregated forms.

kubectl 1.30+ asks `/api` and `/apis` for the aggregated form
(`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) and, when it gets it,
needs nothing else to map `pods`, `po`, `no` or `top` to paths; the legacy forms serve older
clients and `kubectl api-versions`. `GROUPS` is the one list of what is served: each resource
with exactly the verbs its handlers implement, so `kubectl api-resources` and `auth can-i`
answer from the same table (upstream: `pkg/registry/*/rest/storage_*.go` for the names, short
names and categories).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from minikubelet import API_SERVER_VERSION, KUBERNETES_VERSION
from minikubelet.api.negotiate import accepted
from minikubelet.api.status_errors import path_not_found
from minikubelet.store import kinds as registered

JSON = dict[str, Any]
DISCOVERY_GROUP = "apidiscovery.k8s.io"
READ = ("get", "list", "watch")


@dataclass(frozen=True, slots=True)
class ApiResource:
    name: str  # "pods"
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class GroupVersion:
    group: str  # "" for the core group
    version: str
    resources: tuple[ApiResource, ...]

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


_POD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_KIND_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")  # api/generic.py
_CATEGORIES = {"services": ("all",)}
_STATUS = ("status", ("get", "patch", "update"))
_SCALE = ("scale", ("get", "patch", "update"))
SCALE_KIND = {"group": "autoscaling", "version": "v1", "kind": "Scale"}


def _subresources(kind: registered.Kind) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return ((_SCALE,) if kind.scalable else ()) + ((_STATUS,) if kind.status_subresource else ())


def _registered(group: str) -> tuple[ApiResource, ...]:
    """The registered kinds of a group (store/kinds.py), all served by api/generic.py."""
    return tuple(
        ApiResource(k.resource, k.singular, k.kind, k.namespaced, _KIND_VERBS, k.short,
                    k.categories or _CATEGORIES.get(k.resource, ()), _subresources(k))
        for k in registered.KINDS if k.group == group
    )  # fmt: skip


def _registered_groups() -> tuple[GroupVersion, ...]:
    groups = dict.fromkeys(k.group for k in registered.KINDS if k.group)
    return tuple(
        GroupVersion(g, next(k.version for k in registered.KINDS if k.group == g),
                     _registered(g))
        for g in groups
    )  # fmt: skip


CORE = GroupVersion("", "v1", tuple(sorted((
    ApiResource("events", "event", "Event", True, READ, ("ev",)),
    ApiResource("nodes", "node", "Node", False, ("get", "list"), ("no",)),
    ApiResource("pods", "pod", "Pod", True, _POD_VERBS, ("po",), ("all",),
                (("attach", ("create", "get")),
                 ("ephemeralcontainers", ("get", "patch", "update")),
                 ("exec", ("create", "get")),
                 ("log", ("get",)), ("portforward", ("create", "get")),
                 ("status", ("get", "patch", "update")))),
    *_registered(""),
), key=lambda r: r.name)))  # fmt: skip
AUTHORIZATION = GroupVersion("authorization.k8s.io", "v1", (
    ApiResource("selfsubjectaccessreviews", "selfsubjectaccessreview",
                "SelfSubjectAccessReview", False, ("create",)),
    ApiResource("selfsubjectrulesreviews", "selfsubjectrulesreview",
                "SelfSubjectRulesReview", False, ("create",)),
))  # fmt: skip
COORDINATION = GroupVersion("coordination.k8s.io", "v1", (
    ApiResource("leases", "lease", "Lease", True, ("get",)),
))  # fmt: skip
METRICS = GroupVersion("metrics.k8s.io", "v1beta1", (
    ApiResource("nodes", "", "NodeMetrics", False, ("get", "list")),
    ApiResource("pods", "", "PodMetrics", True, ("get", "list")),
))  # fmt: skip
GROUPS: tuple[GroupVersion, ...] = (
    AUTHORIZATION,
    COORDINATION,
    METRICS,
    *_registered_groups(),
)  # under /apis, in this order
RESOURCES = CORE.resources


def served(group: str, resource: str, subresource: str = "") -> ApiResource | None:
    """The resource (or the resource a served subresource belongs to), if it is served."""
    for gv in (CORE, *GROUPS):
        if gv.group != group:
            continue
        for r in gv.resources:
            if r.name == resource and (not subresource or subresource in dict(r.subresources)):
                return r
    return None


def verbs_of(resource: ApiResource, subresource: str = "") -> tuple[str, ...]:
    return dict(resource.subresources)[subresource] if subresource else resource.verbs


def _machine() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def version_info() -> JSON:
    """The API server's `/version`: v1.36 emulating 1.34, as a 1.36 kube-apiserver started
    with `--emulated-version=1.34` reports itself (KEP-4330 compatibility versions). The
    behaviour stays 1.34's (the node's kubelet is v1.34.0, two minors under its control plane
    as the skew policy allows); the binary version is the one kubectl compares
    (`kubectl version`: `printVersionSkewWarning` parses `gitVersion` and warns past +/-1
    minor), so kubectl 1.35, 1.36 and 1.37, the releases supported today, print no warning."""
    major, minor, patch = API_SERVER_VERSION
    emulated_major, emulated_minor = KUBERNETES_VERSION[0], KUBERNETES_VERSION[1]
    return {
        "major": str(major),
        "minor": str(minor),
        "emulationMajor": str(emulated_major),
        "emulationMinor": str(emulated_minor),
        "minCompatibilityMajor": str(emulated_major),
        "minCompatibilityMinor": str(emulated_minor - 1),
        "gitVersion": f"v{major}.{minor}.{patch}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "minikubelet",
        "platform": f"linux/{_machine()}",
    }


def _legacy_resources(gv: GroupVersion) -> list[JSON]:
    out: list[JSON] = []
    for r in gv.resources:
        entry: JSON = {
            "name": r.name,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": list(r.verbs),
        }
        if r.short:
            entry["shortNames"] = list(r.short)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub, sub_verbs in r.subresources:
            sub_entry: JSON = {
                "name": f"{r.name}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": list(sub_verbs),
            }
            if sub == "scale":  # the scale kind resolver reads the Scale's group and version
                sub_entry.update(SCALE_KIND)
            out.append(sub_entry)
    return out


def _aggregated_resources(gv: GroupVersion) -> list[JSON]:
    out: list[JSON] = []
    for r in gv.resources:
        response_kind = {"group": gv.group, "version": gv.version, "kind": r.kind}
        entry: JSON = {
            "resource": r.name,
            "responseKind": response_kind,
            "scope": "Namespaced" if r.namespaced else "Cluster",
            "singularResource": r.singular,
            "verbs": list(r.verbs),
        }
        if r.short:
            entry["shortNames"] = list(r.short)
        if r.categories:
            entry["categories"] = list(r.categories)
        if r.subresources:
            entry["subresources"] = [
                {"subresource": s, "responseKind": SCALE_KIND if s == "scale" else response_kind,
                 "verbs": list(v)}
                for s, v in r.subresources
            ]  # fmt: skip
        out.append(entry)
    return out


def _aggregated_group(gv: GroupVersion) -> JSON:
    metadata: JSON = {"creationTimestamp": None}
    if gv.group:
        metadata["name"] = gv.group
    version = {
        "version": gv.version,
        "resources": _aggregated_resources(gv),
        "freshness": "Current",
    }
    return {"metadata": metadata, "versions": [version]}


def _aggregated_version(request: web.Request) -> str | None:
    """`v2` or `v2beta1` when the client prefers aggregated discovery."""
    for media in accepted(request):
        if media.as_ == "APIGroupDiscoveryList" and media.params.get("g") == DISCOVERY_GROUP:
            return media.params.get("v", "v2")
        if media.type in ("application/json", "*/*"):
            return None
    return None


def _aggregated(version: str, items: list[JSON]) -> web.Response:
    body = {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{DISCOVERY_GROUP}/{version}",
        "metadata": {},
        "items": items,
    }
    response = web.json_response(body)
    response.headers["Content-Type"] = (
        f"application/json;g={DISCOVERY_GROUP};v={version};as=APIGroupDiscoveryList"
    )
    return response


def _api_group(gv: GroupVersion) -> JSON:
    version = {"groupVersion": gv.group_version, "version": gv.version}
    return {"name": gv.group, "versions": [version], "preferredVersion": version}


async def get_version(request: web.Request) -> web.Response:
    return web.json_response(version_info())


async def get_api(request: web.Request) -> web.Response:
    version = _aggregated_version(request)
    if version is not None:
        return _aggregated(version, [_aggregated_group(CORE)])
    host = request.host or "127.0.0.1"
    return web.json_response({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    })  # fmt: skip


async def get_apis(request: web.Request) -> web.Response:
    version = _aggregated_version(request)
    if version is not None:
        return _aggregated(version, [_aggregated_group(gv) for gv in GROUPS])
    groups = [_api_group(gv) for gv in GROUPS]
    return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def _resource_list(gv: GroupVersion) -> web.Response:
    return web.json_response({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv.group_version,
        "resources": _legacy_resources(gv),
    })  # fmt: skip


async def get_api_v1(request: web.Request) -> web.Response:
    return _resource_list(CORE)


def _group(request: web.Request) -> GroupVersion:
    for gv in GROUPS:
        if gv.group == request.match_info["group"]:
            return gv
    raise path_not_found()


async def get_group(request: web.Request) -> web.Response:
    body = {"kind": "APIGroup", "apiVersion": "v1", **_api_group(_group(request))}
    return web.json_response(body)


async def get_group_version(request: web.Request) -> web.Response:
    gv = _group(request)
    if request.match_info["version"] != gv.version:
        raise path_not_found()
    return _resource_list(gv)


def add_routes(router: web.UrlDispatcher) -> None:
    for path, handler in (
        ("/version", get_version),
        ("/api", get_api),
        ("/apis", get_apis),
        ("/api/v1", get_api_v1),
        ("/apis/{group}", get_group),
        ("/apis/{group}/{version}", get_group_version),
    ):
        router.add_get(path, handler)
        router.add_get(path + "/", handler)
