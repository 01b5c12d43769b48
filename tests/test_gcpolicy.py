"""The collector policy: a burst of pod-set changes refreezes the heap once, after it settles,
having freed what a removed pod left in reference cycles; pauses are timed."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Callable

from minikubelet.runtime import gcpolicy, metrics


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


async def _until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not done():
            await asyncio.sleep(0.05)


async def test_a_burst_of_changes_refreezes_once_after_it_settles() -> None:
    gc.unfreeze()
    fired: list[int] = []
    original = gcpolicy.refreeze

    def record(*, full: bool = False) -> None:
        fired.append(int(full))
        original(full=full)

    gcpolicy.refreeze = record  # type: ignore[assignment]
    try:
        freezer = gcpolicy.Freezer(settle=0.2, full_after=2)
        cycle = Node()
        gone = weakref.ref(cycle)
        del cycle
        for _ in range(5):
            freezer.changed()
            await asyncio.sleep(0.05)
        assert fired == []
        await _until(lambda: bool(fired))
        assert fired == [0]  # a cheap pass: only what is not yet frozen
        assert gone() is None  # collected before the freeze
        assert gc.get_freeze_count() > 0
        # a cycle made before a freeze is freed only by the full pass after enough removals
        frozen = Node()
        gone = weakref.ref(frozen)
        gc.freeze()
        del frozen
        freezer.changed(removed=True)
        await _until(lambda: len(fired) == 2)
        assert fired == [0, 0]
        assert gone() is not None
        freezer.changed(removed=True)
        await _until(lambda: len(fired) == 3)
        assert fired == [0, 0, 1]
        assert gone() is None
        freezer.changed()
        freezer.cancel()
        await asyncio.sleep(0.4)
        assert len(fired) == 3
    finally:
        gcpolicy.refreeze = original  # type: ignore[assignment]
        gc.unfreeze()


def test_pauses_of_older_generations_are_timed() -> None:
    def count() -> float:
        total = 0.0
        for family in metrics.GC_PAUSE.collect():
            for sample in family.samples:
                if sample.name.endswith("_count") and sample.labels.get("generation") == "2":
                    total += sample.value
        return total

    gcpolicy.watch()
    gcpolicy.watch()  # once only
    try:
        assert gc.callbacks.count(gcpolicy._on_gc) == 1
        before = count()
        gc.collect()
        assert count() == before + 1
    finally:
        gc.callbacks.remove(gcpolicy._on_gc)
