"""Go's text formats, once each: what the kubelet and the API server print through Go's
standard library, so minikubelet's messages read exactly as theirs.

- `quote`: `%q` / `strconv.Quote` (escapes by `unicode.IsPrint`: U+00A0 and U+E0001 are
  escaped, as Go escapes them).
- `duration`: `time.Duration.String()` (`0s`, `500ms`, `1.5s`, `1m20s`, `5m0s`, `1h0m0s`).
- `rfc3339`: `metav1.Time` (whole seconds, UTC); `rfc3339_nano`: Go's `RFC3339Nano` (fraction
  without trailing zeros); `rfc3339_nano_fixed`: the kubelet's `RFC3339NanoFixed` (nine digits,
  as `kubectl logs --timestamps` prints and the CRI log writer writes).

Pure: no clock is read here; callers pass the time.
"""

from __future__ import annotations

import time
from datetime import datetime

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def quote(text: str) -> str:
    """Go's `strconv.Quote`."""
    return '"' + "".join(_quote_char(ch) for ch in text) + '"'


def _quote_char(ch: str) -> str:
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    # Python's isprintable() and Go's unicode.IsPrint agree: letters, marks, numbers,
    # punctuation, symbols and the ASCII space; every other space and control is escaped.
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def duration(seconds: float) -> str:
    """Go's `time.Duration.String()`."""
    nanos = round(seconds * 1_000_000_000)
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos == 0:
        return "0s"
    if nanos < 1_000_000_000:
        return sign + _sub_second(nanos)
    hours, rest = divmod(nanos, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = _fraction(rest, 9) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _sub_second(nanos: int) -> str:
    if nanos < 1_000:
        return f"{nanos}ns"
    if nanos < 1_000_000:
        return _fraction(nanos, 3) + "µs"
    return _fraction(nanos, 6) + "ms"


def _fraction(value: int, digits: int) -> str:
    """`value` / 10**digits with the fractional part's trailing zeros dropped (Go fmtFrac)."""
    whole, frac = divmod(value, 10**digits)
    frac_text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{frac_text}" if frac_text else str(whole)


def rfc3339(ts: float) -> str:
    """`metav1.Time`: `2024-05-01T12:00:00Z`, truncated to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts // 1)))


def parse_rfc3339(text: str) -> float:
    """An RFC 3339 time (`2026-01-02T03:04:05Z`, with or without fractions or an offset) in
    seconds since the epoch; ValueError if it is not one."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rfc3339_nano(ts: float) -> str:
    """Go's `RFC3339Nano`: fraction digits without trailing zeros, none for a whole second.
    A float carries about a microsecond at today's epoch, so that is the precision kept."""
    micros = round(ts * 1_000_000)
    seconds, fraction = divmod(micros, 1_000_000)
    digits = f"{fraction:06d}".rstrip("0")
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{digits}Z" if digits else f"{text}Z"


def rfc3339_nano_fixed(ns: int) -> str:
    """The kubelet's `RFC3339NanoFixed` from nanoseconds since the epoch:
    `2026-11-21T19:16:52.123456789Z`."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def human_duration(seconds: float) -> str:
    """apimachinery `duration.HumanDuration`."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    return _human_hours(s // 3600, minutes % 60)


def _human_hours(hours: int, minutes: int) -> str:
    days = hours // 24
    if hours < 8:
        return f"{hours}h" if minutes == 0 else f"{hours}h{minutes}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{days}d"
    if hours < 24 * 365 * 8:
        return f"{days // 365}y" if days % 365 == 0 else f"{days // 365}y{days % 365}d"
    return f"{days // 365}y"
