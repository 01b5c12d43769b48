"""One container's status from what its supervisor observed (kubelet_pods.go
convertToAPIContainerStatuses; prober_manager.go isContainerStarted, UpdatePodStatus)."""

from __future__ import annotations

import pytest

from minikubelet.core import containerstatus as cs
from minikubelet.core.model import ContainerStatus, Running, Terminated, Waiting
from minikubelet.core.spec import Container, ExecAction, Probe, ProbeType, RestartPolicy

PROBE = Probe(handler=ExecAction(command=("true",)))
PLAIN = Container(name="app", image="busybox")
STARTUP = Container(name="app", startup_probe=PROBE)
READINESS = Container(name="app", readiness_probe=PROBE)
SIDECAR = Container(name="side", restart_policy="Always", readiness_probe=PROBE)
FAILED = Terminated(exit_code=1, reason="Error", started_at=1.0, finished_at=2.0)


@pytest.mark.parametrize(
    ("container", "running", "startup", "expected"),
    [
        (PLAIN, False, None, False),
        (PLAIN, True, None, True),
        (STARTUP, True, None, False),  # no startup result yet
        (STARTUP, True, False, False),
        (STARTUP, True, True, True),
    ],
)
def test_started(container: Container, running: bool, startup: bool | None, expected: bool) -> None:
    assert cs.is_started(container, running=running, startup_succeeded=startup) is expected


@pytest.mark.parametrize(
    ("container", "init", "started", "exited_zero", "readiness", "expected"),
    [
        (PLAIN, True, False, True, None, True),  # a regular init container that exited 0
        (PLAIN, True, False, False, None, False),
        (PLAIN, False, False, False, None, False),
        (PLAIN, False, True, False, None, True),  # no readiness probe: ready once started
        (READINESS, False, True, False, None, False),
        (READINESS, False, True, False, True, True),
        (SIDECAR, True, True, False, True, True),  # a sidecar is ready as a container is
        (SIDECAR, True, True, True, False, False),
    ],
)
def test_ready(
    container: Container,
    init: bool,
    started: bool,
    exited_zero: bool,
    readiness: bool | None,
    expected: bool,
) -> None:
    got = cs.is_ready(
        container,
        init=init,
        started=started,
        exited_zero=exited_zero,
        readiness_succeeded=readiness,
    )
    assert got is expected


@pytest.mark.parametrize(
    ("container", "init", "policy", "code", "deleting", "expected"),
    [
        (PLAIN, True, RestartPolicy.ALWAYS, 0, False, False),  # init done
        (PLAIN, True, RestartPolicy.ALWAYS, 1, False, True),
        (PLAIN, True, RestartPolicy.ON_FAILURE, 1, False, True),
        (PLAIN, True, RestartPolicy.NEVER, 1, False, False),
        (PLAIN, True, RestartPolicy.ALWAYS, 1, True, False),
        (SIDECAR, True, RestartPolicy.NEVER, 0, False, True),  # sidecars always
        (PLAIN, False, RestartPolicy.ON_FAILURE, 0, False, False),
        (PLAIN, False, RestartPolicy.ALWAYS, 0, False, True),
        (PLAIN, False, RestartPolicy.NEVER, 1, False, False),
    ],
)
def test_restarts(
    container: Container,
    init: bool,
    policy: RestartPolicy,
    code: int,
    deleting: bool,
    expected: bool,
) -> None:
    got = cs.restarts(container, init=init, policy=policy, exit_code=code, deleting=deleting)
    assert got is expected


def _facts(**kw: object) -> cs.InstanceFacts:
    base: dict[str, object] = {
        "container_id": "minikubelet://1",
        "restart_count": 2,
        "started_at": 10.0,
        "running": True,
        "terminated": None,
    }
    return cs.InstanceFacts(**{**base, **kw})  # type: ignore[arg-type]


def _status(current: cs.InstanceFacts | None, **kw: object) -> ContainerStatus:
    args: dict[str, object] = {
        "current": current,
        "previous": None,
        "waiting": None,
        "ready": False,
        "started": False,
        "will_restart": True,
        "pod_has_init": False,
    }
    return cs.container_status(PLAIN, **{**args, **kw})  # type: ignore[arg-type]


def test_before_any_start_the_default_waiting_reason() -> None:
    assert _status(None).state == Waiting(reason="ContainerCreating")
    assert _status(None, pod_has_init=True).state == Waiting(reason="PodInitializing")
    waiting = Waiting(reason="CreateContainerConfigError", message="x")
    assert _status(None, waiting=waiting).state == waiting


def test_running_waiting_and_terminated_states() -> None:
    running = _status(_facts(), previous=FAILED, started=True)
    assert running.state == Running(started_at=10.0)
    assert running.last_state == FAILED
    assert (running.restart_count, running.started) == (2, True)
    # spawned, postStart still running
    assert _status(_facts(running=False)).state == Waiting(reason="ContainerCreating")
    back_off = Waiting(reason="CrashLoopBackOff", message="back-off 10s")
    waiting = _status(_facts(terminated=FAILED), waiting=back_off)
    assert (waiting.state, waiting.last_state) == (back_off, FAILED)
    done = _status(_facts(terminated=FAILED), waiting=back_off, will_restart=False)
    assert done.state == FAILED


@pytest.mark.parametrize(
    ("code", "killed_by", "expected"),
    [
        (0, None, ("Completed", 0)),
        (3, None, ("Error", 3)),
        (143, None, ("Error", 143)),
        (-9, "OOMKilled", ("OOMKilled", 137)),
        (137, "liveness", ("Error", 137)),
    ],
)
def test_exit_reason(code: int, killed_by: str | None, expected: tuple[str, int]) -> None:
    assert cs.exit_reason(code, killed_by=killed_by) == expected


ALWAYS, ON_FAILURE, NEVER = RestartPolicy.ALWAYS, RestartPolicy.ON_FAILURE, RestartPolicy.NEVER


@pytest.mark.parametrize(
    ("container", "init", "policy", "code", "deleting", "stopping", "changed", "expected"),
    [
        pytest.param(PLAIN, False, NEVER, None, False, False, False, True, id="not-exited-yet"),
        pytest.param(PLAIN, False, NEVER, None, True, True, False, True, id="not-exited-stopping"),
        pytest.param(PLAIN, False, NEVER, 1, False, False, False, False, id="never-after-exit"),
        pytest.param(PLAIN, False, ALWAYS, 0, False, False, False, True, id="always-after-exit-0"),
        pytest.param(PLAIN, False, ON_FAILURE, 0, False, False, False, False, id="onfailure-0"),
        pytest.param(PLAIN, False, ALWAYS, 1, False, True, False, False, id="stopping-ends-it"),
        pytest.param(PLAIN, False, ALWAYS, 1, True, False, False, False, id="deleting-ends-it"),
        pytest.param(PLAIN, False, NEVER, 0, False, False, True, True, id="new-definition"),
        pytest.param(PLAIN, False, NEVER, 0, True, False, True, True, id="new-def-deleting"),
        pytest.param(PLAIN, False, NEVER, 0, False, True, True, False, id="new-def-stopping"),
        pytest.param(PLAIN, True, ALWAYS, 0, False, False, False, False, id="init-done"),
        pytest.param(PLAIN, True, ON_FAILURE, 1, False, False, False, True, id="init-failed"),
        pytest.param(PLAIN, True, NEVER, 1, False, False, False, False, id="init-failed-never"),
        pytest.param(SIDECAR, True, NEVER, 0, False, False, False, True, id="sidecar-always"),
    ],
)
def test_will_restart(
    container: Container,
    init: bool,
    policy: RestartPolicy,
    code: int | None,
    deleting: bool,
    stopping: bool,
    changed: bool,
    expected: bool,
) -> None:
    got = cs.will_restart(
        container,
        init=init,
        policy=policy,
        exit_code=code,
        deleting=deleting,
        stopping=stopping,
        definition_changed=changed,
    )
    assert got is expected


@pytest.mark.parametrize(
    ("ptype", "succeeded", "expected"),
    [
        (ProbeType.STARTUP, True, True),
        (ProbeType.STARTUP, False, False),
        (ProbeType.READINESS, True, False),
        (ProbeType.LIVENESS, True, False),
    ],
)
def test_makes_started(ptype: ProbeType, succeeded: bool, expected: bool) -> None:
    assert cs.makes_started(ptype, succeeded=succeeded) is expected
