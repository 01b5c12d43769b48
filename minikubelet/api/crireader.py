"""Reading container logs back from CRI-format files, as the kubelet's `ReadLogs` does.

Each file line is `<RFC3339Nano> <stdout|stderr> <F|P> <text>`; `P` pieces are joined with the
following pieces into one output line (the timestamp prefix, when asked for, only starts a line).
`tailLines` counts file lines from the end, `since` skips older lines, `limitBytes` cuts the
output at exactly that many bytes, `stream` keeps one stream. Files are read oldest first.

`follow` keeps reading the live file until its instance has stopped and the end is read. It
follows the file it has open by identity (inode), not by name: when that file has been rotated
it is read to its end and its successor, the next newer file of the instance (however many
rotations happened meanwhile), is opened from its start, so no line still on disk is skipped
(the kubelet's `ReadLogs` waits on fsnotify and reopens the same way). It wakes when the
writer has written (`crilog.write_waiter`), with a short timer as the fallback and for noticing
that the instance stopped.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from minikubelet.api.registry import LogSource
from minikubelet.core.gotext import rfc3339_nano_fixed as format_time_ns
from minikubelet.runtime.aio import wait_event
from minikubelet.runtime.crilog import CriLine, parse_line, write_waiter

FOLLOW_INTERVAL = 0.2
_BLOCK = 64 * 1024


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None
    stream: str | None = None  # "stdout" or "stderr"; None for both


class LogFormatter:
    """Turns CRI lines into output bytes; tracks the byte limit and partial lines."""

    def __init__(self, options: LogOptions) -> None:
        self._options = options
        self._remaining = options.limit_bytes
        self._line_start = {"stdout": True, "stderr": True}

    @property
    def exhausted(self) -> bool:
        return self._remaining is not None and self._remaining <= 0

    def render(self, line: CriLine) -> bytes:
        opts = self._options
        if opts.stream is not None and line.stream != opts.stream:
            return b""
        if opts.since_ns is not None and line.time_ns < opts.since_ns:
            return b""
        out = line.text if line.partial else line.text + b"\n"
        if opts.timestamps and self._line_start[line.stream]:
            out = format_time_ns(line.time_ns).encode() + b" " + out
        self._line_start[line.stream] = not line.partial
        if self._remaining is not None:
            out = out[: max(self._remaining, 0)]
            self._remaining -= len(out)
        return out


def tail_start(files: tuple[Path, ...], lines: int) -> tuple[int, int]:
    """(file index, byte offset) where the last `lines` file lines begin."""
    if not files:
        return 0, 0
    if lines == 0:
        return len(files) - 1, _size(files[-1])
    for index in range(len(files) - 1, -1, -1):
        offset, lines = _tail_in_file(files[index], lines)
        if lines == 0:
            return index, offset
    return 0, 0


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tail_in_file(path: Path, lines: int) -> tuple[int, int]:
    """Offset where the last `lines` lines of one file begin, and how many lines are still
    wanted from earlier files (0 when this file had enough)."""
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            if end == 0:
                return 0, lines
            f.seek(end - 1)
            position = end - 1 if f.read(1) == b"\n" else end  # a final newline ends, not starts
            found = 0
            while position > 0:
                start = max(0, position - _BLOCK)
                f.seek(start)
                block = f.read(position - start)
                index = len(block)
                while (index := block.rfind(b"\n", 0, index)) >= 0:
                    found += 1
                    if found == lines:
                        return start + index + 1, 0
                position = start
            return 0, lines - found - 1
    except FileNotFoundError:
        return 0, lines


Write = Callable[[bytes], Awaitable[None]]
SourceNow = Callable[[], LogSource]


class LogReader:
    """Streams one instance's log to `write`. `source()` re-reads where the log lives and
    whether the instance still runs (for follow); `gone()` says the client has left."""

    def __init__(self, options: LogOptions, write: Write, gone: Callable[[], bool]) -> None:
        self._options = options
        self._write = write
        self._gone = gone
        self._formatter = LogFormatter(options)

    async def run(self, source: LogSource, refresh: SourceNow) -> None:
        files = source.files
        first, offset = (0, 0)
        if self._options.tail_lines is not None:
            first, offset = tail_start(files, self._options.tail_lines)
        for index in range(first, len(files)):
            start = offset if index == first else 0
            if index == len(files) - 1 and self._options.follow and source.running:
                await self._follow(files[index], start, refresh)
                return
            await self._read_file(files[index], start)
            if self._formatter.exhausted:
                return

    async def _read_file(self, path: Path, offset: int) -> None:
        try:
            with path.open("rb") as f:
                f.seek(offset)
                await self._drain(f, final=True)
        except FileNotFoundError:
            return

    async def _drain(self, f: BinaryIO, *, final: bool) -> bool:
        """Emits every complete line from `f`'s position; leaves an unfinished last line for
        later unless `final`. Returns whether anything was read."""
        start = f.tell()
        data = f.read()
        cut = len(data) if final else data.rfind(b"\n") + 1
        f.seek(start + cut)
        out = bytearray()
        for raw in data[:cut].splitlines():
            line = parse_line(raw)
            if line is not None:
                out += self._formatter.render(line)
            if self._formatter.exhausted:
                break
        if out:
            await self._write(bytes(out))
        return cut > 0

    async def _follow(self, path: Path, offset: int, refresh: SourceNow) -> None:
        f: BinaryIO = path.open("rb")
        try:
            f.seek(offset)
            with write_waiter(path) as written:
                while not self._formatter.exhausted and not self._gone():
                    written.clear()
                    if await self._drain(f, final=False):
                        continue
                    successor = _successor(path, f)
                    if successor is not None:
                        await self._drain(f, final=True)
                        f.close()
                        f = successor
                        continue
                    if not _still_live(path, refresh):
                        await self._drain(f, final=True)
                        return
                    await wait_event(written, FOLLOW_INTERVAL)
        finally:
            f.close()


def instance_files(path: Path) -> list[tuple[Path, int]]:
    """The files of the instance whose live file is `path`, oldest first, with their inodes:
    `<path>.<n>` (the higher n, the older), then `path`."""
    prefix = path.name + "."
    rotated: list[tuple[int, Path]] = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(path.parent):
            suffix = entry.name[len(prefix) :]
            if entry.name.startswith(prefix) and suffix.isdigit():
                rotated.append((int(suffix), Path(entry.path)))
    files = [p for _, p in sorted(rotated, reverse=True)] + [path]
    found = []
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            found.append((file, file.stat().st_ino))
    return found


def _successor(path: Path, f: BinaryIO) -> BinaryIO | None:
    """The file written after the one open in `f`, opened, once `f`'s file is no longer the
    live one; None while it is (after rewinding it if it was truncated in place)."""
    status = os.fstat(f.fileno())
    files = instance_files(path)
    inodes = [inode for _, inode in files]
    if status.st_ino in inodes:
        index = inodes.index(status.st_ino)
        if index == len(files) - 1:
            if status.st_size < f.tell():  # truncated in place (a single file kept)
                f.seek(0)
            return None
        candidates = files[index + 1 :]
    else:  # rotated past the last kept file: everything on disk is newer
        candidates = files
    for candidate, inode in candidates:
        try:
            opened = candidate.open("rb")
        except FileNotFoundError:
            continue
        if os.fstat(opened.fileno()).st_ino == inode:
            return opened
        opened.close()  # renamed meanwhile; the next look finds it under its new name
        return None
    return None


def _still_live(path: Path, refresh: SourceNow) -> bool:
    try:
        source = refresh()
    except LookupError:
        return False
    return source.running and bool(source.files) and source.files[-1] == path
