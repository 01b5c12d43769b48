"""A spawn that is cancelled while asyncio still connects the new process's pipes kills the
whole process group at once: the cancelled caller does not wait for the group's last child,
and nothing it started is left running. Both spawners: containers (`runtime.spawn`) and exec
probes and hooks (`probes.run_command`)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from reliability_helpers import TAG, kill_tagged, new_tag, tagged

from minikubelet.probe.execprobe import run_command
from minikubelet.runtime.crilog import LogWriter
from minikubelet.runtime.spawn import spawn

# the shell's child holds the pipes: asyncio alone would wait the whole 300 s for it
COMMAND = ["sh", "-c", "sleep 300 & sleep 300"]
DEADLINE = 60  # far below the children's 300 s, far above any start under load


def _env(tag: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), TAG: tag}


async def _container(tag: str, tmp_path: Path) -> object:
    return await spawn(COMMAND, env=_env(tag), cwd=None, writer=LogWriter(tmp_path / "0.log"))


async def _probe(tag: str, tmp_path: Path) -> object:
    return await run_command(COMMAND, env=_env(tag), cwd=None, timeout_s=None)


async def _none_left(tag: str) -> None:
    async with asyncio.timeout(DEADLINE):
        while tagged(tag):
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("spawner", [_container, _probe], ids=["container", "exec-probe"])
async def test_a_cancelled_spawn_kills_its_group_at_once(
    tmp_path: Path, spawner: Callable[[str, Path], Awaitable[object]]
) -> None:
    tags = [new_tag() for _ in range(10)]
    try:
        for tag in tags:
            task = asyncio.ensure_future(spawner(tag, tmp_path))
            await asyncio.sleep(0)  # the process is forked; asyncio now connects its pipes
            task.cancel()
            async with asyncio.timeout(DEADLINE):
                with pytest.raises(asyncio.CancelledError):
                    await task
            await _none_left(tag)
    finally:
        for tag in tags:
            kill_tagged(tag)
