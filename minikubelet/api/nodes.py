"""`/api/v1/nodes`: this machine as the one Node, as a kubelet registers and updates it.

Capacity is the machine's (CPUs, memory, the state directory's filesystem as
ephemeral-storage, the kubelet's default of 110 pods); allocatable subtracts the kubelet's
default hard eviction thresholds (`memory.available<100Mi`, `nodefs.available<10%`), as
`pkg/kubelet/cm/node_container_manager_linux.go` `GetNodeAllocatableAbsolute` does with no
reservations. The pressure conditions compare the same thresholds with what is free now
(`pkg/kubelet/eviction/helpers.go`; no PID threshold is set by default, so PIDPressure is
False); their reasons and messages are the kubelet's (`pkg/kubelet/nodestatus/setters.go`).
`kubectl describe node` lists the pods on the node itself (a pod list with
`fieldSelector=spec.nodeName=...`) and adds their requests up client-side.

The facts are read when asked (a few small files, statvfs, /proc/meminfo: constant cost,
nothing that grows with the number of processes); the static ones once.
"""

from __future__ import annotations

import functools
import os
import platform
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
from aiohttp import web

from minikubelet import KUBERNETES_VERSION, __version__
from minikubelet.api import table as tbl
from minikubelet.api.appkeys import registry, settings
from minikubelet.api.listing import Resource, get_one, list_or_watch
from minikubelet.api.registry import JSON
from minikubelet.core import nodelabels
from minikubelet.core.gotext import rfc3339

MAX_PODS = 110  # kubelet: KubeletConfiguration maxPods default
EVICTION_MEMORY = 100 * 2**20  # evictionHard memory.available<100Mi
EVICTION_NODEFS = 0.10  # evictionHard nodefs.available<10%
EVICTION_INODES = 0.05  # evictionHard nodefs.inodesFree<5%
_NODE_UIDS = uuid.UUID("0d7a1b5e-8f0e-4c53-9a0b-7a2f4f3c9e61")
NODE_FIELDS = frozenset({"metadata.name", "spec.unschedulable"})
_NAME_DOC = "Name must be unique within a namespace."

NODE_COLUMNS: tuple[tbl.Column, ...] = (
    ("Name", "string", 0, _NAME_DOC),
    ("Status", "string", 0, "The status of the node"),
    ("Roles", "string", 0, "The roles of the node"),
    ("Age", "string", 0, "CreationTimestamp is the time this object was created, in UTC."),
    ("Version", "string", 0, "Kubelet Version reported by the node."),
    ("Internal-IP", "string", 1, "List of addresses reachable to the node."),
    ("External-IP", "string", 1, "List of addresses reachable to the node."),
    ("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release."),
    ("Kernel-Version", "string", 1, "Kernel Version reported by the node."),
    ("Container-Runtime", "string", 1, "ContainerRuntime Version reported by the node."),
)


@dataclass(frozen=True, slots=True)
class Machine:
    """What the node status is computed from, read at one moment."""

    cpus: int
    memory_total: int
    memory_available: int
    fs_capacity: int
    fs_available: int
    inodes: int
    inodes_free: int


@dataclass(frozen=True, slots=True)
class Pressure:
    memory: bool
    disk: bool
    pid: bool = False


def pressure(machine: Machine) -> Pressure:
    """The kubelet's default hard eviction signals against what is free."""
    disk = machine.fs_capacity > 0 and machine.fs_available < EVICTION_NODEFS * machine.fs_capacity
    inodes = machine.inodes > 0 and machine.inodes_free < EVICTION_INODES * machine.inodes
    return Pressure(memory=machine.memory_available < EVICTION_MEMORY, disk=disk or inodes)


def read_machine(state_dir: Path | None) -> Machine:
    memory = psutil.virtual_memory()
    try:
        fs = os.statvfs(state_dir or "/")
        capacity, available = fs.f_blocks * fs.f_frsize, fs.f_bavail * fs.f_frsize
        inodes, inodes_free = fs.f_files, fs.f_ffree
    except OSError:
        capacity = available = inodes = inodes_free = 0
    return Machine(
        cpus=os.cpu_count() or 1,
        memory_total=memory.total,
        memory_available=memory.available,
        fs_capacity=capacity,
        fs_available=available,
        inodes=inodes,
        inodes_free=inodes_free,
    )


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def os_image(text: str) -> str:
    """PRETTY_NAME from /etc/os-release, as the kubelet reads it (cadvisor: getOperatingSystem)."""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PRETTY_NAME":
            return value.strip().strip('"').strip("'")
    return "Linux"


def architecture() -> str:
    return nodelabels.go_arch(platform.machine())


@functools.cache
def node_info() -> JSON:
    major, minor, patch = KUBERNETES_VERSION
    return {
        "machineID": _read("/etc/machine-id"),
        "systemUUID": _read("/sys/class/dmi/id/product_uuid"),
        "bootID": _read("/proc/sys/kernel/random/boot_id"),
        "kernelVersion": platform.release(),
        "osImage": os_image(_read("/etc/os-release")),
        "containerRuntimeVersion": f"minikubelet://{__version__}",
        "kubeletVersion": f"v{major}.{minor}.{patch}",
        "kubeProxyVersion": "",  # deprecated, no longer set by the kubelet, but not omitempty
        "operatingSystem": "linux",
        "architecture": architecture(),
    }


def _condition(type_: str, true: bool, reasons: tuple[str, str, str, str], now: float,
               since: float) -> JSON:  # fmt: skip
    """`reasons`: (reason if true, message if true, reason if false, message if false)."""
    reason, message = (reasons[0], reasons[1]) if true else (reasons[2], reasons[3])
    return {
        "type": type_,
        "status": "True" if true else "False",
        "lastHeartbeatTime": rfc3339(now),
        "lastTransitionTime": rfc3339(since),
        "reason": reason,
        "message": message,
    }


def conditions(state: Pressure, now: float, since: float) -> list[JSON]:
    """kubelet: nodestatus MemoryPressureCondition, DiskPressureCondition,
    PIDPressureCondition, ReadyCondition, in that order."""
    return [
        _condition("MemoryPressure", state.memory, (
            "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
            "KubeletHasSufficientMemory", "kubelet has sufficient memory available"), now, since),
        _condition("DiskPressure", state.disk, (
            "KubeletHasDiskPressure", "kubelet has disk pressure",
            "KubeletHasNoDiskPressure", "kubelet has no disk pressure"), now, since),
        _condition("PIDPressure", state.pid, (
            "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
            "KubeletHasSufficientPID", "kubelet has sufficient PID available"), now, since),
        _condition("Ready", True, (
            "KubeletReady", "kubelet is posting ready status", "", ""), now, since),
    ]  # fmt: skip


def resources(machine: Machine) -> tuple[JSON, JSON]:
    """(capacity, allocatable)."""
    capacity = {
        "cpu": str(machine.cpus),
        "ephemeral-storage": f"{machine.fs_capacity // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": f"{machine.memory_total // 1024}Ki",
        "pods": str(MAX_PODS),
    }
    allocatable = {
        **capacity,
        "ephemeral-storage": str(int(machine.fs_capacity * (1 - EVICTION_NODEFS))),
        "memory": f"{max(machine.memory_total - EVICTION_MEMORY, 0) // 1024}Ki",
    }
    return capacity, allocatable


def node_labels(name: str) -> dict[str, str]:
    """The kubelet's well-known node labels (kubelet_node_status.go initialNode)."""
    return nodelabels.node_labels(name, architecture())


def node_object(
    name: str, machine: Machine, *, now: float, started: float, port: int, version: int
) -> JSON:
    capacity, allocatable = resources(machine)
    labels = node_labels(name)
    return {
        "kind": "Node",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": str(uuid.uuid5(_NODE_UIDS, name)),
            "resourceVersion": str(version),
            "creationTimestamp": rfc3339(started),
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {},
        "status": {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": conditions(pressure(machine), now, started),
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "nodeInfo": node_info(),
        },
    }


def node_row(node: JSON, now: float, include_object: str = "Metadata") -> JSON:
    """printNode (wide)."""
    meta, status = node.get("metadata", {}), node.get("status", {})
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in status.get("conditions") or [])  # fmt: skip
    state = "Ready" if ready else "NotReady"
    if node.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted(
        key.removeprefix("node-role.kubernetes.io/")
        for key in meta.get("labels") or {}
        if key.startswith("node-role.kubernetes.io/")
    )
    info = status.get("nodeInfo") or {}
    internal = [a["address"] for a in status.get("addresses") or [] if a["type"] == "InternalIP"]
    external = [a["address"] for a in status.get("addresses") or [] if a["type"] == "ExternalIP"]
    cells: list[tbl.Cell] = [
        meta.get("name", ""),
        state,
        ",".join(r for r in roles if r) or "<none>",
        tbl.since(meta.get("creationTimestamp"), now),
        info.get("kubeletVersion", ""),
        internal[0] if internal else "<none>",
        external[0] if external else "<none>",
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
    ]
    return tbl.row(node, cells, include_object)


NODES = Resource("Node", "nodes", NODE_FIELDS, NODE_COLUMNS, node_row)
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION = 40  # kubelet: nodeLeaseDurationSeconds default
LEASE_COLUMNS: tuple[tbl.Column, ...] = (
    ("Name", "string", 0, _NAME_DOC),
    ("Holder", "string", 0, "holderIdentity contains the identity of the holder of a current "
     "lease."),
    ("Age", "string", 0, "CreationTimestamp is the time this object was created, in UTC."),
)  # fmt: skip


def micro_time(ts: float) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds."""
    whole = int(ts)
    return rfc3339(whole).removesuffix("Z") + f".{int((ts - whole) * 1e6):06d}Z"


def node_lease(name: str, *, now: float, started: float) -> JSON:
    """The node's heartbeat Lease (kubelet: pkg/kubelet/nodelease), renewed at every read:
    this daemon answers, so its node is alive."""
    return {
        "kind": "Lease",
        "apiVersion": "coordination.k8s.io/v1",
        "metadata": {
            "name": name,
            "namespace": LEASE_NAMESPACE,
            "uid": str(uuid.uuid5(_NODE_UIDS, f"lease/{name}")),
            "resourceVersion": "1",
            "creationTimestamp": rfc3339(started),
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "Node",
                    "name": name,
                    "uid": str(uuid.uuid5(_NODE_UIDS, name)),
                }
            ],
        },
        "spec": {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_DURATION,
            "renewTime": micro_time(now),
        },
    }


def lease_row(lease: JSON, now: float, include_object: str = "Metadata") -> JSON:
    cells: list[tbl.Cell] = [
        lease["metadata"]["name"],
        lease.get("spec", {}).get("holderIdentity", ""),
        tbl.since(lease["metadata"].get("creationTimestamp"), now),
    ]
    return tbl.row(lease, cells, include_object)


LEASES = Resource("Lease", "leases", frozenset({"metadata.name"}), LEASE_COLUMNS, lease_row)
STATE_DIR = web.AppKey("node_state_dir", Path)


def _local_port(request: web.Request) -> int:
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    return int(sockname[1]) if sockname else 0


def this_node(request: web.Request) -> JSON:
    config = settings(request)
    return node_object(
        config.node_name,
        read_machine(request.app.get(STATE_DIR)),
        now=time.time(),
        started=config.started_at,
        port=_local_port(request),
        version=registry(request).resource_version,
    )


async def list_nodes(request: web.Request) -> web.StreamResponse:
    return await list_or_watch(request, NODES, lambda: [this_node(request)])


async def get_node(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    node = this_node(request) if name == settings(request).node_name else None
    return get_one(request, NODES, node, name)


async def get_lease(request: web.Request) -> web.Response:
    name, config = request.match_info["name"], settings(request)
    found = None
    if request.match_info["namespace"] == LEASE_NAMESPACE and name == config.node_name:
        found = node_lease(name, now=time.time(), started=config.started_at)
    return get_one(request, LEASES, found, name)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/api/v1/nodes", list_nodes)
    router.add_get("/api/v1/nodes/{name}", get_node)
    router.add_get("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}", get_lease)
