"""The object store: every object the daemon serves, as the API server's storage holds them.

Objects are JSON-ready dicts in their API spelling, keyed by resource (`pods`, `events`),
namespace and name. One resource version counter is shared by every kind, as etcd's revision
is: each write stamps `metadata.resourceVersion` with the new value and feeds one `Change` to
every subscriber. `create()` is the API's path (it stamps `uid`, `creationTimestamp` and
`generation` where the object has none, and refuses a name that exists); `put()` is a
writer's path for an object it owns (the node agent writing a pod and its status, the event
recorder an event); `remove()` deletes and feeds `DELETED` with a new version.

No validation here: admission (defaults and validation) happens before an object reaches the
store. Nothing here blocks or awaits: subscribers get a bounded queue each, and a subscriber
that falls `MAX_QUEUE` changes behind loses the rest (its watch ends, and a client relists).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from minikubelet.core.gotext import rfc3339

JSON = dict[str, Any]
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]
MAX_QUEUE = 10_000


@dataclass(frozen=True, slots=True)
class Change:
    """One write, as a watch reports it: `kind` is the object's kind (`Pod`, `Event`),
    `resource` where the store keeps it (`pods`, `events`)."""

    type: ChangeType
    kind: str
    object: JSON
    resource_version: int
    resource: str = ""


class AlreadyExists(Exception):
    def __init__(self, resource: str, name: str) -> None:
        super().__init__(f'{resource} "{name}" already exists')
        self.resource = resource
        self.name = name


class ObjectStore:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        new_uid: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._clock = clock
        self._new_uid = new_uid
        self._rv = 0
        self._objects: dict[str, dict[tuple[str, str], JSON]] = {}
        self._subscribers: set[asyncio.Queue[Change]] = set()

    @property
    def resource_version(self) -> int:
        return self._rv

    # --- reads -------------------------------------------------------------------------------

    def get(self, resource: str, namespace: str, name: str) -> JSON | None:
        return self._objects.get(resource, {}).get((namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
        """Objects of one resource, ordered by namespace and name as the API server lists."""
        found = self._objects.get(resource, {})
        return [obj for (ns, _), obj in sorted(found.items()) if namespace in (None, ns)]

    def keys(self, resource: str) -> Iterator[tuple[str, str]]:
        return iter(list(self._objects.get(resource, {})))

    # --- writes ------------------------------------------------------------------------------

    def create(self, resource: str, obj: JSON) -> JSON:
        """Store a new object; raises AlreadyExists if the name is taken."""
        meta = obj.get("metadata", {})
        key = (meta.get("namespace", ""), meta["name"])
        if key in self._objects.get(resource, {}):
            raise AlreadyExists(resource, key[1])
        stamped = {**meta}
        stamped.setdefault("uid", self._new_uid())
        stamped.setdefault("creationTimestamp", rfc3339(self._clock()))
        if "spec" in obj:
            stamped.setdefault("generation", 1)
        return self.put(resource, {**obj, "metadata": stamped})

    def put(self, resource: str, obj: JSON) -> JSON:
        """Write an object (new or changed) at the next resource version; returns it as
        stored. `ADDED` for a new key, `MODIFIED` otherwise."""
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        table = self._objects.setdefault(resource, {})
        change: ChangeType = "MODIFIED" if key in table else "ADDED"
        self._rv += 1
        stored = {**obj, "metadata": {**meta, "resourceVersion": str(self._rv)}}
        table[key] = stored
        self._feed(Change(change, stored.get("kind", ""), stored, self._rv, resource))
        return stored

    def remove(self, resource: str, namespace: str, name: str) -> JSON | None:
        """Delete an object; returns its last state (at the new version), or None."""
        obj = self._objects.get(resource, {}).pop((namespace, name), None)
        if obj is None:
            return None
        self._rv += 1
        gone = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
        self._feed(Change("DELETED", gone.get("kind", ""), gone, self._rv, resource))
        return gone

    # --- change feed -------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[Change]:
        """Every change from now on."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        self._subscribers.discard(queue)

    def _feed(self, change: Change) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() < MAX_QUEUE:
                queue.put_nowait(change)
