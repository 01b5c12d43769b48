"""The pods/ephemeralcontainers rules in upstream's words (validation.go
validateEphemeralContainers, ValidatePodEphemeralContainersUpdate) and the ephemeral
containers' statuses as the kubelet reports them (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.core.model import ContainerStatus, Running, Terminated, Waiting
from minikubelet.core.spec import Container, Pod, PodSpec
from minikubelet.core.status import ephemeral_container_statuses, generate_pod_status
from minikubelet.manifest import ephemeralvalidation as ev

FORBIDDEN = "Forbidden: cannot be set for an Ephemeral Container"


def pod(*ephemeral: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "app", "image": "busybox"}],
        "initContainers": [{"name": "setup", "image": "busybox"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
    }
    if ephemeral:
        spec["ephemeralContainers"] = list(ephemeral)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}


def admit(old: dict[str, Any], *ephemeral: dict[str, Any]) -> list[str]:
    return ev.admit(old, {"spec": {"ephemeralContainers": list(ephemeral)}})[1]


def debugger(name: str = "debugger", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox", **fields}


def test_an_addition_is_defaulted_and_admitted() -> None:
    containers, errors = ev.admit(pod(), {"spec": {"ephemeralContainers": [debugger(
        targetContainerName="app", stdin=True, tty=True,
        volumeMounts=[{"name": "data", "mountPath": "/data"}])]}})  # fmt: skip
    assert errors == []
    (added,) = containers
    assert added["terminationMessagePolicy"] == "File"
    assert added["imagePullPolicy"] == "Always"
    assert added["targetContainerName"] == "app"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ports", [{"containerPort": 80}]),
        ("resources", {"limits": {"cpu": "1"}}),
        ("livenessProbe", {"exec": {"command": ["true"]}}),
        ("readinessProbe", {"exec": {"command": ["true"]}}),
        ("startupProbe", {"exec": {"command": ["true"]}}),
        ("lifecycle", {"preStop": {"exec": {"command": ["true"]}}}),
        ("restartPolicy", "Always"),
    ],
)
def test_fields_outside_the_allow_list_are_forbidden(key: str, value: Any) -> None:
    errors = admit(pod(), debugger(**{key: value}))
    assert f"spec.ephemeralContainers[0].{key}: {FORBIDDEN}" in errors


def test_names_are_unique_across_all_containers() -> None:
    for taken in ("app", "setup"):
        assert admit(pod(), debugger(taken)) == [
            f'spec.ephemeralContainers[0].name: Duplicate value: "{taken}"'
        ]
    errors = admit(pod(), debugger("a"), debugger("a"))
    assert errors == ['spec.ephemeralContainers[1].name: Duplicate value: "a"']


def test_the_target_must_name_a_container_or_init_container() -> None:
    assert admit(pod(), debugger(targetContainerName="setup")) == []
    old = pod(*ev.admit(pod(), {"spec": {"ephemeralContainers": [debugger("d1")]}})[0])
    kept = old["spec"]["ephemeralContainers"][0]
    assert admit(old, kept, debugger(targetContainerName="d1")) == [
        'spec.ephemeralContainers[1].targetContainerName: Not found: "d1"'
    ]
    assert admit(pod(), debugger(targetContainerName="nope")) == [
        'spec.ephemeralContainers[0].targetContainerName: Not found: "nope"'
    ]


def test_sub_paths_are_forbidden() -> None:
    mounts = [{"name": "data", "mountPath": "/d", "subPath": "x"},
              {"name": "data", "mountPath": "/e", "subPathExpr": "$(X)"}]  # fmt: skip
    errors = admit(pod(), debugger(volumeMounts=mounts))
    assert f"spec.ephemeralContainers[0].volumeMounts[0].subPath: {FORBIDDEN}" in errors
    assert f"spec.ephemeralContainers[0].volumeMounts[1].subPathExpr: {FORBIDDEN}" in errors


def test_a_container_is_validated_as_any_other() -> None:
    errors = admit(pod(), {"name": "Bad_Name"})
    assert "spec.ephemeralContainers[0].image: Required value" in errors
    assert any(e.startswith('spec.ephemeralContainers[0].name: Invalid value: "Bad_Name"')
               for e in errors)  # fmt: skip


def test_existing_ones_may_be_neither_removed_nor_changed() -> None:
    old = pod(ev.admit(pod(), {"spec": {"ephemeralContainers": [debugger("d1")]}})[0][0])
    kept = old["spec"]["ephemeralContainers"][0]
    assert admit(old, kept, debugger("d2")) == []
    assert admit(old, debugger("d2")) == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "d1" may not be '
        "removed\n"
    ]
    (changed,) = admit(old, {**kept, "image": "alpine"})
    assert changed.startswith(
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "d1" may not be '
        "changed\n"
    )
    assert '"alpine"' in changed


def test_only_the_ephemeral_containers_of_a_write_are_taken() -> None:
    old = pod()
    written = {**pod(debugger()), "metadata": {"name": "web", "labels": {"x": "y"}}}
    written["spec"]["containers"][0]["image"] = "alpine"
    prepared = ev.prepare(old, written)
    assert prepared["metadata"] == {"name": "web"}
    assert prepared["spec"]["containers"] == old["spec"]["containers"]
    assert prepared["spec"]["ephemeralContainers"] == [debugger()]


def test_a_body_that_does_not_decode() -> None:
    with pytest.raises(ev.DecodeError, match="cannot unmarshal number"):
        ev.admit(pod(), {"spec": {"ephemeralContainers": [{"name": "d", "image": 3}]}})


# --- statuses ----------------------------------------------------------------------------


def test_statuses_are_sorted_never_ready_and_have_no_started() -> None:
    containers = [Container(name="zeta", image="busybox"), Container(name="alpha", image="x")]
    running = ContainerStatus(name="zeta", state=Running(started_at=1.0), ready=True, started=True)
    got = ephemeral_container_statuses(containers, [running], pod_has_init=False)
    assert [s.name for s in got] == ["alpha", "zeta"]
    assert got[0].state == Waiting(reason="ContainerCreating")
    assert got[1].state == Running(started_at=1.0)
    assert all(s.ready is False and s.started is None for s in got)
    with_init = ephemeral_container_statuses(containers[:1], [], pod_has_init=True)
    assert with_init[0].state == Waiting(reason="PodInitializing")


def test_they_make_neither_phase_nor_conditions() -> None:
    spec = PodSpec(containers=(Container(name="app"),),
                   ephemeral_containers=(Container(name="d"),))  # fmt: skip
    the_pod = Pod(name="web", spec=spec)
    app = ContainerStatus(name="app", state=Running(started_at=1.0), ready=True, started=True)
    failed = ContainerStatus(name="d", state=Terminated(exit_code=1, reason="Error"))
    with_failed = generate_pod_status(
        the_pod, init_statuses=[], statuses=[app], previous=None, pod_is_terminal=False,
        sandbox_ready=True, start_time=0.0, now=2.0, ephemeral_statuses=[failed],
    )  # fmt: skip
    without = generate_pod_status(
        the_pod, init_statuses=[], statuses=[app], previous=None, pod_is_terminal=False,
        sandbox_ready=True, start_time=0.0, now=2.0,
    )  # fmt: skip
    assert with_failed.phase == without.phase
    assert with_failed.conditions == without.conditions
    assert [s.name for s in with_failed.ephemeral_container_statuses] == ["d"]
