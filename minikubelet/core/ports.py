"""Ports on one shared network: the scheduler's NodePorts fit, with containerPort as hostPort.

Every local process shares the host's network, so each `containerPort` a pod declares acts
as a hostPort would on a real node: a pod whose ports collide with those of a pod that
holds them does not fit the (one) node and stays Pending, unschedulable. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from minikubelet.core.spec import Pod

Port = tuple[int, str]  # (port, protocol)

UNSCHEDULABLE = "Unschedulable"
# kube-scheduler: framework/plugins/nodeports/node_ports.go ErrReason; the FitError text of
# schedule_one.go (`0/%v nodes are available: %v.`) and the preemption's PostFilter message
# (defaultpreemption: "No preemption victims found for incoming pod")
PORTS_REASON = "node(s) didn't have free ports for the requested pod ports"
NO_FREE_PORTS = (
    f"0/1 nodes are available: 1 {PORTS_REASON}. preemption: 0/1 nodes are available: "
    "1 No preemption victims found for incoming pod."
)


def pod_ports(pod: Pod) -> frozenset[Port]:
    """The ports the pod would hold: every container's, init containers and sidecars
    included (kube-scheduler: nodeports getContainerPorts over the pod's containers and
    init containers). The containerPort, which is what the process binds here; a hostPort
    has no local meaning."""
    ports: set[Port] = set()
    for c in pod.spec.all_containers():
        for p in c.ports:
            ports.add((p.container_port, p.protocol or "TCP"))
    return frozenset(ports)


def fits(pod: Pod, held: Iterable[Port]) -> bool:
    """kube-scheduler: nodeports fitsPorts: no wanted (port, protocol) already in use."""
    return not (pod_ports(pod) & set(held))


def schedule(waiting: Iterable[Pod], held: Iterable[Port]) -> list[Pod]:
    """Which of the waiting pods (in order) fit now; each one taken holds its ports for
    those after it, so of two that want the same port the first gets it."""
    used = set(held)
    placed = []
    for pod in waiting:
        wanted = pod_ports(pod)
        if not wanted & used:
            placed.append(pod)
            used |= wanted
    return placed
