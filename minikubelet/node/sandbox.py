"""A pod's sandbox, as far as a local run has one: its log directory
(kubelet: /var/log/pods/<namespace>_<name>_<uid>, made by kuberuntime_sandbox.go
createPodSandbox), fresh for each run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from minikubelet.core import events as ev
from minikubelet.core.events import EventRecorder
from minikubelet.core.spec import Pod
from minikubelet.probe.goclient import go_errno


def fresh_pod_dir(current: Path, log_dirs: list[Path], log: Any) -> str | None:
    """Each run has its own logs (the kubelet gives each new pod a new UID, so a new log
    directory): the previous run's directory is moved aside to `<dir>.previous`,
    replacing the one before it, and this run starts with empty logs. Returns the error
    if a container's log directory cannot be made (run in a thread: no events here)."""
    previous = current.with_name(current.name + ".previous")
    try:
        if current.exists():
            shutil.rmtree(previous, ignore_errors=True)
            current.rename(previous)
    except OSError as e:
        log.warning("cannot move the previous run's logs aside", error=str(e))
    for path in log_dirs:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            return f"mkdir {e.filename or path}: {go_errno(e)}"
    return None


def sandbox_failed(events: EventRecorder, pod: Pod, error: str, log: Any) -> None:
    """kubelet: kuberuntime_sandbox.go createPodSandbox makes the pod's log directory and
    reports a failure as FailedCreatePodSandBox. Here the pod goes on: each container's
    start then fails on its log file (RunContainerError, with the restart policy and
    backoff), so the pod's status says what is wrong and nothing else is touched."""
    message = f"Failed to create pod sandbox: create pod log directory: {error}"
    events.record(pod, reason="FailedCreatePodSandBox", message=message, type=ev.WARNING)
    log.warning("cannot create the pod's log directory", error=error)
