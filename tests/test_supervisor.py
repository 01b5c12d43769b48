"""The container supervisor on its own, against the real runtime with short real processes:
the restart policy after an exit 0 or 1, a kill within its grace period and past it
(SIGKILL), a failing postStart hook. The pod is a small handle (what `PodHandle` asks for);
its `changed()` and each event wake the tests, which wait for a state with a deadline."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from minikubelet.core.events import Event, EventRecorder
from minikubelet.core.kills import KillRequest
from minikubelet.core.model import Phase, Terminated, Waiting
from minikubelet.core.settings import Settings
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.node.supervisor import ContainerSupervisor
from minikubelet.node.timeline import Recorder
from minikubelet.runtime.cgroups import CpuLimiter

DEADLINE = 60.0


def pod_doc(container: dict[str, Any], *, policy: str = "Never") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "sup", "namespace": "default"},
        "spec": {
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "x", **container}],
        },
    }


class Handle:
    """A pod as its supervisors see it; `changed()` is each status change they report."""

    def __init__(self, doc: dict[str, Any], state: Path) -> None:
        self.pod: Pod = manifest.pod_from_document(doc, source="t", node_name="n")[0]
        self.settings = Settings(state_dir=state, node_name="n", backoff_initial=0.1,
                                 backoff_max=0.1, echo_logs=False)  # fmt: skip
        self.events = EventRecorder(node_name="n", on_change=self._event)
        self.cpu_limiter: CpuLimiter | None = None
        self.timeline = Recorder()
        self.config_lookup = None
        self.service_lookup = None
        self.volumes = None
        self._changed = asyncio.Event()

    def _event(self, event: Event) -> Event:
        self._changed.set()
        return event

    @property
    def phase(self) -> Phase:
        return Phase.RUNNING

    @property
    def deleting(self) -> bool:
        return False

    def changed(self) -> None:
        self._changed.set()

    def container_started(self) -> None:
        pass

    def log_dir(self, container: str) -> Path:
        path = self.settings.state_dir / container
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def until(self, check: Callable[[], object], what: str) -> None:
        """Waits, change by change, until `check()` holds."""
        try:
            async with asyncio.timeout(DEADLINE):
                while not check():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    def reasons(self) -> list[tuple[str, str]]:
        return [(e.reason, e.message) for e in self.events.events()]

    def timeline_kinds(self) -> list[dict[str, Any]]:
        return [r for r in self.timeline.since() if r["kind"] in ("kill", "killed", "hook")]


class Running:
    """A supervisor's `run()` as a task; stopped and awaited on the way out."""

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.sup = ContainerSupervisor(handle, handle.pod.spec.containers[0])
        self.task = asyncio.create_task(self.sup.run(), name="container:sup/app")

    async def result(self) -> int | None:
        async with asyncio.timeout(DEADLINE):
            return await self.task

    async def stop(self) -> None:
        self.sup.terminate("Stopping container app", 1)
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def run(tmp_path: Path) -> AsyncIterator[Callable[[dict[str, Any]], Running]]:
    started: list[Running] = []

    def start(doc: dict[str, Any]) -> Running:
        started.append(Running(Handle(doc, tmp_path)))
        return started[-1]

    yield start
    for r in started:
        await r.stop()
        cur = r.sup.current
        assert cur is None or cur.process is None or cur.process.exited


def terminated(sup: ContainerSupervisor) -> Terminated | None:
    cur = sup.current
    return cur.terminated if cur is not None else None


@pytest.mark.parametrize(
    ("policy", "code", "restarts"),
    [
        ("Never", 0, False),
        ("Never", 1, False),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("Always", 0, True),
        ("Always", 1, True),
    ],
)
async def test_an_exit_is_followed_by_a_start_as_the_restart_policy_says(
    run: Callable[[dict[str, Any]], Running], policy: str, code: int, restarts: bool
) -> None:
    r = run(pod_doc({"command": ["sh", "-c", f"exit {code}"]}, policy=policy))
    reason = "Completed" if code == 0 else "Error"
    if not restarts:
        assert await r.result() == code
        assert len(r.sup.instances) == 1
        status = r.sup.status(pod_has_init=False)
        assert isinstance(status.state, Terminated)
        assert (status.state.exit_code, status.state.reason) == (code, reason)
        assert (status.restart_count, status.last_state) == (0, None)
        return
    # started again, twice, each after the (short) back-off
    await r.handle.until(lambda: r.sup.status(pod_has_init=False).restart_count >= 2, "restarts")
    status = r.sup.status(pod_has_init=False)
    last = status.last_state
    assert isinstance(last, Terminated)
    assert (last.exit_code, last.reason) == (code, reason)
    back_off = f"Back-off restarting failed container app in pod {r.handle.pod.full_name}"
    assert ("BackOff", back_off) in r.handle.reasons()
    assert not r.task.done()


async def test_a_kill_within_the_grace_period_ends_it_with_the_stop_signal(
    run: Callable[[dict[str, Any]], Running],
) -> None:
    r = run(pod_doc({"command": ["sleep", "1000"]}))
    await r.handle.until(lambda: r.sup.running, "the container running")
    r.sup.request_kill(KillRequest(message="Stopping for the test", grace=5))
    assert await r.result() == 143
    t = terminated(r.sup)
    assert t is not None
    assert (t.signal, t.reason) == (signal.SIGTERM, "Error")
    assert ("Killing", "Stopping for the test") in r.handle.reasons()
    kinds = [(rec["kind"], rec["signal"]) for rec in r.handle.timeline_kinds()]
    assert kinds == [("kill", "SIGTERM"), ("killed", "SIGTERM")]


async def test_a_container_that_ignores_the_stop_signal_is_killed_after_the_grace_period(
    run: Callable[[dict[str, Any]], Running],
) -> None:
    r = run(pod_doc({"command": ["sh", "-c", "trap '' TERM; exec sleep 1000"]}))
    await r.handle.until(lambda: r.sup.running, "the container running")
    cur = r.sup.current
    assert cur is not None
    assert cur.process is not None
    pid = cur.process.pid

    def ignoring() -> bool:  # the trap is set once sh has exec'd sleep (SIG_IGN is inherited)
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip() == "sleep"
        except OSError:
            return False

    async with asyncio.timeout(DEADLINE):  # nothing reports it: look until it holds
        while not ignoring():
            await asyncio.sleep(0.01)
    # grace 0 is raised to the kubelet's minimum of 2 s; the process outlives it
    r.sup.request_kill(KillRequest(message="Stopping for the test", grace=0))
    assert await r.result() == 137
    t = terminated(r.sup)
    assert t is not None
    assert t.signal == signal.SIGKILL
    kills = [(rec["kind"], rec["signal"]) for rec in r.handle.timeline_kinds()]
    assert kills == [("kill", "SIGTERM"), ("killed", "SIGKILL")]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped


async def test_a_failed_post_start_hook_kills_the_container(
    run: Callable[[dict[str, Any]], Running],
) -> None:
    hook = {"postStart": {"exec": {"command": ["sh", "-c", "echo no >&2; exit 3"]}}}
    r = run(pod_doc({"command": ["sleep", "1000"], "lifecycle": hook}))
    assert await r.result() == 143  # killed by the stop signal, never running
    reasons = r.handle.reasons()
    assert ("FailedPostStartHook", "PostStartHook failed") in reasons
    assert ("Killing", "FailedPostStartHook") in reasons
    assert ("Started", "Started container app") in reasons
    waiting = r.sup.waiting
    assert isinstance(waiting, Waiting)
    assert waiting.reason == "PostStartHookError"
    assert "exited with 3" in waiting.message, waiting.message
    assert not r.sup.instances[0].running
    spans = [rec for rec in r.handle.timeline_kinds() if rec["kind"] == "hook"]
    assert [(s["hook"], bool(s["error"])) for s in spans] == [("postStart", True)]
