"""Applying a controller's actions (controllers/base.py), as its clientset would send them
to the API server: a pod through the pods' registry (admission as an API create, graceful
deletion), any other object through its kind's admission into the store. An action that
fails is that controller's problem, reported as upstream reports it (a `FailedCreate`
warning event on the owner, a log line), never the loop's.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import structlog

from minikubelet.controllers.base import Action, Create, Delete, Event, Update, UpdateStatus
from minikubelet.controllers.recorder import EventRecorder
from minikubelet.core import propagation as prop
from minikubelet.core.gotext import rfc3339
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable
from minikubelet.store import admission, kinds
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
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        finalizers: Sequence[str] | None = None,
    ) -> JSON | None: ...

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        finalizers: Sequence[str] | None = None,
        owner_references: Sequence[JSON] | None = None,
    ) -> JSON | None: ...


MAX_GENERATED_NAME_LENGTH = 58  # names.MaxGeneratedNameLength: 63 - 5


def generate_name(prefix: str, rng: random.Random) -> str:
    """SimpleNameGenerator.GenerateName: the base cut to 58 characters, 5 random after it."""
    base = prefix[:MAX_GENERATED_NAME_LENGTH]
    return base + "".join(rng.choice(NAME_ALPHABET) for _ in range(5))


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
            elif isinstance(action, Update):
                await self._update(action)
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
            name = (created.get("metadata") or {}).get("name") or obj["metadata"]["name"]
            if action.owner is not None and action.created_message:
                message = action.created_message.replace("{name}", str(name))
                self.events.record(Event(action.owner, "Normal", "SuccessfulCreate", message,
                                         controller), now)  # fmt: skip
            elif action.owner is not None and not (action.object.get("metadata") or {}).get("name"):
                # RealPodControl.CreatePods: the name the API server generated, in the event
                event = Event(action.owner, "Normal", "SuccessfulCreate",
                              f"Created pod: {name}", controller)  # fmt: skip
                self.events.record(event, now)
            return
        kind = kinds.BY_RESOURCE.get((_group(obj), action.resource))
        try:
            admitted = kind.admit(obj, None) if kind is not None else obj
            admission.check_create(self.store, action.resource, _group(obj), admitted)
            self.store.create(action.resource, admitted)
        except AlreadyExists:
            log.debug("controller create: name taken", controller=controller,
                      name=obj["metadata"].get("name"))  # fmt: skip
        except (ObjectInvalid, ObjectUndecodable, admission.Forbidden) as err:
            self._failed_create(controller, action, obj, err, now)

    def _failed_create(
        self, controller: str, action: Create, obj: JSON, err: Exception, now: float
    ) -> None:
        """replica_set.go manageReplicas: `Error creating: <the API's error>`."""
        message = str(err)
        log.warning("controller create refused", controller=controller,
                    name=obj["metadata"].get("name"), error=message)  # fmt: skip
        if action.owner is not None:
            text = f"Error creating: {message}"
            if action.owner.get("kind") == "StatefulSet":  # StatefulPodControl.recordPodEvent
                name, owner = obj["metadata"].get("name"), action.owner["metadata"]["name"]
                text = f"create Pod {name} in StatefulSet {owner} failed error: {message}"
            event = Event(action.owner, "Warning", "FailedCreate", text, controller)
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

    async def _update(self, action: Update) -> None:
        stored = self._current(action.resource, action.object)
        if stored is None:
            return
        if action.resource == "pods":
            await self._update_pod(stored, action.object)
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

    async def _update_pod(self, stored: JSON, wanted: JSON) -> None:
        """A pod's metadata (labels, annotations, owner references, finalizers: what a
        controller changes on a pod, adopting, releasing or finalizing it) through the pods'
        registry, which the node agent keeps; its spec is not a controller's to change."""
        meta, old = wanted["metadata"], stored["metadata"]
        fields = ("labels", "annotations", "ownerReferences", "finalizers")
        if all((meta.get(k) or None) == (old.get(k) or None) for k in fields):
            return
        await self.pods.update_pod_metadata(
            old.get("namespace", ""), old["name"],
            labels=meta.get("labels") or {}, annotations=meta.get("annotations") or {},
            finalizers=list(meta.get("finalizers") or []),
            owner_references=list(meta.get("ownerReferences") or []),
        )  # fmt: skip

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
        asked = prop.Request(action.propagation)
        if action.resource == "pods":
            if not stored["metadata"].get("deletionTimestamp"):
                await self._delete_pod(action, stored, asked)
            return
        # as an API DELETE (core/propagation.py): finalizers hold it, the collector finishes it
        default_orphan = prop.orphans_by_default(stored.get("apiVersion", ""), stored["kind"])
        kept = prop.deleted(stored, asked, rfc3339(now) or "", default_orphan=default_orphan)
        if kept is None:
            self.store.remove(action.resource, action.namespace, action.name)
        elif kept != stored:
            self.store.put(action.resource, kept)

    async def _delete_pod(self, action: Delete, stored: JSON, asked: prop.Request) -> None:
        """Gracefully, with the finalizers the policy asks (none for a pod that owns nothing
        and a Background delete: then the plain call)."""
        grace = action.grace_period_seconds
        finalizers = prop.deletion_finalizers(prop.finalizers_of(stored), asked)
        if finalizers == prop.finalizers_of(stored):
            await self.pods.delete_pod(action.namespace, action.name, grace_period_seconds=grace)
            return
        await self.pods.delete_pod(
            action.namespace, action.name, grace_period_seconds=grace, finalizers=finalizers
        )


def _group(obj: JSON) -> str:
    version = str(obj.get("apiVersion") or "")
    return version.rpartition("/")[0] if "/" in version else ""
