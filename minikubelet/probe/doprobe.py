"""The kubelet's `prober/worker.go` doProbe for one (container, probe type): `ProbeStep.step()`
reads what the pod status says of the container, decides whether to probe, runs the probe
through the injected `run` callable (with `prober.go`'s retries, result mapping and events),
and does the threshold bookkeeping; it is the only writer of its counters and of its cached
result, reports each change of that result through `on_result`, and writes the
`prober_probe_*` series. No clock but the injected ones, so `step()` is tested without waiting.
`worker.ProbeWorker` adds the timing loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from minikubelet.core.model import Phase
from minikubelet.core.spec import Container, Pod, Probe, ProbeType, RestartPolicy
from minikubelet.probe.handlers import ProbeError, ProbeOutcome, ProbeResultKind, handler_name
from minikubelet.runtime import metrics

MAX_PROBE_RETRIES = 3  # kubelet: prober.go maxProbeRetries, retried only while erroring


class Result(StrEnum):
    """kubelet: prober/results Result, as cached per container ID."""

    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


# kubelet: worker.go newWorker initialValue
_INITIAL = {
    ProbeType.READINESS: Result.FAILURE,
    ProbeType.LIVENESS: Result.SUCCESS,
    ProbeType.STARTUP: Result.UNKNOWN,
}
# kubelet: prober_manager.go probeResultSuccessful / Failed / Unknown
_METRIC_RESULT = {Result.SUCCESS: "successful", Result.FAILURE: "failed", Result.UNKNOWN: "unknown"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerView:
    """What doProbe reads of the pod status. `container_id` is empty while the container has
    no status or was never created (step 3)."""

    pod_phase: Phase
    deleting: bool
    restart_policy: RestartPolicy
    is_sidecar: bool
    container_id: str
    running: bool
    terminated: bool
    started_at: float | None
    started: bool | None


class ProbeStep:
    """doProbe for one probe of one container; see the module docstring. Inspectable state:
    `result` (the cached result for `container_id`, None once the worker exited),
    `last_result`, `result_run`, `on_hold`, `container_id`."""

    def __init__(
        self,
        *,
        pod: Pod,
        container: Container,
        probe_type: ProbeType,
        run: Callable[[], Awaitable[ProbeOutcome]],
        view: Callable[[], ContainerView | None],
        on_result: Callable[[ProbeType, str, Result], None],
        record_event: Callable[..., object],
        wall_clock: Callable[[], float] = time.time,
        daemon_started_at: float | None = None,
        period: float | None = None,  # seconds between probes; None: periodSeconds
        on_probe: Callable[..., None] | None = None,  # each run, for the pod's timeline
    ) -> None:
        spec = container.probe(probe_type)
        if spec is None:
            raise ValueError(f"container {container.name!r} has no {probe_type} probe")
        self._spec: Probe = spec
        self._pod, self._container, self._type = pod, container, probe_type
        self._run, self._view, self._on_result = run, view, on_result
        self._record_event, self._clock = record_event, wall_clock
        self._daemon_started_at = daemon_started_at
        self._period = float(spec.period_seconds) if period is None else period
        self._on_probe = on_probe
        self._output = ""
        self._fired_run = 0
        self._handler = handler_name(spec.handler)
        self._wake = asyncio.Event()
        self._manual = False
        self._next_tick = 0.0
        self.container_id = ""
        self.result: Result | None = None
        self.last_result: Result | None = None
        self.result_run = 0
        self.on_hold = False

    # --- doProbe ---------------------------------------------------------------------------

    async def step(self) -> bool:
        """kubelet: worker.go doProbe, one iteration; returns whether to keep going."""
        began = time.perf_counter()
        view = self._view()
        if view is None:  # step 1: no pod status yet
            return True
        if view.pod_phase in (Phase.FAILED, Phase.SUCCEEDED):  # step 2
            return False
        if not view.container_id:  # step 3: not created yet, or gone
            return True
        if view.container_id != self.container_id:  # step 4
            self._new_container(view.container_id)
        if self.on_hold:  # step 5
            return True
        if not view.running:  # step 6
            return self._not_running(view)
        if view.deleting and self._type != ProbeType.READINESS:  # step 7: quiet shutdown
            self._set(Result.SUCCESS)
            return False
        if not self._initial_delay_passed(view) or not self._gate_open(view):  # steps 8, 9
            return True
        probed = time.perf_counter()
        result = await self._probe()  # step 10
        if result is None:  # a probe error: the result is thrown away
            self._report(None, probed)
            return True
        self._observe(result, time.perf_counter() - began)
        return self._count(result, probed)  # steps 11-13

    def _report(self, result: Result | None, began: float) -> None:
        """One run for the timeline: a call with a few values, nothing encoded."""
        if self._on_probe is None:
            return
        spec, run = self._spec, self._fired_run or self.result_run
        threshold = spec.success_threshold if result == Result.SUCCESS else spec.failure_threshold
        self._on_probe(
            probe=self._type.lower(),
            result="error" if result is None else result.lower(),
            seconds=time.perf_counter() - began,
            output=self._output,
            run=run if result is not None else 0,
            threshold=threshold if result is not None else 0,
            fired=result is not None and self._fired_run == threshold,
        )

    def _new_container(self, container_id: str) -> None:
        """kubelet: worker.go doProbe step 4. lastResult and resultRun are kept, as upstream."""
        self.result = None  # the old ID's cached result is removed
        self.container_id = container_id
        self._set(_INITIAL[self._type])
        self.on_hold = False

    def _not_running(self, view: ContainerView) -> bool:
        """kubelet: worker.go doProbe step 6: abort only if the container will not restart."""
        self._set(Result.FAILURE)
        return (
            not view.terminated
            or view.restart_policy != RestartPolicy.NEVER
            or view.is_sidecar  # sidecars are always restarted
        )

    def _initial_delay_passed(self, view: ContainerView) -> bool:
        """kubelet: worker.go doProbe step 8: whole seconds since the container started."""
        started_at = self._clock() if view.started_at is None else view.started_at
        return int(self._clock() - started_at) >= self._spec.initial_delay_seconds

    def _gate_open(self, view: ContainerView) -> bool:
        """kubelet: worker.go doProbe step 9: startup probes run until the container has
        started, the other probes only after."""
        if view.started is True:
            return self._type != ProbeType.STARTUP
        return self._type == ProbeType.STARTUP

    def _count(self, result: Result, probed: float = 0.0) -> bool:
        """kubelet: worker.go doProbe steps 11-13: thresholds count consecutive results."""
        if result == self.last_result:
            self.result_run += 1
        else:
            self.last_result, self.result_run = result, 1
        self._fired_run = 0
        if (result == Result.FAILURE and self.result_run < self._spec.failure_threshold) or (
            result == Result.SUCCESS and self.result_run < self._spec.success_threshold
        ):
            self._report(result, probed)
            return True
        self._fired_run = self.result_run  # the threshold is reached on this run
        self._report(result, probed)  # before what the result changes
        self._set(result)
        if (self._type == ProbeType.LIVENESS and result == Result.FAILURE) or (
            self._type == ProbeType.STARTUP
        ):
            # kubelet: hold until a new container ID: a restart is due, or startup is done
            self.on_hold, self.result_run = True, 0
        return True

    def _set(self, result: Result) -> None:
        """The results manager: reports only changes (and the first value for an ID)."""
        if result == self.result:
            return
        self.result = result
        self._on_result(self._type, self.container_id, result)

    # --- prober.probe ----------------------------------------------------------------------

    async def _probe(self) -> Result | None:
        """kubelet: prober.go probe and runProbeWithRetries; None for a probe error."""
        error: ProbeError | None = None
        for _ in range(MAX_PROBE_RETRIES):
            try:
                outcome = await self._run_once()
            except ProbeError as exc:
                error = exc
                continue
            return self._map(outcome)
        assert error is not None
        self._output = str(error)
        self._event("Unhealthy", f"probe errored and resulted in {error.result} state: {error}")
        return None

    async def _run_once(self) -> ProbeOutcome:
        began = time.perf_counter()
        try:
            outcome = await self._run()
        except ProbeError:
            self._latency("error", began)
            raise
        self._latency(outcome.result.value, began)
        return outcome

    def _map(self, outcome: ProbeOutcome) -> Result:
        """kubelet: prober.go probe: probe.Result to the cached result, with its event."""
        kind = outcome.result
        self._output = outcome.output
        if kind == ProbeResultKind.SUCCESS:
            return Result.SUCCESS
        if kind == ProbeResultKind.WARNING:
            self._event("ProbeWarning", f"probe warning: {outcome.output}")
            return Result.SUCCESS
        if kind == ProbeResultKind.FAILURE:
            self._event("Unhealthy", f"probe failed: {outcome.output}")
        return Result.FAILURE  # unknown without an error counts as a failure, silently

    def _event(self, reason: str, text: str) -> None:
        self._record_event(reason=reason, message=f"{self._type} {text}", type="Warning")

    # --- metrics ---------------------------------------------------------------------------

    def _observe(self, result: Result, seconds: float) -> None:
        """kubelet: worker.go doProbe: a count per result, durations but for failures."""
        metrics.PROBE_TOTAL.labels(*self._total_labels(result)).inc()
        if result != Result.FAILURE:
            metrics.PROBE_DURATION.labels(*self._duration_labels()).observe(seconds)

    def _latency(self, label: str, began: float) -> None:
        seconds = time.perf_counter() - began
        metrics.PROBE_LATENCY.labels(handler=self._handler, result=label).observe(seconds)

    def _total_labels(self, result: Result) -> tuple[str, ...]:
        pod = self._pod
        names = (self._container.name, pod.name, pod.namespace, pod.uid)
        return (self._type.value, _METRIC_RESULT[result], *names)

    def _duration_labels(self) -> tuple[str, ...]:
        pod = self._pod
        return (self._type.value, self._container.name, pod.name, pod.namespace)

    def _delete_series(self) -> None:
        for result in Result:
            metrics.PROBE_TOTAL.remove(*self._total_labels(result))  # a no-op when absent
        metrics.PROBE_DURATION.remove(*self._duration_labels())
