"""The controllers' loop: it follows the store's change feed and, on every change to a
Service, a Pod or a PersistentVolumeClaim, reconciles (controllers/endpoints.py, the claims'
provisioner core/claims.py) and writes back what differs, as the
controller manager's informers and work queues do (pkg/controller/endpoint,
pkg/controller/endpointslice). A burst of changes is one reconcile. Nothing here awaits but
the feed.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import endpoints as ep
from minikubelet.core import claims
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
WAKE_KINDS = frozenset({"Service", "Pod", "PersistentVolumeClaim"})
_SERVER_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")


def _same(stored: JSON | None, wanted: JSON) -> bool:
    if stored is None:
        return False
    meta = {k: v for k, v in stored["metadata"].items() if k not in _SERVER_META}
    return {**stored, "metadata": meta} == wanted


def _write(store: ObjectStore, resource: str, wanted: JSON) -> None:
    meta = wanted["metadata"]
    stored = store.get(resource, meta["namespace"], meta["name"])
    if _same(stored, wanted):
        return
    if stored is None:
        store.create(resource, wanted)
        return
    kept = {
        k: stored["metadata"][k] for k in ("uid", "creationTimestamp") if k in stored["metadata"]
    }
    store.put(resource, {**wanted, "metadata": {**meta, **kept}})


def bind_claims(store: ObjectStore) -> None:
    """The local provisioner (core/claims.py): every claim not yet bound is."""
    for claim in store.list("persistentvolumeclaims"):
        wanted = claims.bound(claim)
        if wanted is not None:
            store.put("persistentvolumeclaims", wanted)


def reconcile(store: ObjectStore, owned_endpoints: set[tuple[str, str]]) -> None:
    """One pass over every Service: its Endpoints and EndpointSlices written where they
    differ; the ones made for a Service that is gone (or lost its selector) removed. Then
    every claim is bound."""
    bind_claims(store)
    pods = store.list("pods")
    wanted_endpoints: set[tuple[str, str]] = set()
    wanted_slices: set[tuple[str, str]] = set()
    for service in store.list("services"):
        endpoints = ep.desired_endpoints(service, pods)
        if endpoints is not None:
            key = (endpoints["metadata"]["namespace"], endpoints["metadata"]["name"])
            wanted_endpoints.add(key)
            _write(store, "endpoints", endpoints)
        for slice_ in ep.desired_slices(service, pods):
            wanted_slices.add((slice_["metadata"]["namespace"], slice_["metadata"]["name"]))
            _write(store, "endpointslices", slice_)
    for key in owned_endpoints - wanted_endpoints:
        store.remove("endpoints", *key)
    owned_endpoints.clear()
    owned_endpoints.update(wanted_endpoints)
    for obj in store.list("endpointslices"):
        labels = obj["metadata"].get("labels") or {}
        key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        if labels.get(ep.MANAGED_BY_LABEL) == ep.MANAGED_BY and key not in wanted_slices:
            store.remove("endpointslices", *key)


async def run(store: ObjectStore) -> None:
    """Reconcile now and after every Service or Pod change, until cancelled."""
    queue = store.subscribe()
    owned: set[tuple[str, str]] = set()
    try:
        reconcile(store, owned)
        while True:
            changes = [await queue.get()]
            while not queue.empty():
                changes.append(queue.get_nowait())
            if any(c.kind in WAKE_KINDS for c in changes):
                reconcile(store, owned)
    finally:
        store.unsubscribe(queue)
