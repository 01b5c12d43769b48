"""Helpers for the reliability tests: find processes across the whole process table by a tag in
their environment, and wait for states with a deadline."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psutil
import pytest
from daemon_harness import Minikubelet

T = TypeVar("T")
TAG = "RELIABILITY_TAG"


def new_tag() -> str:
    return uuid.uuid4().hex


def tagged(tag: str) -> list[psutil.Process]:
    """Every live (non-zombie) process on the machine whose environment has TAG=tag."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            proc = psutil.Process(int(name))
            if proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (OSError, psutil.Error):
            continue
    return found


def kill_tagged(tag: str) -> None:
    """Test cleanup: whatever the daemon failed to kill, the test kills."""
    for proc in tagged(tag):
        with contextlib.suppress(psutil.Error):
            proc.kill()


def wait_until(what: str, check: Callable[[], T], timeout: float = 10) -> T:
    deadline = time.monotonic() + timeout
    last: T = check()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
        time.sleep(0.02)
        last = check()
    return last


def start(tmp_path: Path, text: str, *args: str) -> Minikubelet:
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    mk = Minikubelet(path, "--quiet-logs", *args, state_dir=tmp_path / "state")
    try:
        mk.wait_serving()
    except BaseException:
        mk.close()
        raise
    return mk


def container_state(mk: Minikubelet, pod: str, name: str) -> dict[str, object]:
    state: dict[str, object] = mk.container(pod, name)["state"]
    return state


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "256k") -> Iterator[Path]:
    """A real file system that fills up: a tmpfs of `size` mounted at `path` (we run as root;
    the test is skipped where mounting is not allowed). Unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(directory: Path) -> Path:
    """Writes a file in `directory` until the file system is full; returns it."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        chunk = b"\0" * 4096
        with contextlib.suppress(OSError):
            while True:
                f.write(chunk)
    return filler


def guard_chain(mk: Minikubelet) -> list[psutil.Process]:
    """`minikubelet run` (the outer guard), the inner guard, the daemon: the processes with
    the CLI's command line, each the fork of the one before (only the first where there are
    no guards)."""
    chain = [psutil.Process(mk.proc.pid)]
    cmdline = chain[0].cmdline()
    while True:
        nxt = []
        for child in chain[-1].children():
            with contextlib.suppress(psutil.Error):
                if child.cmdline() == cmdline:
                    nxt.append(child)
        if not nxt:
            return chain
        chain.append(nxt[0])


def daemon_process(mk: Minikubelet) -> psutil.Process:
    """The process that runs the pods."""
    return guard_chain(mk)[-1]


def zombie_children(proc: psutil.Process) -> list[int]:
    out = []
    for child in proc.children():
        with contextlib.suppress(psutil.Error):
            if child.status() == psutil.STATUS_ZOMBIE:
                out.append(child.pid)
    return out
