"""The node agent following the objects its pods' volumes read: a ConfigMap, Secret or
PersistentVolumeClaim that changes is told to the pods that mount it, and a deleted claim's
data is removed once no running pod mounts it (the local provisioner's reclaimPolicy
Delete). `NodeAgent` is built on it.
"""

from __future__ import annotations

import asyncio

from minikubelet.core.settings import Settings
from minikubelet.core.spec import ClaimSource
from minikubelet.node.pod import PodRunner
from minikubelet.node.volumes import claim_dir
from minikubelet.runtime.volumefs import remove_tree
from minikubelet.store.objects import ObjectStore

_VOLUME_SOURCE_KINDS = {
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "PersistentVolumeClaim": "persistentvolumeclaims",
}


class VolumeSourceFollower:
    """The store's feed, followed for the pods' volume sources."""

    settings: Settings
    store: ObjectStore
    runners: dict[tuple[str, str], PodRunner]
    _unreclaimed: set[tuple[str, str]]

    async def follow_volume_sources(self) -> None:
        """Follows the store's feed: a ConfigMap, Secret or PersistentVolumeClaim that
        changes is told to the pods whose volumes read it (their projections are written
        again; a pod waiting for one tries again), and a pod's own change to it (its labels
        and annotations, for the downward API). Runs until cancelled."""
        queue = self.store.subscribe()
        try:
            while True:
                change = await queue.get()
                meta = change.object.get("metadata", {})
                if change.kind == "Pod":
                    runner = self.runners.get((meta.get("namespace", ""), meta.get("name", "")))
                    if runner is not None and runner.volumes is not None:
                        runner.volumes.pod_changed()
                    if change.type == "DELETED" or change.object.get("status", {}).get("phase") in (
                        "Succeeded",
                        "Failed",
                    ):
                        for namespace, claim in sorted(self._unreclaimed):
                            await self._reclaim(namespace, claim)
                    continue
                resource = _VOLUME_SOURCE_KINDS.get(change.kind)
                if resource is None:
                    continue
                if change.kind == "PersistentVolumeClaim" and change.type == "DELETED":
                    await self._reclaim(meta.get("namespace", ""), meta["name"])
                for runner in list(self.runners.values()):
                    if runner.volumes is not None:
                        runner.volumes.notify(resource, meta.get("namespace", ""), meta["name"])
        finally:
            self.store.unsubscribe(queue)

    async def _reclaim(self, namespace: str, claim: str) -> None:
        """A deleted claim's data goes with it, as a dynamically provisioned volume's does
        (reclaimPolicy Delete), once no pod that is not finished mounts it (until then the
        pvc-protection finalizer would hold the claim: its data waits in `_unreclaimed`)."""
        key = (namespace, claim)
        if self.store.get("persistentvolumeclaims", namespace, claim) is not None:
            self._unreclaimed.discard(key)  # made again: the data is the new claim's
            return
        for runner in self.runners.values():
            if runner.finished.is_set() or runner.pod.namespace != namespace:
                continue
            if any(isinstance(v.source, ClaimSource) and v.source.claim_name == claim
                   for v in runner.pod.spec.volumes):  # fmt: skip
                self._unreclaimed.add(key)
                return
        self._unreclaimed.discard(key)
        await asyncio.to_thread(remove_tree, claim_dir(self.settings.state_dir, namespace, claim))
