"""The daemon's children: the subreaper, the child watcher, reaping orphans, killing what is left.

The daemon is a child subreaper, so whatever a container leaves behind is re-parented to it
and can be found and killed. asyncio's pidfd child watcher, wrapped to remember which pids
something waits for (`_OWN`), lets `reap_orphans` reap everything else without stealing an
exit status the loop awaits. At exit, `kill_all_descendants` makes sure nothing outlives us.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from minikubelet.runtime import proctree

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


def become_subreaper(on: bool = True) -> bool:
    """Orphaned descendants of our containers are re-parented to the daemon, not to init, so
    they stay in our tree and can be found and killed. Linux only; best effort. `on=False`
    undoes it (a daemon run inside another program, such as a test, leaves it as it was)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def is_subreaper() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        value = ctypes.c_int(0)
        if int(libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(value), 0, 0, 0)) != 0:
            return False
        return value.value != 0
    except (OSError, AttributeError):
        return False


_OWN: set[int] = set()  # children someone waits for: asyncio's watcher, the watchdog's Popen
_tracking = False  # the tracking child watcher is installed: orphans may be reaped


class _TrackingChildWatcher(asyncio.PidfdChildWatcher):
    """asyncio's pidfd watcher, remembering which pids it waits for, so that the orphan
    reaper never steals the exit status of a process the loop awaits."""

    def add_child_handler(  # type: ignore[override]
        self, pid: int, callback: Callable[..., object], *args: Any
    ) -> None:
        _OWN.add(pid)

        def done(pid: int, returncode: int, *rest: Any) -> None:
            _OWN.discard(pid)  # reaped by now: the watcher called waitpid before this
            callback(pid, returncode, *rest)

        super().add_child_handler(pid, done, *args)

    def remove_child_handler(self, pid: int) -> bool:
        _OWN.discard(pid)
        return super().remove_child_handler(pid)


def use_pidfd_child_watcher() -> None:
    """Python 3.11's default child watcher starts a thread per child; pidfds cost a file
    descriptor instead and report exits promptly. Ours also records the pids it waits for
    (`_OWN`), which is what lets `reap_orphans` reap everything else."""
    global _tracking
    if not hasattr(os, "pidfd_open") or not hasattr(asyncio, "PidfdChildWatcher"):
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        watcher = _TrackingChildWatcher()
        watcher.attach_loop(asyncio.get_running_loop())
        asyncio.set_child_watcher(watcher)
    _tracking = True


def own_child(pid: int) -> None:
    """A child started outside asyncio (the watchdog) that its owner will wait for."""
    _OWN.add(pid)


def disown_child(pid: int) -> None:
    _OWN.discard(pid)


def own_children_alive() -> list[int]:
    """The children something waits for, still running: the session leaders we spawned."""
    return sorted(_OWN)


def install_orphan_reaper() -> bool:
    """Reaps every orphan as soon as it exits: the daemon is a subreaper, so whatever a
    container leaves behind (`(cmd &)`, an exec probe's `setsid` child) becomes our child,
    and its zombie would stay until the daemon exits. SIGCHLD runs `reap_orphans` on the
    loop; it costs a read of /proc/self/task/*/children and a WNOHANG waitpid per orphan."""
    if not _tracking:
        return False
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGCHLD, reap_orphans)
    except (ValueError, RuntimeError, NotImplementedError):
        return False
    return True


def remove_orphan_reaper() -> None:
    with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGCHLD)


async def kill_and_reap(known: Mapping[int, int]) -> None:
    """SIGKILL each process still alive with the same start time (`proctree.start_time`: no
    pid reuse), and reap those that were re-parented to us."""
    victims: list[int] = []
    for pid, started in known.items():
        if proctree.start_time(pid) != started:
            continue
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        victims.append(pid)
    for pid in victims:
        await _reap(pid)


def reap_orphans() -> int:
    """Reaps dead processes re-parented to us (we are a subreaper) that nobody waits for: a
    container's child that outlived its parent, a double-forked exec probe child. Children
    that asyncio's watcher (or the watchdog's owner) waits for are in `_OWN` and left alone;
    without the tracking watcher, only non-session-leader zombies are reaped, as before."""
    reaped = 0
    for pid in _own_children():
        if pid in _OWN:
            continue
        try:
            if not _tracking:
                with open(f"/proc/{pid}/stat", "rb") as f:
                    raw = f.read()
                fields = raw[raw.rfind(b")") + 2 :].split()
                if fields[0] != b"Z" or int(fields[3]) == pid:
                    continue
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # returns at once, alive or dead
                reaped += 1
        except (OSError, IndexError, ValueError):
            continue
    return reaped


def _own_children() -> list[int]:
    pids: list[int] = []
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return pids
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/children", "rb") as f:
                pids += [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
    return pids


async def _reap(pid: int) -> None:
    """Waits (on a pidfd, no polling) for a re-parented orphan to die, then reaps it."""
    if pid in _OWN:
        return
    import psutil

    try:
        if psutil.Process(pid).ppid() != os.getpid():
            return
        fd = os.pidfd_open(pid)
    except (psutil.Error, OSError):
        return
    loop = asyncio.get_running_loop()
    dead: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        if not dead.done():
            dead.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        async with asyncio.timeout(2):
            await dead
    except TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 - it has exited: WNOHANG returns at once


async def kill_all_descendants() -> None:
    """Last resort at daemon exit: nothing we started may outlive us, wherever it went."""
    # at exit, on the loop: no await before the kills, so a cancellation still pending
    # cannot leave anything running
    await kill_and_reap(proctree.known_descendants(os.getpid()))
