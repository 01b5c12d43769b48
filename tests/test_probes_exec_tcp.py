"""exec and tcpSocket probes with real processes and sockets (upstream exec_test.go,
tcp_test.go, prober_test.go: cases 24-31 of the reference), plus port resolution."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psutil
import pytest

from minikubelet.core.spec import (
    Container,
    ContainerPort,
    EnvVar,
    ExecAction,
    Probe,
    TCPSocketAction,
)
from minikubelet.probe.execprobe import exec_probe
from minikubelet.probe.handlerbase import MAX_OUTPUT, resolve_port
from minikubelet.probe.handlers import (
    ProbeError,
    ProbeOutcome,
    ProbeResultKind,
    run_probe,
    tcp_probe,
)

SUCCESS, FAILURE = ProbeResultKind.SUCCESS, ProbeResultKind.FAILURE
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


async def run_exec(*argv: str, timeout: float = 1.0, cwd: str | None = None) -> ProbeOutcome:
    return await exec_probe(argv, env=ENV, cwd=cwd, timeout_s=timeout)


def wait_gone(pids: list[int], deadline: float = 2.0) -> list[int]:
    """The pids still alive (zombies count as gone) after waiting up to `deadline`."""
    end = time.monotonic() + deadline
    alive = pids
    while alive and time.monotonic() < end:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.02)
    return alive


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def pid_file(tmp_path: Path) -> Iterator[Path]:
    """A file the test's commands write their pids to; every pid in it is killed at the end."""
    path = tmp_path / "pids"
    yield path
    if path.exists():
        for pid in (int(p) for p in path.read_text().split()):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def read_pids(path: Path) -> list[int]:
    return [int(p) for p in path.read_text().split()]


async def wait_for_pids(path: Path, count: int) -> list[int]:
    async with asyncio.timeout(2):
        while not path.exists() or len(path.read_text().split()) < count:
            await asyncio.sleep(0.01)
    return read_pids(path)


# --- exec: cases 25-29 ------------------------------------------------------------------------


async def test_case25_output_ok() -> None:
    assert await run_exec("printf", "OK") == ProbeOutcome(SUCCESS, "OK")


async def test_case26_exit_zero_with_output_is_success() -> None:
    assert await run_exec("sh", "-c", "echo OK; exit 0") == ProbeOutcome(SUCCESS, "OK\n")


@pytest.mark.parametrize(("size", "kept"), [(MAX_OUTPUT, MAX_OUTPUT), (11 * 1024, MAX_OUTPUT)])
async def test_case27_output_cut_at_10k(size: int, kept: int) -> None:
    out = await run_exec("sh", "-c", f"head -c {size} /dev/zero | tr '\\0' x")
    assert out == ProbeOutcome(SUCCESS, "x" * kept)


async def test_case28_command_that_cannot_start_is_an_error() -> None:
    with pytest.raises(ProbeError) as caught:
        await run_exec("no-such-command-minikubelet")
    assert str(caught.value) == (
        'exec: "no-such-command-minikubelet": executable file not found in $PATH'
    )
    assert caught.value.result == ProbeResultKind.UNKNOWN


async def test_missing_working_directory_is_an_error(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(ProbeError, match=r"^chdir .*/nope: no such file or directory$"):
        await run_exec("true", cwd=missing)


async def test_case29_exit_one_without_output() -> None:
    assert await run_exec("sh", "-c", "exit 1") == ProbeOutcome(FAILURE, "")


async def test_stdout_then_stderr_not_interleaved() -> None:
    out = await run_exec("sh", "-c", "echo a; echo b >&2; echo c")
    assert out == ProbeOutcome(SUCCESS, "a\nc\nb\n")


async def test_no_shell_and_env_and_cwd(tmp_path: Path) -> None:
    assert (await run_exec("echo", "a;b", "$HOME")).output == "a;b $HOME\n"
    out = await exec_probe(
        ["sh", "-c", 'echo "$FOO"; pwd'], env={**ENV, "FOO": "bar"}, cwd=str(tmp_path), timeout_s=1
    )
    assert out.output == f"bar\n{tmp_path}\n"


async def test_run_probe_expands_static_env_only() -> None:
    container = Container(
        name="app",
        env=(EnvVar(name="X", value="hello"), EnvVar(name="Y", value="$(X)")),
    )
    command = ("echo", "$(X)", "$$(X)", "$(UNDEF)", "$(Y)")
    spec = Probe(handler=ExecAction(command=command))
    out = await run_probe(spec, container=container, env=ENV, cwd=None)
    assert out == ProbeOutcome(SUCCESS, "hello $(X) $(UNDEF) $(X)\n")


async def test_timeout_kills_the_whole_group(pid_file: Path) -> None:
    script = f"sleep 30 & echo $! >> {pid_file}; echo $$ >> {pid_file}; wait"
    began = time.monotonic()
    out = await run_exec("sh", "-c", script, timeout=0.5)
    assert time.monotonic() - began < 10  # the timeout ended it, not the 30 s sleep
    assert out == ProbeOutcome(FAILURE, f'command "sh -c {script}" timed out')
    pids = read_pids(pid_file)
    assert len(pids) == 2
    assert wait_gone(pids) == []


async def test_timeout_message_quotes_like_go() -> None:
    out = await run_exec("sh", "-c", 'sleep 10 # "quoted"', timeout=0.2)
    assert out.output == 'command "sh -c sleep 10 # \\"quoted\\"" timed out'


async def test_children_left_behind_are_killed(pid_file: Path) -> None:
    out = await run_exec("sh", "-c", f"sleep 30 & echo $! >> {pid_file}; echo done")
    assert out == ProbeOutcome(SUCCESS, "done\n")
    assert wait_gone(read_pids(pid_file)) == []


async def test_cancelling_the_caller_kills_the_group(pid_file: Path) -> None:
    script = f"sleep 30 & echo $! >> {pid_file}; echo $$ >> {pid_file}; wait"
    task = asyncio.create_task(run_exec("sh", "-c", script, timeout=30), name="exec-probe")
    pids = await wait_for_pids(pid_file, 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_gone(pids) == []


async def test_hundred_megabytes_of_output_is_bounded() -> None:
    tracemalloc.start()
    try:
        out = await run_exec("sh", "-c", "head -c 100000000 /dev/zero", timeout=10)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out == ProbeOutcome(SUCCESS, "\0" * MAX_OUTPUT)
    assert peak < 4 * 1024 * 1024


# --- tcp: case 24 -----------------------------------------------------------------------------


@pytest.fixture
async def listener() -> AsyncIterator[int]:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_case24_tcp_listening_port(listener: int) -> None:
    assert await tcp_probe("127.0.0.1", listener, 1) == ProbeOutcome(SUCCESS, "")


async def test_case24_tcp_port_minus_one() -> None:
    out = await tcp_probe("127.0.0.1", -1, 1)
    assert out == ProbeOutcome(FAILURE, "dial tcp: address -1: invalid port")


async def test_tcp_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = await tcp_probe("127.0.0.1", port, 1)
    assert out == ProbeOutcome(FAILURE, f"dial tcp 127.0.0.1:{port}: connect: connection refused")


async def test_tcp_timeout() -> None:
    """A listener whose backlog is full drops SYNs: the dial hangs until the timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = [socket.socket() for _ in range(4)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                try:
                    filler.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
            began = time.monotonic()
            out = await tcp_probe("127.0.0.1", port, 0.3)
        finally:
            for filler in fillers:
                filler.close()
    assert time.monotonic() - began < 10  # the timeout ended it, not the kernel's SYN retries
    assert out == ProbeOutcome(FAILURE, f"dial tcp 127.0.0.1:{port}: i/o timeout")


async def test_run_probe_tcp_named_port(listener: int) -> None:
    container = Container(name="db", ports=(ContainerPort(container_port=listener, name="redis"),))
    spec = Probe(handler=TCPSocketAction(port="redis"))
    assert await run_probe(spec, container=container, env={}, cwd=None) == ProbeOutcome(SUCCESS)


# --- port resolution: cases 30, 31 ------------------------------------------------------------

FOUND = Container(name="c", ports=(ContainerPort(container_port=93, name="found"),))


@pytest.mark.parametrize(
    ("port", "error"),
    [
        (-1, "invalid port number: -1"),
        ("", 'strconv.Atoi: parsing "": invalid syntax'),
        ("-1", "invalid port number: -1"),
        ("not-found", 'strconv.Atoi: parsing "not-found": invalid syntax'),
        ("http", 'strconv.Atoi: parsing "http": invalid syntax'),
        (65536, "invalid port number: 65536"),
        (0, "invalid port number: 0"),
    ],
)
def test_case30_31_bad_ports(port: int | str, error: str) -> None:
    with pytest.raises(ProbeError) as caught:
        resolve_port(port, FOUND)
    assert str(caught.value) == error


@pytest.mark.parametrize(("port", "value"), [("found", 93), (76, 76), ("118", 118)])
def test_case30_31_good_ports(port: int | str, value: int) -> None:
    assert resolve_port(port, FOUND) == value
