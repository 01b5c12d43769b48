"""The garbage collector, kept off the probe loop's tail.

The daemon's heap is mostly long-lived: modules, manifests, pod runners, supervisors. Left to
the collector, full collections walk all of it every few seconds under load (41-103 ms at 500
containers) and free almost nothing, which is the probe timing's tail. So the heap is frozen
(`gc.freeze()`: out of every collection's walk, still freed by reference counting) once after
start-up and again shortly after each change of the pod set, with one full collection first,
so that what a removed pod left in reference cycles is freed before the rest is frozen. A
burst of changes (a manifest of many pods, a Deployment scaled) costs one collection.

`watch()` times the collector's pauses of the older generations into
`minikubelet_gc_pause_seconds` (`/metrics`), which the benchmark reports.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from minikubelet.runtime import metrics

SETTLE = 2.0  # seconds after the last change of the pod set

_started = 0.0


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    global _started
    generation = info.get("generation", 0)
    if generation == 0:
        return  # young collections are short and many: timing each would cost more
    if phase == "start":
        _started = time.perf_counter()
    else:
        metrics.GC_PAUSE.labels(str(generation)).observe(time.perf_counter() - _started)


def watch() -> None:
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def refreeze() -> None:
    """Collect what is garbage now, then freeze what is left."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class Freezer:
    """Refreezes the heap `SETTLE` seconds after the last change it was told of."""

    def __init__(self, settle: float = SETTLE) -> None:
        self._settle = settle
        self._pending: asyncio.TimerHandle | None = None

    def changed(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(self._settle, self._fire)

    def _fire(self) -> None:
        self._pending = None
        refreeze()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
