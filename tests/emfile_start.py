"""Run as a script by test_reliability_start: a container started while the process has no
descriptor to spare gets a start error; once descriptors are back, the retry runs it. Alone
in its own process, so that lowering the limit touches nothing else."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

from minikubelet.core.events import EventRecorder
from minikubelet.core.settings import Settings
from minikubelet.manifest import load as manifest
from minikubelet.node.pod import PodRunner
from minikubelet.runtime import reaper as runtime

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "fds"},
    "spec": {
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "app", "image": "x", "command": ["sleep", "1000"]}],
    },
}


async def until(check: Callable[[], object], what: str) -> None:
    try:
        async with asyncio.timeout(60):
            while not check():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def main(state: Path) -> dict[str, object]:
    runtime.use_pidfd_child_watcher()
    pod, _ = manifest.pod_from_document(POD, source="fds.json", node_name="n")
    settings = Settings(state_dir=state, node_name="n", backoff_initial=0.2, backoff_max=0.2,
                        echo_logs=False)  # fmt: skip
    runner = PodRunner(pod, settings=settings, events=EventRecorder(node_name="n"))
    sup = runner.supervisors[0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")), hard))
    task = asyncio.create_task(runner.run())

    def start_error() -> bool:
        cur = sup.current
        return bool(cur and cur.terminated and cur.terminated.reason == "StartError")

    await until(start_error, "a start error")
    assert sup.current is not None
    assert sup.current.terminated is not None
    message = sup.current.terminated.message
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    await until(lambda: sup.running, "running after a retry")
    restarts = sup.current.restart_count if sup.current else -1
    runner.terminate(1)
    await task
    return {"message": message, "restart_count": restarts}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(Path(sys.argv[1])))))
