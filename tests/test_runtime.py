"""The process runtime with real processes: exit codes, signals, group stop, grace period,
start errors, environment assembly and $(VAR) expansion."""

from __future__ import annotations

import asyncio
import signal
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

from minikubelet.core.spec import (
    Container,
    EnvVar,
    ObjectFieldSelector,
    Pod,
    PodSpec,
    Quantity,
    ResourceFieldSelector,
    Resources,
)
from minikubelet.runtime.containerenv import container_argv, container_env
from minikubelet.runtime.crilog import LogWriter
from minikubelet.runtime.process import StartError
from minikubelet.runtime.spawn import spawn


def writer(tmp_path: Path) -> LogWriter:
    return LogWriter(tmp_path / "0.log")


async def test_exit_code_and_logs(tmp_path: Path) -> None:
    proc = await spawn(
        ["sh", "-c", "echo out; echo err >&2; exit 3"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=None,
        writer=writer(tmp_path),
    )
    info = await proc.wait()
    assert (info.exit_code, info.signal) == (3, 0)
    text = (tmp_path / "0.log").read_text()
    assert " stdout F out\n" in text
    assert " stderr F err\n" in text


async def test_killed_by_signal_reports_128_plus_n(tmp_path: Path) -> None:
    proc = await spawn(["sh", "-c", "kill -9 $$"], env={}, cwd=None, writer=writer(tmp_path))
    info = await proc.wait()
    assert (info.exit_code, info.signal) == (137, 9)


async def test_stop_kills_the_whole_group(tmp_path: Path) -> None:
    proc = await spawn(["sh", "-c", "sleep 1000 & wait"], env={}, cwd=None, writer=writer(tmp_path))
    deadline = time.monotonic() + 5
    while not proc.descendants() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    children = proc.descendants()
    assert children, "the shell's background child should exist"
    info = await proc.stop(grace=5)
    assert info.exit_code == 128 + signal.SIGTERM
    for child in children:
        await wait_gone(child)


async def test_sigterm_ignored_is_killed_after_grace(tmp_path: Path) -> None:
    proc = await spawn(
        ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=None,
        writer=writer(tmp_path),
    )
    # the shell ignores SIGTERM only once its trap is set: stop it after it says so
    log = tmp_path / "0.log"
    async with asyncio.timeout(20):
        while not (log.exists() and " ready\n" in log.read_text()):
            await asyncio.sleep(0.02)
    started = time.monotonic()
    info = await proc.stop(grace=0.5)
    elapsed = time.monotonic() - started
    assert info.exit_code == 137
    assert 0.5 <= elapsed < 30  # the grace was waited, then SIGKILL (the loop never ends)


async def test_leftovers_die_with_the_main_process(tmp_path: Path) -> None:
    """A container's processes end with its main process, as in a PID namespace."""
    proc = await spawn(
        ["sh", "-c", "sleep 1000 & echo $! > pid; sleep 0.2; exit 0"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(tmp_path),
        writer=writer(tmp_path),
    )
    await proc.wait()
    pid = int((tmp_path / "pid").read_text())
    await wait_gone(pid)


async def wait_gone(pid: int, timeout: float = 5) -> None:
    """SIGKILL is delivered asynchronously: wait, with a deadline, for the process to end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} survived")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(
            ["no-such-command-xyz"],
            'exec: "no-such-command-xyz": executable file not found in $PATH',
            id="not-in-path",
        ),
        pytest.param(
            ["/nonexistent/bin/x"],
            'exec: "/nonexistent/bin/x": no such file or directory',
            id="no-such-file",
        ),
    ],
)
async def test_start_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(StartError) as err:
        await spawn(argv, env={"PATH": "/usr/bin:/bin"}, cwd=None, writer=writer(tmp_path))
    assert str(err.value) == message


async def test_working_dir_is_used_and_created(tmp_path: Path) -> None:
    wd = tmp_path / "work" / "dir"
    proc = await spawn(
        ["sh", "-c", "pwd > here"],
        env={"PATH": "/usr/bin:/bin"},
        cwd=str(wd),
        writer=writer(tmp_path),
    )
    await proc.wait()
    assert (wd / "here").read_text().strip() == str(wd)


def q(text: str, value: str) -> Quantity:
    return Quantity(text, Decimal(value))


def test_environment_fieldrefs_resources_and_expansion() -> None:
    app = Container(
        name="app",
        image="busybox",
        command=("echo", "$(GREETING)", "$$(GREETING)", "$(UNSET)"),
        args=("$(POD_NAME)",),
        resources=Resources(limits={"memory": q("64Mi", "67108864"), "cpu": q("500m", "0.5")}),
        env=(
            EnvVar(name="GREETING", value="hello"),
            EnvVar(name="POD_NAME", field_ref=ObjectFieldSelector(field_path="metadata.name")),
            EnvVar(name="NS", field_ref=ObjectFieldSelector(field_path="metadata.namespace")),
            EnvVar(
                name="TIER", field_ref=ObjectFieldSelector(field_path="metadata.labels['tier']")
            ),
            EnvVar(name="IP", field_ref=ObjectFieldSelector(field_path="status.podIP")),
            EnvVar(
                name="MEM",
                resource_field_ref=ResourceFieldSelector(
                    resource="limits.memory", divisor=q("1Mi", "1048576")
                ),
            ),
            EnvVar(
                name="CPU",
                resource_field_ref=ResourceFieldSelector(
                    resource="limits.cpu", divisor=q("1m", "0.001")
                ),
            ),
            EnvVar(name="COMBINED", value="$(GREETING)-$(NS)"),
        ),
    )
    pod = Pod(
        name="web",
        namespace="prod",
        uid="u-1",
        labels={"tier": "front"},
        spec=PodSpec(containers=(app,), node_name="node1"),
    )
    env, own = container_env(pod, app, base={"PATH": "/bin", "GREETING": "from-daemon"})
    assert env["PATH"] == "/bin"
    assert own == {
        "HOSTNAME": "web",
        "GREETING": "hello",
        "POD_NAME": "web",
        "NS": "prod",
        "TIER": "front",
        "IP": "127.0.0.1",
        "MEM": "64",
        "CPU": "500",
        "COMBINED": "hello-prod",
    }
    assert env["GREETING"] == "hello"
    assert container_argv(app, own) == ["echo", "hello", "$(GREETING)", "$(UNSET)", "web"]


def test_args_alone_are_the_command_line() -> None:
    c = Container(name="c", image="busybox", args=("/bin/sh", "-c", "echo hi"))
    assert container_argv(c, {}) == ["/bin/sh", "-c", "echo hi"]
