"""Reading container logs back from CRI-format files, as the kubelet's `ReadLogs` does.

Each file line is `<RFC3339Nano> <stdout|stderr> <F|P> <text>`; `P` pieces are joined with the
following pieces into one output line (the timestamp prefix, when asked for, only starts a line).
`tailLines` counts file lines from the end, `since` skips older lines, `limitBytes` cuts the
output at exactly that many bytes, `stream` keeps one stream. Files are read oldest first.

`follow` keeps reading the live file until its instance has stopped and the end is read. The
file grows under another process, so it is checked on a short timer (the kubelet uses fsnotify);
a rotation (the live path now names another file) is noticed, the old file read to its end and
the new one opened from its start.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from minikubelet.api.registry import LogSource

FOLLOW_INTERVAL = 0.2
_BLOCK = 64 * 1024
_TIME = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")


@dataclass(frozen=True, slots=True)
class LogOptions:
    follow: bool = False
    previous: bool = False
    timestamps: bool = False
    tail_lines: int | None = None
    since_ns: int | None = None
    limit_bytes: int | None = None
    stream: str | None = None  # "stdout" or "stderr"; None for both


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


def format_time_ns(ns: int) -> str:
    """The kubelet's `timeFormatOut`: RFC 3339 with exactly nine fraction digits, UTC."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:09d}Z"


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
        f = path.open("rb")
        try:
            f.seek(offset)
            while not self._formatter.exhausted and not self._gone():
                if await self._drain(f, final=False):
                    continue
                if _rotated(path, f):
                    await self._drain(f, final=True)
                    f.close()
                    f = path.open("rb")
                    continue
                if not _still_live(path, refresh):
                    await self._drain(f, final=True)
                    return
                await asyncio.sleep(FOLLOW_INTERVAL)
        finally:
            f.close()


def _rotated(path: Path, f: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
    except FileNotFoundError:
        return False


def _still_live(path: Path, refresh: SourceNow) -> bool:
    try:
        source = refresh()
    except LookupError:
        return False
    return source.running and bool(source.files) and source.files[-1] == path
