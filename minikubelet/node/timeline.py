"""The pod timeline's recorder: every transition, probe run, kill, hook and back-off of each pod,
with its time, for `/debug/timeline`, the `/ui` page, `--record FILE` and the console story.

`Recorder.record(pod_key, kind, **fields)` is the one way in (core/timeline.py lists the
kinds). It is on the probe loop's path, so it costs a dict and an append to a bounded deque:
no encoding, no I/O; listeners (the record file, the console story) are told of each record
and do their own work cheaply (the file batches its writes on a short timer). State
transitions and events are not recorded by the code that makes them: `follow()` derives them
from the store's change feed, diffing each pod object with the one before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import IO, Any

import structlog

from minikubelet.core import timeline as core
from minikubelet.core import timing, timingjson
from minikubelet.manifest.specbuild import build_pod
from minikubelet.store.objects import Change, ObjectStore

log = structlog.get_logger("minikubelet.timeline")

JSON = dict[str, Any]
Listener = Callable[[JSON], None]

PER_POD = 5000  # records kept per pod, oldest dropped first
MAX_PODS = 256  # pods whose timelines are kept (the least recently recorded go first)
FLUSH_DELAY = 0.1  # seconds the record file gathers records before one write


class Recorder:
    def __init__(
        self,
        *,
        per_pod: int = PER_POD,
        max_pods: int = MAX_PODS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._per_pod = per_pod
        self._max_pods = max_pods
        self._clock = clock
        self._pods: OrderedDict[str, deque[JSON]] = OrderedDict()
        self._listeners: list[Listener] = []
        self._catch_up: Callable[[], None] | None = None
        self.seq = 0

    def record(self, pod: str, kind: str, /, **fields: Any) -> None:
        """An explicit record (a probe run, a kill, a hook, a back-off). The transitions the
        change feed holds happened before it, and are recorded first (a queue check)."""
        if self._catch_up is not None:
            self._catch_up()
        self.derived(pod, kind, **fields)

    def catch_up_with(self, catch_up: Callable[[], None] | None) -> None:
        """What records the change feed's pending transitions (follow() sets it)."""
        self._catch_up = catch_up

    def derived(self, pod: str, kind: str, /, **fields: Any) -> None:
        """A record derived from the change feed (follow())."""
        self.seq += 1
        rec = {"seq": self.seq, "t": self._clock(), "pod": pod, "kind": kind, **fields}
        lane = self._pods.get(pod)
        if lane is None:
            lane = self._pods[pod] = deque(maxlen=self._per_pod)
            while len(self._pods) > self._max_pods:
                self._pods.popitem(last=False)
        else:
            self._pods.move_to_end(pod)
        lane.append(rec)
        for listener in self._listeners:
            listener(rec)

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def pods(self) -> list[str]:
        return sorted(self._pods)

    def since(self, seq: int = 0, pod: str | None = None) -> list[JSON]:
        """Records after `seq`, oldest first; of one pod (`namespace/name`) or of all."""
        lanes = [self._pods.get(pod, deque())] if pod is not None else list(self._pods.values())
        found: list[JSON] = []
        for lane in lanes:  # each lane is in order: only its tail is read (a page's poll)
            tail = list(itertools.takewhile(lambda r: r["seq"] > seq, reversed(lane)))
            found += reversed(tail)
        if pod is None and len(lanes) > 1:
            found.sort(key=lambda r: r["seq"])
        return found


async def follow(store: ObjectStore, recorder: Recorder) -> None:
    """Records the transitions of every pod and every pod event the store's change feed
    carries, until cancelled. The store's current pods are the starting point."""
    queue = store.subscribe()
    last: dict[str, JSON] = {}

    def catch_up() -> None:
        while not queue.empty():
            _changed(recorder, last, queue.get_nowait())

    recorder.catch_up_with(catch_up)
    try:
        for obj in store.list("pods"):
            _pod_changed(recorder, last, obj, deleted=False)
        while True:
            _changed(recorder, last, await queue.get())
    finally:  # cancelled: what the feed holds still happened (the last exits at shutdown)
        catch_up()
        recorder.catch_up_with(None)
        store.unsubscribe(queue)


def _changed(recorder: Recorder, last: dict[str, JSON], change: Change) -> None:
    if change.kind == "Pod":
        _pod_changed(recorder, last, change.object, deleted=change.type == "DELETED")
    elif change.kind == "Event" and change.type != "DELETED":
        found = core.event_fields(change.object)
        if found is not None:
            recorder.derived(found[0], "event", **found[1])


def _pod_changed(recorder: Recorder, last: dict[str, JSON], obj: JSON, *, deleted: bool) -> None:
    meta = obj.get("metadata") or {}
    key = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    old = last.pop(key, None) if deleted else last.get(key)
    if not deleted:
        last[key] = obj
    for kind, fields in core.diff_pod(old, None if deleted else obj):
        if kind == "created":
            fields = {**fields, "timing": probe_timing(obj)}
        recorder.derived(key, kind, **fields)


def probe_timing(obj: JSON) -> list[JSON]:
    """The pod's probe timing windows (what `minikubelet explain` prints), for the page to show
    beside each probe; none for a pod the explainer cannot read."""
    try:
        return timingjson.to_json([timing.explain_pod(build_pod(obj, source="api"))])
    except Exception:  # a stored pod is valid; this only guards the follower
        log.warning("no probe timing for pod", pod=(obj.get("metadata") or {}).get("name"))
        return []


class RecordFile:
    """`--record FILE`: every record as a JSON line, written in batches (one write per
    `FLUSH_DELAY` at most) and flushed each time, so a run killed mid-way keeps what it saw."""

    def __init__(self, file: IO[str]) -> None:
        self._file = file
        self._pending: list[JSON] = []
        self._timer: asyncio.TimerHandle | None = None
        self.failed: str | None = None

    def __call__(self, rec: JSON) -> None:
        self._pending.append(rec)
        if self._timer is None:
            with contextlib.suppress(RuntimeError):  # no loop: written at close()
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, []
        if not pending or self.failed is not None:
            return
        try:
            self._file.write("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in pending))
            self._file.flush()
        except (OSError, ValueError) as e:  # disk full, closed: the run goes on without it
            self.failed = str(e)
            print(f"minikubelet: --record: {e}; recording stopped", file=sys.stderr)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()
        with contextlib.suppress(OSError):
            self._file.close()


_COLOURS = {"Warning": "\x1b[33m", "bad": "\x1b[31m", "good": "\x1b[32m"}
_RESET = "\x1b[0m"


class Story:
    """The console's story: each record worth a line, in plain words, on stderr, marked
    `» pod:` so it stands apart from container output (`[pod/container]` on stdout); coloured
    on a terminal only."""

    def __init__(self, out: IO[str] | None = None, *, colour: bool | None = None) -> None:
        self._out = out if out is not None else sys.stderr
        self._colour = self._out.isatty() if colour is None else colour

    def __call__(self, rec: JSON) -> None:
        text = core.describe(rec, prefix=False)
        if text is None:
            return
        who = str(rec.get("pod", "")).split("/", 1)[-1]
        if rec.get("container"):
            who += f"/{rec['container']}"
        line = f"» {who}: {text}"
        if self._colour:
            line = _paint(rec, line)
        with contextlib.suppress(OSError, ValueError):
            print(line, file=self._out, flush=True)


def _paint(rec: JSON, line: str) -> str:
    kind, value = rec.get("kind"), rec.get("value")
    if kind in ("kill", "killed", "backoff") or rec.get("result") in ("failure", "error"):
        tone = "bad"
    elif (kind == "ready" and value) or rec.get("state") == "running":
        tone = "good"
    elif kind == "event" or (kind == "ready" and not value) or rec.get("state") == "terminated":
        tone = "Warning"
    else:
        return line
    return f"{_COLOURS[tone]}{line}{_RESET}"
