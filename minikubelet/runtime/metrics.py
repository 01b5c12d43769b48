"""Prometheus collectors, named and labelled as the kubelet's (`prober_manager.go`).

Two registries: `PROBES` is what `/metrics/probes` exposes (the kubelet's probe metrics plus
`process_start_time_seconds`), `DAEMON` is what `/metrics` exposes (our own figures). Writers:
probe workers for the probe series, supervisors for the container series.

The collectors are made, and prometheus_client imported (with its HTTP client and server
modules: about a tenth of the daemon's start), at the first use of any of them, or before by
`create()`, which the daemon calls off the loop with the HTTP stack's import: the containers
start without them.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

    PROBES: CollectorRegistry
    DAEMON: CollectorRegistry
    PROBE_TOTAL: Counter
    PROBE_DURATION: Histogram
    CONTAINERS_RUNNING: Gauge
    CONTAINER_RESTARTS: Counter
    PROBE_LATENCY: Histogram
    GC_PAUSE: Histogram
    EVENT_LOOP_LAG: Histogram
    ASYNCIO_TASKS: Gauge
    LOG_LINES_DROPPED: Counter

_made: dict[str, Any] = {}
_lock = threading.Lock()


def __getattr__(name: str) -> Any:
    """A collector's name: made now if not yet."""
    if name.startswith("__") or not name.isupper():
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    create()
    try:
        return _made[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def create() -> None:
    """Makes the collectors, once (from any thread)."""
    with _lock:
        if not _made:
            made = _collectors()
            globals().update(made)  # later uses find them without __getattr__
            _made.update(made)


_LAG_BUCKETS = (  # fine enough that a p99 read from the buckets is not just a bucket's bound
    *(0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0065, 0.008),
    *(0.01, 0.0125, 0.015, 0.0175, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2),
    *(0.3, 0.5, 1, 2.5),
)


def _tasks() -> float:
    """Tasks of the loop serving the scrape: a leak of tasks shows here (the soak reads it)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop in this thread
        return 0.0


_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


def _collectors() -> dict[str, Any]:
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.process_collector import ProcessCollector

    probes = CollectorRegistry(auto_describe=True)
    daemon = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=probes)
    ProcessCollector(registry=daemon)
    made: dict[str, Any] = {  # in the order of /metrics
        "PROBES": probes,
        "DAEMON": daemon,
        "PROBE_TOTAL": Counter(
            "prober_probe_total",
            "[BETA] Cumulative number of a liveness, readiness or startup probe for a container "
            "by result.",
            ["probe_type", "result", "container", "pod", "namespace", "pod_uid"],
            registry=probes,
        ),
        "PROBE_DURATION": Histogram(
            "prober_probe_duration_seconds",
            "[ALPHA] Duration in seconds for a probe response.",
            ["probe_type", "container", "pod", "namespace"],
            registry=probes,
        ),
        "CONTAINERS_RUNNING": Gauge(
            "minikubelet_containers_running",
            "Containers whose process is running.",
            registry=daemon,
        ),
        "CONTAINER_RESTARTS": Counter(
            "minikubelet_container_restarts",
            "Container restarts (new instances after the first).",
            ["pod", "namespace", "container"],
            registry=daemon,
        ),
        "PROBE_LATENCY": Histogram(
            "minikubelet_probe_duration_seconds",
            "Time taken by each probe run, by handler and outcome.",
            ["handler", "result"],
            buckets=_LATENCY_BUCKETS,
            registry=daemon,
        ),
        "GC_PAUSE": Histogram(
            "minikubelet_gc_pause_seconds",
            "Pauses of the garbage collector's older generations (1 and 2: full).",
            ["generation"],
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1),
            registry=daemon,
        ),
        "EVENT_LOOP_LAG": Histogram(
            "minikubelet_event_loop_lag_seconds",
            "How late the event loop ran a callback due every 0.1 s (runtime/looplag.py).",
            buckets=_LAG_BUCKETS,
            registry=daemon,
        ),
        "ASYNCIO_TASKS": Gauge(
            "minikubelet_asyncio_tasks", "Tasks alive in the daemon's event loop.", registry=daemon
        ),
        "LOG_LINES_DROPPED": Counter(
            "minikubelet_log_lines_dropped",
            "Container log lines that could not be written (disk full, read-only file system).",
            ["pod", "namespace", "container"],
            registry=daemon,
        ),
    }
    made["ASYNCIO_TASKS"].set_function(_tasks)
    return made


def forget_pod(namespace: str, name: str) -> None:
    """Removes every series of a pod that has gone, as the kubelet's prober manager does
    with `RemovePod` (prober_manager.go): otherwise each pod that ever ran stays in every
    scrape and in memory."""
    if not _made:
        return  # no collector yet: no series either
    # every collector with series labelled by pod and namespace
    for collector in (_made["PROBE_TOTAL"], _made["PROBE_DURATION"], _made["CONTAINER_RESTARTS"]):
        label_names = collector._labelnames  # prometheus_client has no public getter
        for family in collector.collect():
            stale = {
                tuple(sample.labels[n] for n in label_names)
                for sample in family.samples
                if sample.labels.get("pod") == name and sample.labels.get("namespace") == namespace
            }
            for values in stale:
                collector.remove(*values)
