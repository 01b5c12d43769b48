"""Slow leaks: what a pod leaves behind once it is gone, and what the watch history holds.

A removed pod's metric series go with it (they stayed in every scrape for ever), and the watch
history is bounded by the size of what it keeps, not only by a count (a thousand copies of one
large pod were hundreds of megabytes); a watch from before what is kept gets 410 Expired.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from api_fakes import FakeRegistry, serve
from daemon_harness import Minikubelet, write_manifest

from minikubelet.api import watch
from minikubelet.api.appkeys import WATCH_CACHE
from minikubelet.api.registry import WatchEvent

PODS = "/api/v1/namespaces/default/pods"
CRASHER = """
apiVersion: v1
kind: Pod
metadata: {name: leaky}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 0.2; exit 1"]
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
"""


def series(mk: Minikubelet, path: str, pod: str) -> list[str]:
    code, body = mk.get(path, accept="text/plain")
    assert code == 200
    return [line for line in body.decode().splitlines() if f'pod="{pod}"' in line]


def test_a_removed_pods_metric_series_are_removed(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, CRASHER)
    mk = Minikubelet(manifest, "--quiet-logs", "--backoff-initial", "0", state_dir=tmp_path / "s")
    try:
        mk.wait_serving()
        mk.wait_for("a restart counted", lambda: series(mk, "/metrics", "leaky"))
        mk.wait_for("a probe counted", lambda: series(mk, "/metrics/probes", "leaky"))
        request = urllib.request.Request(mk.url + PODS + "/leaky", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        mk.wait_for("the pod gone", lambda: mk.get(PODS + "/leaky")[0] == 404)
        assert series(mk, "/metrics", "leaky") == []
        assert series(mk, "/metrics/probes", "leaky") == []
    finally:
        mk.close()
    assert mk.survivors() == []


def big_pod(version: int, size: int) -> dict[str, Any]:
    return {
        "kind": "Pod",
        "metadata": {"name": "big", "namespace": "default", "resourceVersion": str(version)},
        "spec": {"containers": [{"name": f"c{i}", "image": "x" * 90} for i in range(size // 100)]},
    }


def test_the_history_is_bounded_by_bytes() -> None:
    cache = watch.WatchCache(start_version=0, capacity=1000, max_bytes=1_000_000)
    size = watch.event_size(WatchEvent("MODIFIED", "Pod", big_pod(1, 100_000), 1))
    for version in range(1, 1001):
        cache.publish(WatchEvent("MODIFIED", "Pod", big_pod(version, 100_000), version))
    assert cache.history_bytes <= 1_000_000
    kept = 1_000_000 // size
    assert cache.horizon == 1000 - kept
    with cache.listen(cache.horizon) as (backlog, _):
        assert [e.resource_version for e in backlog] == list(range(1001 - kept, 1001))
    with (
        pytest.raises(Exception, match="too old resource version") as raised,
        cache.listen(cache.horizon - 1),
    ):
        pass
    assert getattr(raised.value, "code", None) == 410


def test_the_count_still_bounds_small_events() -> None:
    cache = watch.WatchCache(start_version=5, capacity=3)
    assert cache.horizon == 5
    for version in range(6, 12):
        cache.publish(WatchEvent("MODIFIED", "Pod", big_pod(version, 0), version))
    assert cache.horizon == 8  # 6, 7 and 8 were dropped: a watch from 8 misses nothing
    with cache.listen(8) as (backlog, _):
        assert [e.resource_version for e in backlog] == [9, 10, 11]


async def test_a_watch_from_before_the_history_is_410_expired(tmp_path: Path) -> None:
    registry = FakeRegistry()
    async with serve(registry, tmp_path) as server:
        cache = server.app[WATCH_CACHE]
        first = registry.resource_version
        web_pod = registry.pods[("default", "web")]
        web_pod["spec"]["containers"][0]["env"] = [
            {"name": f"V{i}", "value": "x" * 1000} for i in range(2000)
        ]
        for _ in range(watch.HISTORY_BYTES // 2_000_000 + 20):
            registry.publish("MODIFIED", web_pod)
        last = registry.resource_version
        deadline = asyncio.get_running_loop().time() + 30
        while last not in cache_versions(cache):  # the cache follows the feed in its own task
            assert asyncio.get_running_loop().time() < deadline, "the cache did not catch up"
            await asyncio.sleep(0.01)
        assert cache.horizon > first
        assert cache.history_bytes <= watch.HISTORY_BYTES
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}{PODS}?watch=1&resourceVersion={first}") as r:
                body = json.loads(await r.text())
            assert (r.status, body["kind"], body["reason"]) == (410, "Status", "Expired")
            url = f"{server.url}{PODS}?watch=1&resourceVersion={last - 1}&timeoutSeconds=1"
            async with session.get(url) as r:
                events = [json.loads(line) for line in (await r.text()).splitlines()]
            assert [e["object"]["metadata"]["resourceVersion"] for e in events] == [str(last)]


def cache_versions(cache: watch.WatchCache) -> list[int]:
    with cache.listen(cache.horizon) as (backlog, _):
        return [e.resource_version for e in backlog]
