"""An asyncio event loop on a virtual clock: whenever nothing is ready, time jumps to the next
timer instead of sleeping. Sleeps, `asyncio.timeout` and `loop.time()` all read this clock, so
code that waits minutes runs in microseconds, deterministically. For code that touches no real
file descriptors (a select finding nothing ready jumps the clock at once)."""

from __future__ import annotations

import asyncio
import selectors
from typing import Any


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualClockLoop) -> None:
        super().__init__()
        self._virtual = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready:
            return ready
        if timeout is None:
            raise RuntimeError("virtual clock: nothing is scheduled, the loop would wait forever")
        self._virtual.now += max(timeout, 0.0)
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now

    def run(self, coro: Any) -> Any:
        return self.run_until_complete(coro)
