"""Go's text formats, each compared with what Go's standard library prints (values taken from
`strconv.Quote`, `time.Duration.String()` and `time.Format`)."""

from __future__ import annotations

import pytest

from minikubelet.core import gotext


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\tnl\ncr\r", '"tab\\tnl\\ncr\\r"'),
        ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
        ("a\u00a0b", '"a\\u00a0b"'),  # no-break space: not printable for Go
        ("\U000e0001", '"\\U000e0001"'),  # language tag
        ("é漢🙂", '"é漢🙂"'),
        ("\u200b", '"\\u200b"'),  # zero-width space (Cf)
    ],
)
def test_quote_is_strconv_quote(text: str, quoted: str) -> None:
    assert gotext.quote(text) == quoted


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (80, "1m20s"),
        (300, "5m0s"),
        (3600, "1h0m0s"),
        (-2, "-2s"),
    ],
)
def test_duration_is_go_duration_string(seconds: float, text: str) -> None:
    assert gotext.duration(seconds) == text


def test_timestamps() -> None:
    ts = 1_764_000_000.25
    assert gotext.rfc3339(ts) == "2025-11-24T16:00:00Z"
    assert gotext.rfc3339_nano(ts) == "2025-11-24T16:00:00.25Z"
    assert gotext.rfc3339_nano(1_764_000_000.0) == "2025-11-24T16:00:00Z"
    assert gotext.rfc3339_nano_fixed(1_764_000_000_250_000_000) == "2025-11-24T16:00:00.250000000Z"
