"""Pod phase, conditions and status generation.

Phase tables port kubelet_pods_test.go TestPodPhaseWith*; status generation ports
TestConvertToAPIContainerStatuses and Test_generateAPIPodStatus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from minikubelet.core.model import (
    ContainerStatus,
    Phase,
    PodCondition,
    PodStatus,
    Running,
    Terminated,
    Waiting,
)
from minikubelet.core.podconditions import (
    containers_ready_condition,
    initialized_condition,
    pod_conditions,
)
from minikubelet.core.podphase import compute_phase
from minikubelet.core.spec import (
    Container,
    ExecAction,
    Pod,
    PodSpec,
    Probe,
    Quantity,
    Resources,
    RestartPolicy,
)
from minikubelet.core.status import (
    CONTAINER_NOT_LOCATED,
    default_container_status,
    generate_pod_status,
    unknown_container_status,
)

# --- upstream helper states ----------------------------------------------------------------


def running(name: str, *, ready: bool = False) -> ContainerStatus:
    return ContainerStatus(name=name, state=Running(started_at=1.0), ready=ready)


def started(name: str) -> ContainerStatus:
    return replace(running(name), started=True)


def stopped(name: str) -> ContainerStatus:
    return ContainerStatus(name=name, state=Terminated(exit_code=0))


def succeeded(name: str) -> ContainerStatus:
    return ContainerStatus(name=name, state=Terminated(exit_code=0, reason="Completed"))


def failed(name: str) -> ContainerStatus:
    return ContainerStatus(name=name, state=Terminated(exit_code=-1))


def waiting(name: str) -> ContainerStatus:
    return ContainerStatus(name=name, state=Waiting())


def waiting_after(name: str, exit_code: int) -> ContainerStatus:
    """Waiting with a previous termination: a crash loop (or a restart after success)."""
    return ContainerStatus(
        name=name,
        state=Waiting(reason="CrashLoopBackOff"),
        last_state=Terminated(exit_code=exit_code),
    )


def spec(
    policy: RestartPolicy = RestartPolicy.ALWAYS,
    *,
    init: Sequence[str] = (),
    sidecars: Sequence[str] = (),
    containers: Sequence[str] = ("containerA", "containerB"),
) -> PodSpec:
    inits = [Container(name=n) for n in init] + [
        Container(name=n, restart_policy="Always") for n in sidecars
    ]
    return PodSpec(
        containers=tuple(Container(name=n) for n in containers),
        init_containers=tuple(inits),
        restart_policy=policy,
    )


A, B, X, Y = "containerA", "containerB", "containerX", "containerY"
ALWAYS, NEVER, ON_FAILURE = RestartPolicy.ALWAYS, RestartPolicy.NEVER, RestartPolicy.ON_FAILURE
PENDING, RUNNING, SUCCEEDED, FAILED = Phase.PENDING, Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED


def row(
    case_id: str,
    pod_spec: PodSpec,
    expected: Phase,
    inits: Sequence[ContainerStatus] = (),
    regular: Sequence[ContainerStatus] = (),
    *,
    terminal: bool = False,
) -> Any:
    return pytest.param(pod_spec, inits, regular, terminal, expected, id=case_id)


ALWAYS_AB = spec(ALWAYS)
ALWAYS_INIT = spec(ALWAYS, init=[X])
ALWAYS_SIDECAR = spec(ALWAYS, sidecars=[X])
ALWAYS_INIT_SIDECAR = spec(ALWAYS, init=[X], sidecars=[Y], containers=[A])
NEVER_AB = spec(NEVER)
NEVER_INIT = spec(NEVER, init=[X])
NEVER_SIDECAR = spec(NEVER, sidecars=[X])
ONFAILURE_AB = spec(ON_FAILURE)

PHASE_CASES = [
    # TestPodPhaseWithRestartAlways (case 58)
    row("always/no-statuses-pending", ALWAYS_AB, PENDING),
    row("always/all-running", ALWAYS_AB, RUNNING, (), [running(A), running(B)]),
    row("always/all-stopped-is-restarting", ALWAYS_AB, RUNNING, (), [stopped(A), stopped(B)]),
    row(
        "always/all-succeeded-terminal",
        ALWAYS_AB,
        SUCCEEDED,
        (),
        [succeeded(A), succeeded(B)],
        terminal=True,
    ),
    row(
        "always/one-failed-terminal",
        ALWAYS_AB,
        FAILED,
        (),
        [succeeded(A), failed(B)],
        terminal=True,
    ),
    row("always/running-and-stopped", ALWAYS_AB, RUNNING, (), [running(A), stopped(B)]),
    row("always/one-unknown-pending", ALWAYS_AB, PENDING, (), [running(A)]),
    row("always/one-waiting-pending", ALWAYS_AB, PENDING, (), [running(A), waiting(B)]),
    row(
        "always/crash-looping-still-running",
        ALWAYS_AB,
        RUNNING,
        (),
        [running(A), waiting_after(B, 1)],
    ),
    # TestPodPhaseWithRestartAlwaysInitContainers (case 59)
    row("always-init/no-statuses", ALWAYS_INIT, PENDING),
    row("always-init/init-running", ALWAYS_INIT, PENDING, [running(X)]),
    row("always-init/init-failed-restarts", ALWAYS_INIT, PENDING, [failed(X)]),
    row("always-init/init-waiting-after-exit-0", ALWAYS_INIT, PENDING, [waiting_after(X, 0)]),
    row("always-init/init-waiting-after-exit-1", ALWAYS_INIT, PENDING, [waiting_after(X, 1)]),
    row("always-init/init-waiting-never-ran", ALWAYS_INIT, PENDING, [waiting(X)]),
    row(
        "always-init/init-succeeded-containers-running",
        ALWAYS_INIT,
        RUNNING,
        [succeeded(X)],
        [running(A), running(B)],
    ),
    # TestPodPhaseWithRestartAlwaysRestartableInitContainers (case 60)
    row("always-sidecar/no-statuses", ALWAYS_SIDECAR, PENDING),
    row("always-sidecar/running-not-started", ALWAYS_SIDECAR, PENDING, [running(X)]),
    row("always-sidecar/stopped", ALWAYS_SIDECAR, PENDING, [stopped(X)]),
    row("always-sidecar/waiting-after-exit-0", ALWAYS_SIDECAR, PENDING, [waiting_after(X, 0)]),
    row("always-sidecar/waiting-after-exit-1", ALWAYS_SIDECAR, PENDING, [waiting_after(X, 1)]),
    row("always-sidecar/waiting-never-ran", ALWAYS_SIDECAR, PENDING, [waiting(X)]),
    row(
        "always-sidecar/started-one-container-unknown",
        ALWAYS_SIDECAR,
        PENDING,
        [started(X)],
        [running(A)],
    ),
    row(
        "always-sidecar/started-containers-running",
        ALWAYS_SIDECAR,
        RUNNING,
        [started(X)],
        [running(A), running(B)],
    ),
    row(
        "always-sidecar/not-started-but-containers-running",
        ALWAYS_SIDECAR,
        RUNNING,
        [running(X)],
        [running(A), running(B)],
    ),
    row(
        "always-sidecar/stopped-containers-running",
        ALWAYS_SIDECAR,
        RUNNING,
        [stopped(X)],
        [running(A), running(B)],
    ),
    row(
        "always-sidecar/crash-looping-containers-running",
        ALWAYS_SIDECAR,
        RUNNING,
        [waiting_after(X, 1)],
        [running(A), running(B)],
    ),
    row(
        "always-sidecar/terminal-sidecar-failed-containers-succeeded",
        ALWAYS_SIDECAR,
        SUCCEEDED,
        [failed(X)],
        [succeeded(A), succeeded(B)],
        terminal=True,
    ),
    row(
        "always-sidecar/terminal-all-succeeded",
        ALWAYS_SIDECAR,
        SUCCEEDED,
        [succeeded(X)],
        [succeeded(A), succeeded(B)],
        terminal=True,
    ),
    # TestPodPhaseWithRestartAlwaysAndPodHasRun (case 61)
    row(
        "init-and-sidecar/init-running-container-running",
        ALWAYS_INIT_SIDECAR,
        PENDING,
        [running(X), running(Y)],
        [running(A)],
    ),
    row(
        "init-and-sidecar/init-running-container-stopped",
        ALWAYS_INIT_SIDECAR,
        PENDING,
        [running(X), running(Y)],
        [stopped(A)],
    ),
    row(
        "init-and-sidecar/init-done-container-stopped",
        ALWAYS_INIT_SIDECAR,
        RUNNING,
        [succeeded(X), running(Y)],
        [stopped(A)],
    ),
    row(
        "init-and-sidecar/init-done-container-running",
        ALWAYS_INIT_SIDECAR,
        RUNNING,
        [succeeded(X), running(Y)],
        [running(A)],
    ),
    # TestPodPhaseWithRestartNever (case 62)
    row("never/no-statuses", NEVER_AB, PENDING),
    row("never/all-running", NEVER_AB, RUNNING, (), [running(A), running(B)]),
    row("never/all-succeeded", NEVER_AB, SUCCEEDED, (), [succeeded(A), succeeded(B)]),
    row("never/all-failed", NEVER_AB, FAILED, (), [failed(A), failed(B)]),
    row("never/running-and-succeeded", NEVER_AB, RUNNING, (), [running(A), succeeded(B)]),
    row("never/one-unknown", NEVER_AB, PENDING, (), [running(A)]),
    row("never/one-waiting", NEVER_AB, PENDING, (), [running(A), waiting(B)]),
    # TestPodPhaseWithRestartNeverInitContainers (case 63)
    row("never-init/init-running", NEVER_INIT, PENDING, [running(X)]),
    row("never-init/init-failed-fails-pod", NEVER_INIT, FAILED, [failed(X)]),
    row("never-init/init-waiting-after-exit-0", NEVER_INIT, PENDING, [waiting_after(X, 0)]),
    row("never-init/init-waiting-after-exit-1-fails", NEVER_INIT, FAILED, [waiting_after(X, 1)]),
    row("never-init/init-waiting-never-ran", NEVER_INIT, PENDING, [waiting(X)]),
    row(
        "never-init/init-succeeded-containers-running",
        NEVER_INIT,
        RUNNING,
        [succeeded(X)],
        [running(A), running(B)],
    ),
    # TestPodPhaseWithRestartNeverRestartableInitContainers
    row("never-sidecar/running", NEVER_SIDECAR, PENDING, [running(X)]),
    row("never-sidecar/stopped", NEVER_SIDECAR, PENDING, [stopped(X)]),
    row("never-sidecar/waiting-after-exit-1", NEVER_SIDECAR, PENDING, [waiting_after(X, 1)]),
    row(
        "never-sidecar/started-one-container-unknown",
        NEVER_SIDECAR,
        PENDING,
        [started(X)],
        [running(A)],
    ),
    row(
        "never-sidecar/started-containers-succeeded",
        NEVER_SIDECAR,
        RUNNING,
        [started(X)],
        [succeeded(A), succeeded(B)],
    ),
    row(
        "never-sidecar/succeeded-containers-succeeded",
        NEVER_SIDECAR,
        SUCCEEDED,
        [succeeded(X)],
        [succeeded(A), succeeded(B)],
    ),
    row(
        "never-sidecar/failed-sidecar-ignored",
        NEVER_SIDECAR,
        SUCCEEDED,
        [failed(X)],
        [succeeded(A), succeeded(B)],
    ),
    row(
        "never-sidecar/crash-looping-sidecar-ignored",
        NEVER_SIDECAR,
        SUCCEEDED,
        [waiting_after(X, 1)],
        [succeeded(A), succeeded(B)],
    ),
    # TestPodPhaseWithRestartOnFailure (case 64)
    row("onfailure/no-statuses", ONFAILURE_AB, PENDING),
    row("onfailure/all-running", ONFAILURE_AB, RUNNING, (), [running(A), running(B)]),
    row("onfailure/all-succeeded", ONFAILURE_AB, SUCCEEDED, (), [succeeded(A), succeeded(B)]),
    row("onfailure/all-failed-restarting", ONFAILURE_AB, RUNNING, (), [failed(A), failed(B)]),
    row("onfailure/running-and-succeeded", ONFAILURE_AB, RUNNING, (), [running(A), succeeded(B)]),
    row("onfailure/one-unknown", ONFAILURE_AB, PENDING, (), [running(A)]),
    row("onfailure/one-waiting", ONFAILURE_AB, PENDING, (), [running(A), waiting(B)]),
    row(
        "onfailure/crash-looping",
        ONFAILURE_AB,
        RUNNING,
        (),
        [running(A), waiting_after(B, 1)],
    ),
    # terminal pods ignore the restart policy
    row(
        "onfailure/terminal-failure-is-failed",
        ONFAILURE_AB,
        FAILED,
        (),
        [succeeded(A), failed(B)],
        terminal=True,
    ),
]


@pytest.mark.parametrize(("pod_spec", "inits", "regular", "terminal", "expected"), PHASE_CASES)
def test_compute_phase(
    pod_spec: PodSpec,
    inits: Sequence[ContainerStatus],
    regular: Sequence[ContainerStatus],
    terminal: bool,
    expected: Phase,
) -> None:
    assert compute_phase(pod_spec, inits, regular, pod_is_terminal=terminal) is expected


# --- conditions ----------------------------------------------------------------------------

APP = spec(containers=["app"])
KUBELET_ORDER = [
    "PodReadyToStartContainers",
    "Initialized",
    "Ready",
    "ContainersReady",
    "PodScheduled",
]


def conditions(
    pod_spec: PodSpec,
    inits: Sequence[ContainerStatus],
    regular: Sequence[ContainerStatus],
    *,
    phase: Phase = RUNNING,
    sandbox_ready: bool = True,
    previous: Sequence[PodCondition] = (),
    external: Sequence[PodCondition] = (),
    now: float = 100.0,
) -> dict[str, PodCondition]:
    result = pod_conditions(
        pod_spec,
        inits,
        regular,
        phase=phase,
        sandbox_ready=sandbox_ready,
        previous=previous,
        external=external,
        now=now,
    )
    return {c.type: c for c in result}


def brief(c: PodCondition) -> tuple[str, str, str]:
    return (c.status, c.reason, c.message)


def test_conditions_in_kubelet_order() -> None:
    result = pod_conditions(APP, [], [running("app")], phase=RUNNING, sandbox_ready=True, now=1)
    assert [c.type for c in result] == KUBELET_ORDER


def test_unready_container_message() -> None:
    got = conditions(APP, [], [running("app")])
    expected = ("False", "ContainersNotReady", "containers with unready status: [app]")
    assert brief(got["ContainersReady"]) == expected
    assert brief(got["Ready"]) == expected


def test_all_ready_is_true() -> None:
    got = conditions(APP, [], [running("app", ready=True)])
    assert brief(got["ContainersReady"]) == ("True", "", "")
    assert brief(got["Ready"]) == ("True", "", "")
    assert brief(got["Initialized"]) == ("True", "", "")
    assert brief(got["PodScheduled"]) == ("True", "", "")


@pytest.mark.parametrize(
    ("regular", "expected"),
    [
        pytest.param(
            [],
            "containers with unknown status: [a b]",
            id="unknown-lists-in-spec-order",
        ),
        pytest.param(
            [running("a")],
            "containers with unknown status: [b], containers with unready status: [a]",
            id="unknown-then-unready",
        ),
    ],
)
def test_unknown_container_messages(regular: list[ContainerStatus], expected: str) -> None:
    pod_spec = spec(init=["init"], containers=["a", "b"])
    got = containers_ready_condition(pod_spec, [succeeded("init"), *regular], RUNNING)
    assert brief(got) == ("False", "ContainersNotReady", expected)


def test_sidecar_readiness_counts_init_readiness_does_not() -> None:
    pod_spec = spec(init=["init"], sidecars=["proxy"], containers=["app"])
    statuses = [succeeded("init"), running("proxy"), running("app", ready=True)]
    got = containers_ready_condition(pod_spec, statuses, RUNNING)
    assert got.message == "containers with unready status: [proxy]"


def test_no_statuses_at_all_are_unknown() -> None:
    pod_spec = spec(init=["init"], containers=["app"])
    got = conditions(pod_spec, [], [], phase=PENDING)
    assert brief(got["ContainersReady"]) == ("False", "UnknownContainerStatuses", "")
    assert brief(got["Ready"]) == ("False", "UnknownContainerStatuses", "")
    assert brief(got["Initialized"]) == ("False", "UnknownContainerStatuses", "")


@pytest.mark.parametrize(
    ("inits", "regular", "phase", "expected"),
    [
        pytest.param(
            [running("init-a"), started("proxy")],
            [waiting("app")],
            PENDING,
            ("False", "ContainersNotInitialized", "containers with incomplete status: [init-a]"),
            id="init-running-incomplete",
        ),
        pytest.param(
            [running("init-a")],
            [],
            PENDING,
            (
                "False",
                "ContainersNotInitialized",
                "containers with unknown status: [proxy], "
                "containers with incomplete status: [init-a]",
            ),
            id="unknown-and-incomplete",
        ),
        pytest.param(
            [replace(succeeded("init-a"), ready=True), running("proxy")],
            [waiting("app")],
            PENDING,
            ("False", "ContainersNotInitialized", "containers with incomplete status: [proxy]"),
            id="sidecar-not-started-incomplete",
        ),
        pytest.param(
            [replace(succeeded("init-a"), ready=True), started("proxy")],
            [waiting("app")],
            PENDING,
            ("True", "", ""),
            id="init-ready-sidecar-started",
        ),
        pytest.param(
            [replace(succeeded("init-a"), ready=True), waiting_after("proxy", 1)],
            [running("app")],
            RUNNING,
            ("True", "", ""),
            id="regular-container-started-sidecar-restarting",
        ),
        pytest.param(
            [running("init-a"), running("proxy")],
            [succeeded("app")],
            SUCCEEDED,
            ("True", "PodCompleted", ""),
            id="succeeded-pod-completed",
        ),
    ],
)
def test_initialized_condition(
    inits: list[ContainerStatus],
    regular: list[ContainerStatus],
    phase: Phase,
    expected: tuple[str, str, str],
) -> None:
    pod_spec = spec(init=["init-a"], sidecars=["proxy"], containers=["app"])
    assert brief(initialized_condition(pod_spec, [*inits, *regular], phase)) == expected


@pytest.mark.parametrize(
    ("phase", "reason"),
    [
        pytest.param(FAILED, "PodFailed", id="failed"),
        pytest.param(SUCCEEDED, "PodCompleted", id="succeeded"),
    ],
)
def test_terminal_phase_makes_containers_unready(phase: Phase, reason: str) -> None:
    got = conditions(APP, [], [running("app", ready=True)], phase=phase)
    assert brief(got["ContainersReady"]) == ("False", reason, "")
    assert brief(got["Ready"]) == ("False", reason, "")


GATE = "example.com/feature-1"


@pytest.mark.parametrize(
    ("gate_conditions", "expected"),
    [
        pytest.param(
            [],
            (
                "False",
                "ReadinessGatesNotReady",
                f'corresponding condition of pod readiness gate "{GATE}" does not exist.',
            ),
            id="gate-condition-missing",
        ),
        pytest.param(
            [PodCondition(type=GATE, status="False")],
            (
                "False",
                "ReadinessGatesNotReady",
                f'the status of pod readiness gate "{GATE}" is not "True", but False',
            ),
            id="gate-condition-false",
        ),
        pytest.param(
            [PodCondition(type=GATE, status="True")], ("True", "", ""), id="gate-condition-true"
        ),
    ],
)
def test_readiness_gates(
    gate_conditions: list[PodCondition], expected: tuple[str, str, str]
) -> None:
    pod_spec = replace(APP, readiness_gates=(GATE,))
    got = conditions(pod_spec, [], [running("app", ready=True)], external=gate_conditions)
    assert brief(got["Ready"]) == expected
    assert brief(got["ContainersReady"]) == ("True", "", "")


def test_conditions_come_from_the_api_not_from_the_previous_status() -> None:
    """A gate's condition counts only while the API holds it (what others wrote), and the
    kubelet's own types written there are not taken over."""
    pod_spec = replace(APP, readiness_gates=(GATE,))
    gate = PodCondition(type=GATE, status="True")
    stale_ready = PodCondition(type="Ready", status="True", reason="Mine")
    got = conditions(pod_spec, [], [running("app", ready=True)], previous=[gate],
                     external=[stale_ready])  # fmt: skip
    assert GATE not in got
    assert brief(got["Ready"]) == (
        "False",
        "ReadinessGatesNotReady",
        f'corresponding condition of pod readiness gate "{GATE}" does not exist.',
    )


def test_readiness_gate_messages_join() -> None:
    pod_spec = replace(APP, readiness_gates=("a.io/x", "a.io/y"))
    got = conditions(pod_spec, [], [running("app", ready=True)])
    assert got["Ready"].message == (
        'corresponding condition of pod readiness gate "a.io/x" does not exist., '
        'corresponding condition of pod readiness gate "a.io/y" does not exist.'
    )


def test_non_kubelet_conditions_kept_first() -> None:
    gate = PodCondition(type=GATE, status="True", last_transition_time=5.0)
    result = pod_conditions(
        APP, [], [running("app")], phase=RUNNING, sandbox_ready=True, external=[gate], now=9
    )
    assert result[0] == gate
    assert [c.type for c in result[1:]] == KUBELET_ORDER


def test_sandbox_not_ready() -> None:
    got = conditions(APP, [], [waiting("app")], phase=PENDING, sandbox_ready=False)
    assert brief(got["PodReadyToStartContainers"]) == ("False", "", "")


def test_last_transition_time_moves_only_when_status_changes() -> None:
    first = pod_conditions(APP, [], [running("app")], phase=RUNNING, sandbox_ready=True, now=10)
    assert {c.last_transition_time for c in first} == {10}
    same = pod_conditions(
        APP, [], [running("app")], phase=RUNNING, sandbox_ready=True, previous=first, now=20
    )
    assert {c.last_transition_time for c in same} == {10}
    ready = pod_conditions(
        APP,
        [],
        [running("app", ready=True)],
        phase=RUNNING,
        sandbox_ready=True,
        previous=same,
        now=30,
    )
    times = {c.type: c.last_transition_time for c in ready}
    assert times == {
        "PodReadyToStartContainers": 10,
        "Initialized": 10,
        "Ready": 30,
        "ContainersReady": 30,
        "PodScheduled": 10,
    }


def test_reason_change_alone_keeps_transition_time() -> None:
    before = pod_conditions(APP, [], [running("app")], phase=RUNNING, sandbox_ready=True, now=10)
    after = pod_conditions(
        APP, [], [running("app")], phase=FAILED, sandbox_ready=True, previous=before, now=20
    )
    ready = {c.type: c for c in after}["Ready"]
    assert (ready.reason, ready.last_transition_time) == ("PodFailed", 10)


# --- container statuses --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("has_init", "reason"),
    [
        pytest.param(False, "ContainerCreating", id="no-init"),
        pytest.param(True, "PodInitializing", id="with-init"),
    ],
)
def test_default_container_status(has_init: bool, reason: str) -> None:
    status = default_container_status(Container(name="app", image="busybox"), pod_has_init=has_init)
    assert status == ContainerStatus(name="app", image="busybox", state=Waiting(reason=reason))


@pytest.mark.parametrize(
    ("deleting", "restart_count"),
    [
        pytest.param(True, 0, id="deleted-pod-keeps-restart-count"),
        pytest.param(False, 1, id="live-pod-counts-a-restart"),
    ],
)
def test_lost_running_container_becomes_waiting_with_unknown_termination(
    deleting: bool, restart_count: int
) -> None:
    # cases 65 and 66
    status = unknown_container_status(running(A), deleting=deleting)
    assert status == ContainerStatus(
        name=A,
        state=Waiting(reason="ContainerCreating"),
        last_state=Terminated(
            exit_code=137, reason="ContainerStatusUnknown", message=CONTAINER_NOT_LOCATED
        ),
        restart_count=restart_count,
    )
    assert CONTAINER_NOT_LOCATED == (
        "The container could not be located when the pod was deleted.  "
        "The container used to be Running"
    )


def test_lost_terminated_container_keeps_its_status() -> None:
    assert unknown_container_status(failed(A), deleting=False) == failed(A)


def test_lost_waiting_container_stays_waiting_with_its_history() -> None:
    before = replace(waiting_after(A, 1), restart_count=3)
    status = unknown_container_status(before, deleting=False, pod_has_init=True)
    assert status.state == Waiting(reason="PodInitializing")
    assert (status.last_state, status.restart_count) == (Terminated(exit_code=1), 3)


def test_lost_running_container_with_known_last_termination_is_not_bumped() -> None:
    before = replace(running(A), last_state=Terminated(exit_code=2), restart_count=4)
    status = unknown_container_status(before, deleting=False)
    assert (status.state, status.last_state, status.restart_count) == (
        Waiting(reason="ContainerCreating"),
        Terminated(exit_code=2),
        4,
    )


# --- generate_pod_status -------------------------------------------------------------------


def pod(pod_spec: PodSpec) -> Pod:
    return Pod(name="web", uid="6f1c", spec=pod_spec)


def generate(
    pod_spec: PodSpec,
    inits: Sequence[ContainerStatus] = (),
    regular: Sequence[ContainerStatus] = (),
    *,
    previous: PodStatus | None = None,
    terminal: bool = False,
    sandbox_ready: bool = True,
    now: float = 50.0,
    **kwargs: Any,
) -> PodStatus:
    return generate_pod_status(
        pod(pod_spec),
        init_statuses=inits,
        statuses=regular,
        previous=previous,
        pod_is_terminal=terminal,
        sandbox_ready=sandbox_ready,
        start_time=kwargs.pop("start_time", 40.0),
        now=now,
        **kwargs,
    )


def kubelet_conditions(status: PodStatus) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_disruption_condition_kept_and_deleted_terminal_pod_fails() -> None:
    # case 67
    disruption = PodCondition(type="DisruptionTarget", status="True", last_transition_time=3.0)
    previous = PodStatus(
        phase=RUNNING,
        container_statuses=(running(A), running(B)),
        conditions=(disruption,),
    )
    lost = [unknown_container_status(s, deleting=True) for s in previous.container_statuses]
    status = generate(ALWAYS_AB, (), lost, previous=previous, terminal=True)
    assert status.phase is FAILED
    assert status.conditions[0] == disruption
    assert kubelet_conditions(status) == {
        "DisruptionTarget": ("True", ""),
        "PodReadyToStartContainers": ("True", ""),
        "Initialized": ("True", ""),
        "Ready": ("False", "PodFailed"),
        "ContainersReady": ("False", "PodFailed"),
        "PodScheduled": ("True", ""),
    }
    assert status.qos_class == "BestEffort"


def test_succeeded_stays_succeeded_with_completed_conditions() -> None:
    # case 68
    previous = PodStatus(phase=SUCCEEDED)
    status = generate(ALWAYS_AB, (), [running(A), running(B)], previous=previous)
    assert status.phase is SUCCEEDED
    got = kubelet_conditions(status)
    assert got["Initialized"] == ("True", "PodCompleted")
    assert got["Ready"] == ("False", "PodCompleted")
    assert got["ContainersReady"] == ("False", "PodCompleted")


def test_no_move_between_terminal_phases() -> None:
    previous = PodStatus(phase=FAILED)
    status = generate(NEVER_AB, (), [succeeded(A), succeeded(B)], previous=previous)
    assert status.phase is FAILED


def test_terminal_previous_keeps_reason_and_message() -> None:
    # case 69
    previous = PodStatus(phase=SUCCEEDED, reason="Test", message="test")
    status = generate(ALWAYS_AB, (), [running(A), running(B)], previous=previous)
    assert (status.phase, status.reason, status.message) == (SUCCEEDED, "Test", "test")


def test_reason_kept_while_phase_unchanged() -> None:
    previous = PodStatus(phase=PENDING, reason="Test", message="test")
    status = generate(ALWAYS_AB, (), [waiting(A), running(B)], previous=previous)
    assert (status.phase, status.reason, status.message) == (PENDING, "Test", "test")


def test_reason_cleared_when_phase_changes() -> None:
    previous = PodStatus(phase=PENDING, reason="Test", message="test")
    status = generate(ALWAYS_AB, (), [running(A), running(B)], previous=previous)
    assert (status.phase, status.reason, status.message) == (RUNNING, "", "")


def test_running_can_revert_to_pending() -> None:
    status = generate(ALWAYS_AB, (), [], previous=PodStatus(phase=RUNNING))
    assert status.phase is PENDING


def test_deadline_exceeded_fails_the_pod_with_reason() -> None:
    message = "Pod was active on the node longer than the specified deadline"
    status = generate(
        ALWAYS_AB,
        (),
        [running(A), running(B)],
        previous=PodStatus(phase=RUNNING),
        reason="DeadlineExceeded",
        message=message,
    )
    assert (status.phase, status.reason, status.message) == (FAILED, "DeadlineExceeded", message)
    again = generate(ALWAYS_AB, (), [stopped(A), stopped(B)], previous=status, terminal=True)
    assert (again.phase, again.reason, again.message) == (FAILED, "DeadlineExceeded", message)


def test_statuses_sorted_by_name_and_init_in_spec_order() -> None:
    pod_spec = spec(init=["zeta", "alpha"], containers=["web", "api"])
    status = generate(pod_spec, [succeeded("alpha"), succeeded("zeta")], [running("web")])
    assert [s.name for s in status.init_container_statuses] == ["zeta", "alpha"]
    assert [s.name for s in status.container_statuses] == ["api", "web"]


def test_missing_statuses_get_the_default_waiting_state() -> None:
    pod_spec = replace(spec(init=["init"], containers=["app"]))
    status = generate(pod_spec)
    assert status.init_container_statuses[0].state == Waiting(reason="PodInitializing")
    assert status.container_statuses[0].state == Waiting(reason="PodInitializing")
    assert generate(APP).container_statuses[0].state == Waiting(reason="ContainerCreating")
    assert status.phase is PENDING


def test_published_ready_and_started() -> None:
    startup = Probe(handler=ExecAction(command=("true",)))
    pod_spec = PodSpec(
        init_containers=(Container(name="init"),),
        containers=(
            Container(name="plain"),
            Container(name="slow", startup_probe=startup),
            Container(name="gone"),
        ),
    )
    status = generate(
        pod_spec,
        [succeeded("init")],
        [running("plain", ready=True), running("slow", ready=True), failed("gone")],
    )
    init = status.init_container_statuses[0]
    assert (init.ready, init.started) == (True, False)
    by_name = {s.name: s for s in status.container_statuses}
    assert (by_name["plain"].ready, by_name["plain"].started) == (True, True)
    assert (by_name["slow"].ready, by_name["slow"].started) == (False, False)
    assert (by_name["gone"].ready, by_name["gone"].started) == (False, False)


def test_failed_init_container_is_not_ready() -> None:
    status = generate(spec(init=["init"], containers=["app"]), [failed("init")])
    assert status.init_container_statuses[0].ready is False


def test_start_time_set_once() -> None:
    first = generate(APP, start_time=None, now=7.0)
    assert first.start_time == 7.0
    later = generate(APP, previous=first, start_time=99.0, now=8.0)
    assert later.start_time == 7.0
    assert generate(APP, start_time=3.0).start_time == 3.0


def test_addresses_and_qos() -> None:
    limited = Resources(
        requests={"cpu": Quantity("100m", Decimal("0.1"))},
        limits={"cpu": Quantity("200m", Decimal("0.2"))},
    )
    pod_spec = PodSpec(containers=(Container(name="app", resources=limited),))
    status = generate(pod_spec)
    assert (status.host_ip, status.pod_ip, status.qos_class) == (
        "127.0.0.1",
        "127.0.0.1",
        "Burstable",
    )


def test_crash_looping_container_reports_running_pod() -> None:
    crash = replace(waiting_after("app", 1), restart_count=2)
    status = generate(APP, (), [crash], previous=PodStatus(phase=RUNNING))
    assert status.phase is RUNNING
    assert kubelet_conditions(status)["Ready"] == ("False", "ContainersNotReady")
    assert status.container_statuses[0].restart_count == 2


def test_external_conditions_gate_the_generated_ready() -> None:
    gated = replace(ALWAYS_AB, readiness_gates=(GATE,))
    ready = [running(A, ready=True), running(B, ready=True)]
    missing = generate(gated, (), ready)
    assert kubelet_conditions(missing)["Ready"] == ("False", "ReadinessGatesNotReady")
    false = generate(
        gated, (), ready, external_conditions=[PodCondition(type=GATE, status="False")]
    )
    ready_condition = next(c for c in false.conditions if c.type == "Ready")
    assert ready_condition.message == (
        f'the status of pod readiness gate "{GATE}" is not "True", but False'
    )
    gate = PodCondition(type=GATE, status="True", last_transition_time=7.0)
    opened = generate(gated, (), ready, external_conditions=[gate])
    assert opened.conditions[0] == gate
    assert kubelet_conditions(opened)["Ready"] == ("True", "")


def test_an_api_message_stands_while_the_phase_holds() -> None:
    previous = generate(ALWAYS_AB, (), [running(A), running(B)])
    written = generate(ALWAYS_AB, (), [running(A), running(B)], previous=previous,
                       api_reason="E2E", api_message="Patched by e2e test")  # fmt: skip
    assert (written.reason, written.message) == ("E2E", "Patched by e2e test")
    kept = generate(ALWAYS_AB, (), [running(A), running(B)], previous=written)
    assert (kept.reason, kept.message) == ("E2E", "Patched by e2e test")
    moved = generate(ALWAYS_AB, (), [succeeded(A), succeeded(B)], previous=kept, terminal=True)
    assert (moved.phase, moved.reason, moved.message) == (Phase.SUCCEEDED, "", "")
