"""The loop-lag sampler: lateness measured on an injected clock, and the daemon's metric."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from minikubelet.runtime import looplag, metrics


class FakeTimer:
    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeLoop:
    """Records the timers asked for; the test runs them."""

    def __init__(self) -> None:
        self.timers: list[FakeTimer] = []

    def call_at(self, when: float, callback: Callable[[], None]) -> FakeTimer:
        self.timers.append(FakeTimer(when, callback))
        return self.timers[-1]


def test_each_tick_observes_how_late_it_ran_and_the_next_is_due_a_period_after_it() -> None:
    now = [100.0]
    seen: list[float] = []
    loop = FakeLoop()
    cpu = [5.0]
    sampler = looplag.LagSampler(
        cast(asyncio.AbstractEventLoop, loop), seen.append, period=0.1, idle_period=1.0,
        idle_share=0.02, idle_lag=0.005, clock=lambda: now[0], cpu_clock=lambda: cpu[0],
    )  # fmt: skip
    sampler.start()
    sampler.start()  # once only
    assert [t.when for t in loop.timers] == [100.1]
    now[0] = 100.125  # the loop ran the timer 25 ms late, the process busy meanwhile
    cpu[0] = 5.05
    loop.timers[-1].callback()
    assert len(seen) == 1
    assert abs(seen[0] - 0.025) < 1e-9
    assert abs(loop.timers[-1].when - 100.225) < 1e-9
    now[0] = 100.2  # a clock a hair early still observes no negative lag
    cpu[0] = 5.06
    loop.timers[-1].callback()
    assert seen[-1] == 0.0
    assert abs(loop.timers[-1].when - 100.3) < 1e-9  # busy: the next in a period
    now[0] = 100.3  # idle since: 0.1 ms of CPU in 100 ms, so the next in the idle period
    cpu[0] = 5.0601
    loop.timers[-1].callback()
    assert abs(loop.timers[-1].when - 101.3) < 1e-9
    now[0] = 101.3
    cpu[0] = 5.2  # busy again
    loop.timers[-1].callback()
    assert abs(loop.timers[-1].when - 101.4) < 1e-9
    now[0] = 101.45  # little CPU, but 50 ms late (starved of CPU): not idle
    loop.timers[-1].callback()
    assert abs(loop.timers[-1].when - 101.55) < 1e-9
    sampler.stop()
    assert loop.timers[-1].cancelled


def _lag_count() -> float:
    for family in metrics.EVENT_LOOP_LAG.collect():
        for sample in family.samples:
            if sample.name.endswith("_count"):
                return sample.value
    return 0.0


async def test_the_sampler_on_a_real_loop_feeds_the_daemon_metric() -> None:
    before = _lag_count()
    sampler = looplag.LagSampler(
        asyncio.get_running_loop(), metrics.EVENT_LOOP_LAG.observe, period=0.01, idle_period=0.01
    )
    sampler.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while _lag_count() < before + 3 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
    finally:
        sampler.stop()
    assert _lag_count() >= before + 3
