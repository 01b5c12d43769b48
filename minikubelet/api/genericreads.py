"""The reads of every registered kind (store/kinds.py), as the API server's generic REST
store serves them: list and watch (label and field selectors, resourceVersion) and get, with
the kind's Table columns, and the objects served beside the stored ones (the `kubernetes`
Service, a Namespace for every namespace a pod lives in). Also what the writes share: the
store, a kind's qualified name, finding the addressed object.
"""

from __future__ import annotations

from aiohttp import web

from minikubelet.api import resources, services
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import STORE
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.store.kinds import Kind
from minikubelet.store.objects import JSON, ObjectStore

_NAME = ("Name", "string", 0, "Name must be unique within a namespace.")
_AGE = ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time "
        "when this object was created.")  # fmt: skip
_CREATED_AT = ("Created At", "date", 0, "CreationTimestamp is a timestamp representing the "
               "server time when this object was created.")  # fmt: skip


def qualified(kind: Kind) -> str:
    """`deployments.apps`, as the API server names a resource in its messages."""
    return f"{kind.resource}.{kind.group}" if kind.group else kind.resource


def store_of(request: web.Request) -> ObjectStore:
    return request.app[STORE]


def listing(kind: Kind) -> Resource:
    if kind.resource == "services":
        return Resource("Service", "services", services.SERVICE_FIELDS,
                        services.SERVICE_COLUMNS, services.service_row)  # fmt: skip
    last = _CREATED_AT if kind.created_at else _AGE
    # the wide columns (priority 1: CONTAINERS, IMAGES, SELECTOR) come after Age, as printers.go
    # defines them
    wide = [i for i, column in enumerate(kind.columns) if column[2] > 0]
    narrow = [i for i in range(len(kind.columns)) if i not in wide]
    cut = len(narrow) - kind.after_age  # the narrow columns before Age, then the rest
    before, after = narrow[:cut], narrow[cut:]
    columns = (_NAME, *(kind.columns[i] for i in before), last,
               *(kind.columns[i] for i in after + wide))  # fmt: skip

    def row(obj: JSON, now: float, include: str) -> JSON:
        created = obj.get("metadata", {}).get("creationTimestamp")
        end = created if kind.created_at else tbl.since(created, now)
        cells = kind.timed_cells(obj, now) if kind.timed_cells else kind.cells(obj)
        ordered = [*(cells[i] for i in before), end, *(cells[i] for i in after + wide)]
        return tbl.row(obj, [obj["metadata"]["name"], *ordered], include)

    return Resource(kind.kind, kind.resource, kind.fields, columns, row, kind.api_version)


def _extra(request: web.Request, kind: Kind, namespace: str | None) -> list[JSON]:
    """Objects served beside the stored ones: the `kubernetes` Service, and a Namespace for
    every namespace a pod lives in."""
    if kind.resource == "services":
        return services.services(request, namespace)
    if kind.resource == "namespaces":
        return resources.namespaces(request)
    return []


def objects(request: web.Request, kind: Kind, namespace: str | None) -> list[JSON]:
    stored = store_of(request).list(kind.resource, namespace if kind.namespaced else None)
    names = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in stored}
    extra = [
        o for o in _extra(request, kind, namespace)
        if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) not in names
    ]  # fmt: skip
    return sorted([*stored, *extra], key=object_key)


def object_key(obj: JSON) -> tuple[str, str]:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def find_object(request: web.Request, kind: Kind) -> tuple[str, str, JSON | None]:
    namespace = request.match_info.get("namespace", "") if kind.namespaced else ""
    name = request.match_info["name"]
    found = store_of(request).get(kind.resource, namespace, name)
    if found is None:
        found = next(
            (o for o in _extra(request, kind, namespace or None)
             if o["metadata"]["name"] == name), None,
        )  # fmt: skip
    return namespace, name, found


async def list_objects(request: web.Request, kind: Kind) -> web.StreamResponse:
    namespace = request.match_info.get("namespace") if kind.namespaced else None

    def in_namespace(obj: JSON) -> bool:
        return namespace is None or obj.get("metadata", {}).get("namespace") == namespace

    return await list_or_watch(request, listing(kind), lambda: objects(request, kind, namespace),
                               in_namespace)  # fmt: skip


async def get_object(request: web.Request, kind: Kind) -> web.Response:
    _, name, found = find_object(request, kind)
    return get_one(request, listing(kind), found, name)
