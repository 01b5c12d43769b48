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
from typing import Any, Protocol

from minikubelet.manifest.load import InvalidPod as InvalidPod
from minikubelet.manifest.load import ManifestError as ManifestError
from minikubelet.runtime import crilog, process
from minikubelet.store.objects import Change

JSON = dict[str, Any]


WatchEvent = Change  # one write, as a watch reports it


class PodExists(Exception):
    def __init__(self, namespace: str, name: str) -> None:
        super().__init__(f'pods "{name}" already exists')
        self.namespace = namespace
        self.name = name


LogSource = crilog.LogSource


ContainerTarget = process.ContainerTarget


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
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> JSON | None:
        """Begin graceful deletion; returns the pod object with deletionTimestamp (the delete
        time plus the grace period) and deletionGracePeriodSeconds set, published at once,
        or None if there is no such pod. The pod is removed (DELETED event) once its
        containers are reaped, at once if none runs (a finished pod). A dry run returns the
        object the deletion would leave and changes nothing."""
        ...

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        spec: Mapping[str, Any] | None = None,
        managed_fields: list[JSON] | None = None,
        finalizers: list[str] | None = None,
        owner_references: list[JSON] | None = None,
    ) -> JSON | None:
        """Replace the pod's labels and annotations (`kubectl apply` records its last-applied
        configuration there, `kubectl label` and `annotate` too) and, when given, its spec:
        defaulted and already checked against ValidatePodUpdate's rules, so only images,
        activeDeadlineSeconds and tolerations differ, and the kubelet acts on them. Bumps the
        version and feeds a MODIFIED event; `managed_fields`, when given, become the pod's
        `metadata.managedFields`; `finalizers` and `owner_references`, when given, its
        `metadata.finalizers` and `ownerReferences` (a controller's update: the Job controller
        takes its tracking finalizer away). Returns the updated pod, or None if there is no
        such pod."""
        ...

    async def update_pod_status(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        status: Mapping[str, Any],
    ) -> JSON | None:
        """A validated write to `pods/{name}/status`: labels and annotations replaced, the
        status's conditions not owned by the kubelet kept (a readiness gate's counts for
        Ready) and its reason/message taken while the kubelet has none; the kubelet's own
        fields stay the kubelet's. Returns the pod as it then is, or None if there is none."""
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
