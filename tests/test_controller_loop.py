"""The controllers' loop (controllers/loop.py): writes what differs, removes what it made for
a Service that is gone, and follows the change feed."""

from __future__ import annotations

import asyncio
from typing import Any

from minikubelet.controllers import loop
from minikubelet.store.objects import ObjectStore


def _service() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "clusterIP": "127.96.0.9",
                     "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]}}  # fmt: skip


def _pod(ready: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1", "conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}  # fmt: skip


def test_reconcile_writes_only_differences_and_cleans_up() -> None:
    store = ObjectStore()
    owned: set[tuple[str, str]] = set()
    store.create("services", _service())
    store.create("pods", _pod(False))
    loop.reconcile(store, owned)
    endpoints = store.get("endpoints", "default", "web")
    assert endpoints is not None
    assert endpoints["subsets"][0]["notReadyAddresses"][0]["ip"] == "127.0.0.1"
    version = store.resource_version
    loop.reconcile(store, owned)
    assert store.resource_version == version  # nothing differs, nothing written
    store.put("pods", _pod(True))
    loop.reconcile(store, owned)
    endpoints = store.get("endpoints", "default", "web")
    assert endpoints is not None
    assert endpoints["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"
    assert len(store.list("endpointslices")) == 1
    store.remove("services", "default", "web")
    loop.reconcile(store, owned)
    assert store.get("endpoints", "default", "web") is None
    assert store.list("endpointslices") == []


async def test_run_follows_the_feed() -> None:
    store = ObjectStore()
    task = asyncio.create_task(loop.run(store))
    try:
        store.create("services", _service())
        store.create("pods", _pod(True))
        async with asyncio.timeout(30):
            while store.get("endpoints", "default", "web") is None:
                await asyncio.sleep(0)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    endpoints = store.get("endpoints", "default", "web")
    assert endpoints is not None
    assert endpoints["subsets"][0]["addresses"][0]["targetRef"]["name"] == "p"
