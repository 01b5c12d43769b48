"""The controllers' events, as client-go's event recorder and correlator make them
(tools/record/event.go makeEvent, events_cache.go): one core/v1 Event per (object, type,
reason, message, source), named `<object>.<hex nanoseconds>`, whose `count` and
`lastTimestamp` move on when it repeats. Bounded: the oldest are forgotten (and removed from
the store) past `MAX_EVENTS`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from minikubelet.controllers.base import Event
from minikubelet.core.gotext import rfc3339
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
MAX_EVENTS = 1000


class EventRecorder:
    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._events: OrderedDict[tuple[str, ...], JSON] = OrderedDict()
        self._last_nanos = 0

    def record(self, event: Event, now: float) -> JSON:
        meta = event.involved.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (namespace, meta.get("name", ""), meta.get("uid", ""), event.type, event.reason,
               event.message, event.component)  # fmt: skip
        old = self._events.pop(key, None)
        if old is not None:
            obj = {**old, "count": int(old["count"]) + 1, "lastTimestamp": rfc3339(now)}
        else:
            obj = self._new(event, namespace, now)
        self._events[key] = obj
        while len(self._events) > MAX_EVENTS:
            _, evicted = self._events.popitem(last=False)
            self._store.remove("events", evicted["metadata"]["namespace"],
                               evicted["metadata"]["name"])  # fmt: skip
        stored = self._store.put("events", obj)
        self._events[key] = stored
        return stored

    def _new(self, event: Event, namespace: str, now: float) -> JSON:
        meta = event.involved.get("metadata") or {}
        nanos = max(int(now * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        involved: JSON = {
            "kind": event.involved.get("kind", ""),
            "namespace": namespace,
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": event.involved.get("apiVersion", ""),
        }
        if meta.get("resourceVersion"):
            involved["resourceVersion"] = meta["resourceVersion"]
        return {
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": f"{meta.get('name', '')}.{nanos:x}",
                "namespace": namespace,
                "creationTimestamp": rfc3339(now),
            },
            "involvedObject": involved,
            "reason": event.reason,
            "message": event.message,
            "source": {"component": event.component},
            "firstTimestamp": rfc3339(now),
            "lastTimestamp": rfc3339(now),
            "count": 1,
            "type": event.type,
            "eventTime": None,
            "reportingComponent": event.component,
            "reportingInstance": event.component,
        }
