"""The CRI log writer: line format, partial lines, rotation under a size cap."""

import re
from pathlib import Path

from minikubelet.runtime.crilog import MAX_LINE, LogWriter, log_files, write_waiter

LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z (stdout|stderr) ([FP]) (.*)$")


def parse(path: Path) -> list[tuple[bytes, bytes, bytes]]:
    out = []
    for raw in path.read_bytes().splitlines():
        m = LINE.match(raw)
        assert m, raw
        out.append((m.group(1), m.group(2), m.group(3)))
    return out


def test_lines_carry_timestamp_stream_and_tag(tmp_path: Path) -> None:
    w = LogWriter(tmp_path / "0.log")
    w.feed("stdout", b"hello\nwor")
    w.feed("stderr", b"oops\n")
    w.feed("stdout", b"ld\n")
    w.close()
    assert parse(tmp_path / "0.log") == [
        (b"stdout", b"F", b"hello"),
        (b"stderr", b"F", b"oops"),
        (b"stdout", b"F", b"world"),
    ]


def test_unterminated_last_line_is_flushed_on_close(tmp_path: Path) -> None:
    w = LogWriter(tmp_path / "0.log")
    w.feed("stdout", b"no newline")
    w.close()
    assert parse(tmp_path / "0.log") == [(b"stdout", b"F", b"no newline")]


def test_long_line_is_split_into_partials(tmp_path: Path) -> None:
    w = LogWriter(tmp_path / "0.log")
    w.feed("stdout", b"x" * (MAX_LINE * 2 + 10) + b"\n")
    w.close()
    entries = parse(tmp_path / "0.log")
    assert [tag for _, tag, _ in entries] == [b"P", b"P", b"F"]
    assert b"".join(text for _, _, text in entries) == b"x" * (MAX_LINE * 2 + 10)


def test_echo_sees_every_complete_line(tmp_path: Path) -> None:
    seen: list[tuple[str, bytes]] = []
    w = LogWriter(tmp_path / "0.log", echo=lambda s, line: seen.append((s, line)))
    w.feed("stdout", b"a\nb")
    w.feed("stdout", b"\n")
    w.close()
    assert seen == [("stdout", b"a"), ("stdout", b"b")]


def test_rotation_keeps_the_size_capped(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    w = LogWriter(path, max_bytes=4096, max_files=3)
    for i in range(2000):
        w.feed("stdout", b"line %d of a chatty container\n" % i)
    w.close()
    files = log_files(path, 3)
    assert files == (path.with_name("0.log.2"), path.with_name("0.log.1"), path)
    assert all(f.stat().st_size <= 4096 for f in files)
    assert parse(path)[-1][2] == b"line 1999 of a chatty container"


async def test_a_write_wakes_whoever_waits_on_the_file(tmp_path: Path) -> None:
    w = LogWriter(tmp_path / "0.log")
    with write_waiter(tmp_path / "0.log") as written, write_waiter(tmp_path / "1.log") as other:
        w.feed("stdout", b"no newline yet")
        assert not written.is_set()  # nothing was written
        w.feed("stdout", b"\n")
        assert written.is_set()
        written.clear()
        w.close()
        assert written.is_set()
        assert not other.is_set()
