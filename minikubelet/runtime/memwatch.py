"""Memory limits without a cgroup: one timer watches the resident set of every limited
container's process tree, cheaply enough for hundreds of them.

The kernel's OOM killer acts on a cgroup's `memory.max`; minikubelet's containers are process
trees, so the daemon sums their resident set (`/proc/<pid>/statm`, the RSS psutil reports) and
SIGKILLs the group past the limit. Per tick (every `memory_poll_interval`, 50 ms) that costs
one `pread` per process of a tree, on a descriptor kept open (a descriptor of a dead process
reads nothing, never another process's figures: pid reuse is harmless). The set of a tree's
processes is refreshed every `REFRESH_EVERY` ticks (0.5 s) from `/proc/<pid>/task/*/children`,
the trees' refreshes spread over the ticks; so a main process that allocates fast is caught
within a tick, a child that does within a refresh and a tick. All trees share one loop timer:
no task wakes per container, and nothing here walks the whole process table.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable

from minikubelet.runtime.proctree import children

REFRESH_EVERY = 10  # ticks between refreshes of a tree's pid set
FDS_PER_TREE = 32  # descriptors kept open per tree; further processes are opened per read
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _open_statm(pid: int) -> int | None:
    try:
        return os.open(f"/proc/{pid}/statm", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _resident(fd: int | None, pid: int) -> int | None:
    """Resident bytes; None if the process is gone."""
    try:
        if fd is not None:
            raw = os.pread(fd, 128, 0)
        else:
            with open(f"/proc/{pid}/statm", "rb") as f:
                raw = f.read(128)
        return int(raw.split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return None


class Tree:
    """One container's process tree: its pids, with open statm descriptors."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._fds: dict[int, int | None] = {}
        self.refresh()

    def refresh(self) -> None:
        seen: set[int] = set()
        frontier = [self.root]
        while frontier:
            pid = frontier.pop()
            if pid in seen:
                continue
            seen.add(pid)
            frontier += children(pid)
        for pid in [p for p in self._fds if p not in seen]:
            self._drop(pid)
        for pid in seen:
            if pid not in self._fds:
                kept = sum(1 for fd in self._fds.values() if fd is not None)
                self._fds[pid] = _open_statm(pid) if kept < FDS_PER_TREE else None

    def rss(self) -> int:
        total = 0
        for pid, fd in list(self._fds.items()):
            value = _resident(fd, pid)
            if value is None:
                if pid != self.root:
                    self._drop(pid)
                continue
            total += value
        return total

    def pids(self) -> set[int]:
        return set(self._fds)

    def _drop(self, pid: int) -> None:
        fd = self._fds.pop(pid, None)
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def close(self) -> None:
        for pid in list(self._fds):
            self._drop(pid)


class _Entry:
    __slots__ = ("limit", "on_exceeded", "phase", "tree")

    def __init__(self, tree: Tree, limit: int, on_exceeded: Callable[[int], None], phase: int):
        self.tree, self.limit, self.on_exceeded, self.phase = tree, limit, on_exceeded, phase


class MemoryWatch:
    """Every watched tree of one event loop, checked on one timer."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._entries: dict[int, _Entry] = {}
        self._next = 0
        self._tick = 0
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, pid: int, limit: int, on_exceeded: Callable[[int], None]) -> int:
        """Calls `on_exceeded(rss)` once, on the loop, when the tree's RSS passes `limit`.
        Returns a key for `unwatch`."""
        key = self._next
        self._next += 1
        self._entries[key] = _Entry(Tree(pid), limit, on_exceeded, key % REFRESH_EVERY)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._check)
        return key

    def unwatch(self, key: int) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            entry.tree.close()
        if not self._entries and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        self._tick += 1
        phase = self._tick % REFRESH_EVERY
        for key, entry in list(self._entries.items()):
            if entry.phase == phase:
                entry.tree.refresh()
            rss = entry.tree.rss()
            if rss > entry.limit:
                self.unwatch(key)
                entry.on_exceeded(rss)
        if self._entries:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self._check)
        else:
            self._timer = None


_watches: dict[int, MemoryWatch] = {}  # per running loop (tests run several loops)


def for_loop(interval: float) -> MemoryWatch:
    loop = asyncio.get_running_loop()
    watch = _watches.get(id(loop))
    if watch is None or (watch._timer is None and not watch._entries):
        watch = _watches[id(loop)] = MemoryWatch(interval)
    return watch
