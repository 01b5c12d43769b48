"""Runs the real `minikubelet run` as a user would, for end-to-end tests.

`Minikubelet` starts `python -m minikubelet run --port 0 ...` in its own session, reads the
URL it prints, and offers blocking helpers that wait for a state with a deadline (polling the
API, never sleeping and hoping). On exit it stops the daemon (SIGTERM, then SIGKILL of its
whole process group) and records every process the daemon's tree ever had, so a test can
assert that none survives.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

JSONDict = dict[str, Any]


class Minikubelet:
    def __init__(
        self,
        manifest: str | Path,
        *args: str,
        state_dir: Path,
        stdin: str = "",
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        """`preexec_fn`: run in the daemon's process before it starts (resource limits)."""
        self.state_dir = state_dir
        argv = [sys.executable, "-m", "minikubelet", "run", str(manifest), "--port", "0"]
        argv += ["--state-dir", str(state_dir), "--log-format", "json", *args]
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
        assert self.proc.stdin is not None
        self.proc.stdin.write(stdin.encode())
        self.proc.stdin.close()
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        self.url = ""
        self._url_ready = threading.Event()
        self._seen: dict[int, float] = {}
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout_lines)),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines)),
        ]
        for t in self._readers:
            t.daemon = True
            t.start()

    def _read(self, stream: Any, sink: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            sink.append(line)
            if line.startswith("minikubelet: serving on "):
                self.url = line.split()[-1]
                self._url_ready.set()
        self._url_ready.set()

    def wait_serving(self, timeout: float = 15) -> str:
        assert self._url_ready.wait(timeout), "daemon did not print its URL in time"
        assert self.url, f"daemon exited: {self.stderr_lines[-20:]}"
        return self.url

    # --- API -----------------------------------------------------------------------------

    def get(self, path: str, *, accept: str = "application/json") -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, headers={"Accept": accept})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get_json(self, path: str) -> JSONDict:
        code, body = self.get(path)
        assert code == 200, (path, code, body[:500])
        data: JSONDict = json.loads(body)
        return data

    def pod(self, name: str, namespace: str = "default") -> JSONDict:
        return self.get_json(f"/api/v1/namespaces/{namespace}/pods/{name}")

    def container(self, pod: str, name: str, namespace: str = "default") -> JSONDict:
        status = self.pod(pod, namespace)["status"]
        for c in status.get("containerStatuses", []) + status.get("initContainerStatuses", []):
            if c["name"] == name:
                return dict(c)
        raise AssertionError(f"no status for container {name}: {status}")

    def events(self, namespace: str = "default") -> list[JSONDict]:
        return list(self.get_json(f"/api/v1/namespaces/{namespace}/events")["items"])

    def wait_for(
        self, what: str, check: Callable[[], Any], timeout: float = 20, interval: float = 0.05
    ) -> Any:
        """Re-checks until `check()` returns something truthy; fails with `what` at the
        deadline, showing the last value and the daemon's recent output."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self._remember_tree()
            try:
                last = check()
            except (AssertionError, KeyError, IndexError, OSError) as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(
            f"timed out waiting for {what}; last: {last!r}\n" + "\n".join(self.stderr_lines[-15:])
        )

    # --- processes -------------------------------------------------------------------------

    def _remember_tree(self) -> None:
        with contextlib.suppress(psutil.Error):
            for p in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self._seen[p.pid] = p.create_time()

    def survivors(self) -> list[psutil.Process]:
        alive = []
        for pid, created in self._seen.items():
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                if abs(p.create_time() - created) < 0.05 and p.status() != psutil.STATUS_ZOMBIE:
                    alive.append(p)
        return alive

    def signal(self, sig: int) -> None:
        self._remember_tree()
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout)
        for t in self._readers:
            t.join(5)
        return code

    def close(self) -> None:
        """Stops the daemon if it still runs, and kills anything left (never fails)."""
        self._remember_tree()
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        for p in self.survivors():
            with contextlib.suppress(psutil.Error):
                p.kill()

    def __enter__(self) -> Minikubelet:
        self.wait_serving()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def condition(pod: JSONDict, ctype: str) -> JSONDict | None:
    for c in pod.get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return dict(c)
    return None


def write_manifest(tmp_path: Path, text: str, name: str = "pod.yaml") -> Path:
    """Writes an indented inline manifest, dedented, and returns its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def run_manifest(tmp_path: Path, text: str, *args: str) -> Minikubelet:
    """Starts `minikubelet run` on an inline manifest, with a state directory in tmp_path."""
    return Minikubelet(write_manifest(tmp_path, text), *args, state_dir=tmp_path / "state")


def serving(
    tmp_path_factory: pytest.TempPathFactory, name: str, text: str, *args: str
) -> Iterator[Minikubelet]:
    """The body of a module-scoped daemon fixture (`yield from serving(...)`): `minikubelet
    run` on an inline manifest, serving before the first test, closed after the last, and
    nothing it started left running."""
    tmp = tmp_path_factory.mktemp(name)
    daemon = Minikubelet(write_manifest(tmp, text, "base.yaml"), *args, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()
    assert daemon.survivors() == []


def event_messages(mk: Minikubelet, reason: str) -> list[str]:
    return [e["message"] for e in mk.events() if e["reason"] == reason]
