"""Watches: the change feed replayed and streamed as the API server's watch protocol.

`WatchCache` is the API server's watch cache in miniature: one subscription to the registry,
a bounded history of `WatchEvent`s, and a fan-out to every open watch. A watch from
`resourceVersion=N` replays the history after N, so nothing that happened between kubectl's
list and its watch is lost (a `DELETED` that `kubectl delete --wait` is waiting for, above all);
a version older than the history answers `410 Expired`, as etcd compaction does.

`stream()` writes `{"type": ..., "object": ...}` lines until `timeoutSeconds`, the client leaves,
or the app stops; it always deregisters.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from aiohttp import web

from minikubelet.api.registry import JSON, Registry, WatchEvent
from minikubelet.api.status_errors import StatusError

# Each entry holds a whole object: under a crash loop a pod changes several times a second,
# and a count alone does not bound memory (1,000 copies of one 300-container pod were 280 MB).
# The history keeps at most HISTORY events and HISTORY_BYTES of their encoded size, whichever
# is reached first; the API server keeps about a hundred (or a 75 s window). Past the horizon
# a watch gets 410 Expired and relists, as with it.
HISTORY = 1_000
HISTORY_BYTES = 16 * 1024 * 1024
DEFAULT_TIMEOUT = 1800.0  # the API server's --min-request-timeout
# A watch with no events notices a departed client at the next check; aiohttp has no
# disconnect callback for a request without a body.
CLIENT_CHECK_INTERVAL = 1.0
BOOKMARK_INTERVAL = 60.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def event_size(event: WatchEvent) -> int:
    """What one event costs the history: its object's encoded length, measured once."""
    return len(json.dumps(event.object, separators=(",", ":"))) + 64


class WatchCache:
    def __init__(
        self, start_version: int, capacity: int = HISTORY, max_bytes: int = HISTORY_BYTES
    ) -> None:
        self._history: deque[tuple[WatchEvent, int]] = deque()
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._listeners: set[asyncio.Queue[WatchEvent]] = set()
        # the oldest version a watch can start from: every event after it is kept
        self._horizon = start_version

    @property
    def horizon(self) -> int:
        """The oldest version a watch can start from."""
        return self._horizon

    @property
    def history_bytes(self) -> int:
        return self._bytes

    @property
    def watchers(self) -> int:
        return len(self._listeners)

    def publish(self, event: WatchEvent) -> None:
        size = event_size(event)
        self._history.append((event, size))
        self._bytes += size
        while self._history and (
            len(self._history) > self._capacity or self._bytes > self._max_bytes
        ):
            dropped, dropped_size = self._history.popleft()
            self._bytes -= dropped_size
            self._horizon = max(self._horizon, dropped.resource_version)
        for queue in self._listeners:
            queue.put_nowait(event)

    async def follow(self, source: asyncio.Queue[WatchEvent]) -> None:
        while True:
            self.publish(await source.get())

    @contextmanager
    def listen(self, since: int) -> Iterator[tuple[list[WatchEvent], asyncio.Queue[WatchEvent]]]:
        """History after `since` and a queue of what comes next. Raises 410 if too old."""
        if since < self.horizon:
            raise StatusError(410, "Expired", f"too old resource version: {since} ({self.horizon})")
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        backlog = [e for e, _ in self._history if e.resource_version > since]
        self._listeners.add(queue)
        try:
            yield backlog, queue
        finally:
            self._listeners.discard(queue)


async def run_cache(registry: Registry) -> AsyncIterator[WatchCache]:
    """Subscribe before reading the version, so no change falls between the two."""
    source = registry.subscribe()
    cache = WatchCache(registry.resource_version)
    task = asyncio.create_task(cache.follow(source), name="api:watch-cache")
    try:
        yield cache
    finally:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        registry.unsubscribe(source)


@dataclass(frozen=True, slots=True)
class WatchRequest:
    """What to watch and how to render it. `render(obj, first)` builds the event's object
    (a Table row in Table mode, the object itself otherwise)."""

    kind: str
    matches: Callable[[JSON], bool]
    render: Callable[[JSON, bool], JSON]
    since: int
    initial: list[JSON]
    timeout: float
    bookmarks: bool = False
    initial_events_end: bool = False


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def _send(response: web.StreamResponse, type_: str, obj: JSON) -> None:
    line = json.dumps({"type": type_, "object": obj}, separators=(",", ":")) + "\n"
    await response.write(line.encode())


async def stream(
    request: web.Request, cache: WatchCache, watch: WatchRequest
) -> web.StreamResponse:
    with cache.listen(watch.since) as (backlog, queue):
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            first = await _send_initial(response, watch)
            for event in backlog:
                first = await _send_event(response, watch, event, first)
            await _pump(request, response, queue, watch, first)
        except ConnectionResetError:
            pass  # the client left; nothing to answer
    return response


async def _send_initial(response: web.StreamResponse, watch: WatchRequest) -> bool:
    """ADDED for the current objects (and the end-of-initial-events bookmark if asked);
    returns whether the next event is still the first."""
    first = True
    for obj in watch.initial:
        await _send(response, "ADDED", watch.render(obj, first))
        first = False
    if watch.initial_events_end:
        await _send(response, "BOOKMARK", _bookmark(watch.kind, watch.since, end=True))
    return first


async def _send_event(
    response: web.StreamResponse, watch: WatchRequest, event: WatchEvent, first: bool
) -> bool:
    """Sends `event` if it is one this watch wants; returns the new `first` flag."""
    if event.kind != watch.kind or event.resource_version <= watch.since:
        return first
    if not watch.matches(event.object):
        return first
    await _send(response, event.type, watch.render(event.object, first))
    return False


async def _pump(
    request: web.Request,
    response: web.StreamResponse,
    queue: asyncio.Queue[WatchEvent],
    watch: WatchRequest,
    first: bool,
) -> None:
    deadline = time.monotonic() + watch.timeout
    version, next_bookmark = watch.since, time.monotonic() + BOOKMARK_INTERVAL
    while (remaining := deadline - time.monotonic()) > 0 and not client_gone(request):
        try:
            async with asyncio.timeout(min(remaining, CLIENT_CHECK_INTERVAL)):
                event = await queue.get()
        except TimeoutError:
            if watch.bookmarks and time.monotonic() >= next_bookmark:
                await _send(response, "BOOKMARK", _bookmark(watch.kind, version))
                next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
            continue
        first = await _send_event(response, watch, event, first)
        version = max(version, event.resource_version)


def _bookmark(kind: str, version: int, *, end: bool = False) -> JSON:
    metadata: JSON = {"resourceVersion": str(version)}
    if end:
        metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"kind": kind, "apiVersion": "v1", "metadata": metadata}
