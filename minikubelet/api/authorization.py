"""`authorization.k8s.io/v1`: SelfSubjectAccessReview and SelfSubjectRulesReview, answered
from what this daemon really allows (`kubectl auth can-i`, `auth can-i --list`).

The rules (middleware.py): with a token set, every request must carry it, so a caller that
reached this handler has it; reads (`get`, `list`, `watch`) are allowed to any such caller;
writes (`create`, `update`, `patch`, `delete`) only from the local machine. On top of that
only what is served can be done: a verb on a resource that `discovery.GROUPS` does not list
with that verb is "no", with the reason. Non-resource URLs answer `get` only.
Reviews are not writes: they are accepted from any peer, as the API server accepts them.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from minikubelet.api import discovery, protowire
from minikubelet.api import status_errors as se
from minikubelet.api.middleware import STREAMING as _STREAMING_PATHS
from minikubelet.api.middleware import is_loopback
from minikubelet.api.registry import JSON
from minikubelet.api.requestoptions import read_body

GROUP = "authorization.k8s.io"
WRITES = frozenset({"create", "update", "patch", "delete"})


STREAMING = tuple(p.lstrip("/") for p in _STREAMING_PATHS)  # subresources that are writes


def decide(attributes: JSON, *, local: bool) -> tuple[bool, str]:
    """(allowed, reason) for one `resourceAttributes`."""
    verb = str(attributes.get("verb") or "")
    group, resource = str(attributes.get("group") or ""), str(attributes.get("resource") or "")
    subresource = str(attributes.get("subresource") or "")
    served = discovery.served(group, resource, subresource)
    what = f"{resource}/{subresource}" if subresource else resource
    if group:
        what += f".{group}"
    if served is None:
        return False, f"minikubelet does not serve {what}"
    if verb not in discovery.verbs_of(served, subresource):
        return False, f"minikubelet does not serve {verb} on {what}"
    if (verb in WRITES or subresource in STREAMING) and not local:
        return False, "minikubelet accepts writes from the local machine only"
    return True, ""


def decide_url(attributes: JSON) -> tuple[bool, str]:
    if attributes.get("verb") == "get":
        return True, ""
    return False, "minikubelet serves only get on non-resource URLs"


async def _body(request: web.Request) -> Any:
    """JSON or YAML as for any write, or protobuf: kubectl's typed clients send reviews so."""
    if request.content_type != protowire.MEDIA_TYPE:
        return await read_body(request)
    try:
        return protowire.decode_object(await request.read())
    except ValueError as exc:
        raise se.bad_request(f"couldn't decode the request body: {exc}") from None


def _review(body: Any, kind: str) -> JSON:
    if not isinstance(body, dict):
        raise se.bad_request(f"couldn't get version/kind; json parse error: {kind} not an object")
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise se.StatusError(422, "Invalid", f'{kind}.authorization.k8s.io "" is invalid: '
                             "spec: Required value")  # fmt: skip
    return spec


async def access_review(request: web.Request) -> web.Response:
    spec = _review(await _body(request), "SelfSubjectAccessReview")
    resource, url = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(resource, dict) == isinstance(url, dict):
        raise se.StatusError(422, "Invalid", 'SelfSubjectAccessReview.authorization.k8s.io "" '
                             "is invalid: spec.resourceAttributes: Invalid value: ...: exactly "
                             "one of nonResourceAttributes or resourceAttributes must be "
                             "specified")  # fmt: skip
    if isinstance(resource, dict):
        allowed, reason = decide(resource, local=is_loopback(request.remote))
    else:
        assert isinstance(url, dict)
        allowed, reason = decide_url(url)
    status: JSON = {"allowed": allowed}
    if not allowed:
        status["denied"] = False  # no opinion from an authorizer: simply not allowed
    if reason:
        status["reason"] = reason
    return web.json_response({
        "kind": "SelfSubjectAccessReview",
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }, status=201)  # fmt: skip


def rules(*, local: bool) -> list[JSON]:
    out: list[JSON] = []
    for gv in (discovery.CORE, *discovery.GROUPS):
        for r in gv.resources:
            for name, verbs in ((r.name, r.verbs), *((f"{r.name}/{s}", v)
                                                     for s, v in r.subresources)):  # fmt: skip
                allowed = [v for v in verbs if local or v not in WRITES]
                if allowed:
                    out.append({"verbs": allowed, "apiGroups": [gv.group], "resources": [name]})
    return out


async def rules_review(request: web.Request) -> web.Response:
    spec = _review(await _body(request), "SelfSubjectRulesReview")
    return web.json_response({
        "kind": "SelfSubjectRulesReview",
        "apiVersion": f"{GROUP}/v1",
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {
            "resourceRules": rules(local=is_loopback(request.remote)),
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        },
    }, status=201)  # fmt: skip


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post(f"/apis/{GROUP}/v1/selfsubjectaccessreviews", access_review)
    router.add_post(f"/apis/{GROUP}/v1/selfsubjectrulesreviews", rules_review)
