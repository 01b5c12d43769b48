"""Kubernetes-style events: reason, message, count, first and last time.

`EventRecorder.record()` is the one place an event is made; it also logs it through structlog,
so the console and the events API always agree. Repeats of the same (object, reason, message)
are aggregated into one event with a count, as the API server's event correlator does. The
store is bounded. Pure bookkeeping plus a log call: no asyncio.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import structlog

from minikubelet.core.spec import Pod

log = structlog.get_logger("minikubelet.events")

NORMAL = "Normal"
WARNING = "Warning"
MAX_EVENTS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    name: str  # metadata.name: <pod>.<hex>
    namespace: str
    pod_name: str
    pod_uid: str
    field_path: str  # "spec.containers{app}", or "" for the pod itself
    type: str
    reason: str
    message: str
    count: int
    first_timestamp: float
    last_timestamp: float
    source_host: str = ""
    resource_version: int = 0
    component: str = "kubelet"  # the source: the kubelet, or "default-scheduler"


def container_field_path(name: str, *, init: bool = False, ephemeral: bool = False) -> str:
    if ephemeral:
        return f"spec.ephemeralContainers{{{name}}}"
    return f"spec.initContainers{{{name}}}" if init else f"spec.containers{{{name}}}"


class EventRecorder:
    """Holds events, newest last. `on_change(event)` is called for each new or updated event
    (the daemon uses it to feed watches)."""

    def __init__(
        self,
        *,
        node_name: str = "",
        clock: Callable[[], float] = time.time,
        on_change: Callable[[Event], Event] | None = None,
        on_evict: Callable[[Event], None] | None = None,
    ) -> None:
        self._node = node_name
        self._clock = clock
        self._on_change = on_change
        self._on_evict = on_evict
        self._events: OrderedDict[tuple[str, ...], Event] = OrderedDict()
        self._last_nanos = 0

    def record(
        self,
        pod: Pod,
        *,
        reason: str,
        message: str,
        type: str = NORMAL,
        field_path: str = "",
        component: str = "kubelet",
    ) -> Event:
        now = self._clock()
        key = (pod.namespace, pod.name, pod.uid, field_path, type, reason, message)
        old = self._events.pop(key, None)
        if old is not None:
            event = replace(old, count=old.count + 1, last_timestamp=now)
        else:
            event = Event(
                # client-go's event name: the object's name and the time in hex nanoseconds,
                # so names sort by object, then time (tools/record/event.go makeEvent)
                name=f"{pod.name}.{self._unique_nanos(now):x}",
                namespace=pod.namespace,
                pod_name=pod.name,
                pod_uid=pod.uid,
                field_path=field_path,
                type=type,
                reason=reason,
                message=message,
                count=1,
                first_timestamp=now,
                last_timestamp=now,
                source_host=self._node if component == "kubelet" else "",
                component=component,
            )
        if self._on_change is not None:
            event = self._on_change(event)
        self._events[key] = event
        while len(self._events) > MAX_EVENTS:
            _, evicted = self._events.popitem(last=False)
            if self._on_evict is not None:
                self._on_evict(evicted)
        emit = log.warning if type == WARNING else log.info
        emit(
            "event",
            pod=f"{pod.namespace}/{pod.name}",
            object=field_path or "pod",
            type=type,
            reason=reason,
            message=message,
            count=event.count,
        )
        return event

    def _unique_nanos(self, now: float) -> int:
        nanos = max(int(now * 1e9), self._last_nanos + 1)
        self._last_nanos = nanos
        return nanos

    def events(self, namespace: str | None = None) -> list[Event]:
        events = sorted(self._events.values(), key=lambda e: e.last_timestamp)
        return [e for e in events if namespace is None or e.namespace == namespace]

    def for_pod(self, pod: Pod) -> list[Event]:
        return [e for e in self.events(pod.namespace) if e.pod_uid == pod.uid]
