"""Observed state in the shape of the v1 API: container states, container and pod statuses.

These are what `status.py` computes and what the API serialises (camelCase happens only in
`serialize.py`). Times are wall-clock seconds since the epoch (floats); the API prints them as
RFC 3339 UTC with second precision. Pure data: no asyncio, no processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNKNOWN = "Unknown"

    @property
    def terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED)


@dataclass(frozen=True, slots=True, kw_only=True)
class Waiting:
    reason: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Running:
    started_at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Terminated:
    exit_code: int
    reason: str = ""
    message: str = ""
    signal: int = 0  # not populated by the kubelet; kept for our own reports
    started_at: float | None = None
    finished_at: float | None = None
    container_id: str = ""


ContainerState = Waiting | Running | Terminated


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerStatus:
    name: str
    state: ContainerState = field(default_factory=Waiting)
    last_state: ContainerState | None = None
    ready: bool = False
    started: bool | None = None
    restart_count: int = 0
    image: str = ""
    image_id: str = ""
    container_id: str = ""


class ConditionType(StrEnum):
    POD_READY_TO_START_CONTAINERS = "PodReadyToStartContainers"
    INITIALIZED = "Initialized"
    READY = "Ready"
    CONTAINERS_READY = "ContainersReady"
    POD_SCHEDULED = "PodScheduled"


@dataclass(frozen=True, slots=True, kw_only=True)
class PodCondition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str = ""
    message: str = ""
    last_transition_time: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PodStatus:
    phase: Phase = Phase.PENDING
    conditions: tuple[PodCondition, ...] = ()
    container_statuses: tuple[ContainerStatus, ...] = ()
    init_container_statuses: tuple[ContainerStatus, ...] = ()
    ephemeral_container_statuses: tuple[ContainerStatus, ...] = ()
    start_time: float | None = None
    host_ip: str = "127.0.0.1"
    pod_ip: str = "127.0.0.1"
    qos_class: str = "BestEffort"
    reason: str = ""
    message: str = ""
