"""structlog configuration: console rendering on a TTY, JSON lines otherwise, to stderr.

Standard keys: pod, container, probe, pid, restart_count, exit_code, signal, delay_s, message.
Container output does not go through here: it is echoed on stdout with a `[pod/container]`
prefix by the supervisor, and kept in the CRI log files.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import ExcInfo


def configure(fmt: str = "auto", *, level: int = logging.INFO) -> bool:
    """`fmt`: "auto" (console on a TTY, else JSON), "console" or "json". Returns whether the
    console rendering is in use (the daemon then tells the lifecycle's story there too)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if use_console:
        colors = sys.stderr.isatty()
        processors.append(
            structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=Traceback(colors))
        )
    else:
        processors += [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # aiohttp and asyncio speak through the standard library; keep their errors visible
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s: %(message)s")
    return use_console


class Traceback:
    """The console's rendering of an exception: structlog's default, Rich's traceback when
    Rich is installed and plain text otherwise, with Rich imported only once an exception is
    rendered (minikubelet/coldstart.py imports structlog without it)."""

    def __init__(self, colors: bool) -> None:
        self.colors = colors

    def __call__(self, sio: TextIO, exc_info: ExcInfo) -> None:
        try:
            from rich.console import Console
            from rich.traceback import Traceback as RichTraceback
        except ImportError:
            structlog.dev.plain_traceback(sio, exc_info)
            return
        # as structlog.dev.RichTracebackFormatter() (and its color_system=None without
        # colors) renders it
        sio.write("\n")
        console = Console(file=sio, color_system="truecolor" if self.colors else None)
        console.print(
            RichTraceback.from_exception(
                *exc_info,
                show_locals=True,
                max_frames=100,
                width=None,
                word_wrap=True,
                extra_lines=3,
                code_width=88,
                indent_guides=True,
                locals_max_length=10,
                locals_max_string=80,
                locals_hide_dunder=True,
                locals_hide_sunder=False,
            )
        )
