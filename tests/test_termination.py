"""The terminated container's message: its termination file, else (FallbackToLogsOnError and a
non-zero exit) the tail of its CRI log, bounded as the kubelet bounds it."""

from __future__ import annotations

from pathlib import Path

from minikubelet.core.spec import Container
from minikubelet.node import termination
from minikubelet.runtime.crilog import LogWriter


def _log(path: Path, lines: list[bytes]) -> tuple[Path, ...]:
    w = LogWriter(path)
    for line in lines:
        w.feed("stdout", line + b"\n")
    w.close()
    return (path,)


def test_the_file_wins_and_is_bounded(tmp_path: Path) -> None:
    msg = tmp_path / "msg"
    msg.write_bytes(b"x" * 5000)
    c = Container(name="app", termination_message_path=str(msg))
    assert termination.message(c, (), exit_code=1) == "x" * termination.FILE_BYTES


def test_fallback_to_logs_only_on_error(tmp_path: Path) -> None:
    files = _log(tmp_path / "0.log", [b"line %d" % i for i in range(100)])
    c = Container(name="app", termination_message_policy="FallbackToLogsOnError")
    text = termination.message(c, files, exit_code=2)
    assert text.splitlines()[-1] == "line 99"
    assert len(text.splitlines()) <= termination.LOG_LINES
    assert len(text.encode()) <= termination.LOG_BYTES
    assert termination.message(c, files, exit_code=0) == ""
    plain = Container(name="app")
    assert termination.message(plain, files, exit_code=2) == ""
