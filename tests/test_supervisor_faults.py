"""An unexpected error inside one container's supervision stays in it: the supervisor logs
it, waits a backoff period (no spin), and tries again; its task never fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

from minikubelet.core.events import EventRecorder
from minikubelet.core.model import Phase
from minikubelet.core.settings import Settings
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.node.supervisor import ContainerSupervisor
from minikubelet.node.timeline import Recorder
from minikubelet.runtime.cgroups import CpuLimiter

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "flaky"},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "app", "image": "x", "command": ["sleep", "1000"]}],
    },
}


class FlakyPod:
    """A pod handle whose log directory lookup fails the first `failures` times."""

    def __init__(self, tmp_path: Path, failures: int) -> None:
        self.pod: Pod = manifest.pod_from_document(POD, source="t", node_name="n")[0]
        self.settings = Settings(state_dir=tmp_path, node_name="n", backoff_initial=0.1,
                                 backoff_max=0.1, echo_logs=False)  # fmt: skip
        self.events = EventRecorder(node_name="n")
        self.cpu_limiter: CpuLimiter | None = None
        self.timeline = Recorder()
        self.config_lookup = None
        self.service_lookup = None
        self.volumes = None
        self.failures = failures
        self.calls = 0

    @property
    def phase(self) -> Phase:
        return Phase.PENDING

    @property
    def deleting(self) -> bool:
        return False

    def changed(self) -> None:
        pass

    def container_started(self) -> None:
        pass

    def log_dir(self, container: str) -> Path:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("an unexpected fault")
        return self.settings.state_dir / container


async def test_an_unexpected_error_is_retried_after_a_backoff_not_raised(tmp_path: Path) -> None:
    pod = FlakyPod(tmp_path, failures=3)
    sup = ContainerSupervisor(pod, pod.pod.spec.containers[0])
    task = asyncio.create_task(sup.run())
    try:
        async with asyncio.timeout(60):
            while not sup.running:
                assert not task.done(), task
                await asyncio.sleep(0.02)
        assert pod.calls == 4  # three faults, each followed by a wait, then a start
        failed = [e for e in pod.events.events() if e.reason == "Failed"]
        assert [e.count for e in failed] == [3], failed  # one event, seen three times
    finally:
        sup.terminate("stop", 1)
        async with asyncio.timeout(30):
            await task
