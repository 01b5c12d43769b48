"""The pod's QoS class (`status.qosClass`) from its containers' requests and limits.

Owns `qos_class`, a copy of the kubelet's GetPodQOS on the defaulted pod. Must not read
processes or cgroups: it looks at the spec only. Only cpu and memory count, only quantities
above zero count, and init containers count as much as regular ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from minikubelet.core.spec import Container, PodSpec, Quantity

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"

_QOS_RESOURCES = ("cpu", "memory")  # kubelet: qos.go isSupportedQoSComputeResource


def qos_class(spec: PodSpec) -> str:
    # kubelet: pkg/apis/core/v1/helper/qos/qos.go GetPodQOS (ComputePodQOS)
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    every_container_limited = True
    for container in spec.containers + spec.init_containers:
        container_requests, container_limits = _counted(container)
        _add(requests, container_requests)
        _add(limits, container_limits)
        if not all(name in container_limits for name in _QOS_RESOURCES):
            every_container_limited = False
    if not requests and not limits:
        return BEST_EFFORT
    if every_container_limited and requests == limits:
        return GUARANTEED
    return BURSTABLE


def _counted(container: Container) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The container's positive cpu/memory requests and limits, with each limit copied into
    a missing request as API defaulting does (SetDefaults_Pod)."""
    limits = _positive(container.resources.limits)
    requests = _positive({**container.resources.limits, **container.resources.requests})
    return requests, limits


def _positive(quantities: Mapping[str, Quantity]) -> dict[str, Decimal]:
    return {
        name: quantity.value
        for name, quantity in quantities.items()
        if name in _QOS_RESOURCES and quantity.value > 0
    }


def _add(totals: dict[str, Decimal], values: Mapping[str, Decimal]) -> None:
    for name, value in values.items():
        totals[name] = totals.get(name, Decimal(0)) + value
