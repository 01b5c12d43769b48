"""Starting a process: in a new session, with its mount namespace or a terminal, safe to cancel.

`spawn` starts a container's process (or an exec session's) and hands back the
`ContainerProcess` that watches it; `exec_in_new_session` is the cancel-safe
`loop.subprocess_exec` that it and the exec probes use; `namespace_preexec` and
`preexec_chain` are what the child runs between fork and exec.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import subprocess
import termios
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from minikubelet.runtime import mountns, watchdog
from minikubelet.runtime.process import ContainerProcess, OutputSink, Pump, StartError


def _take_terminal() -> None:
    """In the child, after setsid: the terminal on fd 0 becomes the controlling terminal of
    the new session, as a runtime does for a `tty: true` process."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def namespace_preexec(
    *, mounts: Sequence[mountns.Mount], enter: int | None, cwd: str | None, scratch: str | None
) -> mountns.Prepared | None:
    """The child's namespace step: a new one with `mounts`, or joining process `enter`'s;
    None for a plain process. Raises StartError for a mount that is wrong from the start."""
    try:
        if enter is not None:
            return mountns.enter_preexec(enter, cwd=cwd)
        if mounts:
            return mountns.prepare(mounts, cwd=cwd, scratch_base=scratch)
    except mountns.MountError as e:
        raise MountStartError(str(e)) from e
    return None


class MountStartError(StartError):
    """A volume that cannot be mounted: the kubelet's CreateContainerError."""


def preexec_chain(*steps: Callable[[], None] | None) -> Callable[[], None] | None:
    todo = [step for step in steps if step is not None]
    if not todo:
        return None
    if len(todo) == 1:
        return todo[0]

    def run() -> None:
        for step in todo:
            step()

    return run


async def spawn(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    writer: OutputSink,
    stdin: bool = False,
    terminal: int | None = None,
    mounts: Sequence[mountns.Mount] = (),
    enter: int | None = None,
    mount_dir: str | None = None,
) -> ContainerProcess:
    """Starts argv in a new session; raises StartError with a runtime-like message.

    `stdin`: a pipe the caller writes to (`write_stdin`), else /dev/null. `terminal`: the
    slave side of a pseudo-terminal, which becomes stdin, stdout, stderr and the controlling
    terminal (the caller reads the master side; `writer` then gets nothing). `mounts`: the
    process runs in a mount namespace of its own with each mount at its target
    (runtime/mountns.py; a mount that cannot be made raises `MountStartError`), its scratch
    directory under `mount_dir`; with none, a plain process. `enter`: the pid of a running
    container whose namespaces the process joins (an exec in that container)."""
    if not argv:
        raise StartError("no command specified")
    if any("\0" in part for part in argv):
        raise StartError(f'exec: "{argv[0]}": invalid argument')
    if cwd and not mounts and enter is None:  # else it is the container's view's, in the child
        try:
            os.makedirs(cwd, exist_ok=True)
        except OSError as e:
            raise StartError(
                f"chdir to cwd ({cwd!r}) set in config.json failed: {e.strerror}"
            ) from e
    stdin_mode: int = asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL
    stdout_mode: int = asyncio.subprocess.PIPE
    if terminal is not None:
        stdin_mode = stdout_mode = terminal
    try:
        ns = namespace_preexec(mounts=mounts, enter=enter, cwd=cwd, scratch=mount_dir)
    except StartError:
        writer.close()
        raise
    started = False
    try:
        transport, pump = await exec_in_new_session(
            lambda: Pump(writer, pipes=terminal is None),
            argv,
            stdin=stdin_mode,
            stdout=stdout_mode,
            stderr=stdout_mode,
            env=dict(env),
            cwd=(cwd or None) if ns is None else None,
            preexec_fn=preexec_chain(
                ns.preexec if ns is not None else None,
                _take_terminal if terminal is not None else None,
            ),
        )
        started = True
    except subprocess.SubprocessError as e:  # the namespace step failed in the child
        writer.close()
        reason = ns.failure() if ns is not None else ""
        if enter is not None:
            raise StartError(reason or "cannot enter the container's namespaces") from e
        raise MountStartError(reason or "cannot create the mount namespace") from e
    except FileNotFoundError as e:
        writer.close()
        where = "in $PATH" if "/" not in argv[0] else ""
        detail = "executable file not found " + where if where else "no such file or directory"
        raise StartError(f'exec: "{argv[0]}": {detail}'.rstrip()) from e
    except PermissionError as e:
        writer.close()
        raise StartError(f'exec: "{argv[0]}": permission denied') from e
    except OSError as e:
        writer.close()
        raise StartError(f'exec: "{argv[0]}": {e.strerror or e}') from e
    except (ValueError, UnicodeError) as e:  # a NUL byte or a lone surrogate: execve's EINVAL
        writer.close()
        raise StartError(f'exec: "{argv[0]}": invalid argument') from e
    except BaseException:
        writer.close()
        raise
    finally:
        if ns is not None:
            ns.close()
            if not started:
                _drop_scratch(ns)
    watchdog.track(transport.get_pid())
    process = ContainerProcess(transport, pump, writer, time.time())
    if ns is not None and enter is None:
        process.mount_namespace, process.scratch = True, ns.scratch
    return process


def _drop_scratch(ns: mountns.Prepared | None) -> None:
    if ns is not None and ns.scratch is not None:
        mountns.remove_scratch(ns.scratch)
        ns.scratch = None


P = TypeVar("P", bound=asyncio.SubprocessProtocol)


async def exec_in_new_session(
    factory: Callable[[], P], argv: Sequence[str], **kwargs: Any
) -> tuple[asyncio.SubprocessTransport, P]:
    """`loop.subprocess_exec` in a new session, safe to cancel.

    Cancelled while asyncio connects the pipes (the process already exists), asyncio kills
    only the main process and then waits for the pipes to close, which takes as long as any
    child of it lives. Here the spawn runs on, shielded, until the process and its pipes are
    there (an instant), and then its whole process group is SIGKILLed before the caller's
    cancellation goes on."""
    loop = asyncio.get_running_loop()
    spawning = loop.create_task(
        loop.subprocess_exec(factory, *argv, start_new_session=True, **kwargs),
        name=f"spawn:{argv[0] if argv else ''}",
    )
    try:
        return await asyncio.shield(spawning)
    except asyncio.CancelledError:
        try:
            await asyncio.wait({spawning})  # the pipes connect at once: the children don't matter
        finally:
            if spawning.done():
                _kill_spawned(spawning)
            else:  # cancelled once more: kill it the moment it is there
                spawning.add_done_callback(_kill_spawned)
        raise


def _kill_spawned(spawning: asyncio.Task[tuple[asyncio.SubprocessTransport, Any]]) -> None:
    if spawning.cancelled() or spawning.exception() is not None:
        return
    transport, _protocol = spawning.result()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(transport.get_pid(), signal.SIGKILL)
    transport.close()  # the event loop's child watcher reaps it
