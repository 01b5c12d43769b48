"""The CRI log writer: line format, partial lines, rotation under a size cap."""

import re
from pathlib import Path

from reliability_helpers import fill, small_tmpfs

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


class Losses:
    def __init__(self) -> None:
        self.lost: list[tuple[int, str, bool]] = []
        self.ended: list[int] = []

    def writer(self, path: Path, **kwargs: int) -> LogWriter:
        return LogWriter(
            path,
            on_loss=lambda n, e, first: self.lost.append((n, e, first)),
            on_loss_end=self.ended.append,
            **kwargs,
        )


def test_a_full_device_drops_and_counts_lines_says_so_once_and_never_raises(
    tmp_path: Path,
) -> None:
    path = tmp_path / "0.log"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC
    losses = Losses()
    w = losses.writer(path)
    w.feed("stdout", b"a\nb\nc\n")
    w.feed("stderr", b"d\n" + b"x" * (MAX_LINE + 10) + b"\ntail")
    enospc = "No space left on device"
    assert losses.lost == [(3, enospc, True), (3, enospc, False)]  # a run starts once
    assert w.dropped_lines == 6  # the long line's two pieces count as two lines
    w.close()  # the unterminated tail is lost too; close does not raise
    assert w.dropped_lines == 7
    assert losses.ended == [7]


def test_writes_resume_when_space_returns(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "fs", "64k") as fs:
        losses = Losses()
        w = losses.writer(fs / "0.log", max_bytes=1024 * 1024)
        w.feed("stdout", b"before\n")
        filler = fill(fs)
        for i in range(50):
            w.feed("stdout", b"lost %d %s\n" % (i, b"y" * 200))
        assert losses.lost[0][1:] == ("No space left on device", True)
        assert losses.ended == []
        filler.unlink()
        w.feed("stdout", b"after\n")
        assert losses.ended == [w.dropped_lines]
        assert w.dropped_lines > 0
        w.close()
        texts = [text for _, _, text in parse(fs / "0.log")]
        assert texts[0] == b"before"
        assert texts[-1] == b"after"
        assert all(t.startswith((b"before", b"lost", b"after")) or t == b"" for t in texts)
        assert [first for _, _, first in losses.lost].count(True) == 1
        assert sum(n for n, _, _ in losses.lost) == w.dropped_lines
