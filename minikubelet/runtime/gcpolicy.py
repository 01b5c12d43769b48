"""The garbage collector, kept off the probe loop's tail.

The daemon's heap is mostly long-lived: modules, manifests, pod runners, supervisors. Left to
the collector, full collections walk all of it every few seconds under load (41-103 ms at 500
containers) and free almost nothing, which is the probe timing's tail. So the heap is frozen
(`gc.freeze()`: out of every collection's walk, still freed by reference counting) once after
start-up and again shortly after each change of the pod set, after a collection of what is
not frozen (cheap: it walks only what was made since the last freeze), so that no garbage
cycle is frozen for good. What a removed pod leaves in cycles among frozen objects is freed by
a full pass (unfreeze, collect, freeze: tens of ms) once `FULL_AFTER_REMOVALS` pods have gone.
A burst of changes (a manifest of many pods, a Deployment scaled) costs one collection.

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
FULL_AFTER_REMOVALS = 64

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


def refreeze(*, full: bool = False) -> None:
    """Collect what is garbage now (among all objects if `full`, else among those not yet
    frozen), then freeze what is left."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


class Freezer:
    """Refreezes the heap `SETTLE` seconds after the last change it was told of."""

    def __init__(self, settle: float = SETTLE, full_after: int = FULL_AFTER_REMOVALS) -> None:
        self._settle = settle
        self._full_after = full_after
        self._removed = 0
        self._pending: asyncio.TimerHandle | None = None

    def changed(self, *, removed: bool = False) -> None:
        self._removed += removed
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._pending is not None:
            self._pending.cancel()
        self._pending = loop.call_later(self._settle, self._fire)

    def _fire(self) -> None:
        self._pending = None
        full = self._removed >= self._full_after
        if full:
            self._removed = 0
        refreeze(full=full)

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
