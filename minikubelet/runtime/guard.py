"""Two guards above the daemon, so that nothing it started survives it, in any order of kills.

A SIGKILLed daemon runs no code, and its orphans are re-parented to the nearest living
subreaper above it. So `minikubelet run` forks before anything starts, into a chain of three
processes, each a subreaper:

    outer guard (the pid the user sees)  ->  inner guard  ->  daemon  ->  containers ...

The guards are forks of the CLI process (no new interpreter: start-up stays fast); the inner
guard and the daemon each start a session of their own, so a signal to the CLI's process
group (`kill -9 -PGID`, a terminal's Ctrl-C) reaches the outer guard only, which forwards
SIGINT, SIGTERM, SIGHUP and SIGQUIT to the daemon. Each guard holds a pidfd of the daemon and
waits on it. When the daemon dies, every orphan of its tree falls to the inner guard (or, if
the inner guard is dead, to the outer one), and the guard that sees the death freezes its
whole subtree with SIGSTOP until a scan finds no new process (a forking process cannot outrun
it), SIGKILLs it, reaps it, and exits with the daemon's status. The outer guard sweeps through
a stopped inner guard's subtree too, so killing or stopping one guard first leaves the other.

The daemon watches both guards through pidfds (`Guarded`): if the outer guard dies (the user
killed `minikubelet run`), the daemon kills everything at once and exits; if the inner guard
dies, it logs an error and runs on under the outer guard.

Standard library only: the guards run nothing else.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import NoReturn

from minikubelet.runtime import proctree

PR_SET_CHILD_SUBREAPER = 36
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
INNER_EXIT_WAIT = 3.0  # the outer guard waits this long for the inner one to finish
REAP_WAIT = 10.0  # then reaps what it killed for at most this long


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the daemon knows of its guards: their pids and pidfds (readable once dead)."""

    outer_pid: int
    outer_fd: int
    inner_pid: int
    inner_fd: int


def available() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "pidfd_open") and hasattr(os, "fork")


def _subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def sweep_tree(root: int, spare: frozenset[int] = frozenset()) -> int:
    """Freezes every descendant of root (but `spare`, whose own descendants are swept) until
    no new one appears, then SIGKILLs them all."""
    return proctree.freeze_and_kill(lambda stopped: proctree.descendants(root) - stopped - spare)


def _reap_all(deadline: float) -> None:
    """Reaps every child left (those just killed, and the orphans they leave us)."""
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def _try_wait(pid: int) -> int | None:
    """The wait status of a child that has exited, None if it is not (or no more) ours."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status if got == pid else None


def _wait_child(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if got == pid:
            return status
        time.sleep(0.01)
    return None


def _exit_like(status: int | None) -> NoReturn:
    """Exits as the daemon did: the same code, or killed by the same signal."""
    if status is not None and os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL has no handler to reset
            signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(OSError, ValueError):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status) if status is not None else 1)


def _guard(daemon: int, daemon_fd: int | None, inner: int | None) -> NoReturn:
    """The guard's life: forward signals to the daemon, wait for it to die, sweep, exit.
    `inner` is the outer guard's child (the inner guard); None for the inner guard itself."""

    def forward(sig: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            os.kill(daemon, sig)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if daemon_fd is not None:
        while True:
            try:
                readable, _, _ = select.select([daemon_fd], [], [])
            except InterruptedError:
                continue
            if readable:
                break
    for sig in FORWARDED:
        signal.signal(sig, signal.SIG_IGN)
    status = _try_wait(daemon)  # ours if we are its parent (or it was re-parented to us)
    me = os.getpid()
    if inner is None:
        sweep_tree(me)
    else:
        sweep_tree(me, frozenset({inner}))
        inner_status = _wait_child(inner, INNER_EXIT_WAIT)
        if inner_status is None:  # stopped, or stuck: its subtree is swept already
            with contextlib.suppress(OSError):
                os.kill(inner, signal.SIGKILL)
            _wait_child(inner, INNER_EXIT_WAIT)
        elif status is None:
            status = inner_status  # the inner guard exits as the daemon did
    _reap_all(time.monotonic() + REAP_WAIT)
    _exit_like(status)


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


def start() -> Guarded:
    """Forks the guards; returns only in the daemon, in a session of its own. Call it before
    any thread or event loop exists."""
    outer = os.getpid()
    _subreaper()
    read_fd, write_fd = os.pipe()
    inner = os.fork()
    if inner:  # the outer guard
        os.close(write_fd)
        raw = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(read_fd, 64):
                raw += chunk
        os.close(read_fd)
        try:
            daemon = int(raw)
        except ValueError:  # the inner guard died before forking the daemon
            _reap_all(time.monotonic() + REAP_WAIT)
            os._exit(1)
        _guard(daemon, _pidfd(daemon), inner)
    # the inner guard
    os.close(read_fd)
    os.setsid()
    _subreaper()
    inner = os.getpid()
    daemon = os.fork()
    if daemon:
        with contextlib.suppress(OSError):
            os.write(write_fd, b"%d" % daemon)
        os.close(write_fd)
        _guard(daemon, _pidfd(daemon), None)
    # the daemon
    os.close(write_fd)
    os.setsid()
    for sig in FORWARDED:
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    inner_fd, outer_fd = _pidfd(inner), _pidfd(outer)
    if inner_fd is None or outer_fd is None or os.getppid() != inner:
        os._exit(1)  # a guard died while we forked: start nothing
    return Guarded(outer_pid=outer, outer_fd=outer_fd, inner_pid=inner, inner_fd=inner_fd)
