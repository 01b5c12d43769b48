"""Prometheus collectors, named and labelled as the kubelet's (`prober_manager.go`).

Two registries: `PROBES` is what `/metrics/probes` exposes (the kubelet's probe metrics plus
`process_start_time_seconds`), `DAEMON` is what `/metrics` exposes (our own figures). Writers:
probe workers for the probe series, supervisors for the container series.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

PROBES = CollectorRegistry(auto_describe=True)
DAEMON = CollectorRegistry(auto_describe=True)

ProcessCollector(registry=PROBES)
ProcessCollector(registry=DAEMON)

PROBE_TOTAL = Counter(
    "prober_probe_total",
    "[BETA] Cumulative number of a liveness, readiness or startup probe for a container by result.",
    ["probe_type", "result", "container", "pod", "namespace", "pod_uid"],
    registry=PROBES,
)
PROBE_DURATION = Histogram(
    "prober_probe_duration_seconds",
    "[ALPHA] Duration in seconds for a probe response.",
    ["probe_type", "container", "pod", "namespace"],
    registry=PROBES,
)

CONTAINERS_RUNNING = Gauge(
    "minikubelet_containers_running", "Containers whose process is running.", registry=DAEMON
)
CONTAINER_RESTARTS = Counter(
    "minikubelet_container_restarts",
    "Container restarts (new instances after the first).",
    ["pod", "namespace", "container"],
    registry=DAEMON,
)
PROBE_LATENCY = Histogram(
    "minikubelet_probe_duration_seconds",
    "Time taken by each probe run, by handler and outcome.",
    ["handler", "result"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=DAEMON,
)


GC_PAUSE = Histogram(
    "minikubelet_gc_pause_seconds",
    "Pauses of the garbage collector's older generations (1 and 2: full).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1),
    registry=DAEMON,
)


def _tasks() -> float:
    """Tasks of the loop serving the scrape: a leak of tasks shows here (the soak reads it)."""
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # no running loop in this thread
        return 0.0


ASYNCIO_TASKS = Gauge(
    "minikubelet_asyncio_tasks", "Tasks alive in the daemon's event loop.", registry=DAEMON
)
ASYNCIO_TASKS.set_function(_tasks)

LOG_LINES_DROPPED = Counter(
    "minikubelet_log_lines_dropped",
    "Container log lines that could not be written (disk full, read-only file system).",
    ["pod", "namespace", "container"],
    registry=DAEMON,
)


# every collector with series labelled by pod and namespace
_PER_POD = (PROBE_TOTAL, PROBE_DURATION, CONTAINER_RESTARTS)


def forget_pod(namespace: str, name: str) -> None:
    """Removes every series of a pod that has gone, as the kubelet's prober manager does
    with `RemovePod` (prober_manager.go): otherwise each pod that ever ran stays in every
    scrape and in memory."""
    for collector in _PER_POD:
        label_names = collector._labelnames  # prometheus_client has no public getter
        for family in collector.collect():
            stale = {
                tuple(sample.labels[n] for n in label_names)
                for sample in family.samples
                if sample.labels.get("pod") == name and sample.labels.get("namespace") == namespace
            }
            for values in stale:
                collector.remove(*values)
