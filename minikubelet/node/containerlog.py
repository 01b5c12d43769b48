"""A container instance's log as its start opens it: the CRI log writer, the lines lost
when writes fail, and the echo to the daemon's console (without the container's own HTTP
probes' access-log lines)."""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

from minikubelet.core import events as ev
from minikubelet.core.spec import Container, HTTPGetAction, ProbeType
from minikubelet.probe.goclient import go_errno
from minikubelet.runtime import metrics
from minikubelet.runtime.crilog import LogWriter
from minikubelet.runtime.process import StartError

if TYPE_CHECKING:
    from minikubelet.node.instance import Instance
    from minikubelet.node.supervisor import ContainerSupervisor


def open_log(sup: ContainerSupervisor, inst: Instance) -> LogWriter:
    """containerd opens the container's log file when it starts the task (cri
    container_start.go createContainerLoggers); failing that fails the start."""
    s = sup.pod.settings
    try:
        return LogWriter(
            inst.log_path,
            max_bytes=s.log_max_bytes,
            max_files=s.log_max_files,
            echo=functools.partial(_echo, sup),
            on_loss=functools.partial(_log_lost, sup, inst),
            on_loss_end=functools.partial(_log_loss_ended, sup, inst),
        )
    except OSError as e:
        op = "open" if e.filename in (None, str(inst.log_path)) else "mkdir"
        where = e.filename or inst.log_path
        raise StartError(
            "failed to create container loggers: failed to create and open log file: "
            f"{op} {where}: {go_errno(e)}"
        ) from e


def _log_lost(
    sup: ContainerSupervisor, inst: Instance, lines: int, error: str, first: bool
) -> None:
    """Counted always; said once per run of failed writes (disk full, read-only)."""
    p = sup.pod.pod
    metrics.LOG_LINES_DROPPED.labels(p.name, p.namespace, sup.container.name).inc(lines)
    if not first:
        return
    sup.event(
        "LogLinesDropped",
        f"Cannot write the log of container {sup.container.name} ({error}): its output "
        "is dropped until a write succeeds again",
        ev.WARNING,
    )
    sup.log.warning("container log lines dropped", path=str(inst.log_path), error=error)


def _log_loss_ended(sup: ContainerSupervisor, inst: Instance, lines: int) -> None:
    sup.log.info("container log lines were dropped", path=str(inst.log_path), lines=lines)


def _echo(sup: ContainerSupervisor, stream: str, line: bytes) -> None:
    settings = sup.pod.settings
    if settings.echo_logs:
        text = line.decode("utf-8", "replace")
        if not settings.echo_probe_logs and _is_probe_request(sup.container, text):
            return  # a probe's access-log line: in the container's log, not the console
        with contextlib.suppress(OSError, ValueError):  # a closed or full console
            print(f"[{sup.pod.pod.name}/{sup.container.name}] {text}", flush=False)


def probe_request_markers(container: Container) -> tuple[str, ...]:
    """What an access-log line of one of the container's HTTP probes holds: `GET /path `."""
    found = []
    for ptype in (ProbeType.STARTUP, ProbeType.READINESS, ProbeType.LIVENESS):
        probe = container.probe(ptype)
        action = probe.handler if probe is not None else None
        if isinstance(action, HTTPGetAction):
            found.append(f"GET {action.path or '/'} ")
    return tuple(dict.fromkeys(found))


def _is_probe_request(container: Container, text: str) -> bool:
    return any(marker in text for marker in probe_request_markers(container))
