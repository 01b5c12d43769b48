"""Local processes as containers: environment, start in a new session, logs, stop, reaping.

The shell around one process; it decides nothing about restarts. Each container instance is
a process started in its own session (so its own process group), with stdout and stderr read
by pipe callbacks into a `LogWriter`. When the main process exits, whatever it left behind in
its tree is killed too, as a container's processes die with its init process. Stopping is
SIGTERM (or the stop signal) to the group, the grace period, then SIGKILL to the group and to
every descendant seen, then reaping.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import math
import os
import signal
import subprocess
import sys
import termios
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any, Protocol, TypeVar

import psutil
import structlog

from minikubelet.core.envsources import ResolvedEnv
from minikubelet.core.expand import expand
from minikubelet.core.spec import Container, Pod, Quantity
from minikubelet.runtime import mountns, watchdog

log = structlog.get_logger("minikubelet.runtime")

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37
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


# --- environment -------------------------------------------------------------------------


def _field_value(pod: Pod, path: str, *, pod_ip: str) -> str:
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return pod.labels.get(path[len("metadata.labels['") : -2], "")
    if path.startswith("metadata.annotations['") and path.endswith("']"):
        return pod.annotations.get(path[len("metadata.annotations['") : -2], "")
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": str(pod.manifest.get("spec", {}).get("serviceAccountName", "")),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": pod_ip,
        "status.hostIPs": pod_ip,
    }
    if path == "metadata.labels":
        return "\n".join(f'{k}="{v}"' for k, v in sorted(pod.labels.items()))
    if path == "metadata.annotations":
        return "\n".join(f'{k}="{v}"' for k, v in sorted(pod.annotations.items()))
    return simple.get(path, "")


def _node_allocatable(resource: str) -> Decimal:
    if resource == "cpu":
        return Decimal(os.cpu_count() or 1)
    if resource == "memory":
        return Decimal(psutil.virtual_memory().total)
    return Decimal(psutil.disk_usage("/").total)


def _resource_value(pod: Pod, container: Container, resource: str, divisor: Quantity) -> str:
    """kubelet: `ExtractContainerResourceValue`: the value divided by the divisor, rounded up;
    an unset limit is the node's allocatable amount."""
    target = next((c for c in pod.spec.all_containers() if c.name == container.name), container)
    kind, _, name = resource.partition(".")
    values = target.resources.limits if kind == "limits" else target.resources.requests
    quantity = values.get(name)
    if quantity is not None:
        amount = quantity.value
    elif kind == "limits":
        amount = _node_allocatable(name)
    else:
        amount = Decimal(0)
    div = divisor.value if divisor.value != 0 else Decimal(1)
    return str(int((amount / div).to_integral_value(rounding=ROUND_CEILING)))


def resource_value(pod: Pod, container: Container, resource: str, divisor: Quantity) -> str:
    """A resourceFieldRef's value (a downwardAPI volume's file, an env var's value)."""
    return _resource_value(pod, container, resource, divisor)


def container_env(
    pod: Pod,
    container: Container,
    *,
    base: Mapping[str, str],
    pod_ip: str = "127.0.0.1",
    service_env: Mapping[str, str] | None = None,
    resolved: ResolvedEnv | None = None,
    volume_env: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(the process's environment, the container's own variables).

    The daemon's environment lies underneath so PATH works; the container's variables are
    resolved in order, each value `$(VAR)`-expanded against those defined before it, as the
    kubelet's `makeEnvironmentVariables` does, over the service variables. The second map is
    what `$(VAR)` in command, args and exec probes may refer to. `resolved`: the values read
    from ConfigMaps and Secrets (core/envsources.py): the envFrom variables come first, then
    `env` in order, a key reference's value taken as it is (an optional one that is missing
    defines nothing). `volume_env`: where the container's volumes are when they cannot be
    mounted at their mountPath (`MINIKUBELET_VOLUME_<NAME>`), under all the others."""
    service_env = service_env or {}
    resolved = resolved or ResolvedEnv()
    own: dict[str, str] = {
        **(volume_env or {}),
        "HOSTNAME": pod.name,
        **service_env,
        **resolved.sources,
    }
    for index, var in enumerate(container.env):
        if var.config_map_key_ref is not None or var.secret_key_ref is not None:
            if index in resolved.refs:
                own[var.name] = resolved.refs[index]
            continue
        if var.field_ref is not None:
            value = _field_value(pod, var.field_ref.field_path, pod_ip=pod_ip)
        elif var.resource_field_ref is not None:
            ref = var.resource_field_ref
            target = next(
                (c for c in pod.spec.all_containers() if c.name == ref.container_name),
                container,
            )
            value = _resource_value(pod, target, ref.resource, ref.divisor)
        else:
            value = expand(var.value, own)
        own[var.name] = value
    env = dict(base)
    env.update(own)
    return env, own


def container_argv(container: Container, own_env: Mapping[str, str]) -> list[str]:
    return [expand(part, own_env) for part in container.argv]


# --- processes ---------------------------------------------------------------------------


def exit_info(returncode: int) -> ExitInfo:
    if returncode < 0:
        return ExitInfo(exit_code=128 - returncode, signal=-returncode, finished_at=time.time())
    return ExitInfo(exit_code=returncode, signal=0, finished_at=time.time())


class _Pump(asyncio.SubprocessProtocol):
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
        pump: _Pump,
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
        self._known: dict[int, float] = {}  # descendants seen: pid -> create_time
        self.killed_by_us: str | None = None  # why we killed it: "OOMKilled", ...
        # in a mount namespace of its own (its volumes): exec probes, hooks and `kubectl
        # exec` enter it (`spawn(enter=pid)`); its directory goes once it has exited
        self.mount_namespace = False
        self.scratch: str | None = None

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
        """To the whole process group (and to descendants that left it, for SIGKILL)."""
        self._remember_descendants()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def stop(self, grace: float, sig: int = signal.SIGTERM) -> ExitInfo:
        if not self.exited:
            self.send_signal(sig)
            try:
                async with asyncio.timeout(max(grace, 0)):
                    await asyncio.shield(self._pump.exited)
            except TimeoutError:
                self.send_signal(signal.SIGKILL)
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
        pipe = self._transport.get_pipe_transport(0)
        return pipe is not None and not pipe.is_closing()

    async def write_stdin(self, data: bytes) -> bool:
        """Writes to the process's stdin pipe, waiting while the pipe is full; False when
        stdin is closed (or was never a pipe)."""
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

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _remember_descendants(self) -> None:
        for proc in self.descendants():
            with contextlib.suppress(psutil.Error):
                self._known[proc.pid] = proc.create_time()

    async def _kill_leftovers(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        await kill_and_reap(self._known)


async def kill_and_reap(known: Mapping[int, float]) -> None:
    """SIGKILL each process still alive with the same creation time (no pid reuse), and reap
    those that were re-parented to us."""
    victims: list[int] = []
    for pid, created in known.items():
        try:
            proc = psutil.Process(pid)
            if not math.isclose(proc.create_time(), created, abs_tol=0.05):
                continue
            proc.kill()
            victims.append(pid)
        except psutil.Error:
            continue
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
            lambda: _Pump(writer, pipes=terminal is None),
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


async def kill_all_descendants() -> None:
    """Last resort at daemon exit: nothing we started may outlive us, wherever it went."""
    try:
        me = psutil.Process()
        children = me.children(recursive=True)
    except psutil.Error:
        return
    known: dict[int, float] = {}
    for child in children:
        with contextlib.suppress(psutil.Error):
            known[child.pid] = child.create_time()
    await kill_and_reap(known)


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
