"""Faults at a container's start, in its logging and in the daemon's resources stay with the
container they hit: a request or manifest the process table cannot take is refused naming
the field; a pod whose log directory cannot be made, a full disk, a read-only state dir and a
daemon out of file descriptors give that container a start error or a warning, retried with
backoff, while the daemon and every other pod go on.
"""

from __future__ import annotations

import contextlib
import json
import resource
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from daemon_harness import Minikubelet, event_messages, write_manifest
from reliability_helpers import fill, small_tmpfs, start

pytestmark = pytest.mark.slow

PODS = "/api/v1/namespaces/default/pods"
LONG_NAME = ("a" * 62 + ".") * 4 + "a"  # 253: the longest valid name


def pod_doc(name: str, command: list[str], policy: str = "Always") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "app", "image": "busybox", "command": command}],
        },
    }


SLEEPER = textwrap.dedent(
    """
    apiVersion: v1
    kind: Pod
    metadata: {name: steady}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox
        command: ["sleep", "1000"]
    """
)


def post(mk: Minikubelet, doc: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, urllib.request, urllib.error\n"
            "req = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), "
            "headers={'Content-Type': 'application/json'}, method='POST')\n"
            "try:\n"
            "    r = urllib.request.urlopen(req, timeout=10); print(r.status); "
            "sys.stdout.write(r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code); sys.stdout.write(e.read().decode())\n",
            mk.url + PODS,
        ],
        input=json.dumps(doc).encode(),
        capture_output=True,
        check=True,
        timeout=30,
    )
    code, _, body = proc.stdout.decode().partition("\n")
    return int(code), json.loads(body)


def steady_running(mk: Minikubelet) -> bool:
    state = mk.container("steady", "app")["state"]
    return "running" in state and mk.get("/healthz") == (200, b"ok")


def test_nul_and_surrogates_are_refused_by_the_api_naming_the_field(tmp_path: Path) -> None:
    with start(tmp_path, SLEEPER) as mk:
        mk.wait_for("steady running", lambda: steady_running(mk))
        # JSON can carry both: \u0000 and a lone \ud800
        for command, detail in (
            (["sh", "a\0b"], 'command[1]: Invalid value: "a\\x00b": must not contain a NUL byte'),
            (["sh", "\ud800"], 'command[1]: Invalid value: "\\ud800": must be valid UTF-8 text'),
        ):
            code, status = post(mk, pod_doc("bad", command))
            assert code == 422, status
            assert f"spec.containers[0].{detail}" in status["message"], status
        assert steady_running(mk)


def test_a_nul_in_a_manifest_file_is_exit_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(json.dumps(pod_doc("bad", ["sh", "-c", "x\0"])))
    run = ["run", str(path), "--state-dir", str(tmp_path / "state"), "--port", "0"]
    for args in (run, ["validate", str(path)]):
        proc = subprocess.run(
            [sys.executable, "-m", "minikubelet", *args],
            capture_output=True,
            timeout=60,
            check=False,
        )
        err = proc.stderr.decode()
        assert proc.returncode == 2, err
        assert "Traceback" not in err
        assert 'spec.containers[0].command[2]: Invalid value: "x\\x00"' in err


def test_a_pod_whose_log_directory_cannot_be_made_fails_alone(tmp_path: Path) -> None:
    """A valid 253-character name makes a log directory name past the file system's 255."""
    with start(tmp_path, SLEEPER, "--backoff-initial", "0.2", "--backoff-max", "0.5") as mk:
        mk.wait_for("steady running", lambda: steady_running(mk))
        code, body = post(mk, pod_doc(LONG_NAME, ["sleep", "1000"]))
        assert code == 201, body

        def start_error() -> dict[str, Any] | None:
            status = mk.container(LONG_NAME, "app")
            last = status.get("lastState", {}).get("terminated", {})
            return status if last.get("reason") == "StartError" else None

        status = mk.wait_for("a StartError", start_error)
        assert status["state"]["waiting"]["reason"] in ("RunContainerError", "CrashLoopBackOff")
        assert "file name too long" in status["lastState"]["terminated"]["message"]
        assert status["lastState"]["terminated"]["exitCode"] == 128
        failed = event_messages(mk, "Failed")
        assert any("failed to create and open log file" in m for m in failed), failed
        sandbox = event_messages(mk, "FailedCreatePodSandBox")
        assert any("file name too long" in m for m in sandbox), sandbox
        # retried with backoff, as a failed start is: the restart count goes up
        mk.wait_for("a retry", lambda: mk.container(LONG_NAME, "app")["restartCount"] >= 2)
        assert steady_running(mk)
        mk.signal(15)
        assert mk.wait_exit() == 0
        assert mk.survivors() == []
        assert not any("Traceback" in line for line in mk.stderr_lines)


def test_start_errors_respect_restart_policy_never(tmp_path: Path) -> None:
    with start(tmp_path, SLEEPER) as mk:
        mk.wait_for("steady running", lambda: steady_running(mk))
        code, body = post(mk, pod_doc(LONG_NAME, ["sleep", "1000"], policy="Never"))
        assert code == 201, body
        pod = mk.wait_for(
            "the pod failed",
            lambda: (p := mk.pod(LONG_NAME))["status"]["phase"] == "Failed" and p,
        )
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["reason"] == "StartError"
        assert terminated["exitCode"] == 128
        assert "file name too long" in terminated["message"]
        assert steady_running(mk)


def chatty(ctrl: Path) -> str:
    """A pod whose container prints a line every 50 ms and exits 3 when `ctrl` appears."""
    script = (
        "i=0; while true; do i=$((i+1)); echo line $i; "
        f"if [ -e {ctrl} ]; then rm -f {ctrl}; exit 3; fi; sleep 0.05; done"
    )
    return textwrap.dedent(
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: chatty}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", {json.dumps(script)}]
        """
    )


def restarted_with(mk: Minikubelet, count: int, reason: str = "Error") -> dict[str, Any] | None:
    status = mk.container("chatty", "app")
    last = status.get("lastState", {}).get("terminated", {})
    if status["restartCount"] >= count and last.get("reason") == reason:
        return status
    return None


def log_text(mk: Minikubelet) -> str:
    code, body = mk.get(f"{PODS}/chatty/log", accept="*/*")
    return body.decode() if code == 200 else ""


def test_a_full_disk_drops_log_lines_but_exits_restarts_and_stops(tmp_path: Path) -> None:
    ctrl = tmp_path / "exit-now"
    with small_tmpfs(tmp_path / "state", "1m") as state:
        mk = Minikubelet(
            write_manifest(tmp_path, chatty(ctrl)),
            "--quiet-logs",
            "--backoff-initial",
            "0.2",
            "--backoff-max",
            "0.5",
            state_dir=state,
        )
        try:
            mk.wait_serving()
            mk.wait_for("running", lambda: "running" in mk.container("chatty", "app")["state"])
            filler = fill(state)
            dropped = mk.wait_for(
                "a LogLinesDropped event", lambda: event_messages(mk, "LogLinesDropped")
            )
            assert "No space left on device" in dropped[0], dropped
            ctrl.touch()  # the exit is recorded and the container restarted, disk full or not
            mk.wait_for("exit 3 recorded and restarted", lambda: restarted_with(mk, 1))
            mk.wait_for(
                "running again", lambda: "running" in mk.container("chatty", "app")["state"]
            )
            filler.unlink()  # space returns: so do the lines
            marker = mk.wait_for("new lines in the log", lambda: "line" in log_text(mk))
            assert marker
            mk.wait_for(
                "the loss said in the daemon's log",
                lambda: any("log lines were dropped" in line for line in mk.stderr_lines),
            )
            code, metrics = mk.get("/metrics", accept="text/plain")
            assert code == 200
            assert any(
                line.startswith("minikubelet_log_lines_dropped_total{")
                and float(line.split()[-1]) > 0
                for line in metrics.decode().splitlines()
            ), metrics.decode()[-2000:]
            mk.signal(15)
            assert mk.wait_exit() == 0
            assert mk.survivors() == []
            assert not any("Traceback" in line for line in mk.stderr_lines)
        finally:
            mk.close()


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path` read-only where it is (a read-only bind mount over itself; as root, chmod
    would not stop the daemon). Skips where bind mounts are not allowed."""
    done = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.decode(errors='replace').strip()}")
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(path)], capture_output=True, check=True
        )
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def test_a_read_only_state_dir_at_a_restart_is_a_start_error_retried(tmp_path: Path) -> None:
    ctrl = tmp_path / "exit-now"
    with start(tmp_path, chatty(ctrl), "--backoff-initial", "0.2", "--backoff-max", "0.5") as mk:
        mk.wait_for("running", lambda: "running" in mk.container("chatty", "app")["state"])
        with read_only(tmp_path / "state" / "pods"):
            ctrl.touch()
            status = mk.wait_for("a StartError", lambda: restarted_with(mk, 2, reason="StartError"))
            message = status["lastState"]["terminated"]["message"]
            assert "read-only file system" in message, message
            assert mk.get("/healthz") == (200, b"ok")
        mk.wait_for("running again", lambda: "running" in mk.container("chatty", "app")["state"])
        mk.signal(15)
        assert mk.wait_exit() == 0
        assert mk.survivors() == []


def few_descriptors() -> None:
    """In the daemon's child before exec: soft and hard limit 256, so raising is no help."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_idle_connections_cannot_exhaust_descriptors_and_restarts_go_on(tmp_path: Path) -> None:
    """400 idle connections (no bytes sent) to a daemon allowed 256 descriptors: it still
    answers, a watch in flight is not cut, a container restart opens its log, and SIGTERM
    stops the daemon with the watch still open."""
    ctrl = tmp_path / "exit-now"
    mk = Minikubelet(
        write_manifest(tmp_path, chatty(ctrl)),
        "--quiet-logs",
        "--backoff-initial",
        "0.2",
        state_dir=tmp_path / "state",
        preexec_fn=few_descriptors,
    )
    idle: list[socket.socket] = []
    try:
        mk.wait_serving()
        mk.wait_for("running", lambda: "running" in mk.container("chatty", "app")["state"])
        url = urlsplit(mk.url)
        address = (url.hostname or "127.0.0.1", url.port or 0)
        watch = socket.create_connection(address, timeout=30)
        idle.append(watch)
        watch.sendall(f"GET {PODS}?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert watch.recv(65536).startswith(b"HTTP/1.1 200")
        for _ in range(400):
            with contextlib.suppress(OSError):
                idle.append(socket.create_connection(address, timeout=5))
        assert len(idle) > 300
        mk.wait_for("healthz answers", lambda: mk.get("/healthz") == (200, b"ok"), timeout=60)
        ctrl.touch()
        mk.wait_for("exit recorded and restarted", lambda: restarted_with(mk, 1))
        mk.wait_for("running again", lambda: "running" in mk.container("chatty", "app")["state"])
        watched = b""
        with contextlib.suppress(TimeoutError):
            while b'"restartCount":1' not in watched.replace(b" ", b""):
                chunk = watch.recv(65536)
                if not chunk:
                    break
                watched += chunk
        assert b'"restartCount":1' in watched.replace(b" ", b""), watched[-500:]
        assert any("idle connection closed" in line for line in mk.stderr_lines)
        mk.signal(15)
        assert mk.wait_exit() == 0
        assert mk.survivors() == []
    finally:
        for s in idle:
            s.close()
        mk.close()


def test_the_soft_open_files_limit_is_raised_to_the_hard_limit() -> None:
    code = (
        "import resource\n"
        "from minikubelet.clirun import raise_open_files_limit\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096))\n"
        "print(raise_open_files_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, timeout=60
    ).stdout.split()
    assert out == [b"4096", b"4096", b"4096"]


def test_out_of_descriptors_at_a_start_is_a_start_error_retried(tmp_path: Path) -> None:
    script = Path(__file__).with_name("emfile_start.py")
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "state")],
        capture_output=True,
        timeout=120,
        check=False,
        cwd=script.parent,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    result = json.loads(proc.stdout.decode().splitlines()[-1])
    assert "too many open files" in result["message"].lower(), result
    assert result["restart_count"] >= 1
