"""Discovery: `/version`, `/api`, `/api/v1`, `/apis`, in the legacy and aggregated forms.

kubectl 1.30+ asks `/api` and `/apis` for the aggregated form
(`application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`) and, when it gets it,
needs nothing else to map `pods`, `po`, `events` or `ns` to paths. The legacy forms serve older
clients. We serve only the core group: kubectl maps `events` to core v1 events by preference.
There is no OpenAPI document; kubectl works without one for everything we serve.
"""

from __future__ import annotations

import platform
from typing import Any

from aiohttp import web

from minikubelet import KUBERNETES_VERSION
from minikubelet.api.negotiate import accepted

JSON = dict[str, Any]
DISCOVERY_GROUP = "apidiscovery.k8s.io"

# name, singular, kind, namespaced, verbs, short names, categories, subresources (name, verbs)
_Resource = tuple[str, str, str, bool, list[str], list[str], list[str], list[tuple[str, list[str]]]]
RESOURCES: tuple[_Resource, ...] = (
    (
        "pods",
        "pod",
        "Pod",
        True,
        ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        ["po"],
        ["all"],
        [("log", ["get"]), ("status", ["get", "patch", "update"])],
    ),
    ("events", "event", "Event", True, ["get", "list", "watch"], ["ev"], [], []),
    ("namespaces", "namespace", "Namespace", False, ["get", "list"], ["ns"], [], []),
)


def version_info() -> JSON:
    major, minor, patch = KUBERNETES_VERSION
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "major": str(major),
        "minor": str(minor),
        "emulationMajor": str(major),
        "emulationMinor": str(minor),
        "minCompatibilityMajor": str(major),
        "minCompatibilityMinor": str(minor - 1),
        "gitVersion": f"v{major}.{minor}.{patch}",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "minikubelet",
        "platform": f"linux/{machine}",
    }


def _legacy_resources() -> list[JSON]:
    out: list[JSON] = []
    for name, singular, kind, namespaced, verbs, short, categories, subs in RESOURCES:
        entry: JSON = {
            "name": name,
            "singularName": singular,
            "namespaced": namespaced,
            "kind": kind,
            "verbs": verbs,
        }
        if short:
            entry["shortNames"] = short
        if categories:
            entry["categories"] = categories
        out.append(entry)
        for sub, sub_verbs in subs:
            out.append({
                "name": f"{name}/{sub}",
                "singularName": "",
                "namespaced": namespaced,
                "kind": kind,
                "verbs": sub_verbs,
            })  # fmt: skip
    return out


def _aggregated_resources() -> list[JSON]:
    out: list[JSON] = []
    for name, singular, kind, namespaced, verbs, short, categories, subs in RESOURCES:
        response_kind = {"group": "", "version": "v1", "kind": kind}
        entry: JSON = {
            "resource": name,
            "responseKind": response_kind,
            "scope": "Namespaced" if namespaced else "Cluster",
            "singularResource": singular,
            "verbs": verbs,
        }
        if short:
            entry["shortNames"] = short
        if categories:
            entry["categories"] = categories
        if subs:
            entry["subresources"] = [
                {"subresource": s, "responseKind": response_kind, "verbs": v} for s, v in subs
            ]
        out.append(entry)
    return out


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


async def get_version(request: web.Request) -> web.Response:
    return web.json_response(version_info())


async def get_api(request: web.Request) -> web.Response:
    version = _aggregated_version(request)
    if version is not None:
        core = {
            "metadata": {"creationTimestamp": None},
            "versions": [
                {"version": "v1", "resources": _aggregated_resources(), "freshness": "Current"}
            ],
        }
        return _aggregated(version, [core])
    host = request.host or "127.0.0.1"
    return web.json_response({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
    })  # fmt: skip


async def get_apis(request: web.Request) -> web.Response:
    version = _aggregated_version(request)
    if version is not None:
        return _aggregated(version, [])
    return web.json_response({"kind": "APIGroupList", "apiVersion": "v1", "groups": []})


async def get_api_v1(request: web.Request) -> web.Response:
    return web.json_response({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": _legacy_resources(),
    })  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/version", get_version)
    router.add_get("/version/", get_version)
    router.add_get("/api", get_api)
    router.add_get("/api/", get_api)
    router.add_get("/apis", get_apis)
    router.add_get("/apis/", get_apis)
    router.add_get("/api/v1", get_api_v1)
    router.add_get("/api/v1/", get_api_v1)
