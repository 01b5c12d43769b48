"""The pod runner on its own, against the real runtime with short real processes: init
containers in order before the containers, a failed init container failing a `Never` pod,
a sidecar started first and stopped last, termination of a running pod, the active
deadline. Its `on_change` and each event wake the tests, which wait for a state with a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from minikubelet.core.events import Event, EventRecorder
from minikubelet.core.model import Phase, Running, Terminated, Waiting
from minikubelet.core.settings import Settings
from minikubelet.manifest import load as manifest
from minikubelet.node.pod import PodRunner

DEADLINE = 60.0


def container(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "x", "command": ["sh", "-c", script], **extra}


def pod_doc(
    containers: list[dict[str, Any]],
    *,
    init: list[dict[str, Any]] | None = None,
    policy: str = "Never",
    **spec: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "runner", "namespace": "default"},
        "spec": {
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 2,
            "initContainers": init or [],
            "containers": containers,
            **spec,
        },
    }


class Run:
    """A runner's `run()` as a task; terminated and awaited on the way out."""

    def __init__(self, doc: dict[str, Any], state: Path) -> None:
        pod = manifest.pod_from_document(doc, source="t", node_name="n")[0]
        settings = Settings(state_dir=state, node_name="n", backoff_initial=0.1,
                            backoff_max=0.1, echo_logs=False)  # fmt: skip
        self._changed = asyncio.Event()
        self.events = EventRecorder(node_name="n", on_change=self._event)
        self.runner = PodRunner(
            pod, settings=settings, events=self.events, on_change=lambda _: self._changed.set()
        )
        self.task = asyncio.create_task(self.runner.run(), name="pod:runner")

    def _event(self, event: Event) -> Event:
        self._changed.set()
        return event

    async def until(self, check: Callable[[], object], what: str) -> None:
        try:
            async with asyncio.timeout(DEADLINE):
                while not check():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}: {self.runner.status}") from None

    async def finished(self) -> None:
        async with asyncio.timeout(DEADLINE):
            await self.task

    def state(self, name: str) -> Waiting | Running | Terminated:
        status = self.runner.status
        for s in status.init_container_statuses + status.container_statuses:
            if s.name == name:
                return s.state
        raise KeyError(name)

    def reasons(self) -> list[tuple[str, str]]:
        return [(e.reason, e.message) for e in self.events.events()]


@pytest.fixture
async def start(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, Any]], Run]]:
    runs: list[Run] = []

    def make(doc: dict[str, Any]) -> Run:
        runs.append(Run(doc, tmp_path))
        return runs[-1]

    yield make
    for r in runs:
        r.runner.terminate(1)
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(r.task, return_exceptions=True)
        for sup in r.runner.init_supervisors + r.runner.supervisors:
            cur = sup.current
            assert cur is None or cur.process is None or cur.process.exited


async def test_init_containers_run_one_at_a_time_to_exit_0_before_the_containers(
    start: Callable[[dict[str, Any]], Run],
) -> None:
    r = start(
        pod_doc(
            [container("app", "exec sleep 1000")],
            init=[container("first", "exit 0"), container("second", "exit 0")],
        )
    )
    await r.until(lambda: isinstance(r.state("app"), Running), "app running")
    first, second, app = r.state("first"), r.state("second"), r.state("app")
    assert isinstance(first, Terminated)
    assert isinstance(second, Terminated)
    assert isinstance(app, Running)
    assert (first.reason, second.reason) == ("Completed", "Completed")
    assert first.finished_at is not None
    assert second.started_at is not None
    assert first.finished_at <= second.started_at
    assert second.finished_at is not None
    assert second.finished_at <= app.started_at
    assert r.runner.status.phase == Phase.RUNNING


async def test_a_failed_init_container_fails_a_never_pod_and_no_container_starts(
    start: Callable[[dict[str, Any]], Run],
) -> None:
    r = start(pod_doc([container("app", "exec sleep 1000")], init=[container("init", "exit 3")]))
    await r.finished()
    init = r.state("init")
    assert isinstance(init, Terminated)
    assert (init.exit_code, init.reason) == (3, "Error")
    assert r.state("app") == Waiting(reason="PodInitializing")
    assert r.runner.status.phase == Phase.FAILED
    assert r.runner.finished.is_set()


async def test_a_sidecar_starts_first_and_is_stopped_once_the_containers_are_done(
    start: Callable[[dict[str, Any]], Run],
) -> None:
    sidecar = container("side", "exec sleep 1000", restartPolicy="Always")
    r = start(pod_doc([container("app", "exit 0")], init=[sidecar]))
    await r.finished()
    side, app = r.state("side"), r.state("app")
    assert isinstance(side, Terminated)
    assert isinstance(app, Terminated)
    assert side.started_at is not None
    assert app.started_at is not None
    assert side.started_at <= app.started_at
    assert app.finished_at is not None
    assert side.finished_at is not None
    assert app.finished_at <= side.finished_at
    assert ("Killing", "Stopping container side") in r.reasons()
    assert r.runner.status.phase == Phase.SUCCEEDED


async def test_termination_stops_every_running_container_within_the_grace_period(
    start: Callable[[dict[str, Any]], Run],
) -> None:
    r = start(pod_doc([container("a", "exec sleep 1000"), container("b", "exec sleep 1000")]))
    await r.until(
        lambda: all(isinstance(r.state(n), Running) for n in ("a", "b")), "both containers running"
    )
    r.runner.terminate(1, deleting=True)
    await r.finished()
    assert r.runner.deletion_timestamp is not None
    assert r.runner.deletion_grace == 1
    for name in ("a", "b"):
        state = r.state(name)
        assert isinstance(state, Terminated)
        assert state.exit_code == 143  # SIGTERM, within the grace period
        assert ("Killing", f"Stopping container {name}") in r.reasons()


async def test_the_active_deadline_fails_the_pod(start: Callable[[dict[str, Any]], Run]) -> None:
    r = start(pod_doc([container("app", "exec sleep 1000")], activeDeadlineSeconds=1))
    await r.finished()
    status = r.runner.status
    assert (status.phase, status.reason) == (Phase.FAILED, "DeadlineExceeded")
    assert (
        "DeadlineExceeded",
        "Pod was active on the node longer than the specified deadline",
    ) in (r.reasons())
    state = r.state("app")
    assert isinstance(state, Terminated)
    assert state.exit_code == 143


async def test_a_later_shorter_stop_shortens_a_kill_under_way(
    start: Callable[[dict[str, Any]], Run],
) -> None:
    r = start(pod_doc([container("app", "trap '' TERM; exec sleep 1000")]))
    await r.until(lambda: isinstance(r.state("app"), Running), "app running")
    sup = r.runner.supervisor("app")
    assert sup is not None
    assert sup.current is not None
    assert sup.current.process is not None
    comm = Path(f"/proc/{sup.current.process.pid}/comm")
    async with asyncio.timeout(60):  # sh has exec'd sleep: the ignored TERM is inherited
        while not (comm.exists() and comm.read_text().strip() == "sleep"):
            await asyncio.sleep(0.01)
    r.runner.terminate(600, deleting=True)  # the stop signal is ignored: 600 s to SIGKILL
    await r.until(lambda: ("Killing", "Stopping container app") in r.reasons(), "the kill")
    r.runner.terminate(1, deleting=True)  # a second DELETE with a shorter grace period
    await r.finished()
    state = r.state("app")
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.signal) == (137, 9)
    assert r.runner.grace == 1
    assert r.runner.deletion_grace == 600  # the mark is the API server's, not the runner's


# --- a big pod's status changes are gathered -------------------------------------------------


def _held_runner(tmp_path: Path, changes: list[object]) -> PodRunner:
    pod = manifest.pod_from_document(pod_doc([container("a", "true")]), source="t", node_name="n")[
        0
    ]
    settings = Settings(state_dir=tmp_path, node_name="n", echo_logs=False)
    return PodRunner(
        pod, settings=settings, events=EventRecorder(node_name="n"), on_change=changes.append
    )


async def test_a_small_pods_status_is_recomputed_at_once(tmp_path: Path) -> None:
    changes: list[object] = []
    runner = _held_runner(tmp_path, changes)
    runner.hold("Unschedulable", "no free ports")
    assert any(c.reason == "Unschedulable" for c in runner.status.conditions)
    assert len(changes) == 2  # made, then held


async def test_a_small_pod_is_recomputed_at_every_change_however_slow_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minikubelet.node.pod as podmod

    # every recomputation counts as costly: still, a pod of one container is not gathered
    monkeypatch.setattr(podmod, "STATUS_THROTTLE_ABOVE", -1.0)
    monkeypatch.setattr(podmod, "STATUS_SPACING", 1e9)
    changes: list[object] = []
    runner = _held_runner(tmp_path, changes)
    runner.hold("Unschedulable", "no free ports")
    runner.hold("Unschedulable", "still no free ports")
    assert any(c.message == "still no free ports" for c in runner.status.conditions)
    assert len(changes) == 3


async def test_a_status_written_through_the_api_is_computed_at_once_in_a_big_pod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minikubelet.node.pod as podmod
    from minikubelet.core.model import PodCondition

    monkeypatch.setattr(podmod, "STATUS_THROTTLE_ABOVE", -1.0)
    monkeypatch.setattr(podmod, "GATHER_FROM_CONTAINERS", 1)
    monkeypatch.setattr(podmod, "STATUS_SPACING", 1e9)
    changes: list[object] = []
    runner = _held_runner(tmp_path, changes)
    runner.changed()  # gathered: the next recomputation is spaced out (a long while)
    gate = PodCondition(type="example.com/gate", status="True")
    runner.set_api_status((gate,), "", "")
    assert any(c.type == "example.com/gate" for c in runner.status.conditions)


async def test_a_big_pods_changes_in_quick_succession_are_one_recomputation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minikubelet.node.pod as podmod

    # every recomputation counts as costly, and the next waits a long while after it
    monkeypatch.setattr(podmod, "STATUS_THROTTLE_ABOVE", -1.0)
    monkeypatch.setattr(podmod, "GATHER_FROM_CONTAINERS", 1)
    monkeypatch.setattr(podmod, "STATUS_SPACING", 1e9)
    changes: list[object] = []
    runner = _held_runner(tmp_path, changes)
    before = runner.status
    runner.hold("Unschedulable", "no free ports")
    runner.schedule()
    runner.hold("Unschedulable", "still no free ports")
    assert runner.status is before  # gathered, not yet recomputed
    assert len(changes) == 1
    runner.flush_status()
    assert len(changes) == 2
    assert any(c.message == "still no free ports" for c in runner.status.conditions)


async def test_gathered_changes_are_recomputed_soon_without_a_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import minikubelet.node.pod as podmod

    monkeypatch.setattr(podmod, "STATUS_THROTTLE_ABOVE", -1.0)
    monkeypatch.setattr(podmod, "GATHER_FROM_CONTAINERS", 1)
    monkeypatch.setattr(podmod, "STATUS_SPACING", 20.0)
    changes: list[object] = []
    runner = _held_runner(tmp_path, changes)
    runner.hold("Unschedulable", "no free ports")
    async with asyncio.timeout(DEADLINE):
        while len(changes) < 2:
            await asyncio.sleep(0.01)
    assert any(c.message == "no free ports" for c in runner.status.conditions)


async def test_a_big_pod_that_finishes_has_its_last_status_written(
    start: Callable[[dict[str, Any]], Run], monkeypatch: pytest.MonkeyPatch
) -> None:
    import minikubelet.node.pod as podmod

    monkeypatch.setattr(podmod, "STATUS_THROTTLE_ABOVE", -1.0)
    monkeypatch.setattr(podmod, "GATHER_FROM_CONTAINERS", 1)
    monkeypatch.setattr(podmod, "STATUS_SPACING", 1e9)  # only the flush writes
    r = start(pod_doc([container(f"c{i}", "exit 0") for i in range(5)]))
    await r.finished()
    assert r.runner.status.phase == Phase.SUCCEEDED
    assert all(isinstance(r.state(f"c{i}"), Terminated) for i in range(5))


class _CountingFreezer:
    def __init__(self) -> None:
        self.calls = 0
        self.changed_now = asyncio.Event()

    def changed(self, *, removed: bool = False) -> None:
        self.calls += 1
        self.changed_now.set()

    def cancel(self) -> None:
        pass


async def test_the_heap_is_refrozen_as_each_container_of_a_pod_starts(tmp_path: Path) -> None:
    from minikubelet.node.agent import NodeAgent
    from minikubelet.store.objects import ObjectStore

    freezer = _CountingFreezer()
    settings = Settings(state_dir=tmp_path, node_name="n", echo_logs=False)
    agent = NodeAgent(settings, ObjectStore(), freezer=freezer)  # type: ignore[arg-type]
    doc = pod_doc([container(f"c{i}", "exec sleep 60") for i in range(3)], policy="Always")
    pod = manifest.pod_from_document(doc, source="t", node_name="n")[0]
    async with asyncio.TaskGroup() as tg:
        agent.attach(tg)
        runner = agent.start_pod(pod)
        try:
            async with asyncio.timeout(DEADLINE):
                while freezer.calls < 1 + 3:  # the pod added, then each container started
                    freezer.changed_now.clear()
                    await freezer.changed_now.wait()
            assert all(s.current is not None and s.current.process for s in runner.supervisors)
        finally:
            await agent.terminate_all()
            agent.attach(None)
    for sup in runner.supervisors:
        cur = sup.current
        assert cur is not None
        assert cur.process is not None
        assert cur.process.exited
