"""The probe worker against scripted probes and pod status (upstream worker_test.go and
prober_test.go: cases 32-51 of the reference). step() tests use no real time; run() tests use
a short real period and wait for states with deadlines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from unittest import mock

import pytest

from minikubelet.core.model import Phase
from minikubelet.core.spec import (
    Container,
    ExecAction,
    Pod,
    PodSpec,
    Probe,
    ProbeType,
    RestartPolicy,
)
from minikubelet.probe.handlers import ProbeError, ProbeOutcome, ProbeResultKind
from minikubelet.probe.worker import ContainerView, ProbeWorker, Result
from minikubelet.runtime.metrics import PROBE_LATENCY, PROBES

LIVENESS, READINESS, STARTUP = ProbeType.LIVENESS, ProbeType.READINESS, ProbeType.STARTUP
ALL_TYPES = [LIVENESS, READINESS, STARTUP]
OK = ProbeOutcome(ProbeResultKind.SUCCESS, "fine")
BAD = ProbeOutcome(ProbeResultKind.FAILURE, "broken")
NOW = 1_000_000.0
Script = ProbeOutcome | ProbeError


def make_probe(**overrides: Any) -> Probe:
    base: dict[str, Any] = {
        "handler": ExecAction(command=("true",)),
        "period_seconds": 1,
        "success_threshold": 1,
        "failure_threshold": 1,
    }
    return Probe(**(base | overrides))


class Harness:
    """A worker with a scripted probe, a settable view and recorded callbacks."""

    def __init__(
        self,
        probe_type: ProbeType,
        *,
        probe: Probe | None = None,
        period: float | None = None,
        daemon_started_at: float | None = None,
        pod_uid: str = "uid-1",
        pod_name: str = "web",
    ) -> None:
        spec = probe or make_probe()
        field = {LIVENESS: "liveness_probe", READINESS: "readiness_probe", STARTUP: "startup_probe"}
        container = Container(name="app", **{field[probe_type]: spec})
        self.pod = Pod(
            name=pod_name,
            uid=pod_uid,
            spec=PodSpec(containers=(container,), restart_policy=RestartPolicy.NEVER),
        )
        self.now = NOW
        self.script: list[Script] = []
        self.default: Script = OK
        self.calls: list[float] = []
        self.called = asyncio.Condition()
        self.results: list[tuple[ProbeType, str, Result]] = []
        self.events: list[tuple[str, str, str]] = []
        self.view: ContainerView | None = running(started=probe_type != STARTUP)
        self.worker = ProbeWorker(
            pod=self.pod,
            container=container,
            probe_type=probe_type,
            run=self.run,
            view=lambda: self.view,
            on_result=lambda t, cid, r: self.results.append((t, cid, r)),
            record_event=self.record,
            wall_clock=lambda: self.now,
            daemon_started_at=daemon_started_at,
            period=period,
        )

    async def run(self) -> ProbeOutcome:
        self.calls.append(time.monotonic())
        async with self.called:
            self.called.notify_all()
        item = self.script.pop(0) if self.script else self.default
        if isinstance(item, ProbeError):
            raise item
        return item

    def record(self, *, reason: str, message: str, type: str = "Normal") -> None:
        self.events.append((reason, message, type))

    async def steps(self, *outcomes: Script) -> list[tuple[bool, Result | None, int]]:
        """One step per outcome: (keep going, cached result, result_run) after each."""
        seen = []
        for outcome in outcomes:
            self.script.append(outcome)
            keep = await self.worker.step()
            seen.append((keep, self.worker.result, self.worker.result_run))
        return seen

    async def wait_calls(self, count: int, deadline: float = 2.0) -> None:
        async with asyncio.timeout(deadline), self.called:
            await self.called.wait_for(lambda: len(self.calls) >= count)


def running(
    *,
    container_id: str = "cid-1",
    started: bool | None = True,
    started_at: float = NOW,
    phase: Phase = Phase.RUNNING,
    deleting: bool = False,
) -> ContainerView:
    return ContainerView(
        pod_phase=phase,
        deleting=deleting,
        restart_policy=RestartPolicy.NEVER,
        is_sidecar=False,
        container_id=container_id,
        running=True,
        terminated=False,
        started_at=started_at,
        started=started,
    )


INITIAL = {LIVENESS: Result.SUCCESS, READINESS: Result.FAILURE, STARTUP: Result.UNKNOWN}


# --- case 32: probe() result mapping ------------------------------------------------------------


@pytest.mark.parametrize("ptype", [LIVENESS, READINESS])
@pytest.mark.parametrize(
    ("outcome", "result", "event"),
    [
        (OK, Result.SUCCESS, None),
        (BAD, Result.FAILURE, ("Unhealthy", "{t} probe failed: broken")),
        (
            ProbeOutcome(ProbeResultKind.WARNING, "Probe terminated redirects, Response body: x"),
            Result.SUCCESS,
            ("ProbeWarning", "{t} probe warning: Probe terminated redirects, Response body: x"),
        ),
        (ProbeOutcome(ProbeResultKind.UNKNOWN, "?"), Result.FAILURE, None),
    ],
)
async def test_case32_result_mapping(
    ptype: ProbeType,
    outcome: ProbeOutcome,
    result: Result,
    event: tuple[str, str] | None,
) -> None:
    h = Harness(ptype)
    assert await h.steps(outcome) == [
        (True, result, 0 if ptype == LIVENESS and result == Result.FAILURE else 1)
    ]
    expected = [] if event is None else [(event[0], event[1].format(t=ptype), "Warning")]
    assert h.events == expected


@pytest.mark.parametrize("ptype", [LIVENESS, READINESS])
async def test_case32_errors_are_retried_then_discarded(ptype: ProbeType) -> None:
    h = Harness(ptype)
    error = ProbeError('strconv.Atoi: parsing "http": invalid syntax')
    h.default = error
    assert await h.steps(error) == [(True, INITIAL[ptype], 0)]
    assert len(h.calls) == 3  # kubelet: maxProbeRetries
    message = f"{ptype} probe errored and resulted in unknown state: {error}"
    assert h.events == [("Unhealthy", message, "Warning")]


async def test_error_then_success_within_retries() -> None:
    h = Harness(READINESS)
    h.script = [ProbeError("flaky")]
    assert await h.steps(OK) == [(True, Result.SUCCESS, 1)]
    assert len(h.calls) == 2
    assert h.events == []


async def test_failure_is_not_retried() -> None:
    h = Harness(READINESS)
    await h.steps(BAD)
    assert len(h.calls) == 1


# --- cases 33-41: when doProbe probes -------------------------------------------------------------


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case33_no_status(ptype: ProbeType) -> None:
    h = Harness(ptype)
    h.view = None
    assert await h.worker.step() is True
    assert h.worker.result is None
    assert h.results == []
    assert h.calls == []


@pytest.mark.parametrize("ptype", ALL_TYPES)
@pytest.mark.parametrize("phase", [Phase.FAILED, Phase.SUCCEEDED])
async def test_case34_terminal_phase(ptype: ProbeType, phase: Phase) -> None:
    h = Harness(ptype)
    h.view = running(phase=phase)
    assert await h.worker.step() is False
    assert h.worker.result is None


@pytest.mark.parametrize("ptype", [LIVENESS, STARTUP])
async def test_case35_deletion_quiet_shutdown(ptype: ProbeType) -> None:
    h = Harness(ptype)
    h.view = running(deleting=True, started=ptype != STARTUP)
    h.default = BAD
    assert await h.worker.step() is False
    assert h.worker.result == Result.SUCCESS
    assert h.calls == []


async def test_case35_readiness_goes_on_through_termination() -> None:
    h = Harness(READINESS)
    h.view = running(deleting=True)
    assert await h.worker.step() is True
    assert h.worker.result == Result.SUCCESS
    assert len(h.calls) == 1


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case36_container_not_in_status(ptype: ProbeType) -> None:
    h = Harness(ptype)
    h.view = running(container_id="")
    assert await h.worker.step() is True
    assert h.worker.result is None


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case37_waiting_container(ptype: ProbeType) -> None:
    h = Harness(ptype)
    h.view = replace(running(), running=False)
    assert await h.worker.step() is True
    assert h.worker.result == Result.FAILURE


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case38_terminated_with_restart_never(ptype: ProbeType) -> None:
    h = Harness(ptype)
    h.view = replace(running(), running=False, terminated=True)
    assert await h.worker.step() is False
    assert h.worker.result == Result.FAILURE


@pytest.mark.parametrize(
    "changes",
    [
        {"restart_policy": RestartPolicy.ALWAYS},
        {"restart_policy": RestartPolicy.ON_FAILURE},
        {"is_sidecar": True},
    ],
)
async def test_terminated_but_restartable_keeps_going(changes: dict[str, Any]) -> None:
    h = Harness(LIVENESS)
    h.view = replace(running(), running=False, terminated=True, **changes)
    assert await h.worker.step() is True


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case39_running_and_healthy(ptype: ProbeType) -> None:
    h = Harness(ptype)
    assert await h.worker.step() is True
    assert h.worker.result == Result.SUCCESS


async def test_case40_initial_delay_already_elapsed() -> None:
    h = Harness(LIVENESS, probe=make_probe(initial_delay_seconds=-100))
    assert await h.worker.step() is True
    assert h.calls


@pytest.mark.parametrize("ptype", ALL_TYPES)
async def test_case41_initial_delay(ptype: ProbeType) -> None:
    h = Harness(ptype, probe=make_probe(initial_delay_seconds=10))
    assert await h.worker.step() is True
    assert h.worker.result == INITIAL[ptype]
    assert h.calls == []
    assert h.view is not None
    h.view = replace(h.view, started_at=NOW - 100)
    assert await h.worker.step() is True
    assert h.worker.result == Result.SUCCESS


async def test_initial_delay_counts_whole_seconds() -> None:
    h = Harness(LIVENESS, probe=make_probe(initial_delay_seconds=10))
    h.now = NOW + 9.99  # int32(9.99) = 9 < 10: not yet
    await h.worker.step()
    assert h.calls == []
    h.now = NOW + 10.0
    await h.worker.step()
    assert len(h.calls) == 1


# --- cases 42-50: thresholds, hold, startup gating ------------------------------------------------


async def test_case42_readiness_failure_threshold() -> None:
    h = Harness(READINESS, probe=make_probe(failure_threshold=3, success_threshold=1))
    for _ in range(2):
        assert [r for _, r, _ in await h.steps(OK, OK, OK)] == [Result.SUCCESS] * 3
        assert [r for _, r, _ in await h.steps(BAD, BAD)] == [Result.SUCCESS] * 2
        assert [r for _, r, _ in await h.steps(BAD, BAD, BAD)] == [Result.FAILURE] * 3


async def test_case43_readiness_success_threshold() -> None:
    h = Harness(READINESS, probe=make_probe(failure_threshold=1, success_threshold=3))
    for _ in range(2):
        assert [r for _, r, _ in await h.steps(OK, OK)] == [Result.FAILURE] * 2
        assert [r for _, r, _ in await h.steps(OK, OK, OK)] == [Result.SUCCESS] * 3
        assert [r for _, r, _ in await h.steps(BAD)] == [Result.FAILURE]


async def test_case44_startup_success_holds() -> None:
    h = Harness(STARTUP)
    assert await h.steps(OK) == [(True, Result.SUCCESS, 0)]
    assert h.worker.on_hold


async def test_case45_startup_failure_threshold() -> None:
    h = Harness(STARTUP, probe=make_probe(failure_threshold=3))
    seen = await h.steps(BAD, BAD, BAD)
    assert seen == [(True, Result.UNKNOWN, 1), (True, Result.UNKNOWN, 2), (True, Result.FAILURE, 0)]
    assert h.worker.on_hold


@pytest.mark.parametrize("ptype", [LIVENESS, STARTUP])
async def test_case46_hold_until_new_container(ptype: ProbeType) -> None:
    h = Harness(ptype)
    assert await h.steps(BAD) == [(True, Result.FAILURE, 0)]
    assert h.worker.on_hold
    assert await h.steps(OK) == [(True, Result.FAILURE, 0)]  # on hold: not probed
    assert len(h.calls) == 1
    h.view = running(container_id="cid-2", started=ptype != STARTUP)
    assert await h.steps(OK) == [(True, Result.SUCCESS, 0 if ptype == STARTUP else 1)]
    assert h.worker.on_hold == (ptype == STARTUP)
    assert h.worker.container_id == "cid-2"


async def test_case47_liveness_failure_threshold() -> None:
    h = Harness(LIVENESS, probe=make_probe(failure_threshold=3))
    seen = await h.steps(OK, BAD, BAD, BAD)
    assert seen == [
        (True, Result.SUCCESS, 1),
        (True, Result.SUCCESS, 1),
        (True, Result.SUCCESS, 2),
        (True, Result.FAILURE, 0),
    ]


async def test_case48_startup_failures_on_a_container_not_started() -> None:
    h = Harness(STARTUP, probe=make_probe(failure_threshold=3))
    h.view = running(started=False)
    seen = await h.steps(BAD, BAD, BAD)
    assert seen == [(True, Result.UNKNOWN, 1), (True, Result.UNKNOWN, 2), (True, Result.FAILURE, 0)]


async def test_case49_liveness_waits_for_startup() -> None:
    h = Harness(LIVENESS)
    h.view = running(started=False)
    assert await h.steps(BAD) == [(True, Result.SUCCESS, 0)]
    assert h.calls == []
    h.view = running(started=True)
    assert await h.steps(BAD) == [(True, Result.FAILURE, 0)]


async def test_case50_startup_stops_once_started() -> None:
    h = Harness(STARTUP, probe=make_probe(failure_threshold=2))
    h.view = running(started=False)
    assert [r for _, r, _ in await h.steps(BAD, OK)] == [Result.UNKNOWN, Result.SUCCESS]
    h.view = running(started=True)
    assert [r for _, r, _ in await h.steps(BAD, BAD)] == [Result.SUCCESS, Result.SUCCESS]


async def test_results_reported_on_change_only() -> None:
    h = Harness(READINESS, probe=make_probe(failure_threshold=2))
    await h.steps(BAD, BAD, OK, OK, BAD, BAD)
    assert [r for _, _, r in h.results] == [
        Result.FAILURE,  # the initial value for cid-1
        Result.SUCCESS,
        Result.FAILURE,
    ]
    assert {cid for _, cid, _ in h.results} == {"cid-1"}
    assert [e[0] for e in h.events] == ["Unhealthy"] * 4  # every failed run


async def test_new_container_resets_to_initial_value() -> None:
    h = Harness(READINESS)
    await h.steps(OK)
    h.view = running(container_id="cid-2")
    h.default = ProbeError("down")
    await h.worker.step()
    assert h.results[-1] == (READINESS, "cid-2", Result.FAILURE)


# --- metrics ------------------------------------------------------------------------------------


def sample(name: str, labels: dict[str, str]) -> float | None:
    return PROBES.get_sample_value(name, labels)


async def test_metrics_written_and_deleted_on_exit() -> None:
    h = Harness(READINESS, pod_uid="uid-metrics", pod_name="metrics")
    labels = {"probe_type": "Readiness", "container": "app", "pod": "metrics"}
    labels["namespace"] = "default"
    total = "prober_probe_total"
    latency_before = PROBE_LATENCY.labels(handler="exec", result="failure")._sum.get()
    await h.steps(OK, OK, BAD)
    h.default = ProbeError("x")
    await h.worker.step()  # an error: not counted
    assert sample(total, labels | {"result": "successful", "pod_uid": "uid-metrics"}) == 2
    assert sample(total, labels | {"result": "failed", "pod_uid": "uid-metrics"}) == 1
    assert sample("prober_probe_duration_seconds_count", labels) == 2  # not for failures
    assert PROBE_LATENCY.labels(handler="exec", result="failure")._sum.get() > latency_before
    stop = asyncio.Event()
    stop.set()
    await h.worker.run(stop)
    assert sample(total, labels | {"result": "successful", "pod_uid": "uid-metrics"}) is None
    assert sample("prober_probe_duration_seconds_count", labels) is None


# --- run(): timing, triggers, stop (case 51) -------------------------------------------------


async def run_worker(h: Harness, stop: asyncio.Event) -> asyncio.Task[None]:
    return asyncio.create_task(h.worker.run(stop), name="probe:web/app/test")


async def test_run_probes_at_once_then_each_period() -> None:
    """Generous bounds only: `at once` is well before a period, and a period is never cut
    short (a late tick under load is no failure)."""
    h = Harness(READINESS, period=1.0)
    stop = asyncio.Event()
    began = time.monotonic()
    task = await run_worker(h, stop)
    try:
        await h.wait_calls(3, deadline=20)
    finally:
        stop.set()
        await task
    assert h.calls[0] - began < 0.5
    gaps = [b - a for a, b in zip(h.calls, h.calls[1:], strict=False)]
    assert all(gap > 0.9 for gap in gaps), gaps


async def test_trigger_runs_now_and_resets_the_ticker() -> None:
    h = Harness(READINESS, period=2.0)
    stop = asyncio.Event()
    task = await run_worker(h, stop)
    try:
        await h.wait_calls(1)
        triggered = time.monotonic()
        h.worker.trigger()
        h.worker.trigger()  # one pending trigger at most
        await h.wait_calls(2, deadline=20)
        await h.wait_calls(3, deadline=20)
    finally:
        stop.set()
        await task
    assert h.calls[1] - triggered < 1.0  # now, not at the next tick, 2 s away
    assert h.calls[2] - h.calls[1] > 1.9  # a full period after the manual run
    assert len(h.calls) == 3  # the second trigger ran nothing more


async def test_stop_cuts_the_period_short_and_can_repeat() -> None:
    h = Harness(LIVENESS, period=30)
    stop = asyncio.Event()
    task = await run_worker(h, stop)
    await h.wait_calls(1)
    for _ in range(10):
        stop.set()
    async with asyncio.timeout(10):  # far below the 30 s period it cuts short
        await task
    assert h.worker.result is None  # case 51: the cached result is removed on exit


async def test_run_exits_when_step_says_so() -> None:
    h = Harness(LIVENESS, period=0.05)
    h.view = running(phase=Phase.SUCCEEDED)
    async with asyncio.timeout(1):
        await h.worker.run(asyncio.Event())
    assert h.calls == []


@pytest.mark.parametrize(("since_start", "jitter"), [(0.0, True), (3600.0, False)])
async def test_first_probe_jitter_only_after_a_daemon_start(
    since_start: float, jitter: bool
) -> None:
    """The jitter is drawn from [0, period) and waited; without it the probe runs at once
    (generous bounds: the drawn 1.5 s is waited in full, or not at all)."""
    period = 2.0
    h = Harness(LIVENESS, period=period, daemon_started_at=NOW - since_start)
    stop = asyncio.Event()
    with mock.patch("minikubelet.probe.worker.random.uniform", return_value=1.5) as uniform:
        began = time.monotonic()
        task = await run_worker(h, stop)
        try:
            await h.wait_calls(1, deadline=20)
        finally:
            stop.set()
            await task
    delay = h.calls[0] - began
    if jitter:
        uniform.assert_called_once_with(0, period)
        assert delay >= 1.4
    else:
        uniform.assert_not_called()
        assert delay < 1.0


async def test_step_crash_is_logged_and_the_worker_goes_on() -> None:
    h = Harness(LIVENESS, period=0.05)
    boom: list[Callable[[], ContainerView | None]] = []

    def view() -> ContainerView | None:
        if not boom:
            boom.append(view)
            raise RuntimeError("bug")
        return running()

    h.worker._view = view
    stop = asyncio.Event()
    task = await run_worker(h, stop)
    try:
        await h.wait_calls(1)
    finally:
        stop.set()
        await task


# --- run(): the Go ticker when a probe outlives its period --------------------------------------


class VirtualClockLoop(asyncio.SelectorEventLoop):
    """An event loop on an injected clock: whenever nothing is ready to run, time jumps to
    the next scheduled timer instead of being waited out."""

    def __init__(self) -> None:
        super().__init__()
        self.virtual = 0.0

    def time(self) -> float:
        return self.virtual

    def _run_once(self) -> None:
        ready, scheduled = self._ready, self._scheduled  # type: ignore[attr-defined]
        if not ready and scheduled:
            self.virtual = max(self.virtual, scheduled[0].when())
        super()._run_once()  # type: ignore[misc]


class SlowHarness(Harness):
    """Each probe takes the next of `durations` on the loop's clock (a probe that hangs
    until its timeout), and records when it started."""

    durations: list[float]

    async def run(self) -> ProbeOutcome:
        self.calls.append(asyncio.get_running_loop().time())
        async with self.called:
            self.called.notify_all()
        await asyncio.sleep(self.durations.pop(0) if self.durations else 0.0)
        return OK


def probe_starts(durations: list[float], *, period: float, count: int) -> list[float]:
    async def scenario() -> list[float]:
        h = SlowHarness(READINESS, period=period)
        h.durations = list(durations)
        stop = asyncio.Event()
        task = await run_worker(h, stop)
        try:
            await h.wait_calls(count, deadline=1000.0)
        finally:
            stop.set()
            await task
        return h.calls[:count]

    loop = VirtualClockLoop()
    try:
        return loop.run_until_complete(scenario())
    finally:
        loop.close()


@pytest.mark.parametrize(
    ("durations", "starts"),
    [
        # probes shorter than the period: one per tick
        ([0.5] * 4, [0.0, 1.0, 2.0, 3.0]),
        # hanging until timeoutSeconds=3 with periodSeconds=1: the tick that fell due at 1 is
        # held in the channel's one-slot buffer and received as soon as the probe returns
        # (ticks at 2 and 3 are dropped), so the probes run back to back, one per timeout
        ([3.0] * 4, [0.0, 3.0, 6.0, 9.0]),
        ([1.5] * 4, [0.0, 1.5, 3.0, 4.5]),
        # after a long probe and the buffered tick, the ticker keeps its own phase: the next
        # probe is at the next whole period since the ticker started, not a period later
        ([2.5, 0.1, 0.1], [0.0, 2.5, 3.0, 4.0]),
    ],
)
def test_ticker_when_probes_outlive_their_period(
    durations: list[float], starts: list[float]
) -> None:
    """kubelet: prober/worker.go run: `probeTicker := time.NewTicker(period)` and
    `select { case <-probeTicker.C: ... }` after each doProbe. A Go ticker's channel holds one
    tick (time.NewTicker: "drop ticks to make up for slow receivers")."""
    assert probe_starts(durations, period=1.0, count=len(starts)) == pytest.approx(starts)
