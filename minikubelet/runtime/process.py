"""Local processes as containers: a running instance, its logs, stop, and what it left behind.

The shell around one process; it decides nothing about restarts. Each container instance is
a process started in its own session (so its own process group), with stdout and stderr read
by pipe callbacks into a `LogWriter`. When the main process exits, whatever it left behind in
its tree is killed too, as a container's processes die with its init process. Stopping is
SIGTERM (or the stop signal) to the group, the grace period, then SIGKILL to the group and to
every descendant seen, then reaping.

Starting is `spawn.py`'s, the environment and argv are `containerenv.py`'s, and the
subreaper, the child watcher and the orphans are `reaper.py`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import structlog

from minikubelet.runtime import mountns, proctree
from minikubelet.runtime.containertty import ContainerTerminal
from minikubelet.runtime.reaper import kill_and_reap, reap_orphans

log = structlog.get_logger("minikubelet.runtime")

PIPE_DRAIN_TIMEOUT = 1.0  # a process outside our reach may hold the pipes open


class StartError(Exception):
    """The process could not be started; the message is what the container status shows."""


class OutputSink(Protocol):
    """Where a process's stdout and stderr go: a container's `LogWriter`, or an exec
    session's stream to its client."""

    def feed(self, stream: str, data: bytes) -> None: ...

    def close(self) -> None: ...


Listener = Callable[[str, bytes], None]  # (stream, chunk): an attached client's copy


@dataclass(frozen=True, slots=True)
class ExitInfo:
    exit_code: int  # 128+N when killed by signal N, as a runtime reports it
    signal: int
    finished_at: float


def exit_info(returncode: int) -> ExitInfo:
    if returncode < 0:
        return ExitInfo(exit_code=128 - returncode, signal=-returncode, finished_at=time.time())
    return ExitInfo(exit_code=returncode, signal=0, finished_at=time.time())


class Pump(asyncio.SubprocessProtocol):
    """Pipe callbacks: no task per stream, each chunk goes straight to the log writer (and to
    the listeners of attached clients)."""

    def __init__(self, writer: OutputSink, *, pipes: bool = True) -> None:
        self._writer = writer
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()
        self._open = {1, 2} if pipes else set()
        if not pipes:
            self.drained.set_result(None)
        self.listeners: list[Listener] = []
        self.writable = asyncio.Event()  # stdin's pipe takes more (flow control)
        self.writable.set()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        stream = "stdout" if fd == 1 else "stderr"
        with contextlib.suppress(OSError, ValueError):
            self._writer.feed(stream, data)
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):
                listener(stream, data)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 0:
            self.writable.set()  # nothing more can be written: let writers see it
            return
        self._open.discard(fd)
        if not self._open and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)


class ContainerProcess:
    """One running instance. `wait()` returns when the main process has exited and its
    leftovers are killed and reaped; `stop()` ends it gracefully."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        pump: Pump,
        writer: OutputSink,
        started_at: float,
    ) -> None:
        self._transport = transport
        self._pump = pump
        self._writer = writer
        self.pid = transport.get_pid()
        self.started_at = started_at
        self._exit: ExitInfo | None = None
        self._finished = asyncio.Event()
        self._known: dict[int, int] = {}  # descendants seen: pid -> start time (ticks)
        self.killed_by_us: str | None = None  # why we killed it: "OOMKilled", ...
        # in a mount namespace of its own (its volumes): exec probes, hooks and `kubectl
        # exec` enter it (`spawn(enter=pid)`); its directory goes once it has exited
        self.mount_namespace = False
        self.scratch: str | None = None
        self.terminal: ContainerTerminal | None = None  # `tty: true`: its stdio

    def use_terminal(self, terminal: ContainerTerminal) -> None:
        """The process runs on `terminal` (spawned with its slave side): its output is read
        from the master side, to the log and the attached clients, as a pipe's would be."""
        self.terminal = terminal
        terminal.close_slave()
        terminal.start_reading(lambda data: self._pump.pipe_data_received(1, data))

    @property
    def exited(self) -> bool:
        return self._pump.exited.done()

    @property
    def exit(self) -> ExitInfo | None:
        return self._exit

    async def wait(self) -> ExitInfo:
        await asyncio.shield(self._pump.exited)
        if self._exit is None:
            code = self._transport.get_returncode()
            self._exit = exit_info(code if code is not None else -signal.SIGKILL)
            await self._kill_leftovers()
            reap_orphans()
            # what the process wrote just before exiting may still be in the pipes (read
            # them even if a slow attached client had paused the reading)
            self.pause_output(False)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PIPE_DRAIN_TIMEOUT):
                    await asyncio.shield(self._pump.drained)
                    if self.terminal is not None:
                        await self.terminal.ended.wait()
            if self.terminal is not None:
                self.terminal.close()
            self._writer.close()
            with contextlib.suppress(Exception):
                self._transport.close()
            if self.scratch is not None:
                await asyncio.to_thread(mountns.remove_scratch, self.scratch)
                self.scratch = None
            self._finished.set()
        await self._finished.wait()
        return self._exit

    async def until_exited(self) -> None:
        """Returns once the main process has exited and its output is read (or a moment
        later); unlike `wait()` it does none of the cleanup, so an attached client may
        cancel it at any time."""
        await asyncio.shield(self._pump.exited)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(PIPE_DRAIN_TIMEOUT):
                await asyncio.shield(self._pump.drained)

    def send_signal(self, sig: int) -> None:
        """To the whole process group (and to descendants that left it, for SIGKILL). The
        descendants are found in the process's own tree (`proctree`), a few reads of /proc
        for a small one, never a walk of the whole process table."""
        self._remember_descendants()
        self._signal_group(sig)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def _signal_off_loop(self, sig: int) -> None:
        """`send_signal`, the tree walk in a thread: a pod of many containers stopping at
        once keeps the event loop free, however big their trees."""
        if self.exited:
            return
        known = await asyncio.to_thread(proctree.known_descendants, self.pid)
        self._known.update(known)
        if not self.exited:  # a group of a reaped leader could be a reused pid's by now
            self._signal_group(sig)

    async def stop(self, grace: float, sig: int = signal.SIGTERM) -> ExitInfo:
        if not self.exited:
            await self._signal_off_loop(sig)
            try:
                async with asyncio.timeout(max(grace, 0)):
                    await asyncio.shield(self._pump.exited)
            except TimeoutError:
                await self._signal_off_loop(signal.SIGKILL)
        return await self.wait()

    # --- attached clients: kubectl attach, exec sessions ---------------------------------

    def attach_output(self, listener: Listener) -> Callable[[], None]:
        """`listener(stream, chunk)` gets the output from now on; returns the detach."""
        self._pump.listeners.append(listener)

        def detach() -> None:
            with contextlib.suppress(ValueError):
                self._pump.listeners.remove(listener)

        return detach

    def pause_output(self, paused: bool) -> None:
        """Stops reading stdout and stderr while a slow client catches up (the pipes fill
        and the process blocks on write, as it would on a full terminal)."""
        for fd in (1, 2):
            pipe = self._transport.get_pipe_transport(fd)
            if isinstance(pipe, asyncio.ReadTransport):
                with contextlib.suppress(Exception):
                    (pipe.pause_reading if paused else pipe.resume_reading)()

    @property
    def stdin_open(self) -> bool:
        if self.terminal is not None:
            return not self.terminal.closed
        pipe = self._transport.get_pipe_transport(0)
        return pipe is not None and not pipe.is_closing()

    async def write_stdin(self, data: bytes) -> bool:
        """Writes to the process's stdin pipe, waiting while the pipe is full; False when
        stdin is closed (or was never a pipe). With a terminal: what is typed on it."""
        if self.terminal is not None:
            return await self.terminal.write(data)
        pipe = self._transport.get_pipe_transport(0)
        if not isinstance(pipe, asyncio.WriteTransport) or pipe.is_closing():
            return False
        pipe.write(data)
        await self._pump.writable.wait()
        return not pipe.is_closing()

    def close_stdin(self) -> None:
        pipe = self._transport.get_pipe_transport(0)
        if pipe is not None:
            with contextlib.suppress(Exception):
                pipe.close()

    def kill(self, reason: str | None = None) -> None:
        if reason is not None and self.killed_by_us is None:
            self.killed_by_us = reason
        self.send_signal(signal.SIGKILL)

    def descendants(self) -> list[int]:
        """The pids below the main process, parents before children."""
        return proctree.tree(self.pid)[1:]

    def _remember_descendants(self) -> None:
        self._known.update(proctree.known_descendants(self.pid))

    async def _kill_leftovers(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        await kill_and_reap(self._known)


@dataclass(frozen=True, slots=True)
class ContainerTarget:
    """A running container, for `exec` and `attach`: the environment and working directory its
    process got (an exec'd command gets the same), and the running process itself (its
    output for attach, its stdin pipe when the container has `stdin: true`, its end, which
    ends every session in the container)."""

    container_id: str
    env: Mapping[str, str]
    cwd: str | None
    process: ContainerProcess
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False  # the process runs on a terminal (`process.terminal`)
