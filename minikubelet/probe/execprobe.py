"""The exec probe and the command runner it shares with exec hooks (kubelet: pkg/probe/exec
exec.go, and the runtime's ExecSync): a command in its own session (in the container's mount
namespace when it has one), its output captured up to the kubelet's limit, the whole process
group killed at the timeout and reaped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from minikubelet.core.gotext import quote as go_quote
from minikubelet.core.spec import Container
from minikubelet.probe.goclient import go_errno
from minikubelet.probe.handlerbase import (
    MAX_OUTPUT,
    ProbeError,
    ProbeOutcome,
    ProbeResultKind,
    decode_output,
)
from minikubelet.runtime import watchdog
from minikubelet.runtime.process import StartError
from minikubelet.runtime.spawn import exec_in_new_session, namespace_preexec


@dataclass(frozen=True, slots=True)
class CommandResult:
    exit_code: int | None  # None: timed out, and the process group was killed
    stdout: bytes
    stderr: bytes

    @property
    def output(self) -> str:
        """stdout then stderr, cut at 10 KiB (kubelet: RunInContainer + LimitWriter)."""
        return decode_output((self.stdout + self.stderr)[:MAX_OUTPUT])


class _Capture(asyncio.SubprocessProtocol):
    """Keeps the first MAX_OUTPUT bytes of stdout and of stderr; the rest is read and dropped,
    so a command printing 100 MB costs 20 KiB of memory."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.out = bytearray()
        self.err = bytearray()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        buf = self.out if fd == 1 else self.err
        room = MAX_OUTPUT - len(buf)
        if room > 0:
            buf += data[:room]

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout_s: float | None,
    enter: int | None = None,
) -> CommandResult:
    """Runs argv (no shell) in a new session. On timeout, on return and on cancellation the
    whole process group is SIGKILLed and the process reaped: nothing is left behind.
    `enter`: the pid of a container in a mount namespace of its own, which the command
    joins (it sees the container's volumes, as an ExecSync in the container does).
    Raises ProbeError when the command cannot be started."""
    loop = asyncio.get_running_loop()
    transport, capture = await _spawn(loop, argv, env, cwd, enter)
    pid = transport.get_pid()
    timed_out = False
    try:
        async with asyncio.timeout(timeout_s):
            # shielded: a cancelled wait must not cancel the protocol's own futures
            await asyncio.shield(capture.exited)
            _kill_group(pid)  # children it left behind; also lets their pipes close
            await asyncio.shield(capture.closed)
    except TimeoutError:
        timed_out = True
    finally:
        if not capture.exited.done():
            _kill_group(pid)  # timed out or cancelled: the whole group goes
        try:
            # reaped by the child watcher first: closing a transport whose process is alive
            # polls it (Popen.poll), which can reap it under the watcher, whose waitpid then
            # fails and logs "Unknown child process", reporting 255 for the exit code
            await _reaped(capture)
        finally:
            transport.close()
    code = None if timed_out else _exit_code(transport.get_returncode())
    return CommandResult(code, bytes(capture.out), bytes(capture.err))


async def _spawn(
    loop: asyncio.AbstractEventLoop,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    enter: int | None,
) -> tuple[asyncio.SubprocessTransport, _Capture]:
    if not argv:
        raise ProbeError("exec: no command")
    try:
        ns = namespace_preexec(mounts=(), enter=enter, cwd=cwd, scratch=None)
    except StartError as exc:
        raise ProbeError(str(exc)) from None
    try:
        transport, capture = await exec_in_new_session(
            lambda: _Capture(loop),
            argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=cwd if ns is None else None,
            preexec_fn=ns.preexec if ns is not None else None,
        )
    except subprocess.SubprocessError:  # joining the container's namespaces failed
        reason = ns.failure() if ns is not None else ""
        raise ProbeError(reason or "cannot enter the container's namespaces") from None
    except OSError as exc:
        raise ProbeError(_start_error(argv[0], cwd, exc)) from None
    except (ValueError, UnicodeError):  # a NUL byte or a lone surrogate: execve's EINVAL
        raise ProbeError(f"fork/exec {argv[0]}: invalid argument") from None
    finally:
        if ns is not None:
            ns.close()
    watchdog.track(transport.get_pid())
    return transport, capture


def _start_error(program: str, cwd: str | None, exc: OSError) -> str:
    """Go's os/exec wording for a command that cannot start."""
    if cwd is not None and exc.filename == cwd:
        return f"chdir {cwd}: {go_errno(exc)}"
    if isinstance(exc, FileNotFoundError) and "/" not in program:
        return f"exec: {go_quote(program)}: executable file not found in $PATH"
    return f"fork/exec {program}: {go_errno(exc)}"


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


async def _reaped(capture: _Capture) -> None:
    """Waits for the child watcher to reap the process; shielded so a second cancellation
    cannot leave a zombie behind (the watcher reaps it regardless)."""
    await asyncio.shield(capture.exited)


def _exit_code(returncode: int | None) -> int:
    if returncode is None:
        return -1
    return 128 - returncode if returncode < 0 else returncode  # killed by N: 128+N, as a runtime


def static_env(container: Container) -> dict[str, str]:
    """kubelet: EnvVarsToMap, what ExpandContainerCommandOnlyStatic expands with."""
    return {var.name: var.value for var in container.env}


async def exec_probe(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | None,
    timeout_s: float,
    enter: int | None = None,
) -> ProbeOutcome:
    """kubelet: pkg/probe/exec/exec.go Probe over the runtime's ExecSync (in the container's
    mount namespace when it has one: `enter`)."""
    res = await run_command(argv, env=env, cwd=cwd, timeout_s=timeout_s, enter=enter)
    if res.exit_code is None:
        # kubelet: remote_runtime.go ExecSync turns DeadlineExceeded into this TimeoutError
        return ProbeOutcome(
            ProbeResultKind.FAILURE, f"command {go_quote(' '.join(argv))} timed out"
        )
    kind = ProbeResultKind.SUCCESS if res.exit_code == 0 else ProbeResultKind.FAILURE
    return ProbeOutcome(kind, res.output)
