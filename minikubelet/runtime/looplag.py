"""The event loop's lag, sampled cheaply: how late a callback due every `PERIOD` runs.

One timer on the loop: each run observes (now - when it was due) into
`minikubelet_event_loop_lag_seconds` (`/metrics`) and schedules the next one `PERIOD` after
it ran. A callback, a GC pause or a blocking call that holds the loop shows as lag on the
next tick; the benchmark reads the histogram's buckets across each window. The cost is one
timer callback and one histogram observation per `PERIOD` (10 a second).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

PERIOD = 0.1


class LagSampler:
    """Observes the loop's lateness every `period`; `clock` is the loop's clock unless
    injected (tests)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        observe: Callable[[float], None],
        *,
        period: float = PERIOD,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self._loop = loop
        self._observe = observe
        self._period = period
        self._clock = clock if clock is not None else loop.time
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._handle is None:
            self._schedule(self._clock())

    def _schedule(self, now: float) -> None:
        self._due = now + self._period
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now = self._clock()
        self._observe(max(0.0, now - self._due))
        self._schedule(now)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


_sampler: LagSampler | None = None


def watch() -> None:
    """Starts sampling the running loop's lag (once)."""
    global _sampler
    from minikubelet.runtime import metrics  # the daemon's: not imported before it serves

    if _sampler is None:
        _sampler = LagSampler(asyncio.get_running_loop(), metrics.EVENT_LOOP_LAG.observe)
        _sampler.start()
