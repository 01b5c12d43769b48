"""The workload controllers the daemon runs (controllers/loop.py), in the order a pass runs
them. Adding a controller is one line here."""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import (
    cronjob,
    daemonset,
    deployment,
    garbagecollector,
    hpa,
    job,
    replicaset,
    resourcequota,
    statefulset,
    ttlafterfinished,
)
from minikubelet.controllers.base import Controller

CONTROLLERS: tuple[Controller, ...] = (
    deployment.CONTROLLER,  # before the ReplicaSet controller, which makes its sets' pods
    *replicaset.CONTROLLERS,  # ReplicaSet, ReplicationController
    statefulset.CONTROLLER,
    # Job and CronJob: the CronJob controller makes Jobs, the Job controller their pods, the
    # ttl-after-finished controller deletes finished Jobs past their TTL
    cronjob.CRONJOB_CONTROLLER,
    job.JOB_CONTROLLER,
    ttlafterfinished.TTL_CONTROLLER,
    garbagecollector.CONTROLLER,  # owner references, deletion propagation
    resourcequota.CONTROLLER,  # ResourceQuota status.hard and status.used
)  # fmt: skip


def for_node(node: dict[str, Any], usage: hpa.UsageReader | None = None) -> tuple[Controller, ...]:
    """CONTROLLERS and the ones that decide against the daemon's own Node (its name, labels
    and taints): the DaemonSet controller; and the HorizontalPodAutoscaler controller over
    the pods' usage the daemon samples (`usage`; None: no metrics, no scaling)."""
    autoscaler = hpa.HPAController(usage) if usage is not None else hpa.HPAController()
    return (*CONTROLLERS, daemonset.controller(node), autoscaler)
