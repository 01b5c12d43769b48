"""The probe worker: the kubelet's `prober/worker.go` for one (container, probe type).

`step()` is `doProbe`: it reads what the pod status says of the container, decides whether to
probe, runs the probe through the injected `run` callable (with `prober.go`'s retries, result
mapping and events), and does the threshold bookkeeping. The worker is the only writer of its
counters and of its cached result, and reports each change of that result through
`on_result`. `run()` is the thin timing loop around `step()`: the first-probe jitter, the
period ticker, manual readiness triggers. The `prober_probe_*` series are written here.

Nothing here starts processes or opens sockets (`probes.py` does, behind `run`), and nothing
here reads a clock other than the injected ones, so `step()` is tested without waiting.

`step()`, the counting and the metrics are `doprobe.py`'s (`ProbeStep`); this module keeps the
timing loop.
"""

from __future__ import annotations

import asyncio
import math
import random

import structlog

# ContainerView and Result re-exported: what the node's probing and its tests read with a worker
from minikubelet.probe.doprobe import ContainerView as ContainerView
from minikubelet.probe.doprobe import ProbeStep
from minikubelet.probe.doprobe import Result as Result
from minikubelet.runtime.aio import wait_event

log = structlog.get_logger("minikubelet.prober")


class ProbeWorker(ProbeStep):
    """One probe of one container; see the module docstring. Inspectable state: `result` (the
    cached result for `container_id`, None once the worker exited), `last_result`,
    `result_run`, `on_hold`, `container_id`."""

    # --- run -------------------------------------------------------------------------------

    def trigger(self) -> None:
        """A manual run (kubelet: prober_manager.go UpdatePodStatus pokes the readiness
        worker); at most one is pending, and the ticker restarts after it."""
        self._manual = True
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """kubelet: worker.go run: jitter, probe at once, then on each tick or trigger until
        step() says to stop, the task is cancelled (as the supervisor stops its workers) or
        `stop` is set. On exit the cached result and the worker's metric series are
        dropped."""
        stop = asyncio.Event() if stop is None else stop
        try:
            async with asyncio.TaskGroup() as tg:
                looping = tg.create_task(self._loop(stop), name=f"{self._name}:loop")
                relay = tg.create_task(self._relay(stop, looping), name=f"{self._name}:stop")
                await asyncio.wait({looping})
                relay.cancel()
        finally:
            self.result = None
            self._delete_series()

    async def _loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        if await self._jitter(stop) == "stop":
            return
        self._next_tick = loop.time() + self._period
        while await self._safe_step():
            woke = await self._wait(stop, self._next_tick, manual=True)
            if woke == "stop":
                return
            now = loop.time()
            if woke == "manual":
                self._next_tick = now + self._period  # kubelet: probeTicker.Reset(period)
            else:
                # kubelet: worker.go run selects on a time.Ticker's channel, which holds one
                # tick: the first tick that fell due during a probe that outlived its period
                # is received at once when it returns (an immediate _wait), later ones are
                # dropped, and the ticker keeps its phase (Go: "drop ticks to make up for
                # slow receivers"). A probe hanging until timeoutSeconds >= periodSeconds is
                # thus followed by the next one at once: they run back to back.
                missed = math.floor((now - self._next_tick) / self._period) + 1
                self._next_tick += max(missed, 1) * self._period

    async def _jitter(self, stop: asyncio.Event) -> str:
        """kubelet: worker.go run: right after a daemon start, wait a random part of a period
        so that probes do not all fire at once."""
        started = self._daemon_started_at
        if started is None or self._period <= self._clock() - started:
            return "tick"
        delay = random.uniform(0, self._period)
        return await self._wait(stop, asyncio.get_running_loop().time() + delay, manual=False)

    async def _wait(self, stop: asyncio.Event, deadline: float, *, manual: bool) -> str:
        """Sleeps until `deadline`, cut short by stop (and by a trigger when `manual`)."""
        loop = asyncio.get_running_loop()
        while True:
            if stop.is_set():
                return "stop"
            if manual and self._manual:
                self._manual = False
                return "manual"
            self._wake.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return "tick"
            await wait_event(self._wake, remaining)

    async def _relay(self, stop: asyncio.Event, looping: asyncio.Task[None]) -> None:
        """On stop, a probe in flight is abandoned (its exec process group killed): in the
        kubelet it would die with its container, and nothing may wait its timeout out."""
        await stop.wait()
        self._wake.set()
        looping.cancel()

    async def _safe_step(self) -> bool:
        """kubelet: doProbe recovers from panics and keeps going."""
        try:
            return await self.step()
        except Exception:
            log.exception("probe worker step failed", worker=self._name)
            return True

    @property
    def _name(self) -> str:
        return f"probe:{self._pod.name}/{self._container.name}/{self._type.lower()}"
