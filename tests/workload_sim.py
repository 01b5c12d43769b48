"""A store that applies a controller's actions as the loop would (for table tests of the
StatefulSet and DaemonSet reconciles): creates get a uid, a creation time and a Pending
phase, a pod deletion marks it terminating until `finish_terminations`, status writes replace
the status. Pure Python; no daemon."""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.controllers.base import Create, Delete, Event, Result, Update, UpdateStatus
from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]


class SimStore:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.objects: dict[str, dict[tuple[str, str], JSON]] = {}
        self.events: list[Event] = []
        self.now = now
        self._serial = 0

    def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        obj = self.objects.get(resource, {}).get((namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
        items = self.objects.get(resource, {})
        return [copy.deepcopy(o) for (ns, _), o in sorted(items.items())
                if namespace is None or ns == namespace]  # fmt: skip

    def add(self, resource: str, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        if not meta.get("name"):
            self._serial += 1
            meta["name"] = f"{meta['generateName']}{self._serial:05d}"
        self._serial += 1
        meta.setdefault("uid", f"uid-{meta['name']}-{self._serial}")
        meta.setdefault("creationTimestamp", rfc3339(self.now + self._serial / 1000))
        meta.setdefault("generation", 1)
        if resource == "pods":
            obj.setdefault("status", {"phase": "Pending"})
        self.objects.setdefault(resource, {})[(meta["namespace"], meta["name"])] = obj
        return obj

    def apply(self, result: Result) -> None:
        for action in result.actions:
            if isinstance(action, Create):
                self.add(action.resource, action.object)
            elif isinstance(action, Update):
                meta = action.object["metadata"]
                old = self.objects[action.resource][(meta["namespace"], meta["name"])]
                self.objects[action.resource][(meta["namespace"], meta["name"])] = {
                    **copy.deepcopy(action.object), "status": old.get("status")}  # fmt: skip
                if old.get("status") is None:
                    self.objects[action.resource][(meta["namespace"], meta["name"])].pop("status")
            elif isinstance(action, UpdateStatus):
                meta = action.object["metadata"]
                stored = self.objects[action.resource][(meta["namespace"], meta["name"])]
                stored["status"] = copy.deepcopy(action.object["status"])
            elif isinstance(action, Delete):
                key = (action.namespace, action.name)
                obj = self.objects.get(action.resource, {}).get(key)
                if obj is None or (action.uid and obj["metadata"]["uid"] != action.uid):
                    continue
                if action.resource == "pods":
                    obj["metadata"].setdefault("deletionTimestamp", rfc3339(self.now))
                else:
                    del self.objects[action.resource][key]
            elif isinstance(action, Event):
                self.events.append(action)

    def finish_terminations(self) -> None:
        pods = self.objects.get("pods", {})
        for key in [k for k, p in pods.items() if p["metadata"].get("deletionTimestamp")]:
            del pods[key]

    # --- pod states -----------------------------------------------------------------------

    def pod(self, name: str, namespace: str = "default") -> JSON:
        return self.objects["pods"][(namespace, name)]

    def pods(self) -> list[JSON]:
        return sorted(self.objects.get("pods", {}).values(), key=lambda p: p["metadata"]["name"])

    def set_phase(self, name: str, phase: str, ready: bool, since: float | None = None) -> None:
        pod = self.pod(name)
        stamp = rfc3339(self.now if since is None else since)
        pod["status"] = {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": stamp}
        ]}  # fmt: skip

    def ready_all(self) -> None:
        for pod in self.pods():
            if not pod["metadata"].get("deletionTimestamp") and pod["status"].get("phase") in (
                "Pending", "Running"):  # fmt: skip
                self.set_phase(pod["metadata"]["name"], "Running", True, since=self.now - 3600)

    def names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.pods()]
