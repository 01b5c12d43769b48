"""Why a running container is killed, in the kubelet's words, and with which grace period
(kuberuntime_manager.go computePodActions, computeInitContainerActions)."""

from __future__ import annotations

import pytest

from minikubelet.core import kills
from minikubelet.core.spec import (
    Container,
    ExecAction,
    Pod,
    PodSpec,
    Probe,
    ProbeType,
    RestartPolicy,
)

PROBE = Probe(handler=ExecAction(command=("true",)))
OWN_GRACE = Probe(handler=ExecAction(command=("true",)), termination_grace_period_seconds=3)
WEB = Container(name="web", liveness_probe=PROBE, startup_probe=OWN_GRACE)
SIDE = Container(name="side", restart_policy="Always", liveness_probe=PROBE)


def pod(policy: RestartPolicy, *containers: Container) -> Pod:
    spec = PodSpec(
        containers=containers, restart_policy=policy, termination_grace_period_seconds=30
    )
    return Pod(name="p", namespace="default", spec=spec)


@pytest.mark.parametrize(
    ("policy", "container", "init", "ptype", "expected"),
    [
        (RestartPolicy.ALWAYS, WEB, False, ProbeType.LIVENESS,
         ("Container web failed liveness probe, will be restarted", 30.0)),
        (RestartPolicy.ON_FAILURE, WEB, False, ProbeType.LIVENESS,
         ("Container web failed liveness probe, will be restarted", 30.0)),
        (RestartPolicy.NEVER, WEB, False, ProbeType.LIVENESS,
         ("Container web failed liveness probe", 30.0)),
        # the probe's own terminationGracePeriodSeconds (setTerminationGracePeriod)
        (RestartPolicy.NEVER, WEB, False, ProbeType.STARTUP,
         ("Container web failed startup probe", 3)),
        # a sidecar restarts whatever the pod's policy
        (RestartPolicy.NEVER, SIDE, True, ProbeType.LIVENESS,
         ("Init container side failed liveness probe, will be restarted", 30.0)),
    ],
)  # fmt: skip
def test_probe_failure(
    policy: RestartPolicy,
    container: Container,
    init: bool,
    ptype: ProbeType,
    expected: tuple[str, float],
) -> None:
    got = kills.probe_failure(pod(policy, container), container, init=init, probe_type=ptype)
    assert got == kills.KillRequest(message=expected[0], grace=expected[1])


@pytest.mark.parametrize(
    ("container", "init", "expected"),
    [
        (WEB, False, "Container web definition changed, will be restarted"),
        (SIDE, True, "Init container side definition changed"),
        (WEB, True, None),  # a regular init container runs to its end
    ],
)
def test_definition_changed(container: Container, init: bool, expected: str | None) -> None:
    assert kills.definition_changed(container, init=init) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [(None, 15), ("", 15), ("TERM", 15), ("SIGINT", 2), ("QUIT", 3), ("SIGBOGUS", 15)],
)
def test_signal_number(name: str | None, expected: int) -> None:
    assert kills.signal_number(name) == expected


@pytest.mark.parametrize(
    ("ptype", "failed", "expected"),
    [
        (ProbeType.LIVENESS, True, True),
        (ProbeType.STARTUP, True, True),
        (ProbeType.READINESS, True, False),  # unready, not killed
        (ProbeType.LIVENESS, False, False),
    ],
)
def test_kills_for(ptype: ProbeType, failed: bool, expected: bool) -> None:
    assert kills.kills_for(ptype, failed=failed) is expected
