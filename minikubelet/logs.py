"""structlog configuration: console rendering on a TTY, JSON lines otherwise, to stderr.

Standard keys: pod, container, probe, pid, restart_count, exit_code, signal, delay_s, message.
Container output does not go through here: it is echoed on stdout with a `[pod/container]`
prefix by the supervisor, and kept in the CRI log files.
"""

from __future__ import annotations

import logging
import sys

import structlog


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
        processors.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
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
