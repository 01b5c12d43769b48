"""Why the kubelet kills a running container, in its words (the `Killing` event's message),
and with which grace period. Pure; the supervisor asks and kills.

kubelet: kuberuntime_manager.go computePodActions (a failed liveness or startup probe, a
changed definition) and computeInitContainerActions (the same for a sidecar); the grace
period of a probe's kill is setTerminationGracePeriod's (as `timing.grace_period` tells it).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from minikubelet.core.spec import Container, Pod, ProbeType, RestartPolicy


@dataclass(frozen=True, slots=True)
class KillRequest:
    """A kill the supervisor is asked for, as the kubelet's killContainer takes it."""

    message: str  # the Killing event's message
    grace: float
    reason: str = ""  # a terminated reason to report instead of the exit's (OOMKilled)
    run_pre_stop: bool = True


def signal_number(name: str | None) -> int:
    """The stop signal's number (`lifecycle.stopSignal`, "TERM" or "SIGTERM"); SIGTERM when
    it is unset or unknown."""
    if not name:
        return int(signal.SIGTERM)
    try:
        return int(signal.Signals[name if name.startswith("SIG") else f"SIG{name}"])
    except KeyError:
        return int(signal.SIGTERM)


def probe_failure(
    pod: Pod, container: Container, *, init: bool, probe_type: ProbeType
) -> KillRequest:
    """The kill a failed liveness or startup probe asks for: "Container web failed liveness
    probe, will be restarted" (unless it will not be), with the probe's grace period if it
    has its own, else the pod's."""
    what = "Init container" if init else "Container"
    kind = "liveness" if probe_type == ProbeType.LIVENESS else "startup"
    message = f"{what} {container.name} failed {kind} probe"
    if container.is_sidecar or pod.spec.restart_policy != RestartPolicy.NEVER:
        message += ", will be restarted"
    probe = container.probe(probe_type)
    grace: float = float(pod.spec.termination_grace_period_seconds)
    if probe is not None and probe.termination_grace_period_seconds is not None:
        grace = probe.termination_grace_period_seconds  # kubelet: setTerminationGracePeriod
    return KillRequest(message=message, grace=grace)


def kills_for(probe_type: ProbeType, *, failed: bool) -> bool:
    """A failed liveness or startup probe kills the container (computePodActions); a
    failed readiness probe only makes it unready."""
    return failed and probe_type in (ProbeType.LIVENESS, ProbeType.STARTUP)


def definition_changed(container: Container, *, init: bool) -> str | None:
    """The message of the kill a new definition asks for of a running container, or None
    when it is not killed for it (a regular init container runs to its end)."""
    if init and not container.is_sidecar:
        return None
    if init:
        return f"Init container {container.name} definition changed"
    return f"Container {container.name} definition changed, will be restarted"
