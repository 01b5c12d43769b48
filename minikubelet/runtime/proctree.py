"""Process trees from /proc, without a walk of the whole process table, and the one way to
kill a set of processes that may keep forking: freeze (SIGSTOP) what is found until a search
finds nothing new, then SIGKILL all of it. Standard library only: the watchdog and the guards
import it in processes of their own."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

MAX_ROUNDS = 1000  # freeze rounds; each finds at least one new process or ends


def children(pid: int) -> list[int]:
    """Direct children of pid, from every thread's `children` file."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out += [int(p) for p in f.read().split()]
        except (OSError, ValueError):
            continue
    return out


def tree(pid: int) -> list[int]:
    """pid and every descendant, parents before children."""
    seen: list[int] = []
    known: set[int] = set()
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        if p in known:
            continue
        known.add(p)
        seen.append(p)
        frontier += children(p)
    return seen


def descendants(root: int) -> set[int]:
    return set(tree(root)) - {root}


def start_time(pid: int) -> int | None:
    """When pid started, in clock ticks since boot (/proc/<pid>/stat field 22): with the pid,
    it names one process (a reused pid has another start time). None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        return int(raw[raw.rfind(b")") + 2 :].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def known_descendants(root: int) -> dict[int, int]:
    """Every descendant of root with its start time: the tree of root alone (its threads'
    `children` files), not a walk of the whole process table."""
    known: dict[int, int] = {}
    for pid in tree(root)[1:]:
        started = start_time(pid)
        if started is not None:
            known[pid] = started
    return known


def state(pid: int) -> str | None:
    """The one-letter state of pid (/proc/<pid>/stat field 3), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
        return raw[raw.rfind(b")") + 2 :][:1].decode()
    except (OSError, UnicodeDecodeError):
        return None


def _frozen(pid: int) -> bool:
    """Stopped, dead or gone: a process that can fork no more."""
    return state(pid) in (None, "", "T", "t", "Z", "X")


def freeze_and_kill(find: Callable[[set[int]], set[int]]) -> int:
    """`find(stopped)` names the processes still to stop (not among `stopped`); they are
    frozen round after round until it names none, then all are SIGKILLed. Returns how many.

    Two races are closed here rather than in each `find`. A SIGSTOP takes effect only when
    its process next returns to user space, so one caught inside fork() still completes it:
    the children of the processes already frozen are searched each round as well (a child
    in the middle of execve() shows an empty environment, so a search by marker misses it).
    And the rounds end only once every process sent SIGSTOP is seen stopped or gone."""
    stopped: set[int] = set()
    for _ in range(MAX_ROUNDS):
        found = find(stopped)
        for pid in stopped:
            found.update(children(pid))
        found -= stopped
        if not found:
            if all(_frozen(pid) for pid in stopped):
                break
            time.sleep(0.001)  # a SIGSTOP on its way: look again once it has landed
            continue
        for pid in found:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGSTOP)
        stopped |= found
    for pid in stopped:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return len(stopped)
