"""The CI mode's wiring to workloads, in a real daemon in this process: a Deployment whose
status its controller writes (written here by hand, as no workload kind is needed for the
verdict) decides `--until ready` the moment it has rolled out, or at once with exit 1 when it
passes its progress deadline, and the report names it. The rules themselves are table-tested
in test_rollout_verdict.py."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ctypes
from pathlib import Path
from typing import Any

from minikubelet.core.settings import Settings
from minikubelet.daemon import Daemon, ServeOptions
from minikubelet.node import report
from minikubelet.runtime.reaper import PR_SET_CHILD_SUBREAPER

JSON = dict[str, Any]
DEPLOYMENT: JSON = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
    "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2,
               "availableReplicas": 1},
}  # fmt: skip


async def _served(daemon: Daemon, run: asyncio.Future[int]) -> None:
    async with asyncio.timeout(30):
        while not daemon._started.is_set():
            assert not run.done(), run
            await asyncio.sleep(0.02)


async def _verdict(tmp_path: Path, status: JSON) -> tuple[int, Daemon]:
    settings = Settings(state_dir=tmp_path / "state", echo_logs=False)
    daemon = Daemon(settings, ServeOptions(port=0, until="ready"))
    daemon.store.create("deployments", copy.deepcopy(DEPLOYMENT))
    run = asyncio.ensure_future(daemon.run([]))
    try:
        await _served(daemon, run)
        assert daemon.verdict is None  # one of two replicas available: not rolled out
        stored = daemon.store.get("deployments", "default", "web")
        assert stored is not None
        daemon.store.put("deployments", {**stored, "status": status})
        async with asyncio.timeout(30):
            code = await asyncio.shield(run)
    finally:
        if not run.done():
            daemon.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(run, 40)
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    return code, daemon


async def test_until_ready_is_met_when_the_deployment_has_rolled_out(tmp_path: Path) -> None:
    code, daemon = await _verdict(tmp_path, {**DEPLOYMENT["status"], "availableReplicas": 2})
    assert code == 0
    snap = daemon.verdict_snapshot
    assert snap is not None
    assert snap.verdict == "OK: every workload rolled out"
    assert report.render(snap).splitlines()[1] == (
        'deployment default/web: deployment "web" successfully rolled out')  # fmt: skip


async def test_until_ready_fails_at_once_past_the_progress_deadline(tmp_path: Path) -> None:
    stalled = {**DEPLOYMENT["status"], "conditions": [{
        "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "web-5d4f8" has timed out progressing.'}]}  # fmt: skip
    code, daemon = await _verdict(tmp_path, stalled)
    assert code == 1
    snap = daemon.verdict_snapshot
    assert snap is not None
    assert snap.verdict == 'FAILED: deployment "web" exceeded its progress deadline'
    assert report.render(snap).splitlines()[1:3] == [
        'deployment default/web: deployment "web" exceeded its progress deadline',
        '  conditions: Progressing=False (ProgressDeadlineExceeded: ReplicaSet "web-5d4f8" has '
        "timed out progressing.)",
    ]
