"""Applying a controller's actions (controllers/base.py), as its clientset would send them
to the API server: a pod through the pods' registry (admission as an API create, graceful
deletion), any other object through its kind's admission into the store. An action that
fails is that controller's problem, reported as upstream reports it (a `FailedCreate`
warning event on the owner, a log line), never the loop's.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from minikubelet.controllers.base import Action, Create, Delete, Event, Update, UpdateStatus
from minikubelet.controllers.recorder import EventRecorder
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable
from minikubelet.store import kinds
from minikubelet.store.objects import AlreadyExists, ObjectStore

log = structlog.get_logger("minikubelet.controllers")
JSON = dict[str, Any]
# apiserver: storage/names SimpleNameGenerator (utilrand.String: no vowels, no 0/1/3)
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_META = ("uid", "creationTimestamp", "resourceVersion", "generation", "managedFields")


class PodClient(Protocol):
    """The pods' registry, as a controller's client sees it."""

    async def create_pod(self, document: Mapping[str, Any]) -> JSON: ...

    async def delete_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> JSON | None: ...

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        finalizers: list[str] | None = None,
        owner_references: list[JSON] | None = None,
    ) -> JSON | None: ...


def generate_name(prefix: str, rng: random.Random) -> str:
    return prefix + "".join(rng.choice(NAME_ALPHABET) for _ in range(5))


class Applier:
    def __init__(
        self, store: ObjectStore, pods: PodClient, *, rng: random.Random | None = None
    ) -> None:
        self.store = store
        self.pods = pods
        self.events = EventRecorder(store)
        self._rng = rng or random.Random()

    async def apply(self, controller: str, action: Action, now: float) -> None:
        try:
            if isinstance(action, Create):
                await self._create(controller, action, now)
            elif isinstance(action, Update) and action.resource == "pods":
                await self._update_pod(action)
            elif isinstance(action, Update):
                self._update(action)
            elif isinstance(action, UpdateStatus):
                self._update_status(action)
            elif isinstance(action, Delete):
                await self._delete(action, now)
            elif isinstance(action, Event):
                self.events.record(action, now)
        except Exception:  # one action's fault stays with its controller
            log.exception("controller action failed", controller=controller,
                          action=type(action).__name__)  # fmt: skip

    # --- create ------------------------------------------------------------------------------

    def _named(self, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(meta["generateName"], self._rng)
        return obj

    async def _create(self, controller: str, action: Create, now: float) -> None:
        obj = self._named(action.object)
        if action.resource == "pods":
            try:
                created = await self.pods.create_pod(obj)
            except Exception as err:  # refused by admission, or a name taken
                self._failed_create(controller, action, obj, err, now)
                return
            if action.owner is not None:  # controller_utils.go RealPodControl.createPods
                name = created["metadata"]["name"]
                event = Event(action.owner, "Normal", "SuccessfulCreate", f"Created pod: {name}",
                              controller)  # fmt: skip
                self.events.record(event, now)
            return
        kind = kinds.BY_RESOURCE.get((_group(obj), action.resource))
        try:
            admitted = kind.admit(obj, None) if kind is not None else obj
            self.store.create(action.resource, admitted)
        except AlreadyExists:
            log.debug("controller create: name taken", controller=controller,
                      name=obj["metadata"].get("name"))  # fmt: skip
        except (ObjectInvalid, ObjectUndecodable) as err:
            self._failed_create(controller, action, obj, err, now)

    def _failed_create(
        self, controller: str, action: Create, obj: JSON, err: Exception, now: float
    ) -> None:
        """replica_set.go manageReplicas: `Error creating: <the API's error>`."""
        message = str(err)
        log.warning("controller create refused", controller=controller,
                    name=obj["metadata"].get("name"), error=message)  # fmt: skip
        if action.owner is not None:
            event = Event(action.owner, "Warning", "FailedCreate", f"Error creating: {message}",
                          controller)  # fmt: skip
            self.events.record(event, now)

    # --- updates -----------------------------------------------------------------------------

    def _current(self, resource: str, obj: JSON) -> JSON | None:
        meta = obj["metadata"]
        stored = self.store.get(resource, meta.get("namespace", ""), meta["name"])
        if stored is None:
            return None
        version = meta.get("resourceVersion")
        if version and version != stored["metadata"].get("resourceVersion"):
            return None  # a conflict: the controller sees the newer object next time
        return stored

    def _update(self, action: Update) -> None:
        stored = self._current(action.resource, action.object)
        if stored is None:
            return
        new = copy.deepcopy(action.object)
        meta = new["metadata"]
        for key in _SERVER_META:
            if key in stored["metadata"]:
                meta[key] = stored["metadata"][key]
        if "status" in stored:
            new["status"] = stored["status"]
        if new.get("spec") != stored.get("spec"):
            meta["generation"] = int(stored["metadata"].get("generation") or 1) + 1
        if new != stored:
            self.store.put(action.resource, new)
            self._finish_if_released(action.resource, new)

    async def _update_pod(self, action: Update) -> None:
        """A pod's metadata through the pods' registry (the node agent owns the stored pod):
        labels, annotations, finalizers, owner references; its spec stays as it is."""
        stored = self._current("pods", action.object)
        if stored is None:
            return
        meta, old = action.object["metadata"], stored["metadata"]
        fields = ("labels", "annotations", "finalizers", "ownerReferences")
        if all((meta.get(k) or None) == (old.get(k) or None) for k in fields):
            return
        await self.pods.update_pod_metadata(
            old.get("namespace", ""),
            old["name"],
            labels=meta.get("labels") or {},
            annotations=meta.get("annotations") or {},
            finalizers=list(meta.get("finalizers") or []),
            owner_references=list(meta.get("ownerReferences") or []),
        )

    def _finish_if_released(self, resource: str, obj: JSON) -> None:
        """An object being deleted whose last finalizer a controller took away is gone."""
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self.store.remove(resource, meta.get("namespace", ""), meta["name"])

    def _update_status(self, action: UpdateStatus) -> None:
        stored = self._current(action.resource, action.object)
        if stored is None:
            return
        status = action.object.get("status") or {}
        if stored.get("status") != status:
            self.store.put(action.resource, {**stored, "status": copy.deepcopy(status)})

    # --- delete ------------------------------------------------------------------------------

    async def _delete(self, action: Delete, now: float) -> None:
        stored = self.store.get(action.resource, action.namespace, action.name)
        if stored is None:
            return
        if action.uid is not None and stored["metadata"].get("uid") != action.uid:
            return
        if action.resource == "pods":
            if not stored["metadata"].get("deletionTimestamp"):
                grace = action.grace_period_seconds
                await self.pods.delete_pod(
                    action.namespace, action.name, grace_period_seconds=grace
                )
            return
        finalizer = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(
            action.propagation or ""
        )
        finalizers = list(stored["metadata"].get("finalizers") or [])
        if finalizer is not None and finalizer not in finalizers:
            finalizers.append(finalizer)
        if finalizers:  # the garbage collector finishes it
            meta = {**stored["metadata"], "finalizers": finalizers}
            meta.setdefault("deletionTimestamp", rfc3339(now))
            meta.setdefault("deletionGracePeriodSeconds", 0)
            self.store.put(action.resource, {**stored, "metadata": meta})
            return
        self.store.remove(action.resource, action.namespace, action.name)


def _group(obj: JSON) -> str:
    version = str(obj.get("apiVersion") or "")
    return version.rpartition("/")[0] if "/" in version else ""
