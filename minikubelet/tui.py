"""`minikubelet top`: a live terminal view of a running daemon, drawn with rich (the `tui`
extra).

Every second it polls `GET /api/v1/pods` and `GET /debug/timeline?since=SEQ` (read-only),
shapes them into rows (core/toprows.py) and redraws: a table of containers (state, ready,
restarts, the last probe result and the time to the next run, the back-off countdown: `12s of
40s`) above
the text timeline of the last minutes (core/timeline.py render_text). When the daemon does not
answer it says so and keeps retrying. `q` or Ctrl-C ends it and restores the terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import ssl
import sys
import termios
import time
import tty
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from minikubelet.core import timeline
from minikubelet.core.toprows import Row, build_rows

WINDOW = 300.0  # seconds of timeline kept and shown
TIMELINE_LINES = 15


class Unreachable(Exception):
    pass


class Source:
    """The daemon's pods and the timeline's records, the records fetched incrementally."""

    def __init__(self, server: str, token: str | None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.seq = 0
        self.records: list[dict[str, Any]] = []
        self._ssl = ssl.create_default_context()
        self._ssl.check_hostname, self._ssl.verify_mode = False, ssl.CERT_NONE

    def _get(self, path: str) -> Any:
        request = urllib.request.Request(self.server + path, headers={"Accept": "application/json"})
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=3, context=self._ssl) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise Unreachable(f"{path}: HTTP {e.code}") from None
        except (OSError, ValueError) as e:
            raise Unreachable(str(getattr(e, "reason", e))) from None

    def poll(self, now: float) -> dict[str, Any]:
        """The pod list; the new records are added to `records` (older than WINDOW dropped)."""
        pods = self._get("/api/v1/pods")
        body = self._get(f"/debug/timeline?since={self.seq}")
        seq = int(body.get("seq", 0))
        if seq < self.seq:  # another daemon since: start over
            self.seq, self.records = 0, []
            body = self._get("/debug/timeline?since=0")
            seq = int(body.get("seq", 0))
        self.seq = seq
        self.records += body.get("records") or []
        self.records = [r for r in self.records if float(r.get("t", 0)) >= now - WINDOW]
        return dict(pods)


def _seconds(value: float) -> str:
    return f"{value:.0f}s"


def render(
    rows: list[Row],
    records: list[dict[str, Any]],
    *,
    server: str,
    error: str | None = None,
) -> RenderableType:
    """The screen: a header, the containers' table, the recent timeline."""
    header = Text(f"minikubelet top  {server}  (q to quit)", style="bold")
    if error is not None:
        header.append(f"\ndaemon not reachable: {error} (retrying)", style="bold red")
    table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
    # fits 80 columns; on a narrower terminal the long cells wrap, none shrinks to nothing
    table.add_column("POD/CONTAINER", min_width=8, overflow="fold")
    table.add_column("STATE", min_width=16, overflow="fold")
    table.add_column("READY", no_wrap=True)
    table.add_column("RESTARTS", no_wrap=True)
    table.add_column("PROBE", min_width=8)
    table.add_column("NEXT", min_width=6)
    table.add_column("BACK-OFF", min_width=10)
    for row in rows:
        state_style = "green" if row.state == "Running" else "yellow"
        if "BackOff" in row.state or "Error" in row.state:
            state_style = "red"
        ns, _, name = row.pod.partition("/")
        who = (name if ns == "default" else row.pod) + "/" + row.container
        nxt = ""
        if row.next_probe is not None:
            nxt = f"{row.next_probe_type} {_seconds(row.next_probe)}"
        backoff = ""
        if row.backoff_left is not None:
            backoff = f"{_seconds(row.backoff_left)} of {row.backoff_delay:g}s"
        table.add_row(
            who + (" (init)" if row.init else ""),
            Text(row.state, style=state_style),
            Text("yes", style="green") if row.ready else Text("no", style="red"),
            str(row.restarts),
            row.last_probe or "",
            nxt,
            Text(backoff, style="red"),
        )
    if not rows:
        table.add_row("(no pods)", *[""] * 6)
    lines = timeline.render_text(records).splitlines() if records else []
    story = "\n".join(lines[-TIMELINE_LINES:]) or "(nothing in the last minutes)"
    minutes = f"{WINDOW / 60:g}"
    return Group(header, table, Panel(story, title=f"timeline, last {minutes} min", expand=True))


@contextlib.contextmanager
def _keys() -> Iterator[int | None]:
    """stdin in cbreak mode (keys arrive one by one, unechoed); restored however it ends.
    Yields stdin's fd, or None when stdin is not a terminal."""
    fd = sys.stdin.fileno() if sys.stdin is not None else -1
    if fd < 0 or not os.isatty(fd):
        yield None
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield fd
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _wait_key(fd: int | None, timeout: float) -> str:
    if fd is None:
        time.sleep(timeout)
        return ""
    ready, _, _ = select.select([fd], [], [], timeout)
    return os.read(fd, 32).decode("utf-8", "replace") if ready else ""


def run(server: str, token: str | None, *, interval: float = 1.0) -> int:
    """The live view until `q` or Ctrl-C; exit 0."""
    source = Source(server, token)
    # the terminal's own size, followed as it changes: not a COLUMNS/LINES exported by a parent
    environ = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    console = Console(_environ=environ)
    try:
        with _keys() as fd, Live(console=console, screen=True, auto_refresh=False) as live:
            pods: dict[str, Any] = {}
            while True:
                now = time.time()
                error = None
                try:
                    pods = source.poll(now)
                except Unreachable as e:
                    error = str(e)  # the last pods seen stay on the screen
                rows = build_rows(pods, source.records, now)
                live.update(render(rows, source.records, server=server, error=error))
                live.refresh()
                if "q" in _wait_key(fd, interval).lower():
                    return 0
    except KeyboardInterrupt:
        return 0
