"""Probe timing: the windows a container's probes imply, as pure functions of the spec.

Owns: the arithmetic behind `minikubelet explain`: when the first probe runs, the startup
budget, how long after the app answers (or stops answering) the container becomes Ready,
NotReady or is killed, how long a stall is tolerated, how long a kill takes with the grace
period, and the CrashLoopBackOff delays; plus the warnings for the usual mistakes. Must not:
read a clock, sleep or import asyncio. The numbers follow the worker algorithm of
`prober.py` (kubelet: pkg/kubelet/prober/worker.go run and doProbe, prober_manager.go
UpdatePodStatus), the kill of `node/instance.py` (kubelet: kuberuntime_container.go
killContainer) and the backoff of `restart.py`; tests/test_timing.py drives the real worker
on a virtual clock and checks that what it does stays inside these windows.

Notation, for one probe: D initialDelaySeconds, P periodSeconds, T timeoutSeconds, F
failureThreshold, S successThreshold, and Pm = max(P, T): a probe that hangs until its
timeout makes the next one start at once (a Go ticker hands a slow receiver the tick that
fell due meanwhile; `prober.py` `_loop` does the same), so hanging probes run every T, not
every P. A probe sees the app as it is when the probe starts, and reports after 0 s (refused,
an error status) to T s (a hang). Every window is `(min, max)` in seconds: `min` is reached
with a lucky ticker phase and instant answers, `max` (a supremum) with the unluckiest phase
and probes that time out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from minikubelet.core.gotext import duration as format_duration
from minikubelet.core.restart import INITIAL_BACKOFF, MAX_BACKOFF, Backoff
from minikubelet.core.spec import (
    Container,
    ExecAction,
    GRPCAction,
    Handler,
    HTTPGetAction,
    Pod,
    Probe,
    ProbeType,
    RestartPolicy,
    SleepAction,
    TCPSocketAction,
)

Window = tuple[float, float]

MIN_GRACE = 2.0  # kubelet: kuberuntime_container.go minimumGracePeriodInSeconds


class ContainerKind(StrEnum):
    CONTAINER = "container"
    SIDECAR = "sidecar"  # an init container with restartPolicy: Always
    INIT = "init"  # a regular init container: no probes allowed, runs to completion


class Origin(StrEnum):
    """What a probe's first-probe window counts from."""

    START = "start"  # the container instance's startedAt
    STARTED = "started"  # the startup probe's success


def spacing(probe: Probe) -> float:
    """Seconds between the starts of consecutive probes at worst: P, or T when probes hang
    until a timeout of T >= P (they run back to back)."""
    return float(max(probe.period_seconds, probe.timeout_seconds))


def detection(probe: Probe, runs: int) -> Window:
    """From the app's change (healthy to unhealthy, or back) to the worker's result flipping
    after `runs` consecutive results: the first probe at or after the change lands anywhere
    within one spacing, `runs - 1` more follow, and the last one reports after 0 to T s.

    min (runs - 1)·P: a probe starts at the change and answers at once.
    max runs·Pm + T: the change falls just after a probe started."""
    p, t = float(probe.period_seconds), float(probe.timeout_seconds)
    return ((runs - 1) * p, runs * spacing(probe) + t)


def tolerance(probe: Probe) -> Window:
    """A stall of the app (every probe fails while it lasts) is `(never, always)` noticed:
    one of up to (F - 1)·P never reaches F consecutive failures whatever the phase; one of
    F·Pm or more always does. In between it depends on where the ticks fall."""
    f = probe.failure_threshold
    return ((f - 1) * float(probe.period_seconds), f * spacing(probe))


def first_probe(
    probe_type: ProbeType, probe: Probe, startup: Probe | None
) -> tuple[Window, Origin]:
    """When the first probe runs (kubelet: worker.go run and doProbe, initial delay in whole
    seconds from startedAt, and the startup gate).

    The ticker's phase is set by the worker, not the container: the first tick at or after D
    falls in [D, D + P). Beside a startup probe, liveness and readiness count from `started`;
    their D still counts from the container's start, which is at least D_s before `started`.
    Readiness is usually sooner (see `triggered`), but right after the daemon starts each
    worker first sleeps a jitter of up to P, which a trigger does not cut short."""
    d, p = float(probe.initial_delay_seconds), float(probe.period_seconds)
    if probe_type == ProbeType.STARTUP or startup is None:
        return (d, d + p), Origin.START
    beyond = max(0.0, d - startup.initial_delay_seconds)  # D left to wait at the earliest start
    return (0.0, beyond + p), Origin.STARTED


def triggered(probe_type: ProbeType, probe: Probe, startup: Probe | None) -> bool:
    """Does readiness probe at once when the container starts (no startup probe) or when it
    has started? kubelet: prober_manager.go UpdatePodStatus pokes the readiness worker on
    the status sync that follows; a no-op while initialDelaySeconds has not passed. Not
    right after a daemon start: the worker is still in its first-probe jitter."""
    if probe_type != ProbeType.READINESS:
        return False
    if startup is None:
        return probe.initial_delay_seconds == 0
    return probe.initial_delay_seconds <= startup.initial_delay_seconds


def startup_budget(probe: Probe) -> Window:
    """(guaranteed, best): an app that answers by `guaranteed` seconds after its start
    always survives its startup probe; one that answers at `best` or later never does.

    The F-th probe runs at t1 + (F - 1)·P with t1 in [D, D + P): D + (F - 1)·P at the
    earliest, and before D + P + (F - 1)·Pm at the latest (Pm when failures hang)."""
    d, p, f = (
        float(probe.initial_delay_seconds),
        float(probe.period_seconds),
        probe.failure_threshold,
    )
    return (d + (f - 1) * p, d + p + (f - 1) * spacing(probe))


def killed_in_startup(probe: Probe) -> Window:
    """An app that never answers its startup probe is killed this long after its start:
    the F-th failure, reported 0 to T s after it started."""
    low, high = startup_budget(probe)
    return (low, high + probe.timeout_seconds)


def grace_period(pod: Pod, probe: Probe) -> float:
    """kubelet: setTerminationGracePeriod: a liveness or startup kill uses the probe's
    terminationGracePeriodSeconds when set, else the pod's."""
    if probe.termination_grace_period_seconds is not None:
        return float(probe.termination_grace_period_seconds)
    return float(pod.spec.termination_grace_period_seconds)


def kill_to_gone(grace: float, pre_stop: Handler | None) -> Window:
    """From the kill to the process gone (kubelet: kuberuntime_container.go killContainer;
    `node/instance.py` `_kill_instance`): the preStop hook runs inside the grace period, the
    stop signal then gets what is left in whole seconds but at least 2 s, then SIGKILL.

    min: the app exits on the signal at once (after a sleep preStop, its seconds).
    max: it ignores the signal; a preStop hook that takes the whole grace period leaves the
    2 s floor on top."""
    if pre_stop is None or grace <= 0:
        return (0.0, max(grace, MIN_GRACE))
    if isinstance(pre_stop, SleepAction):
        hook = min(float(pre_stop.seconds), grace)
        return (hook, hook + max(grace - hook, MIN_GRACE))
    return (0.0, grace + MIN_GRACE)


def restart_delays(
    *, initial: float = INITIAL_BACKOFF, cap: float = MAX_BACKOFF, limit: int = 12
) -> tuple[float, ...]:
    """The wait before restart 1, 2, ... of a container that keeps crashing (kubelet:
    kuberuntime_manager.go doBackOff with flowcontrol.Backoff, as `node/prestart.py` runs
    `restart.Backoff`): 0 for the first restart, then the initial delay doubling up to the
    cap. The list stops at the first delay equal to the cap (every later one is the same)."""
    backoff = Backoff(initial=initial, max=cap)
    delays: list[float] = []
    finished = 0.0
    while len(delays) < limit:
        delay = backoff.remaining(finished, finished)
        delays.append(delay)
        backoff = backoff.next(finished, finished + delay)
        if backoff.entry <= 0 or (delay > 0 and delay >= backoff.max):
            break
        finished += delay + 1.0  # the next instance runs a second and crashes
    return tuple(delays)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeTiming:
    """The windows of one probe; None where a window does not apply to its type."""

    probe_type: ProbeType
    probe: Probe
    first_probe: Window
    first_probe_from: Origin
    triggered: bool  # readiness: at once on the start (or started) sync, but after a daemon start
    startup_budget: Window | None  # startup: (guaranteed, best) from the container's start
    ready_after_healthy: Window | None  # readiness: Ready; startup: started
    unready_after_unhealthy: Window | None  # readiness
    kill_after_unhealthy: Window | None  # liveness: from the stall; startup: from the start
    tolerance: Window | None  # liveness, readiness: (never, always) noticed stall
    kill_to_gone: Window | None  # liveness, startup
    grace: float | None  # liveness, startup: the grace period of its kill
    probes_per_hour: float
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerTiming:
    name: str
    kind: ContainerKind
    probes: tuple[ProbeTiming, ...]
    restarted: bool  # whether a killed or crashed instance is started again
    restart_delays: tuple[float, ...]
    stop_on_delete: Window  # a pod deletion, with the pod's grace period
    grace: float  # the pod's terminationGracePeriodSeconds
    has_pre_stop: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PodTiming:
    namespace: str
    name: str
    restart_policy: RestartPolicy
    containers: tuple[ContainerTiming, ...]


_ORDER = (ProbeType.STARTUP, ProbeType.LIVENESS, ProbeType.READINESS)


def explain_pod(
    pod: Pod, *, backoff_initial: float = INITIAL_BACKOFF, backoff_max: float = MAX_BACKOFF
) -> PodTiming:
    """Every container's windows, init containers (and sidecars) first, in spec order."""
    delays = restart_delays(initial=backoff_initial, cap=backoff_max)
    containers = [
        _container(pod, c, ContainerKind.SIDECAR if c.is_sidecar else ContainerKind.INIT, delays)
        for c in pod.spec.init_containers
    ]
    containers += [_container(pod, c, ContainerKind.CONTAINER, delays) for c in pod.spec.containers]
    return PodTiming(
        namespace=pod.namespace,
        name=pod.name,
        restart_policy=pod.spec.restart_policy,
        containers=tuple(containers),
    )


def _container(
    pod: Pod, container: Container, kind: ContainerKind, delays: tuple[float, ...]
) -> ContainerTiming:
    probes = tuple(
        explain_probe(pod, container, ptype)
        for ptype in _ORDER
        if container.probe(ptype) is not None
    )
    # kubelet: ShouldContainerBeRestarted; a liveness kill exits non-zero, so OnFailure
    # restarts too; sidecars are always restarted.
    restarted = kind == ContainerKind.SIDECAR or pod.spec.restart_policy != RestartPolicy.NEVER
    pre_stop = container.lifecycle.pre_stop if container.lifecycle is not None else None
    return ContainerTiming(
        name=container.name,
        kind=kind,
        probes=probes,
        restarted=restarted,
        restart_delays=delays if restarted else (),
        stop_on_delete=kill_to_gone(float(pod.spec.termination_grace_period_seconds), pre_stop),
        grace=float(pod.spec.termination_grace_period_seconds),
        has_pre_stop=pre_stop is not None,
    )


def explain_probe(pod: Pod, container: Container, probe_type: ProbeType) -> ProbeTiming:
    probe = container.probe(probe_type)
    if probe is None:
        raise ValueError(f"container {container.name!r} has no {probe_type} probe")
    startup = container.startup_probe
    first, origin = first_probe(probe_type, probe, startup)
    pre_stop = container.lifecycle.pre_stop if container.lifecycle is not None else None
    kills = probe_type != ProbeType.READINESS
    grace = grace_period(pod, probe) if kills else None
    is_startup = probe_type == ProbeType.STARTUP
    return ProbeTiming(
        probe_type=probe_type,
        probe=probe,
        first_probe=first,
        first_probe_from=origin,
        triggered=triggered(probe_type, probe, startup),
        startup_budget=startup_budget(probe) if is_startup else None,
        ready_after_healthy=(
            detection(probe, probe.success_threshold)
            if probe_type == ProbeType.READINESS
            else (detection(probe, 1) if is_startup else None)
        ),
        unready_after_unhealthy=(
            detection(probe, probe.failure_threshold) if probe_type == ProbeType.READINESS else None
        ),
        kill_after_unhealthy=(
            killed_in_startup(probe)
            if is_startup
            else (detection(probe, probe.failure_threshold) if kills else None)
        ),
        tolerance=None if is_startup else tolerance(probe),
        kill_to_gone=kill_to_gone(grace, pre_stop) if grace is not None else None,
        grace=grace,
        probes_per_hour=3600.0 / probe.period_seconds,
        warnings=tuple(probe_warnings(container, probe_type)),
    )


def probe_warnings(container: Container, probe_type: ProbeType) -> list[str]:
    """The usual mistakes, for one probe of `container` (empty when there are none)."""
    fmt = format_duration
    probe = container.probe(probe_type)
    if probe is None:
        return []
    d, p, t = probe.initial_delay_seconds, probe.period_seconds, probe.timeout_seconds
    f, s = probe.failure_threshold, probe.success_threshold
    out: list[str] = []
    if t == p:
        out.append(
            f"timeoutSeconds {t} >= periodSeconds {p}: a probe that hangs takes the whole "
            "period, so the next one starts the moment it gives up, with no pause"
        )
    elif t > p:
        out.append(
            f"timeoutSeconds {t} >= periodSeconds {p}: a probe that hangs runs back to back, "
            f"every {fmt(t)} instead of every {fmt(p)}, and every window stretches with it"
        )
    elif isinstance(probe.handler, ExecAction) and p - t <= 1:
        out.append(
            f"timeoutSeconds {t} is within 1s of periodSeconds {p}: a slow exec probe runs "
            "into the next tick under load"
        )
    ready, startup = container.readiness_probe, container.startup_probe
    if probe_type == ProbeType.LIVENESS:
        if startup is None:
            window = d + (f - 1) * p
            out.append(
                f"no startupProbe: the app must answer this liveness probe within "
                f"{fmt(window)} of its start (initialDelaySeconds {d} + ({f} - 1) x {fmt(p)}), "
                "or it is killed before it is up, again and again (CrashLoopBackOff); if it "
                "can start slower, add a startupProbe rather than raising initialDelaySeconds"
            )
        elif d > 0:
            out.append(
                f"initialDelaySeconds {d} beside a startupProbe: it counts from the "
                "container's start, not from startup success, and is usually unintended "
                "(the startup probe already holds liveness back)"
            )
        if ready is not None:
            mine, theirs = tolerance(probe)[0], tolerance(ready)[0]
            if mine <= theirs:
                out.append(
                    f"liveness tolerates a stall of only {fmt(mine)} ((failureThreshold - 1) x "
                    f"periodSeconds), readiness {fmt(theirs)}: the container is killed no later "
                    "than it is taken out of traffic; give liveness the longer tolerance"
                )
    if probe_type == ProbeType.READINESS and s > 1:
        out.append(
            f"successThreshold {s}: every recovery, and the first Ready, waits ({s} - 1) x "
            f"{fmt(p)} = {fmt((s - 1) * p)} more"
        )
    return out


def handler_summary(handler: Handler) -> str:
    """A short spelling of a probe's handler: `httpGet :8080/healthz`, `exec cat /tmp/x`."""
    if isinstance(handler, HTTPGetAction):
        scheme = "https " if handler.scheme.upper() == "HTTPS" else ""
        return f"httpGet {scheme}:{handler.port}{handler.path}"
    if isinstance(handler, TCPSocketAction):
        return f"tcpSocket :{handler.port}"
    if isinstance(handler, GRPCAction):
        service = f" {handler.service}" if handler.service else ""
        return f"grpc :{handler.port}{service}"
    if isinstance(handler, ExecAction):
        text = " ".join(handler.command)
        return f"exec {text[:40]}{'...' if len(text) > 40 else ''}"
    return f"sleep {handler.seconds}s"


def explain(
    pods: Sequence[Pod],
    *,
    backoff_initial: float = INITIAL_BACKOFF,
    backoff_max: float = MAX_BACKOFF,
) -> list[PodTiming]:
    return [
        explain_pod(pod, backoff_initial=backoff_initial, backoff_max=backoff_max) for pod in pods
    ]
