"""The event loop's lag, sampled cheaply: how late a callback due every `PERIOD` runs.

One timer on the loop: each run observes (now - when it was due) into
`minikubelet_event_loop_lag_seconds` (`/metrics`) and schedules the next one `PERIOD` after
it ran. A callback, a GC pause or a blocking call that holds the loop shows as lag on the
next tick; the benchmark reads the histogram's buckets across each window. A tick costs a
few microseconds when the loop is awake anyway, but waking an idle loop costs far more (a
hundred or so on a small VM): so while the process is idle (it used under `IDLE_SHARE` of a
core since the last tick, and the tick ran under `IDLE_LAG` late: a process starved of CPU
by a loaded machine uses little CPU too, but is late) the period stretches to `IDLE_PERIOD`.
An idle loop has no lag to see; the samples lean to the busy times, which is where lag is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

PERIOD = 0.1
IDLE_PERIOD = 1.0
IDLE_SHARE = 0.02
IDLE_LAG = 0.005


class LagSampler:
    """Observes the loop's lateness every `period` (every `idle_period` while the process's
    CPU time grew by under `idle_share` of the time since the last tick and the tick was under
    `idle_lag` late); `clock` (the loop's)
    and `cpu_clock` (the process's CPU time) are injected by tests."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        observe: Callable[[float], None],
        *,
        period: float = PERIOD,
        idle_period: float = IDLE_PERIOD,
        idle_share: float = IDLE_SHARE,
        idle_lag: float = IDLE_LAG,
        clock: Callable[[], float] | None = None,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self._loop = loop
        self._observe = observe
        self._period = period
        self._idle_period = idle_period
        self._idle_share = idle_share
        self._idle_lag = idle_lag
        self._clock = clock if clock is not None else loop.time
        self._cpu_clock = cpu_clock
        self._due = 0.0
        self._last = (0.0, 0.0)  # (clock, CPU time) at the last tick
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._handle is None:
            now = self._clock()
            self._last = (now, self._cpu_clock())
            self._schedule(now, self._period)

    def _schedule(self, now: float, period: float) -> None:
        self._due = now + period
        self._handle = self._loop.call_at(self._due, self._tick)

    def _tick(self) -> None:
        now, cpu = self._clock(), self._cpu_clock()
        lag = max(0.0, now - self._due)
        self._observe(lag)
        was, was_cpu = self._last
        self._last = (now, cpu)
        idle = lag < self._idle_lag and cpu - was_cpu < self._idle_share * (now - was)
        self._schedule(now, self._idle_period if idle else self._period)

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
