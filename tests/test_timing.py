"""Probe timing windows (minikubelet/timing.py): the formulas as tables, then the real probe
worker (prober.py) on a virtual clock, wired as node/probing.py wires it, with a scripted app
that turns healthy or unhealthy at many phases: every observed time falls inside the window
`explain` prints, and the window's ends are reached (to within the grid step)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from virtual_clock import VirtualClockLoop

from minikubelet.core import containerstatus as cs
from minikubelet.core import kills, timing
from minikubelet.core.model import Phase
from minikubelet.core.spec import (
    Container,
    ExecAction,
    HTTPGetAction,
    Lifecycle,
    Pod,
    PodSpec,
    Probe,
    ProbeType,
    RestartPolicy,
    SleepAction,
)
from minikubelet.probe import worker as prober_module
from minikubelet.probe.handlers import ProbeOutcome, ProbeResultKind
from minikubelet.probe.worker import ContainerView, ProbeWorker, Result

LIVENESS, READINESS, STARTUP = ProbeType.LIVENESS, ProbeType.READINESS, ProbeType.STARTUP
EPS = 1e-6
OK = ProbeOutcome(ProbeResultKind.SUCCESS, "ok")
BAD = ProbeOutcome(ProbeResultKind.FAILURE, "HTTP probe failed with statuscode: 500")


def probe(d: int = 0, p: int = 10, t: int = 1, f: int = 3, s: int = 1, **kw: Any) -> Probe:
    return Probe(
        handler=HTTPGetAction(port=8080, path="/healthz"),
        initial_delay_seconds=d,
        period_seconds=p,
        timeout_seconds=t,
        failure_threshold=f,
        success_threshold=s,
        **kw,
    )


def pod_of(*containers: Container, **spec: Any) -> Pod:
    return Pod(name="web", uid="uid-t", spec=PodSpec(containers=containers, **spec))


# --- the formulas, as tables ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pr", "runs", "window"),
    [
        (probe(), 3, (20, 31)),  # the defaults: 20-30 s, plus a timeout of 1 s
        (probe(), 1, (0, 11)),
        (probe(p=3), 3, (6, 10)),
        (probe(p=5, f=1), 1, (0, 6)),
        (probe(p=2, t=5), 3, (4, 20)),  # hanging probes run every 5 s, not every 2 s
        (probe(p=4, t=4), 2, (4, 12)),
    ],
)
def test_detection(pr: Probe, runs: int, window: tuple[float, float]) -> None:
    assert timing.detection(pr, runs) == window


@pytest.mark.parametrize(
    ("pr", "budget"),
    [
        (probe(), (20, 30)),  # not failureThreshold x periodSeconds = 30
        (probe(p=10, f=30), (290, 300)),
        (probe(d=5, p=1, f=30), (34, 35)),
        (probe(p=15, f=20), (285, 300)),  # the guide's "15 s x 20 = 300 s" is the best case
        (probe(p=2, t=3, f=3), (4, 8)),  # hanging failures stretch the best case only
    ],
)
def test_startup_budget(pr: Probe, budget: tuple[float, float]) -> None:
    assert timing.startup_budget(pr) == budget
    assert timing.killed_in_startup(pr) == (budget[0], budget[1] + pr.timeout_seconds)


@pytest.mark.parametrize(
    ("pr", "window"),
    [(probe(), (20, 30)), (probe(p=5, f=1), (0, 5)), (probe(p=2, t=5, f=3), (4, 15))],
)
def test_tolerance(pr: Probe, window: tuple[float, float]) -> None:
    assert timing.tolerance(pr) == window


@pytest.mark.parametrize(
    ("ptype", "pr", "startup", "window", "origin"),
    [
        (LIVENESS, probe(), None, (0, 10), "start"),
        (LIVENESS, probe(d=15, p=10), None, (15, 25), "start"),
        (READINESS, probe(), None, (0, 10), "start"),  # at once, but for a daemon's jitter
        (READINESS, probe(d=5, p=10), None, (5, 15), "start"),
        (STARTUP, probe(d=2, p=1), None, (2, 3), "start"),
        (LIVENESS, probe(p=5), probe(p=1, f=30), (0, 5), "started"),
        (LIVENESS, probe(d=20, p=5), probe(d=5, p=1), (0, 20), "started"),
        (READINESS, probe(p=2), probe(p=1), (0, 2), "started"),
        (READINESS, probe(d=10, p=2), probe(d=4, p=1), (0, 8), "started"),
    ],
)
def test_first_probe(
    ptype: ProbeType,
    pr: Probe,
    startup: Probe | None,
    window: tuple[float, float],
    origin: str,
) -> None:
    assert timing.first_probe(ptype, pr, startup) == (window, timing.Origin(origin))


@pytest.mark.parametrize(
    ("ptype", "pr", "startup", "expected"),
    [
        (READINESS, probe(), None, True),  # the sync after the start triggers it
        (READINESS, probe(d=1), None, False),  # a no-op before the initial delay
        (READINESS, probe(d=3), probe(d=3), True),  # the sync after startup success
        (READINESS, probe(d=4), probe(d=3), False),
        (LIVENESS, probe(), None, False),
        (STARTUP, probe(), None, False),
    ],
)
def test_readiness_is_triggered(
    ptype: ProbeType, pr: Probe, startup: Probe | None, expected: bool
) -> None:
    assert timing.triggered(ptype, pr, startup) is expected


@pytest.mark.parametrize(
    ("grace", "pre_stop", "window"),
    [
        (30, None, (0, 30)),
        (0, None, (0, 2)),  # the kubelet's 2 s minimum
        (1, None, (0, 2)),
        (30, ExecAction(command=("sleep", "5")), (0, 32)),  # a hook may use all 30 s, +2 s
        (30, SleepAction(seconds=5), (5, 30)),
        (30, SleepAction(seconds=29), (29, 31)),
        (10, SleepAction(seconds=60), (10, 12)),  # the hook is cut at the grace period
        (0, ExecAction(command=("true",)), (0, 2)),  # no hook with no grace
    ],
)
def test_kill_to_gone(
    grace: float, pre_stop: ExecAction | SleepAction | None, window: tuple[float, float]
) -> None:
    assert timing.kill_to_gone(grace, pre_stop) == window


@pytest.mark.parametrize(
    ("initial", "cap", "delays"),
    [
        (10, 300, (0, 10, 20, 40, 80, 160, 300)),
        (1, 5, (0, 1, 2, 4, 5)),
        (10, 10, (0, 10)),
        (0, 300, (0,)),  # --backoff-initial 0: always at once
        (20, 5, (0, 5)),  # a cap below the initial lowers it (kubelet: newCrashLoopBackOff)
    ],
)
def test_restart_delays(initial: float, cap: float, delays: tuple[float, ...]) -> None:
    assert timing.restart_delays(initial=initial, cap=cap) == delays


def test_probe_grace_period_overrides_the_pods() -> None:
    c = Container(name="app", liveness_probe=probe(termination_grace_period_seconds=5))
    t = timing.explain_probe(pod_of(c, termination_grace_period_seconds=60), c, LIVENESS)
    assert (t.grace, t.kill_to_gone) == (5, (0, 5))
    c = Container(name="app", liveness_probe=probe())
    assert timing.explain_probe(pod_of(c), c, LIVENESS).grace == 30


def warnings_of(c: Container, ptype: ProbeType) -> list[str]:
    return timing.probe_warnings(c, ptype)


@pytest.mark.parametrize(
    ("container", "ptype", "needles"),
    [
        # liveness without a startup probe: the start window, phrased around initialDelay
        (
            Container(name="a", liveness_probe=probe(d=3, p=3)),
            LIVENESS,
            [
                "no startupProbe: the app must answer this liveness probe within 9s of its start "
                "(initialDelaySeconds 3 + (3 - 1) x 3s)"
            ],
        ),
        # liveness gives up before readiness: killed before taken out of traffic
        (
            Container(
                name="a",
                startup_probe=probe(),
                liveness_probe=probe(p=5, f=2),
                readiness_probe=probe(p=10, f=3),
            ),
            LIVENESS,
            ["liveness tolerates a stall of only 5s", "readiness 20s"],
        ),
        (
            Container(name="a", startup_probe=probe(), liveness_probe=probe(d=30)),
            LIVENESS,
            ["initialDelaySeconds 30 beside a startupProbe"],
        ),
        (
            Container(name="a", readiness_probe=probe(p=2, t=5)),
            READINESS,
            ["timeoutSeconds 5 >= periodSeconds 2", "every 5s instead of every 2s"],
        ),
        (
            Container(name="a", readiness_probe=probe(p=4, t=4)),
            READINESS,
            ["timeoutSeconds 4 >= periodSeconds 4"],
        ),
        (
            Container(
                name="a",
                readiness_probe=Probe(handler=ExecAction(command=("true",)), timeout_seconds=9),
            ),
            READINESS,
            ["timeoutSeconds 9 is within 1s of periodSeconds 10"],
        ),
        (
            Container(name="a", readiness_probe=probe(s=3)),
            READINESS,
            ["successThreshold 3", "(3 - 1) x 10s = 20s more"],
        ),
    ],
)
def test_warnings(container: Container, ptype: ProbeType, needles: list[str]) -> None:
    text = " | ".join(warnings_of(container, ptype))
    for needle in needles:
        assert needle in text


def test_no_warnings_for_a_sound_container() -> None:
    c = Container(
        name="a",
        startup_probe=probe(p=2, f=30),
        liveness_probe=probe(p=10, f=6),
        readiness_probe=probe(p=5, f=2),
    )
    assert [w for t in (STARTUP, LIVENESS, READINESS) for w in warnings_of(c, t)] == []


def test_pod_lists_sidecars_and_init_containers_first() -> None:
    init = Container(name="setup")
    side = Container(name="proxy", restart_policy="Always", readiness_probe=probe())
    app = Container(name="app", liveness_probe=probe())
    p = Pod(
        name="web",
        spec=PodSpec(
            containers=(app,), init_containers=(init, side), restart_policy=RestartPolicy.NEVER
        ),
    )
    got = timing.explain_pod(p, backoff_initial=1, backoff_max=4)
    assert [(c.name, c.kind, len(c.probes), c.restarted) for c in got.containers] == [
        ("setup", timing.ContainerKind.INIT, 0, False),
        ("proxy", timing.ContainerKind.SIDECAR, 1, True),  # sidecars are always restarted
        ("app", timing.ContainerKind.CONTAINER, 1, False),
    ]
    assert got.containers[1].restart_delays == (0, 1, 2, 4)


def test_stop_on_delete_uses_the_pods_grace_and_pre_stop() -> None:
    c = Container(name="a", lifecycle=Lifecycle(pre_stop=SleepAction(seconds=5)))
    got = timing.explain_pod(pod_of(c, termination_grace_period_seconds=20))
    assert got.containers[0].stop_on_delete == (5, 20)


# --- the real worker on a virtual clock ----------------------------------------------------


@dataclass
class Sim:
    """One container's probe workers from prober.py on the virtual clock, wired as
    node/probing.py wires them: workers start at 0, the container at `start` (so the tickers'
    phase is arbitrary, as in the kubelet); readiness is triggered when the container starts
    and when startup succeeds; a liveness or startup Failure is the kill (the run ends).
    `healthy(t)` says whether the app answers at t (seconds since the workers started); a
    probe sees the app as it is when it starts and answers after `ok_takes` / `fail_takes`."""

    container: Container
    healthy: Callable[[float], bool]
    start: float
    ok_takes: float = 0.0
    fail_takes: float = 0.0
    t0: float = 0.0
    results: dict[ProbeType, Result] = field(default_factory=dict)
    changes: list[tuple[float, ProbeType, Result]] = field(default_factory=list)
    probes: dict[ProbeType, list[float]] = field(default_factory=dict)
    syncs: tuple[float, ...] = ()  # later status syncs (after start) that poke readiness
    daemon_start: bool = False  # the daemon has just started: each worker sleeps a jitter
    killed_at: float | None = None
    workers: dict[ProbeType, ProbeWorker] = field(default_factory=dict)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self.t0

    def started_at(self, ptype: ProbeType) -> float | None:
        return next((t for t, pt, r in self.changes if pt == ptype and r == Result.SUCCESS), None)

    def change_after(self, ptype: ProbeType, result: Result, after: float) -> float | None:
        return next(
            (t for t, pt, r in self.changes if pt == ptype and r == result and t >= after), None
        )

    def view(self) -> ContainerView:
        up = self.now() >= self.start
        if self.container.startup_probe is None:
            started = up
        else:
            started = up and self.results.get(STARTUP) == Result.SUCCESS
        return ContainerView(
            pod_phase=Phase.RUNNING if up else Phase.PENDING,
            deleting=False,
            restart_policy=RestartPolicy.ALWAYS,
            is_sidecar=False,
            container_id="cid-1" if up else "",
            running=up,
            terminated=False,
            started_at=self.t0 + self.start if up else None,
            started=started,
        )

    def runner(self, ptype: ProbeType) -> Callable[[], Any]:
        async def run() -> ProbeOutcome:
            now = self.now()
            self.probes.setdefault(ptype, []).append(now)
            good = self.healthy(now)
            took = self.ok_takes if good else self.fail_takes
            if took:
                await asyncio.sleep(took)
            return OK if good else BAD

        return run

    def trigger_readiness(self) -> None:
        worker = self.workers.get(READINESS)
        if worker is not None and self.results.get(READINESS) != Result.SUCCESS:
            worker.trigger()

    def on_result(self, ptype: ProbeType, _cid: str, result: Result) -> None:
        self.changes.append((self.now(), ptype, result))
        self.results[ptype] = result
        # what a result does is the supervisor's own decision (core/containerstatus.py, kills.py)
        if cs.makes_started(ptype, succeeded=result == Result.SUCCESS):
            self.trigger_readiness()
        if kills.kills_for(ptype, failed=result == Result.FAILURE):
            self.killed_at = self.now()
            self.stop.set()

    async def run(self, until: float) -> Sim:
        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        pod = pod_of(self.container)
        for ptype in (STARTUP, READINESS, LIVENESS):
            if self.container.probe(ptype) is None:
                continue
            self.workers[ptype] = ProbeWorker(
                pod=pod,
                container=self.container,
                probe_type=ptype,
                run=self.runner(ptype),
                view=self.view,
                on_result=self.on_result,
                record_event=lambda **_: None,
                wall_clock=loop.time,
                daemon_started_at=self.t0 if self.daemon_start else None,
            )
        for sync in (0.0, *self.syncs):  # the sync after start, and any later ones
            loop.call_at(self.t0 + self.start + sync, self.trigger_readiness)
        loop.call_at(self.t0 + until, self.stop.set)

        async with asyncio.TaskGroup() as tg:
            for ptype, worker in self.workers.items():
                tg.create_task(worker.run(self.stop), name=f"probe:web/app/{ptype.lower()}")
        return self


@pytest.fixture
def vloop() -> Any:
    loop = VirtualClockLoop()
    try:
        yield loop
    finally:
        loop.close()


def grid(period: float, n: int = 8) -> list[float]:
    return [period * i / n for i in range(n)]


def within(observed: list[float], window: tuple[float, float], step: float) -> None:
    """Every observation inside the window, and both ends reached to within `step`."""
    low, high = window
    assert observed, "nothing observed"
    assert all(low - EPS <= x <= high + EPS for x in observed), (window, sorted(observed))
    assert min(observed) <= low + step + EPS, (window, min(observed))
    assert max(observed) >= high - step - EPS, (window, max(observed))


def run_sims(loop: VirtualClockLoop, sims: list[Sim], until: float) -> list[Sim]:
    return [loop.run(s.run(until)) for s in sims]


# (D, P, T, F, S): the defaults, the docs' liveness-http, a single failure, hangs longer than
# the period, a timeout equal to the period, a successThreshold.
CONFIGS = [
    (0, 10, 1, 3, 1),
    (3, 3, 1, 3, 1),
    (0, 5, 1, 1, 1),
    (2, 2, 5, 3, 1),
    (0, 4, 4, 2, 1),
    (1, 4, 1, 2, 3),
]


def cfg_probe(cfg: tuple[int, int, int, int, int], *, success: bool = False) -> Probe:
    d, p, t, f, s = cfg
    return probe(d=d, p=p, t=t, f=f, s=s if success else 1)


def speeds(pr: Probe) -> list[tuple[float, float]]:
    """(ok_takes, fail_takes): instant answers (the window's min end), and answers at the
    timeout (its max end)."""
    return [(0.0, 0.0), (float(pr.timeout_seconds), float(pr.timeout_seconds))]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_worker_kill_after_unhealthy(vloop: VirtualClockLoop, cfg: Any) -> None:
    pr = cfg_probe(cfg)
    window = timing.detection(pr, pr.failure_threshold)
    c = Container(name="app", liveness_probe=pr)
    settle = pr.initial_delay_seconds + 2 * timing.spacing(pr) + pr.timeout_seconds
    observed = []
    for ok, bad in speeds(pr):
        for phase in grid(pr.period_seconds):
            for offset in grid(timing.spacing(pr)):  # hanging probes cycle every T
                u = phase + settle + offset

                def healthy(t: float, u: float = u) -> bool:
                    return t < u

                s = Sim(c, healthy, start=phase, ok_takes=ok, fail_takes=bad)
                vloop.run(s.run(until=u + 10 * window[1] + 10))
                assert s.killed_at is not None
                observed.append(s.killed_at - u)
    within(observed, window, timing.spacing(pr) / 8)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_worker_readiness_windows(vloop: VirtualClockLoop, cfg: Any) -> None:
    pr = cfg_probe(cfg, success=True)
    c = Container(name="app", readiness_probe=pr)
    up = timing.detection(pr, pr.success_threshold)
    down = timing.detection(pr, pr.failure_threshold)
    settle = pr.initial_delay_seconds + up[1] + timing.spacing(pr)
    ready, unready = [], []
    for ok, bad in speeds(pr):
        # readiness's ticker restarts at the trigger when the container starts: the
        # container's phase hardly matters, where h and u fall against the ticks does
        for phase in (0.0, pr.period_seconds / 3):
            for h_offset in grid(timing.spacing(pr)):  # hanging probes cycle every T
                for u_offset in grid(timing.spacing(pr)):
                    h = phase + settle + h_offset  # unhealthy until h, healthy until u
                    u = phase + 2 * settle + up[1] + down[1] + u_offset

                    def healthy(t: float, h: float = h, u: float = u) -> bool:
                        return h <= t < u

                    s = Sim(c, healthy, start=phase, ok_takes=ok, fail_takes=bad)
                    vloop.run(s.run(until=u + down[1] + 10))
                    became_ready = s.change_after(READINESS, Result.SUCCESS, h)
                    assert became_ready is not None
                    assert became_ready < u
                    ready.append(became_ready - h)
                    became_unready = s.change_after(READINESS, Result.FAILURE, u)
                    assert became_unready is not None
                    unready.append(became_unready - u)
    step = timing.spacing(pr) / 8
    within(ready, up, step)
    within(unready, down, step)


@pytest.mark.parametrize(
    "cfg", [(0, 10, 1, 3, 1), (0, 1, 1, 30, 1), (5, 2, 1, 4, 1), (0, 2, 3, 3, 1)]
)
def test_worker_startup_budget(vloop: VirtualClockLoop, cfg: Any) -> None:
    pr = cfg_probe(cfg)
    guaranteed, best = timing.startup_budget(pr)
    c = Container(name="app", startup_probe=pr)
    step = max(pr.period_seconds, best - guaranteed) / 8
    survived, killed, started_after, killed_at = [], [], [], []
    for ok, bad in speeds(pr):
        for phase in grid(pr.period_seconds):
            for h in [guaranteed - 1, *(guaranteed + x for x in grid(best - guaranteed)), best]:
                up_at = phase + h

                def healthy(t: float, up_at: float = up_at) -> bool:
                    return t >= up_at

                s = Sim(c, healthy, start=phase, ok_takes=ok, fail_takes=bad)
                vloop.run(s.run(until=phase + best + 2 * timing.spacing(pr) + 10))
                started = s.started_at(STARTUP)
                if started is not None:
                    survived.append(h)
                    started_after.append(started - up_at)
                else:
                    assert s.killed_at is not None
                    killed.append(h)
            never = Sim(c, lambda _t: False, start=phase, ok_takes=ok, fail_takes=bad)
            vloop.run(never.run(until=phase + best + 2 * timing.spacing(pr) + 10))
            assert never.killed_at is not None
            killed_at.append(never.killed_at - phase)
    assert all(h <= best - EPS for h in survived), (guaranteed, best, survived)
    assert all(h > guaranteed for h in killed), (guaranteed, best, killed)
    assert max(survived) >= best - step - EPS
    assert min(killed) <= guaranteed + step + EPS
    low, high = timing.killed_in_startup(pr)
    assert all(low - EPS <= x <= high + EPS for x in killed_at), killed_at
    assert min(killed_at) <= low + step + EPS
    assert max(killed_at) >= high - step - EPS
    window = timing.detection(pr, 1)  # started, after the app first answers
    assert all(window[0] - EPS <= x <= window[1] + EPS for x in started_after)


@pytest.mark.parametrize("cfg", [(0, 10, 1, 3, 1), (3, 3, 1, 3, 1), (0, 5, 1, 1, 1)])
def test_worker_liveness_tolerance(vloop: VirtualClockLoop, cfg: Any) -> None:
    pr = cfg_probe(cfg)
    never, always = timing.tolerance(pr)
    c = Container(name="app", liveness_probe=pr)
    settle = pr.initial_delay_seconds + 2 * pr.period_seconds
    for phase in grid(pr.period_seconds):
        for offset in grid(pr.period_seconds):
            u = phase + settle + offset
            for stall, dies in [(never, False), (always, True)]:

                def healthy(t: float, u: float = u, stall: float = stall) -> bool:
                    return not u <= t < u + stall

                s = Sim(c, healthy, start=phase)
                vloop.run(s.run(until=u + always + 3 * pr.period_seconds))
                assert (s.killed_at is not None) is dies, (phase, offset, stall)


class Jitter:
    """Stands in for prober.py's `random`: the first-probe jitter of each worker, in the
    order the workers start (startup, readiness, liveness), as fractions of its period."""

    def __init__(self) -> None:
        self.fractions: list[float] = []

    def uniform(self, low: float, high: float) -> float:
        return low + self.fractions.pop(0) * (high - low)


@pytest.fixture
def jitter(monkeypatch: pytest.MonkeyPatch) -> Jitter:
    fake = Jitter()
    monkeypatch.setattr(prober_module, "random", fake)
    return fake


@pytest.mark.parametrize(
    ("ptype", "pr", "startup", "late"),
    [
        (LIVENESS, probe(), None, 0),
        (LIVENESS, probe(d=7, p=3), None, 0),
        (READINESS, probe(p=4), None, 0),
        (READINESS, probe(d=5, p=4), None, 0),
        (STARTUP, probe(d=2, p=3), None, 0),
        (LIVENESS, probe(p=5), probe(p=1, f=30), 0),
        (LIVENESS, probe(d=20, p=5), probe(d=5, p=1, f=30), 25),
        (READINESS, probe(p=2), probe(p=1, f=30), 0),
        (READINESS, probe(d=10, p=2), probe(d=4, p=1, f=30), 12),
    ],
)
def test_worker_first_probe(
    vloop: VirtualClockLoop,
    jitter: Jitter,
    ptype: ProbeType,
    pr: Probe,
    startup: Probe | None,
    late: float,
) -> None:
    """When the first probe runs, over container phases, later status syncs (each pokes
    readiness while it is not Ready, as the kubelet's UpdatePodStatus does), a daemon that
    has just started (each worker's first-probe jitter) and, beside a startup probe, an app
    that answers from its start or only `late` (started then counts)."""
    fields = {LIVENESS: "liveness_probe", READINESS: "readiness_probe", STARTUP: "startup_probe"}
    c = Container(name="app", **{fields[ptype]: pr})
    if startup is not None:
        c = Container(name="app", startup_probe=startup, **{fields[ptype]: pr})
    window, origin = timing.first_probe(ptype, pr, startup)
    observed = []
    d, p = pr.initial_delay_seconds, pr.period_seconds
    periods = [p] + ([startup.period_seconds] if startup else [])
    step = max(periods) / 8
    syncs: list[tuple[float, ...]] = [()]
    if ptype == READINESS and d > 0:
        syncs += [(max(0.0, d - p) + x,) for x in grid(p, 8)]
    # beside a startup probe the workers' tickers share a phase: where `started` falls
    # against the others' ticks depends on how long the successful startup probe took
    takes = grid(1.0, 4) if origin == timing.Origin.STARTED else [0.0]
    runs: list[tuple[float, dict[str, Any], list[float]]] = []
    for phase in grid(max(periods), 8):
        for up_at in {0.0, float(late)}:
            for extra, ok in itertools.product(syncs, takes):
                runs.append((phase + up_at, {"start": phase, "syncs": extra, "ok_takes": ok}, []))
            for j in grid(1.0, 8):  # the startup worker's jitter 0, the other's j
                kw = {"start": phase, "daemon_start": True}
                runs.append((phase + up_at, kw, [0.0, j] if startup else [j]))
    for up_at, kw, fractions in runs:
        jitter.fractions = fractions
        s = Sim(c, lambda t, when=up_at: t >= when, **kw)
        vloop.run(s.run(until=up_at + 35))
        assert jitter.fractions == []
        began = kw["start"]
        if origin == timing.Origin.STARTED:
            started = s.started_at(STARTUP)
            assert started is not None
            began = started
        observed.append(s.probes[ptype][0] - began)
    within(observed, window, step)


def test_hanging_probes_run_back_to_back(vloop: VirtualClockLoop) -> None:
    """T >= P: a probe that hangs until its timeout is followed at once by the next (a Go
    ticker's pending tick; prober.py keeps it), so probes run every T, not every P."""
    pr = probe(p=2, t=5, f=100)
    c = Container(name="app", liveness_probe=pr)
    s = Sim(c, lambda _t: False, start=0.5, fail_takes=5.0)
    vloop.run(s.run(until=60))
    starts = s.probes[LIVENESS]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) > 5
    assert all(abs(g - 5.0) < EPS for g in gaps), gaps
