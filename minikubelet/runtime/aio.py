"""The daemon's two waiting idioms, once each.

- `wait_event(event, within)`: the interruptible sleep. Waits until the event is set or the
  time is up, and says which; a stop or wake event cuts a backoff, an idle timer or a poll
  short.
- `race(**awaitables)`: run named awaitables as tasks until the first ends; the others are
  cancelled and awaited before it returns (nothing is left running, nothing is left
  unretrieved). It returns the first one's name and result, or raises its exception. To race
  a task owned elsewhere without cancelling it, pass `asyncio.shield(task)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def wait_event(event: asyncio.Event, within: float | None) -> bool:
    """True if `event` was (or became) set within `within` seconds (None: no bound)."""
    if event.is_set():
        return True
    try:
        async with asyncio.timeout(within):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def race(**awaitables: Awaitable[Any]) -> tuple[str, Any]:
    """(name, result) of the first awaitable to finish; the rest are cancelled and awaited."""
    tasks = {asyncio.ensure_future(aw): name for name, aw in awaitables.items()}
    done: set[asyncio.Future[Any]] = set()
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            # asyncio.wait raises nothing of theirs; a cancellation of our own still goes on
            await asyncio.wait(pending)
    # several may have finished together: the one first in the call's order wins
    first = next(t for t in tasks if t in done)
    for task in tasks:
        if task is not first and task.done() and not task.cancelled():
            task.exception()  # retrieved, so a loser's error is not reported as lost
    return tasks[first], first.result()
