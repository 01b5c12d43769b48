"""A small in-memory API for the workload controllers' table tests: it applies a reconcile's
actions as the controllers' loop would (generated names, uids, graceful pod deletion that a
test finishes, status writes) so that a test can run a controller to a steady state on an
injected `now`."""

from __future__ import annotations

import copy
import itertools
from typing import Any

from minikubelet.controllers.base import Create, Delete, Event, Result, Update, UpdateStatus
from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]


class Sim:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.objects: dict[tuple[str, str, str], JSON] = {}
        self.events: list[Event] = []
        self.now = now
        self._ids = itertools.count(1)

    # --- Reader
    def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        obj = self.objects.get((resource, namespace, name))
        return copy.deepcopy(obj) if obj is not None else None

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
        return [
            copy.deepcopy(o)
            for (r, ns, _), o in sorted(self.objects.items())
            if r == resource and (namespace is None or ns == namespace)
        ]

    # --- writes
    def add(self, resource: str, obj: JSON) -> JSON:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        if not meta.get("name"):
            meta["name"] = f"{meta['generateName']}{next(self._ids):05d}"
        meta.setdefault("uid", f"uid-{meta['name']}")
        meta.setdefault("creationTimestamp", rfc3339(self.now))
        if resource == "pods":
            obj.setdefault("status", {"phase": "Pending"})
        self.objects[(resource, meta["namespace"], meta["name"])] = obj
        return obj

    def pods(self) -> list[JSON]:
        return self.list("pods")

    def apply(self, result: Result) -> int:
        """Apply the actions; the number of writes (events aside)."""
        writes = 0
        for action in result.actions:
            if isinstance(action, Event):
                self.events.append(action)
                continue
            writes += 1
            if isinstance(action, Create):
                self.add(action.resource, action.object)
            elif isinstance(action, Update):
                meta = action.object["metadata"]
                key = (action.resource, meta.get("namespace", "default"), meta["name"])
                if key in self.objects:
                    stored = self.objects[key]
                    self.objects[key] = {
                        **copy.deepcopy(action.object),
                        "status": stored.get("status"),
                    }
            elif isinstance(action, UpdateStatus):
                meta = action.object["metadata"]
                key = (action.resource, meta.get("namespace", "default"), meta["name"])
                if key in self.objects:
                    self.objects[key]["status"] = copy.deepcopy(action.object["status"])
            elif isinstance(action, Delete):
                key = (action.resource, action.namespace, action.name)
                obj = self.objects.get(key)
                if obj is None:
                    continue
                phase = (obj.get("status") or {}).get("phase")
                if action.resource == "pods" and phase not in ("Succeeded", "Failed"):
                    obj["metadata"]["deletionTimestamp"] = rfc3339(self.now)
                    obj["metadata"]["deletionGracePeriodSeconds"] = 30
                else:
                    del self.objects[key]
        return writes

    def run(self, reconcile: Any, rounds: int = 20) -> Result:
        """Reconcile and apply until nothing more is written; the last result."""
        for _ in range(rounds):
            result: Result = reconcile(self, self.now)
            if not self.apply(result):
                return result
        raise AssertionError("the controller did not settle")

    # --- what the kubelet does
    def set_pod(
        self,
        name: str,
        phase: str,
        *,
        exit_code: int | None = None,
        ready: bool = False,
        restarts: int = 0,
        container: str = "c",
        conditions: list[JSON] | None = None,
    ) -> None:
        pod = self.objects[("pods", "default", name)]
        state: JSON = {"running": {"startedAt": rfc3339(self.now)}}
        if phase in ("Succeeded", "Failed"):
            code = exit_code if exit_code is not None else (0 if phase == "Succeeded" else 1)
            state = {"terminated": {"exitCode": code, "finishedAt": rfc3339(self.now)}}
        pod["status"] = {
            "phase": phase,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": rfc3339(self.now),
                },
                *(conditions or []),
            ],
            "containerStatuses": [{"name": container, "restartCount": restarts, "state": state}],
        }

    def gone(self, name: str) -> None:
        """The kubelet finished a deleted pod and the API removed it."""
        del self.objects[("pods", "default", name)]

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]
