"""The controllers' loop, as the controller manager's informers and work queues run its
controllers: it follows the store's change feed and, on every change to a Service or a Pod,
reconciles the Endpoints (controllers/endpoints.py, pkg/controller/endpoint and
endpointslice) and writes back what differs; and it runs every workload controller of
controllers/registry.py when a resource it watches changes or at the time it asked for,
applying its actions (controllers/apply.py). A burst of changes is one reconcile each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import structlog

from minikubelet.controllers import endpoints as ep
from minikubelet.controllers.apply import Applier, PodClient
from minikubelet.controllers.base import Controller, Result
from minikubelet.controllers.registry import CONTROLLERS
from minikubelet.store.objects import Change, ObjectStore

log = structlog.get_logger("minikubelet.controllers")

JSON = dict[str, Any]
WAKE_KINDS = frozenset({"Service", "Pod"})
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


def reconcile(store: ObjectStore, owned_endpoints: set[tuple[str, str]]) -> None:
    """One pass over every Service: its Endpoints and EndpointSlices written where they
    differ; the ones made for a Service that is gone (or lost its selector) removed."""
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


class _Schedule:
    """Which controllers are due: woken by a change to a resource they watch, or at the time
    they asked to be looked at again. A controller that fails is retried with a back-off
    (0.5 s doubling to 30 s), as a work queue's rate limiter does."""

    def __init__(self, controllers: Sequence[Controller]) -> None:
        self.controllers = list(controllers)
        self.dirty: set[str] = {c.name for c in controllers}
        self.due: dict[str, float] = {}
        self.failures: dict[str, int] = {}

    def woken(self, changes: Sequence[Change]) -> None:
        resources = {c.resource for c in changes}
        for controller in self.controllers:
            if controller.wakes & resources:
                self.dirty.add(controller.name)

    def take(self, now: float) -> list[Controller]:
        for name, at in list(self.due.items()):
            if at <= now:
                self.dirty.add(name)
                del self.due[name]
        ready = [c for c in self.controllers if c.name in self.dirty]
        self.dirty.clear()
        return ready

    def done(self, controller: Controller, result: Result | None, now: float) -> None:
        if result is None:
            failures = self.failures.get(controller.name, 0) + 1
            self.failures[controller.name] = failures
            self.due[controller.name] = now + min(30.0, 0.5 * 2 ** (failures - 1))
            return
        self.failures.pop(controller.name, None)
        if result.requeue_at is not None:
            at = max(result.requeue_at, now)
            self.due[controller.name] = min(self.due.get(controller.name, at), at)

    def timeout(self, now: float) -> float | None:
        if self.dirty:
            return 0.0
        return max(0.0, min(self.due.values()) - now) if self.due else None


async def _pass(applier: Applier, schedule: _Schedule, clock: Callable[[], float]) -> None:
    for controller in schedule.take(clock()):
        now = clock()
        try:
            result: Result | None = controller.reconcile(applier.store, now)
        except Exception:  # a bug in one controller stays with it
            log.exception("controller failed", controller=controller.name)
            result = None
        if result is not None:
            for action in result.actions:
                await applier.apply(controller.name, action, now)
        schedule.done(controller, result, clock())


async def _next_changes(queue: asyncio.Queue[Change], wait: float | None) -> list[Change]:
    try:
        async with asyncio.timeout(wait):
            changes = [await queue.get()]
    except TimeoutError:
        return []
    while not queue.empty():
        changes.append(queue.get_nowait())
    return changes


async def run(
    store: ObjectStore,
    pods: PodClient | None = None,
    *,
    controllers: Sequence[Controller] = CONTROLLERS,
    clock: Callable[[], float] = time.time,
) -> None:
    """The Endpoints reconcile after every Service or Pod change, and every workload
    controller when a resource it watches changes or its requeue time comes, until
    cancelled. Each pass yields to the event loop, so that a burst of writes never holds it."""
    queue = store.subscribe()
    owned: set[tuple[str, str]] = set()
    schedule = _Schedule(controllers if pods is not None else ())
    applier = Applier(store, pods) if pods is not None else None
    try:
        reconcile(store, owned)
        while True:
            if applier is not None:
                await _pass(applier, schedule, clock)
            changes = await _next_changes(queue, schedule.timeout(clock()))
            if any(c.kind in WAKE_KINDS for c in changes):
                reconcile(store, owned)
            schedule.woken(changes)
            await asyncio.sleep(0)
    finally:
        store.unsubscribe(queue)
