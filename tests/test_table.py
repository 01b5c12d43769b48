"""kubectl's printPod, printEvent and HumanDuration, as pure table tests."""

from __future__ import annotations

from typing import Any

import pytest
from api_fakes import cstatus, event, pod, running, terminated, waiting

from minikubelet.api.table import event_cells, pod_cells, table
from minikubelet.core.gotext import human_duration

NOW = 1_800_000_000.0
STARTED = NOW - 290
JSON = dict[str, Any]
WAIT_B = cstatus("b", waiting(""))


def status_of(p: JSON) -> str:
    return str(pod_cells(p, NOW)[2])


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 300, "3h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (51 * 3600, "2d3h"),
        (10 * 86400, "10d"),
        (2 * 365 * 86400, "2y"),
        (2 * 365 * 86400 + 5 * 86400, "2y5d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_running_pod_row() -> None:
    p = pod("web", NOW, [cstatus("app", running(STARTED), ready=True)], ready=True)
    cells = pod_cells(p, NOW)
    assert cells == [
        "web", "1/1", "Running", "0", "5m", "127.0.0.1", "testnode", "<none>", "<none>",
    ]  # fmt: skip


def test_crash_loop_shows_restarts_with_last_restart_age() -> None:
    last = terminated(1, "Error", NOW - 25, NOW - 20)
    p = pod("c", NOW, [cstatus("app", waiting("CrashLoopBackOff"), restarts=3, last=last)])
    assert pod_cells(p, NOW)[2:4] == ["CrashLoopBackOff", "3 (20s ago)"]


@pytest.mark.parametrize(
    ("init", "expected"),
    [
        ([cstatus("a", running(STARTED)), cstatus("b", waiting("PodInitializing"))], "Init:0/2"),
        (
            [cstatus("a", terminated(0, "Completed", STARTED, NOW)), cstatus("b", running(NOW))],
            "Init:1/2",
        ),
        ([cstatus("a", waiting("CrashLoopBackOff")), WAIT_B], "Init:CrashLoopBackOff"),
        ([cstatus("a", terminated(1, "Error", STARTED, NOW)), WAIT_B], "Init:Error"),
        ([cstatus("a", terminated(3, "", STARTED, NOW)), WAIT_B], "Init:ExitCode:3"),
    ],
)
def test_init_container_statuses(init: list[JSON], expected: str) -> None:
    p = pod("i", NOW, [cstatus("app", waiting("PodInitializing"))], phase="Pending", init=init)
    assert status_of(p) == expected


def test_pod_initializing_once_init_containers_are_done() -> None:
    init = [cstatus("a", terminated(0, "Completed", STARTED, NOW))]
    p = pod("i", NOW, [cstatus("app", waiting("PodInitializing"))], phase="Pending", init=init)
    assert status_of(p) == "PodInitializing"


@pytest.mark.parametrize(
    ("code", "reason", "phase", "expected"),
    [
        (0, "Completed", "Succeeded", "Completed"),
        (1, "Error", "Failed", "Error"),
        (137, "OOMKilled", "Failed", "OOMKilled"),
        (2, "", "Failed", "ExitCode:2"),
    ],
)
def test_terminated_containers(code: int, reason: str, phase: str, expected: str) -> None:
    p = pod("t", NOW, [cstatus("app", terminated(code, reason, STARTED, NOW))], phase=phase)
    assert status_of(p) == expected


def test_signal_without_reason() -> None:
    state = terminated(137, "", STARTED, NOW)
    state["terminated"]["signal"] = 9
    assert status_of(pod("t", NOW, [cstatus("app", state)], phase="Failed")) == "Signal:9"


def test_terminating_unless_terminal() -> None:
    live = pod("t", NOW, [cstatus("app", running(STARTED), ready=True)], ready=True)
    live["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    assert status_of(live) == "Terminating"
    done = pod(
        "d", NOW, [cstatus("app", terminated(0, "Completed", STARTED, NOW))], phase="Succeeded"
    )
    done["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    assert status_of(done) == "Completed"


@pytest.mark.parametrize(("ready", "expected"), [(True, "Running"), (False, "NotReady")])
def test_completed_container_beside_running_one(ready: bool, expected: str) -> None:
    statuses = [
        cstatus("a", running(STARTED), ready=True),
        cstatus("b", terminated(0, "Completed", STARTED, NOW)),
    ]
    p = pod("m", NOW, statuses, ready=ready)
    assert pod_cells(p, NOW)[1:3] == ["1/2", expected]


def test_sidecar_counts_as_a_container() -> None:
    init = [cstatus("proxy", running(STARTED), ready=True, restarts=2,
                    last=terminated(1, "Error", STARTED, NOW - 30))]  # fmt: skip
    p = pod("s", NOW, [cstatus("app", running(STARTED), ready=True)], init=init, ready=True)
    p["spec"]["initContainers"][0]["restartPolicy"] = "Always"
    p["status"]["conditions"][1]["status"] = "True"
    assert pod_cells(p, NOW)[1:4] == ["2/2", "Running", "2 (30s ago)"]


def test_event_cells_wide() -> None:
    p = pod("web", NOW, [cstatus("app", running(STARTED))])
    e = event(p, "BackOff", "Back-off restarting", NOW, type_="Warning", count=5,
              field_path="spec.containers{app}")  # fmt: skip
    assert event_cells(e, NOW) == [
        "10s", "Warning", "BackOff", "pod/web", "spec.containers{app}", "kubelet, testnode",
        "Back-off restarting", "60s", 5, "web.backoff",
    ]  # fmt: skip


def test_table_json_shape() -> None:
    t = table([("Name", "string", 0, "n"), ("IP", "string", 1, "ip")], [], resource_version="7")
    assert t["kind"] == "Table"
    assert t["apiVersion"] == "meta.k8s.io/v1"
    assert t["metadata"] == {"resourceVersion": "7"}
    assert t["columnDefinitions"][0] == {
        "name": "Name", "type": "string", "format": "name", "description": "n", "priority": 0,
    }  # fmt: skip
    assert t["columnDefinitions"][1]["priority"] == 1
