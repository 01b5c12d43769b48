"""The pod timeline, pure parts and the recorder: diffs of successive pod objects, event
records, plain words, the text rendering, the bounded recorder, the record file, the story,
and the probe worker's per-run report (through `step()` against a scripted handler)."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest

from minikubelet.core import timeline as core
from minikubelet.core.model import Phase
from minikubelet.core.spec import ProbeType, RestartPolicy
from minikubelet.manifest import load as manifest
from minikubelet.node import timeline
from minikubelet.probe.handlers import ProbeOutcome, ProbeResultKind
from minikubelet.probe.worker import ContainerView, ProbeWorker
from minikubelet.store.objects import ObjectStore


def pod(
    phase: str = "Pending",
    containers: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    init: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or []}
    status["containerStatuses"] = containers or []
    if init is not None:
        status["initContainerStatuses"] = init
    return {
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
        "spec": {
            "initContainers": [{"name": "side", "restartPolicy": "Always"}],
            "containers": [
                {"name": "app", "livenessProbe": {"initialDelaySeconds": 5, "exec": {}}}
            ],
        },
        "status": status,
    }


def cstatus(
    state: dict[str, Any], *, restarts: int = 0, ready: bool = False, started: bool = False
) -> dict[str, Any]:
    return {
        "name": "app",
        "state": state,
        "restartCount": restarts,
        "ready": ready,
        "started": started,
    }


WAITING = {"waiting": {"reason": "ContainerCreating"}}
RUNNING = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
CRASHED = {"terminated": {"exitCode": 3, "reason": "Error", "signal": 0}}
BACKOFF = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}


@pytest.mark.parametrize(
    ("old", "new", "want"),
    [
        pytest.param(pod(), None, [("deleted", {})], id="deleted"),
        pytest.param(None, None, [], id="nothing"),
        pytest.param(pod(), pod(), [], id="unchanged"),
        pytest.param(
            pod(containers=[cstatus(WAITING)]),
            pod(containers=[cstatus(RUNNING, started=True, ready=True)]),
            [
                ("state", {"container": "app", "init": False, "state": "running", "restartCount": 0}),
                ("started", {"container": "app", "value": True}),
                ("ready", {"container": "app", "value": True}),
            ],
            id="running-started-ready",
        ),
        pytest.param(
            pod(containers=[cstatus(RUNNING, ready=True)]),
            pod(containers=[cstatus(CRASHED)]),
            [
                ("state", {"container": "app", "init": False, "state": "terminated",
                           "reason": "Error", "exitCode": 3, "signal": 0, "restartCount": 0}),
                ("ready", {"container": "app", "value": False}),
            ],
            id="crashed-with-exit-code",
        ),
        pytest.param(
            pod(containers=[cstatus(CRASHED)]),
            pod(containers=[cstatus(BACKOFF, restarts=1)]),
            [("state", {"container": "app", "init": False, "state": "waiting",
                        "reason": "CrashLoopBackOff", "message": "back-off 10s", "restartCount": 1})],
            id="crash-loop-back-off",
        ),
        pytest.param(
            pod(containers=[cstatus(RUNNING)]),
            pod(containers=[cstatus(RUNNING, restarts=1)]),
            [("state", {"container": "app", "init": False, "state": "running", "restartCount": 1})],
            id="restart-count-alone",
        ),
        pytest.param(
            pod(init=[]),
            pod(init=[{**cstatus(RUNNING), "name": "side"}]),
            [("state", {"container": "side", "init": True, "state": "running", "restartCount": 0})],
            id="init-container",
        ),
        pytest.param(
            pod("Pending", conditions=[{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]),
            pod("Running", conditions=[{"type": "Ready", "status": "True"}]),
            [("phase", {"phase": "Running", "from": "Pending"}),
             ("condition", {"type": "Ready", "status": "True"})],
            id="phase-and-condition",
        ),
    ],
)  # fmt: skip
def test_diff_pod(old: Any, new: Any, want: list[tuple[str, dict[str, Any]]]) -> None:
    assert core.diff_pod(old, new) == want


def test_diff_of_a_new_pod_names_its_containers_and_probe_timings() -> None:
    found = core.diff_pod(None, pod(containers=[cstatus(WAITING)]))
    kind, fields = found[0]
    assert kind == "created"
    assert fields["uid"] == "u1"
    assert fields["containers"] == [
        {"name": "side", "init": True, "probes": {}, "sidecar": True},
        {"name": "app", "init": False, "probes": {"liveness": {
            "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3,
            "successThreshold": 1}}},
    ]  # fmt: skip
    assert found[1] == (
        "state",
        {"container": "app", "init": False, "state": "waiting",
         "reason": "ContainerCreating", "restartCount": 0},
    )  # fmt: skip
    assert ("phase", {"phase": "Pending", "from": None}) in found


def test_event_fields() -> None:
    event = {
        "involvedObject": {"kind": "Pod", "namespace": "ns", "name": "p",
                           "fieldPath": "spec.containers{app}"},
        "reason": "BackOff", "type": "Warning", "message": "Back-off restarting", "count": 2,
    }  # fmt: skip
    assert core.event_fields(event) == (
        "ns/p",
        {"reason": "BackOff", "type": "Warning", "message": "Back-off restarting", "count": 2,
         "container": "app"},
    )  # fmt: skip
    assert core.event_fields({"involvedObject": {"kind": "Node", "name": "n"}}) is None


@pytest.mark.parametrize(
    ("rec", "want"),
    [
        ({"kind": "ready", "container": "web", "value": True}, "web: Ready"),
        ({"kind": "condition", "type": "Ready", "status": "False", "reason": "ContainersNotReady"},
         "pod not Ready (ContainersNotReady)"),
        ({"kind": "condition", "type": "PodScheduled", "status": "True"}, None),
        ({"kind": "probe", "container": "app", "probe": "liveness", "result": "failure", "run": 3,
          "threshold": 3, "output": "HTTP probe failed with statuscode: 500"},
         "app: liveness probe failed (3/3): HTTP probe failed with statuscode: 500"),
        ({"kind": "probe", "container": "app", "probe": "readiness", "result": "failure",
          "run": 4, "threshold": 3, "output": "x"}, None),
        ({"kind": "probe", "container": "app", "probe": "readiness", "result": "success",
          "run": 1, "threshold": 1, "fired": True}, None),
        ({"kind": "probe", "container": "app", "probe": "startup", "result": "success",
          "run": 1, "threshold": 1, "fired": True}, "app: startup probe succeeded (1/1)"),
        ({"kind": "probe", "container": "app", "probe": "liveness", "result": "error",
          "output": "boom"}, "app: liveness probe errored: boom"),
        ({"kind": "probe", "container": "app", "probe": "readiness", "result": "failure",
          "run": 1, "threshold": 3, "output": "not yet\n  really\n"},
         "app: readiness probe failed (1/3): not yet really"),
        ({"kind": "state", "container": "app", "state": "terminated", "reason": "Error",
          "exitCode": 3, "restartCount": 2}, "app: Terminated: Error (exit code 3), restarts 2"),
        ({"kind": "state", "container": "app", "state": "waiting", "reason": "CrashLoopBackOff"},
         "app: Waiting: CrashLoopBackOff"),
        ({"kind": "backoff", "container": "app", "delay": 10.0},
         "app: CrashLoopBackOff: restart in 10s"),
        ({"kind": "kill", "container": "app", "message": "Container app failed liveness probe",
          "signal": "SIGTERM", "grace": 30.0},
         "app: killing (Container app failed liveness probe): SIGTERM, grace 30s"),
        ({"kind": "killed", "container": "app", "signal": "SIGKILL"},
         "app: grace period over: SIGKILL"),
        ({"kind": "killed", "container": "app", "signal": "SIGTERM"}, None),
        ({"kind": "hook", "container": "app", "hook": "preStop", "seconds": 1.25, "error": "x"},
         "app: preStop hook ran 1.2s, failed: x"),
        ({"kind": "event", "type": "Warning", "reason": "FailedPostStartHook", "message": "m"},
         "FailedPostStartHook: m"),
        ({"kind": "event", "type": "Normal", "reason": "Started", "message": "m"}, None),
    ],
)  # fmt: skip
def test_describe(rec: dict[str, Any], want: str | None) -> None:
    assert core.describe(rec) == want


def test_render_text_groups_by_pod_and_counts_quiet_probes() -> None:
    recs = [
        {"seq": 1, "t": 100.0, "pod": "ns/a", "kind": "created"},
        {"seq": 2, "t": 100.5, "pod": "ns/b", "kind": "created"},
        {"seq": 3, "t": 101.0, "pod": "ns/a", "kind": "probe", "probe": "liveness",
         "result": "success", "container": "app"},
        {"seq": 4, "t": 112.3, "pod": "ns/a", "kind": "ready", "container": "app", "value": True},
    ]  # fmt: skip
    text = core.render_text(recs, pods={"ns/a"})
    lines = text.splitlines()
    assert lines[0] == "pod ns/a:"
    assert lines[1].split() == ["+0.0s", core.clock_text(100.0), "created"]
    assert lines[2].split() == ["+12.3s", core.clock_text(112.3), "app:", "Ready"]
    assert lines[3] == "  (1 more probe runs not shown: successes, failures past the threshold)"
    assert "ns/b" not in text


def test_recorder_is_bounded_per_pod_and_in_pods() -> None:
    clock = iter(range(100)).__next__
    rec = timeline.Recorder(per_pod=3, max_pods=2, clock=lambda: float(clock()))
    for i in range(5):
        rec.record("ns/a", "probe", n=i)
    rec.record("ns/b", "created")
    assert [r["n"] for r in rec.since(0, "ns/a")] == [2, 3, 4]  # oldest dropped
    assert rec.since(0, "ns/a")[0] == {"seq": 3, "t": 2.0, "pod": "ns/a", "kind": "probe", "n": 2}
    assert [r["seq"] for r in rec.since(4)] == [5, 6]  # all pods, in order
    rec.record("ns/c", "created")  # the least recently recorded pod goes
    assert rec.pods() == ["ns/b", "ns/c"]
    assert rec.since(0, "ns/missing") == []


def test_record_file_batches_and_flushes() -> None:
    out = io.StringIO()
    writer = timeline.RecordFile(out)
    writer({"seq": 1, "kind": "created"})
    writer({"seq": 2, "kind": "deleted"})
    assert out.getvalue() == ""  # no loop: nothing written until flushed
    writer.flush()
    assert [json.loads(line)["seq"] for line in out.getvalue().splitlines()] == [1, 2]


async def test_record_file_writes_on_its_timer() -> None:
    out = io.StringIO()
    writer = timeline.RecordFile(out)
    writer({"seq": 1, "kind": "created"})
    async with asyncio.timeout(10):
        while not out.getvalue():
            await asyncio.sleep(timeline.FLUSH_DELAY)
    assert json.loads(out.getvalue()) == {"seq": 1, "kind": "created"}


def test_story_marks_its_lines_and_colours_only_when_asked() -> None:
    out = io.StringIO()
    story = timeline.Story(out, colour=False)
    story({"pod": "default/web", "kind": "ready", "container": "web", "value": True})
    story({"pod": "default/web", "kind": "probe", "result": "success", "probe": "liveness"})
    story({"pod": "default/web", "kind": "phase", "phase": "Running"})
    assert out.getvalue() == "» web/web: Ready\n» web: phase Running\n"
    painted = io.StringIO()
    timeline.Story(painted, colour=True)({"pod": "d/w", "kind": "backoff", "delay": 1})
    assert painted.getvalue().startswith("\x1b[31m»")


async def test_follow_derives_transitions_and_events_from_the_change_feed() -> None:
    store = ObjectStore()
    rec = timeline.Recorder()
    store.put("pods", pod(containers=[cstatus(WAITING)]))
    task = asyncio.create_task(timeline.follow(store, rec))
    await asyncio.sleep(0)
    store.put("pods", pod("Running", containers=[cstatus(RUNNING, ready=True)]))
    store.put("events", {"kind": "Event", "metadata": {"name": "e", "namespace": "default"},
                         "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"},
                         "reason": "Started", "type": "Normal", "message": "m"})  # fmt: skip
    store.remove("pods", "default", "p")
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kinds = [r["kind"] for r in rec.since(0, "default/p")]
    assert kinds[0] == "created"
    assert kinds[-4:] == ["ready", "phase", "event", "deleted"]


async def test_an_explicit_record_comes_after_the_transitions_before_it() -> None:
    store = ObjectStore()
    rec = timeline.Recorder()
    task = asyncio.create_task(timeline.follow(store, rec))
    await asyncio.sleep(0)
    store.put("pods", pod(containers=[cstatus(CRASHED)]))
    rec.record("default/p", "backoff", container="app", delay=10.0)  # the feed not yet read
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    kinds = [r["kind"] for r in rec.since(0, "default/p")]
    assert kinds.index("state") < kinds.index("backoff")


# --- the probe worker's report of each run ----------------------------------------------------

POD_DOC = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p"},
    "spec": {"containers": [{"name": "app", "image": "x", "command": ["true"],
             "livenessProbe": {"exec": {"command": ["true"]}, "failureThreshold": 2}}]},
}  # fmt: skip


async def test_worker_reports_each_run_with_its_count_and_threshold() -> None:
    p = manifest.pod_from_document(POD_DOC, source="t", node_name="n")[0]
    script = [ProbeResultKind.FAILURE, ProbeResultKind.FAILURE]
    runs: list[dict[str, Any]] = []

    async def run() -> ProbeOutcome:
        return ProbeOutcome(script.pop(0), "HTTP probe failed with statuscode: 500")

    view = ContainerView(pod_phase=Phase.RUNNING, deleting=False,
                         restart_policy=RestartPolicy.ALWAYS, is_sidecar=False, container_id="c1",
                         running=True, terminated=False, started_at=0.0, started=True)  # fmt: skip
    worker = ProbeWorker(
        pod=p, container=p.spec.containers[0], probe_type=ProbeType.LIVENESS, run=run,
        view=lambda: view, on_result=lambda *a: None, record_event=lambda **k: None,
        wall_clock=lambda: 100.0, on_probe=lambda **fields: runs.append(fields),
    )  # fmt: skip
    await worker.step()
    await worker.step()
    assert [(r["result"], r["run"], r["threshold"], r["fired"]) for r in runs] == [
        ("failure", 1, 2, False),
        ("failure", 2, 2, True),
    ]
    assert runs[1]["output"] == "HTTP probe failed with statuscode: 500"
    assert runs[1]["probe"] == "liveness"
    assert runs[1]["seconds"] >= 0
