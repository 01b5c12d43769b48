"""What the HTTP API needs from the daemon, as a Protocol.

The API layer (`minikubelet.api`) reads pods and events through this seam and never touches
supervisors or processes. All objects cross it as JSON-ready dicts in the v1 API's spelling
(`{"apiVersion": "v1", "kind": "Pod", "metadata": {...}, "spec": {...}, "status": {...}}`),
built by the daemon from immutable snapshots.

Change feed: every change to a pod's object (status included) or a new/updated event bumps a
single integer resource version, shared by pods and events as an API server's etcd revision is.
`subscribe()` hands out a queue of `WatchEvent`s from now on; `metadata.resourceVersion` of each
object is the version at which it last changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from minikubelet.manifest.load import InvalidPod as InvalidPod
from minikubelet.manifest.load import ManifestError as ManifestError
from minikubelet.runtime.process import ContainerProcess

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    kind: Literal["Pod", "Event"]
    object: JSON
    resource_version: int


class PodExists(Exception):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f'pods "{name}" already exists')
        self.namespace = namespace
        self.name = name


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where one container instance's CRI-format log lives: files oldest first (rotated
    ones before the live one), and whether the instance is still running (for follow)."""

    files: tuple[Path, ...]
    running: bool


@dataclass(frozen=True, slots=True)
class ContainerTarget:
    """A running container, for `exec` and `attach`: the environment and working directory its
    process got (an exec'd command gets the same), and the running process itself (its
    output for attach, its stdin pipe when the container has `stdin: true`, its end, which
    ends every session in the container)."""

    container_id: str
    env: Mapping[str, str]
    cwd: str | None
    process: ContainerProcess
    stdin: bool = False
    stdin_once: bool = False


class Registry(Protocol):
    @property
    def resource_version(self) -> int: ...

    def list_pods(self, namespace: str | None = None) -> list[JSON]: ...

    def get_pod(self, namespace: str, name: str) -> JSON | None: ...

    def list_events(self, namespace: str | None = None) -> list[JSON]: ...

    def subscribe(self) -> asyncio.Queue[WatchEvent]: ...

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None: ...

    async def create_pod(self, document: Mapping[str, Any], *, dry_run: bool = False) -> JSON:
        """Validate and start a pod; raises InvalidPod, ManifestError (a document that does
        not decode as a Pod) or PodExists, and starts nothing then."""
        ...

    async def delete_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> JSON | None:
        """Begin graceful deletion; returns the pod object with deletionTimestamp set, or None
        if there is no such pod. The pod is removed (DELETED event) once its containers are
        reaped."""
        ...

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> JSON | None:
        """Replace the pod's labels and annotations, the only fields a PATCH or PUT may change
        (`kubectl apply` records its last-applied configuration there, `kubectl label` and
        `annotate` too); bumps the version and feeds a MODIFIED event. Returns the updated pod,
        or None if there is no such pod."""
        ...

    def log_source(
        self, namespace: str, name: str, container: str, *, previous: bool = False
    ) -> LogSource:
        """Raises LookupError with the kubelet's message for unknown pod/container or a missing
        previous instance."""
        ...

    def container_pids(self, namespace: str, name: str) -> Mapping[str, int]:
        """Running containers' process ids (process-group leaders), for /stats/summary."""
        ...

    def container_target(self, namespace: str, name: str, container: str) -> ContainerTarget:
        """The running instance of a container, for exec and attach. Raises LookupError with
        the kubelet's message (`container not found ("app")`) when it is not running."""
        ...
