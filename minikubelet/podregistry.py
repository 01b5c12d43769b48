"""The pods' registry, as the API server's pod storage is (pkg/registry/core/pod): what the
HTTP API's `Registry` protocol asks, answered from the object store, with admission on the
way in (a create is decoded, defaulted and validated by `manifest`; an update by
`ValidatePodUpdate`'s rules; a status write by `ValidatePodStatusUpdate`'s) and the deletion
rules of `core/deletion.py`. What changes a running pod is handed to the node agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import structlog

from minikubelet.api.registry import JSON, ContainerTarget, LogSource, PodExists, WatchEvent
from minikubelet.core import deletion, serialize
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.manifest import statusupdate
from minikubelet.manifest.specbuild import build_pod_spec
from minikubelet.node.agent import NodeAgent, deletion_mark, finalizers_of
from minikubelet.node.pod import PodRunner
from minikubelet.store import admission

log = structlog.get_logger("minikubelet.daemon")


class PodRegistry:
    def __init__(self, agent: NodeAgent) -> None:
        self.agent = agent

    @property
    def resource_version(self) -> int:
        return self.agent.store.resource_version

    def list_pods(self, namespace: str | None = None) -> list[JSON]:
        return self.agent.store.list("pods", namespace)

    def get_pod(self, namespace: str, name: str) -> JSON | None:
        return self.agent.store.get("pods", namespace, name)

    def list_events(self, namespace: str | None = None) -> list[JSON]:
        return self.agent.store.list("events", namespace)

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        return self.agent.store.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        self.agent.store.unsubscribe(queue)

    async def create_pod(self, document: Mapping[str, Any], *, dry_run: bool = False) -> JSON:
        """A create, through admission: LimitRanger's and Priority's changes to the document,
        decoding and validation, then LimitRanger's and ResourceQuota's checks (each refusal
        an `admission.Forbidden`), as the API server's chain runs them for a client's create
        and a controller's alike."""
        store = self.agent.store
        document = admission.mutate_pod(store, dict(document))
        pod, warnings = manifest.pod_from_document(
            document, source="api", node_name=self.agent.settings.node_name
        )
        admission.check_pod(store, dict(pod.manifest))
        # a pod a controller made from its template: the template's warnings were given
        # once, when the workload was created (manifest/load.py template_warnings)
        made = any(
            r.get("controller") for r in pod.manifest["metadata"].get("ownerReferences") or []
        )
        for warning in warnings:
            (log.debug if made else log.warning)(
                "manifest warning", pod=f"{pod.namespace}/{pod.name}", message=warning
            )
        if pod.key in self.agent.runners:
            raise PodExists(pod.namespace, pod.name)
        if dry_run or not self.agent.running:
            runner = PodRunner(pod, settings=self.agent.settings, events=self.agent.events)
            return serialize.pod_json(pod, runner.status, resource_version=self.resource_version)
        runner = self.agent.start_pod(pod)
        return self.agent.stored(runner.pod.key)

    async def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        finalizers: Sequence[str] | None = None,
    ) -> JSON | None:
        """Graceful deletion as the API server does it (apiserver: registry/generic/registry/
        store.go Store.Delete, rest/delete.go BeforeDelete, core/pod/strategy.go
        CheckGracefulDelete): the pod is marked with deletionTimestamp = now + grace period
        and published at once (MODIFIED), then stopped; a pod with nothing left to stop (a
        finished one) is removed at once (DELETED). A second DELETE may only shorten the
        grace period. `finalizers` become the pod's; one with finalizers stays (stopped) until
        they are taken off. A dry run answers the marked pod and changes nothing."""
        runner = self.agent.runners.get((namespace, name))
        if runner is None:
            return None
        spec_grace = runner.pod.spec.termination_grace_period_seconds
        period = deletion.graceful_delete_period(
            runner.status.phase, grace_period_seconds, spec_grace
        )
        if not runner.placed:  # apiserver: pod strategy.go CheckGracefulDelete, no nodeName
            period = 0
        current = deletion_mark(runner)
        mark, changed = deletion.before_delete(current, grace_period_seconds, period, time.time())
        held = _with_meta(runner.pod, finalizers=finalizers)
        if dry_run:
            version = self.agent.stored(runner.pod.key)["metadata"]["resourceVersion"]
            obj = self.agent.pod_object(runner, mark, int(version))
            obj["metadata"].pop("finalizers", None)
            if finalizers_of(held):
                obj["metadata"]["finalizers"] = finalizers_of(held)
            return obj
        refinalized = held is not runner.pod
        runner.pod = held
        if changed:
            runner.mark_deleted(mark.timestamp, mark.grace_period_seconds)
            self.agent.pod_changed(runner)
            runner.terminate(mark.grace_period_seconds, deleting=True)
        elif refinalized:
            self.agent.pod_changed(runner)
        if runner.finished.is_set() and not finalizers_of(runner.pod):
            return self.agent.remove(runner)
        return self.get_pod(namespace, name)

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        spec: Mapping[str, Any] | None = None,
        managed_fields: list[JSON] | None = None,
        finalizers: Sequence[str] | None = None,
        owner_references: Sequence[JSON] | None = None,
    ) -> JSON | None:
        runner = self.agent.runners.get((namespace, name))
        if runner is None:
            return None
        pod = _with_meta(runner.pod, finalizers=finalizers, ownerReferences=owner_references)
        meta = {**pod.manifest.get("metadata", {})}
        if managed_fields is not None:
            meta["managedFields"] = managed_fields
        for key, listed in (("finalizers", finalizers), ("ownerReferences", owner_references)):
            if listed is not None:
                if listed:
                    meta[key] = list(listed)
                else:
                    meta.pop(key, None)
        for key, value in (("labels", labels), ("annotations", annotations)):
            if value:
                meta[key] = dict(value)
            else:
                meta.pop(key, None)
        updated = replace(
            pod,
            labels=dict(labels),
            annotations=dict(annotations),
            manifest={**pod.manifest, "metadata": meta},
        )
        if spec is None:
            runner.pod = updated
        else:
            # checked by ValidatePodUpdate's rules: images, the deadline, tolerations
            new_spec = {**spec, "nodeName": pod.spec.node_name}
            runner.update_spec(
                replace(
                    updated,
                    spec=build_pod_spec(new_spec),
                    manifest={**updated.manifest, "spec": new_spec},
                )
            )
        self.agent.pod_changed(runner)
        if runner.deleting and runner.finished.is_set() and not finalizers_of(runner.pod):
            return self.agent.remove(runner)  # the last finalizer went: ShouldDeleteDuringUpdate
        return self.agent.stored((namespace, name))

    async def update_pod_status(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        status: Mapping[str, Any],
    ) -> JSON | None:
        """A write to `pods/{name}/status` (already prepared and validated): the labels and
        annotations are taken (the status strategy keeps metadata), the conditions the
        kubelet does not own are kept and the status computed again over them, as the
        kubelet computes it over the API's copy (kubelet_pods.go generateAPIPodStatus)."""
        runner = self.agent.runners.get((namespace, name))
        if runner is None:
            return None
        version = self.resource_version
        moved = self.agent.set_metadata(runner, labels, annotations)
        runner.set_api_status(
            statusupdate.external_conditions(status),
            str(status.get("reason") or ""),
            str(status.get("message") or ""),
        )
        if moved and self.resource_version == version:
            self.agent.pod_changed(runner)
        return self.agent.stored((namespace, name))

    def log_source(
        self, namespace: str, name: str, container: str, *, previous: bool = False
    ) -> LogSource:
        return self.agent.log_source(namespace, name, container, previous=previous)

    def container_pids(self, namespace: str, name: str) -> Mapping[str, int]:
        return self.agent.container_pids(namespace, name)

    def container_target(self, namespace: str, name: str, container: str) -> ContainerTarget:
        return self.agent.container_target(namespace, name, container)


def _with_meta(pod: Pod, **fields: Sequence[Any] | None) -> Pod:
    """The pod with these metadata fields replaced (None: left as they are; empty: dropped)."""
    meta = {**pod.manifest.get("metadata", {})}
    for key, value in fields.items():
        if value is None:
            continue
        if value:
            meta[key] = list(value)
        else:
            meta.pop(key, None)
    if meta == pod.manifest.get("metadata", {}):
        return pod
    return replace(pod, manifest={**pod.manifest, "metadata": meta})
