"""The two waiting idioms: an interruptible sleep, and a race of named awaitables that leaves
nothing running."""

from __future__ import annotations

import asyncio

import pytest

from minikubelet.runtime.aio import race, wait_event


async def test_wait_event_is_cut_short_and_says_why() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 30) is True
    assert await wait_event(event, 0) is True  # already set


async def test_race_returns_the_first_and_cancels_the_rest() -> None:
    slow_cancelled = asyncio.Event()

    async def slow() -> str:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            slow_cancelled.set()
            raise
        return "slow"

    async def fast() -> str:
        await asyncio.sleep(0)
        return "fast"

    assert await race(slow=slow(), fast=fast()) == ("fast", "fast")
    assert slow_cancelled.is_set()


async def test_race_raises_the_first_ones_error() -> None:
    async def boom() -> None:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await race(boom=boom(), wait=asyncio.sleep(3600))


async def test_a_shielded_task_is_not_cancelled_by_the_race() -> None:
    owned = asyncio.ensure_future(asyncio.sleep(0.05, result="owned"))
    stop = asyncio.Event()
    asyncio.get_running_loop().call_soon(stop.set)
    assert (await race(done=asyncio.shield(owned), stop=stop.wait()))[0] == "stop"
    assert await owned == "owned"


async def test_cancelling_the_race_cancels_its_tasks() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def worker() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        finally:
            cancelled.set()

    task = asyncio.ensure_future(race(a=worker(), b=asyncio.sleep(3600)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()
