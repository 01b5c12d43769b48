"""A terminated container's message, as the kubelet reads it (kuberuntime_container.go
getTerminationMessage): the container's `terminationMessagePath` file, else, with
`terminationMessagePolicy: FallbackToLogsOnError` and a non-zero exit, the tail of its log.

The reads are small and bounded (4 KiB of the file; the last 80 lines and 2 KiB of the log).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from minikubelet.core.spec import Container
from minikubelet.runtime.crilog import parse_line

FILE_BYTES = 4096  # kubelet: MaxContainerTerminationMessageLength
LOG_LINES = 80  # kubelet: MaxContainerTerminationMessageLogLines
LOG_BYTES = 2048  # kubelet: MaxContainerTerminationMessageLogLength
DEFAULT_PATH = "/dev/termination-log"


def message(container: Container, log_files: tuple[Path, ...], *, exit_code: int) -> str:
    path = container.termination_message_path
    if path and path != DEFAULT_PATH:
        with contextlib.suppress(OSError):
            with open(path, "rb") as f:
                text = f.read(FILE_BYTES).decode("utf-8", "replace")
            if text:
                return text
    if container.termination_message_policy == "FallbackToLogsOnError" and exit_code != 0:
        return tail_log_text(log_files, lines=LOG_LINES, max_bytes=LOG_BYTES)
    return ""


def tail_log_text(files: tuple[Path, ...], *, lines: int, max_bytes: int) -> str:
    """The last lines of an instance's CRI log as plain text."""
    texts: list[str] = []
    for path in reversed(files):
        with contextlib.suppress(OSError):
            raw = path.read_bytes()[-(max_bytes * 4 + 4096) :]
            texts = [_text(line) for line in raw.splitlines()] + texts
        if len(texts) >= lines:
            break
    text = "\n".join(texts[-lines:])
    encoded = text.encode()[-max_bytes:]
    return encoded.decode("utf-8", "ignore")


def _text(raw: bytes) -> str:
    line = parse_line(raw)
    return line.text.decode("utf-8", "replace") if line is not None else ""
