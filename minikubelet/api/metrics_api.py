"""`metrics.k8s.io/v1beta1`: PodMetrics and NodeMetrics as metrics-server serves them, for
`kubectl top pod` and `kubectl top node`.

The figures are the ones `/stats/summary` reports (api/stats.py: a container is its process
tree, its memory the tree's RSS standing in for the working set; the node is the machine),
through the same CPU sampler, so both endpoints agree: CPU is a rate since the previous
sample of the same container (the `window`), or since the process started. As metrics-server
does (`pkg/api/pod.go`, `pkg/storage`), a pod is listed only while it has running containers,
CPU is written in nanocores (`12345n`) and memory in KiB (`2048Ki`). Walking process trees
costs in proportion to the processes, so it runs in a thread; the registry is read on the loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import psutil
from aiohttp import web

from minikubelet.api import nodes, stats
from minikubelet.api import status_errors as se
from minikubelet.api.appkeys import registry, settings
from minikubelet.api.registry import JSON
from minikubelet.api.selectors import field_predicate, label_predicate
from minikubelet.core import autoscaling
from minikubelet.core.gotext import duration, parse_rfc3339, rfc3339

GROUP_VERSION = "metrics.k8s.io/v1beta1"
_PREFIX = "/apis/metrics.k8s.io/v1beta1"
_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


def _usage(cpu_nanocores: int, memory_bytes: int) -> JSON:
    return {"cpu": f"{cpu_nanocores}n", "memory": f"{memory_bytes // 1024}Ki"}


def _window(sampler: stats.CpuSampler, key: str, since: float, now: float) -> str:
    previous = sampler.samples.get(key)
    start = previous[0] / 1e9 if previous else since
    return duration(round(max(now - start, 0.0), 3))


def pod_metrics(pod: JSON, pids: Mapping[str, int], sampler: stats.CpuSampler,
                now: float) -> JSON | None:  # fmt: skip
    """One pod's PodMetrics, or None while none of its containers runs. Blocking."""
    meta = pod.get("metadata", {})
    uid = meta.get("uid", "")
    containers, window = [], "0s"
    boot = psutil.boot_time()
    for name, pid in sorted(pids.items()):
        usage = stats.Usage()
        usage.add([st for p in stats.process_tree(pid) if (st := stats.proc_stat(p, boot))])
        if usage.processes == 0:
            continue
        key = f"{uid}/{name}"
        window = _window(sampler, key, usage.started or now, now)
        cpu = usage.cpu(sampler, key, now)["usageNanoCores"]
        containers.append({"name": name, "usage": _usage(cpu, usage.rss)})
    if not containers:
        return None
    return {
        "kind": "PodMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": {
            "name": meta.get("name", ""),
            "namespace": meta.get("namespace", "default"),
            "creationTimestamp": rfc3339(now),
            "labels": meta.get("labels") or {},
        },
        "timestamp": rfc3339(now),
        "window": window,
        "containers": containers,
    }


def pod_usage(pod: JSON, pids: Mapping[str, int], sampler: stats.CpuSampler,
              now: float) -> autoscaling.PodUsage | None:  # fmt: skip
    """One pod's usage as the HorizontalPodAutoscaler reads it (the figures of its PodMetrics:
    CPU in millicores, memory in milli-bytes), or None while none of its containers runs.
    Blocking."""
    uid = pod.get("metadata", {}).get("uid", "")
    starts = [sampler.samples[k][0] / 1e9 for k in (f"{uid}/{n}" for n in pids)
              if k in sampler.samples]  # fmt: skip
    metrics = pod_metrics(pod, pids, sampler, now)
    if metrics is None:
        return None
    containers = {
        c["name"]: {
            "cpu": -(-int(c["usage"]["cpu"].removesuffix("n")) // 1_000_000),
            "memory": int(c["usage"]["memory"].removesuffix("Ki")) * 1024 * 1000,
        }
        for c in metrics["containers"]
    }
    if not starts:  # the first sample: a rate since the containers started
        started = (pod.get("status") or {}).get("startTime")
        starts = [parse_rfc3339(started) if started else now]
    window = now - max(starts)
    return autoscaling.PodUsage(now, max(window, 0.0), containers)


def node_metrics(name: str, labels: JSON, sampler: stats.CpuSampler, now: float) -> JSON:
    """The machine's NodeMetrics: CPU busy time as a rate, memory in use (total - available,
    the summary's node workingSetBytes). Blocking."""
    window = _window(sampler, "node", psutil.boot_time(), now)
    cpu = stats._node_cpu(sampler, now)["usageNanoCores"]
    memory = psutil.virtual_memory()
    return {
        "kind": "NodeMetrics",
        "apiVersion": GROUP_VERSION,
        "metadata": {"name": name, "creationTimestamp": rfc3339(now), "labels": labels},
        "timestamp": rfc3339(now),
        "window": window,
        "usage": _usage(cpu, memory.total - memory.available),
    }


def _matcher(request: web.Request, plural: str) -> Callable[[JSON], bool]:
    labels = request.query.get("labelSelector", "")
    fields = request.query.get("fieldSelector", "")
    try:
        by_label, by_field = label_predicate(labels), field_predicate(fields, _FIELDS)
    except ValueError as exc:
        raise se.bad_request(
            f'Unable to find "{GROUP_VERSION}, Resource={plural}" that match label selector '
            f'"{labels}", field selector "{fields}": {exc}'
        ) from None
    return lambda obj: by_label(obj) and by_field(obj)


def _not_found(plural: str, name: str) -> se.StatusError:
    return se.StatusError(
        404,
        "NotFound",
        f'{plural.removesuffix("s")}metrics.metrics.k8s.io "{name}" not found',
        {"name": name, "group": "metrics.k8s.io", "kind": plural},
    )


def _list(kind: str, items: list[JSON]) -> web.Response:
    return web.json_response({
        "kind": f"{kind}List", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items,
    })  # fmt: skip


async def _pods_metrics(request: web.Request, namespace: str | None) -> list[JSON]:
    reg = registry(request)
    pods = [(p, reg.container_pids(p["metadata"].get("namespace", "default"),
                                   p["metadata"].get("name", "")))
            for p in reg.list_pods(namespace)]  # fmt: skip
    sampler = request.app[stats.SAMPLER]

    def sample() -> list[JSON]:
        now = time.time()
        found = (pod_metrics(p, pids, sampler, now) for p, pids in pods if pids)
        return [m for m in found if m is not None]

    return await asyncio.to_thread(sample)


async def list_pods(request: web.Request) -> web.Response:
    matches = _matcher(request, "pods")
    namespace = request.match_info.get("namespace")
    items = [m for m in await _pods_metrics(request, namespace) if matches(m)]
    return _list("PodMetrics", items)


async def get_pod(request: web.Request) -> web.Response:
    namespace, name = request.match_info["namespace"], request.match_info["name"]
    for metrics in await _pods_metrics(request, namespace):
        if metrics["metadata"]["name"] == name:
            return web.json_response(metrics)
    raise _not_found("pods", name)


async def _node_metrics(request: web.Request) -> JSON:
    name = settings(request).node_name
    labels = nodes.node_labels(name)
    sampler = request.app[stats.SAMPLER]
    return await asyncio.to_thread(lambda: node_metrics(name, labels, sampler, time.time()))


async def list_nodes(request: web.Request) -> web.Response:
    matches = _matcher(request, "nodes")
    return _list("NodeMetrics", [m for m in [await _node_metrics(request)] if matches(m)])


async def get_node(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name != settings(request).node_name:
        raise _not_found("nodes", name)
    return web.json_response(await _node_metrics(request))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(f"{_PREFIX}/nodes", list_nodes)
    router.add_get(f"{_PREFIX}/nodes/{{name}}", get_node)
    router.add_get(f"{_PREFIX}/pods", list_pods)
    router.add_get(f"{_PREFIX}/namespaces/{{namespace}}/pods", list_pods)
    router.add_get(f"{_PREFIX}/namespaces/{{namespace}}/pods/{{name}}", get_pod)
