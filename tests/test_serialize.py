"""JSON in the v1 API's spelling: the /pods example of the reference, container states,
pods, lists and events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from minikubelet.core.events import Event
from minikubelet.core.model import (
    ContainerState,
    ContainerStatus,
    Phase,
    PodCondition,
    PodStatus,
    Running,
    Terminated,
    Waiting,
)
from minikubelet.core.serialize import (
    container_state_json,
    container_status_json,
    event_json,
    event_list_json,
    pod_json,
    pod_list_json,
    pod_status_json,
    rfc3339,
    rfc3339_nano,
)
from minikubelet.core.spec import Container, Pod, PodSpec

NOON = 1714564800.0  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        pytest.param(None, None, id="none-is-null"),
        pytest.param(NOON, "2024-05-01T12:00:00Z", id="whole-second"),
        pytest.param(NOON + 0.999, "2024-05-01T12:00:00Z", id="truncated-not-rounded"),
        pytest.param(0.0, "1970-01-01T00:00:00Z", id="epoch"),
    ],
)
def test_rfc3339(ts: float | None, text: str | None) -> None:
    assert rfc3339(ts) == text


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        pytest.param(NOON - 1.876544, "2024-05-01T11:59:58.123456Z", id="microseconds"),
        pytest.param(NOON + 0.5, "2024-05-01T12:00:00.5Z", id="trailing-zeros-dropped"),
        pytest.param(NOON, "2024-05-01T12:00:00Z", id="whole-second-has-no-fraction"),
    ],
)
def test_rfc3339_nano(ts: float, text: str) -> None:
    assert rfc3339_nano(ts) == text


def test_pod_status_matches_the_reference_example() -> None:
    def cond(kind: str, status: str, reason: str = "", message: str = "") -> PodCondition:
        return PodCondition(
            type=kind, status=status, reason=reason, message=message, last_transition_time=NOON
        )

    unready = "containers with unready status: [app]"
    status = PodStatus(
        phase=Phase.RUNNING,
        conditions=(
            cond("PodReadyToStartContainers", "True"),
            cond("Initialized", "True"),
            cond("Ready", "False", "ContainersNotReady", unready),
            cond("ContainersReady", "False", "ContainersNotReady", unready),
            cond("PodScheduled", "True"),
        ),
        start_time=NOON,
        container_statuses=(
            ContainerStatus(
                name="app",
                state=Running(started_at=NOON + 1),
                ready=False,
                restart_count=0,
                image="busybox:1.36",
                image_id="...",
                container_id="containerd://...",
                started=True,
            ),
        ),
        qos_class="BestEffort",
    )
    t = "2024-05-01T12:00:00Z"

    def cjson(kind: str, status: str, **extra: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "lastProbeTime": None,
            "lastTransitionTime": t,
            **extra,
        }

    assert pod_status_json(status) == {
        "phase": "Running",
        "conditions": [
            cjson("PodReadyToStartContainers", "True"),
            cjson("Initialized", "True"),
            cjson("Ready", "False", reason="ContainersNotReady", message=unready),
            cjson("ContainersReady", "False", reason="ContainersNotReady", message=unready),
            cjson("PodScheduled", "True"),
        ],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": t,
        "containerStatuses": [
            {
                "name": "app",
                "state": {"running": {"startedAt": "2024-05-01T12:00:01Z"}},
                "lastState": {},
                "ready": False,
                "restartCount": 0,
                "image": "busybox:1.36",
                "imageID": "...",
                "containerID": "containerd://...",
                "started": True,
            },
        ],
        "qosClass": "BestEffort",
    }


def test_crash_loop_container_status_shape() -> None:
    message = "back-off 20s restarting failed container=app pod=web_default(6f1c)"
    status = ContainerStatus(
        name="app",
        state=Waiting(reason="CrashLoopBackOff", message=message),
        last_state=Terminated(
            exit_code=1,
            reason="Error",
            started_at=NOON,
            finished_at=NOON + 3,
            container_id="minikubelet://0c3d",
        ),
        started=False,
        restart_count=2,
        image="busybox:1.36",
        container_id="minikubelet://0c3d",
    )
    assert container_status_json(status) == {
        "name": "app",
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
        "lastState": {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": "2024-05-01T12:00:00Z",
                "finishedAt": "2024-05-01T12:00:03Z",
                "containerID": "minikubelet://0c3d",
            }
        },
        "ready": False,
        "restartCount": 2,
        "image": "busybox:1.36",
        "imageID": "",
        "containerID": "minikubelet://0c3d",
        "started": False,
    }


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        pytest.param(None, {}, id="no-state-is-empty-object"),
        pytest.param(Waiting(), {"waiting": {}}, id="waiting-without-reason"),
        pytest.param(
            Waiting(reason="ContainerCreating"),
            {"waiting": {"reason": "ContainerCreating"}},
            id="empty-message-omitted",
        ),
        pytest.param(
            Terminated(exit_code=137, reason="ContainerStatusUnknown", message="gone"),
            {
                "terminated": {
                    "exitCode": 137,
                    "reason": "ContainerStatusUnknown",
                    "message": "gone",
                    "startedAt": None,
                    "finishedAt": None,
                }
            },
            id="terminated-unknown-times-are-null",
        ),
        pytest.param(
            Terminated(exit_code=0, signal=15, started_at=NOON, finished_at=NOON),
            {
                "terminated": {
                    "exitCode": 0,
                    "signal": 15,
                    "startedAt": "2024-05-01T12:00:00Z",
                    "finishedAt": "2024-05-01T12:00:00Z",
                }
            },
            id="exit-code-zero-kept-signal-shown-when-set",
        ),
    ],
)
def test_container_state_json(state: ContainerState | None, expected: dict[str, Any]) -> None:
    assert container_state_json(state) == expected


def test_started_and_container_id_omitted_when_unset() -> None:
    got = container_status_json(ContainerStatus(name="app", state=Waiting(reason="X")))
    assert "started" not in got
    assert "containerID" not in got
    assert got["lastState"] == {}
    assert (got["image"], got["imageID"]) == ("", "")


def test_pod_status_optional_fields() -> None:
    bare = pod_status_json(PodStatus())
    assert bare == {
        "phase": "Pending",
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "qosClass": "BestEffort",
    }
    failed = pod_status_json(
        PodStatus(
            phase=Phase.FAILED,
            reason="DeadlineExceeded",
            message="Pod was active on the node longer than the specified deadline",
            init_container_statuses=(ContainerStatus(name="init"),),
        )
    )
    assert list(failed)[:3] == ["phase", "message", "reason"]
    assert failed["reason"] == "DeadlineExceeded"
    assert [s["name"] for s in failed["initContainerStatuses"]] == ["init"]


# --- pods ----------------------------------------------------------------------------------

MANIFEST: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "namespace": "default",
        "labels": {"app": "web"},
        "annotations": {"kubernetes.io/config.source": "file"},
    },
    "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}], "restartPolicy": "Always"},
}


def web_pod() -> Pod:
    return Pod(
        name="web",
        uid="6f1c",
        labels={"app": "web"},
        annotations={"kubernetes.io/config.source": "file"},
        spec=PodSpec(containers=(Container(name="app", image="busybox:1.36"),)),
        manifest=MANIFEST,
    )


def test_pod_json_metadata_spec_and_status() -> None:
    status = PodStatus(phase=Phase.RUNNING, start_time=NOON)
    got = pod_json(web_pod(), status, resource_version=42)
    assert list(got) == ["kind", "apiVersion", "metadata", "spec", "status"]
    assert (got["kind"], got["apiVersion"]) == ("Pod", "v1")
    assert got["metadata"] == {
        "name": "web",
        "namespace": "default",
        "uid": "6f1c",
        "resourceVersion": "42",
        "generation": 1,
        "creationTimestamp": "2024-05-01T12:00:00Z",
        "labels": {"app": "web"},
        "annotations": {"kubernetes.io/config.source": "file"},
    }
    assert list(got["metadata"])[:6] == [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
    ]
    assert got["spec"] == MANIFEST["spec"]
    assert got["status"] == pod_status_json(status)
    assert json.loads(json.dumps(got)) == got


def test_pod_json_deletion_fields() -> None:
    got = pod_json(
        web_pod(),
        PodStatus(),
        resource_version=7,
        deletion_timestamp=NOON + 30,
        deletion_grace_period_seconds=30,
        creation_timestamp=NOON - 60,
    )
    meta = got["metadata"]
    assert meta["creationTimestamp"] == "2024-05-01T11:59:00Z"
    assert meta["deletionTimestamp"] == "2024-05-01T12:00:30Z"
    assert meta["deletionGracePeriodSeconds"] == 30
    assert list(meta).index("deletionTimestamp") == list(meta).index("creationTimestamp") + 1


def test_pod_json_keeps_manifest_creation_time_and_never_aliases_it() -> None:
    manifest = copy.deepcopy(MANIFEST)
    manifest["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    pod = Pod(name="web", uid="u", spec=web_pod().spec, manifest=manifest)
    got = pod_json(pod, PodStatus(start_time=NOON), resource_version=1)
    assert got["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"
    got["spec"]["containers"][0]["image"] = "changed"
    got["metadata"]["labels"]["app"] = "changed"
    assert manifest["spec"]["containers"][0]["image"] == "busybox:1.36"
    assert manifest["metadata"]["labels"] == {"app": "web"}
    assert "deletionTimestamp" not in got["metadata"]


def test_pod_list_json() -> None:
    item = pod_json(web_pod(), PodStatus(), resource_version=3)
    got = pod_list_json([item], 5)
    assert got["kind"] == "PodList"
    assert got["apiVersion"] == "v1"
    assert got["metadata"] == {"resourceVersion": "5"}
    assert got["items"] == [{k: v for k, v in item.items() if k not in ("kind", "apiVersion")}]
    assert pod_list_json([], 0)["items"] == []


# --- events --------------------------------------------------------------------------------


def event(**changes: Any) -> Event:
    values: dict[str, Any] = {
        "name": "web.17a2b3c4d5e6f708",
        "namespace": "default",
        "pod_name": "web",
        "pod_uid": "6f1c",
        "field_path": "spec.containers{app}",
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container app in pod web_default(6f1c)",
        "count": 3,
        "first_timestamp": NOON,
        "last_timestamp": NOON + 65,
        "source_host": "node1",
        "resource_version": 12,
    }
    return Event(**(values | changes))


def test_event_json() -> None:
    assert event_json(event()) == {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": "web.17a2b3c4d5e6f708",
            "namespace": "default",
            "resourceVersion": "12",
            "creationTimestamp": "2024-05-01T12:00:00Z",
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": "default",
            "name": "web",
            "uid": "6f1c",
            "apiVersion": "v1",
            "fieldPath": "spec.containers{app}",
        },
        "reason": "BackOff",
        "message": "Back-off restarting failed container app in pod web_default(6f1c)",
        "source": {"component": "kubelet", "host": "node1"},
        "firstTimestamp": "2024-05-01T12:00:00Z",
        "lastTimestamp": "2024-05-01T12:01:05Z",
        "count": 3,
        "type": "Warning",
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": "node1",
    }


def test_pod_level_event_has_no_field_path_and_hostless_source() -> None:
    got = event_json(event(field_path="", source_host=""))
    assert "fieldPath" not in got["involvedObject"]
    assert got["source"] == {"component": "kubelet"}


def test_event_list_json() -> None:
    got = event_list_json([event(), event(name="web.2")], 20)
    assert (got["kind"], got["apiVersion"], got["metadata"]) == (
        "EventList",
        "v1",
        {"resourceVersion": "20"},
    )
    assert [e["metadata"]["name"] for e in got["items"]] == ["web.17a2b3c4d5e6f708", "web.2"]
    assert "kind" not in got["items"][0]
