"""Container logs in the CRI format, with a size cap and rotation.

One file per container instance, named as the kubelet names them, `<restartCount>.log` under
`<state-dir>/pods/<ns>_<pod>_<uid>/<container>/`. Each line is
`<RFC3339Nano UTC> <stdout|stderr> <F|P> <text>`: `F` a full line, `P` a piece of a line longer
than `MAX_LINE` (the runtime's split), as containerd writes them. When the live file passes
`max_bytes` it is renamed to `.1` (older ones shift to `.2`, ...), keeping `max_files` files in
all, like the kubelet's containerLogMaxSize / containerLogMaxFiles.

A write that fails (the disk is full, the file system went read-only, the file cannot be
reopened after a rotation) never raises: the lines are dropped and counted, `on_loss` hears of
each loss (and whether it starts a run of them), and `on_loss_end` how many were lost when the
run ends (a later write succeeds, or the writer closes). The container goes on, and its exit
is recorded, whatever the disk does.

This module owns the writing side only; the API reads the files back. A reader that follows
a file asks `write_waiter(path)` for an event the writer sets after each write (and when it
closes), so it wakes on new lines rather than on a timer: writer and readers share the one
event loop of the daemon.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import FileIO
from pathlib import Path

from minikubelet.core.gotext import rfc3339_nano_fixed

MAX_LINE = 16 * 1024


def rfc3339_nano(ts: float | None = None) -> str:
    """The CRI log line's stamp: `2026-11-21T19:16:52.123456789Z` (nine digits), now by default."""
    return rfc3339_nano_fixed(time.time_ns() if ts is None else int(ts * 1e9))


def rotated(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")


def log_files(path: Path, max_files: int) -> tuple[Path, ...]:
    """The files of one instance, oldest first, the live one last."""
    older = [rotated(path, i) for i in range(max_files - 1, 0, -1)]
    return tuple(p for p in [*older, path] if _exists(p))


def _exists(path: Path) -> bool:
    """`Path.exists`, False too where the path cannot be looked at (name too long, EACCES)."""
    try:
        return path.exists()
    except OSError:
        return False


def remove_logs(path: Path, max_files: int) -> None:
    """Deletes an instance's files, once nothing can ask for them any more."""
    for file in log_files(path, max_files):
        with contextlib.suppress(OSError):
            file.unlink()


_waiters: dict[Path, set[asyncio.Event]] = {}


@contextlib.contextmanager
def write_waiter(path: Path) -> Iterator[asyncio.Event]:
    """An event set whenever the writer of `path` has written (or closed) it."""
    event = asyncio.Event()
    _waiters.setdefault(path, set()).add(event)
    try:
        yield event
    finally:
        waiting = _waiters.get(path, set())
        waiting.discard(event)
        if not waiting:
            _waiters.pop(path, None)


def _notify(path: Path) -> None:
    for event in _waiters.get(path, ()):
        event.set()


LossCallback = Callable[[int, str, bool], None]  # (lines dropped, the error, starts a run)
LossEndCallback = Callable[[int], None]  # (lines dropped in the run that just ended)


class LogWriter:
    """Writes one instance's stdout and stderr lines to its file. Not thread-safe; used from
    the event loop only. `echo(stream, text)` gets every complete line too (the console).

    The constructor raises OSError when the file cannot be created (the caller's start
    error); after that nothing raises. `dropped_lines` counts every line lost."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 10 * 1024 * 1024,
        max_files: int = 5,
        echo: Callable[[str, bytes], None] | None = None,
        on_loss: LossCallback | None = None,
        on_loss_end: LossEndCallback | None = None,
    ) -> None:
        self.path = path
        self._max_bytes = max(max_bytes, 1024)
        self._max_files = max(max_files, 1)
        self._echo = echo
        self._on_loss = on_loss
        self._on_loss_end = on_loss_end
        path.parent.mkdir(parents=True, exist_ok=True)
        # unbuffered: one write(2) per batch, and nothing held back when a write fails
        self._file: FileIO | None = open(path, "ab", buffering=0)  # noqa: SIM115
        self._size = self._file.tell()
        self._pending: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        self.dropped_lines = 0
        self._run_dropped = 0  # lines lost since the last write that succeeded
        self._written = 0  # of the batch being written

    def feed(self, stream: str, data: bytes) -> None:
        """Takes a chunk as read from the pipe; writes every complete line of it. The lines
        of one chunk were read at the same instant and share its timestamp, which keeps a
        flood of short lines cheap (one clock reading and one write per chunk)."""
        buf = self._pending[stream] + data
        lines = buf.split(b"\n")
        self._pending[stream] = lines.pop()
        stamp = rfc3339_nano().encode()
        full = b"%s %s F " % (stamp, stream.encode())
        out: list[bytes] = []
        for line in lines:
            if len(line) <= MAX_LINE:
                out += (full, line, b"\n")
                continue
            pieces = self._split(line)
            out += [self._line(stream, piece, b"P", stamp) for piece in pieces[:-1]]
            out.append(self._line(stream, pieces[-1], b"F", stamp))
        while len(self._pending[stream]) > MAX_LINE:
            piece, self._pending[stream] = (
                self._pending[stream][:MAX_LINE],
                self._pending[stream][MAX_LINE:],
            )
            out.append(self._line(stream, piece, b"P", stamp))
        if out:
            self._write(b"".join(out))
        if self._echo is not None:
            for line in lines:
                self._echo(stream, line)

    def close(self) -> None:
        """Writes what is left of an unterminated last line as a full line, then closes."""
        for stream, rest in self._pending.items():
            if rest:
                self._write(self._line(stream, rest, b"F"))
                if self._echo is not None:
                    self._echo(stream, rest)
        self._pending = {"stdout": b"", "stderr": b""}
        self._close_file()
        if self._run_dropped:
            self._end_loss()
        _notify(self.path)

    @staticmethod
    def _split(line: bytes) -> list[bytes]:
        return [line[i : i + MAX_LINE] for i in range(0, len(line), MAX_LINE)] or [b""]

    @staticmethod
    def _line(stream: str, text: bytes, tag: bytes, stamp: bytes | None = None) -> bytes:
        stamp = stamp if stamp is not None else rfc3339_nano().encode()
        return b"%s %s %s %s\n" % (stamp, stream.encode(), tag, text)

    def _write(self, data: bytes) -> None:
        """Writes whole lines; what cannot be written is dropped and counted."""
        try:
            self._write_all(data)
        except OSError as e:
            self._lost(data, e)
            return
        if self._run_dropped:
            self._end_loss()
        _notify(self.path)

    def _write_all(self, data: bytes) -> None:
        """Rotates first when the lines would pass the cap; a batch larger than the cap is
        cut at line ends so that no file grows past it. `_written` follows how much of
        `data` is in the file (on an error, the rest was not written)."""
        pos, end, self._written = 0, len(data), 0
        while pos < end:
            if self._file is None:
                self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
                self._size = self._file.tell()
            if self._size + (end - pos) > self._max_bytes and self._size > 0:
                self._rotate()
                continue
            stop = end
            if end - pos > self._max_bytes:
                stop = (data.rfind(b"\n", pos, pos + self._max_bytes) + 1) or pos + self._max_bytes
            written = self._file.write(memoryview(data)[pos:stop]) or 0
            self._size += written
            pos += written
            self._written = pos

    def _lost(self, data: bytes, error: OSError) -> None:
        lines = data.count(b"\n", self._written)
        torn = self._written - (data.rfind(b"\n", 0, self._written) + 1)
        if torn:
            self._drop_torn_line(torn)  # a line cut short is lost whole: the file stays CRI
        self.dropped_lines += lines
        first = self._run_dropped == 0
        self._run_dropped += lines
        if self._on_loss is not None:
            self._on_loss(lines, f"{error.strerror or error}", first)

    def _drop_torn_line(self, length: int) -> None:
        """Truncating frees space, so this works on a full disk too."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._file.fileno(), self._size - length)
            self._size -= length

    def _end_loss(self) -> None:
        lines, self._run_dropped = self._run_dropped, 0
        if self._on_loss_end is not None:
            self._on_loss_end(lines)

    def _close_file(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _rotate(self) -> None:
        self._close_file()
        if self._max_files <= 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self._max_files - 1, 1, -1):
                if rotated(self.path, i - 1).exists():
                    os.replace(rotated(self.path, i - 1), rotated(self.path, i))
            os.replace(self.path, rotated(self.path, 1))
        self._file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self._size = 0


@dataclass(frozen=True, slots=True)
class LogSource:
    """Where one container instance's CRI-format log lives: files oldest first (rotated
    ones before the live one), and whether the instance is still running (for follow)."""

    files: tuple[Path, ...]
    running: bool


# --- reading a line back (the API's log reader, the termination message) ---------------

_TIME = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True, slots=True)
class CriLine:
    time_ns: int
    stream: str
    partial: bool
    text: bytes


def parse_time_ns(text: bytes) -> int | None:
    m = _TIME.match(text)
    if m is None:
        return None
    seconds = calendar.timegm(time.strptime(m[1].decode(), "%Y-%m-%dT%H:%M:%S"))
    if m[3] != b"Z":
        sign = 1 if m[3][:1] == b"+" else -1
        seconds -= sign * (int(m[3][1:3]) * 3600 + int(m[3][4:6]) * 60)
    return seconds * 1_000_000_000 + int((m[2] or b"0").ljust(9, b"0"))


def parse_line(raw: bytes) -> CriLine | None:
    """One file line (without its newline); None if it is not in the CRI format."""
    parts = raw.split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr"):
        return None
    ns = parse_time_ns(parts[0])
    if ns is None:
        return None
    tag = parts[2].split(b":")[0]
    text = parts[3] if len(parts) == 4 else b""
    return CriLine(ns, parts[1].decode(), tag == b"P", text)
