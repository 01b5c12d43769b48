"""`kubectl debug` with the real kubectl against a live daemon: the pods/ephemeralcontainers
subresource (discovery, GET, strategic merge and JSON patches, PUT, the API server's 422s),
an ephemeral container run once with its output in `kubectl logs`, one attached through
`-i` with a target, one on a terminal (`-it` from a pseudo-terminal), its status as the kubelet reports it (no `started`, never ready, never
restarted), the pod's phase and Ready condition untouched, its events, its end with the
pod's, and `--copy-to`. No timing bounds: every wait has a generous deadline."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from daemon_harness import Minikubelet, condition, serving

KUBECTL = str(Path(sys.executable).parent / "kubectl")
WAIT = 60.0

PODS = """
    apiVersion: v1
    kind: Pod
    metadata: {name: web}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "echo serving; exec sleep 600"]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: other}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "exec sleep 6002"]
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    for daemon in serving(tmp_path_factory, "debug", PODS, "--quiet-logs"):
        for pod in ("web", "other"):
            daemon.wait_for(
                f"{pod} running",
                lambda d=daemon, pod=pod: "running" in d.container(pod, "app")["state"],
                timeout=WAIT,
            )
        yield daemon


def kubectl(mk: Minikubelet, *args: str, stdin: str = "") -> tuple[str, str, int]:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    result = subprocess.run(
        [KUBECTL, "--server", mk.url, *args],
        input=stdin.encode(),
        capture_output=True,
        timeout=120,
        env=env,
    )
    return result.stdout.decode(), result.stderr.decode(), result.returncode


def kubectl_ok(mk: Minikubelet, *args: str, stdin: str = "") -> str:
    out, err, code = kubectl(mk, *args, stdin=stdin)
    assert code == 0, err
    return out


def ephemeral_status(mk: Minikubelet, pod: str, name: str) -> dict[str, Any]:
    for status in mk.pod(pod)["status"].get("ephemeralContainerStatuses", []):
        if status["name"] == name:
            return dict(status)
    raise AssertionError(f"no ephemeral status for {name}")


def debugger_names(mk: Minikubelet, pod: str) -> list[str]:
    return [c["name"] for c in mk.pod(pod)["spec"].get("ephemeralContainers", [])]


def request(mk: Minikubelet, method: str, path: str, body: Any, content_type: str) -> tuple:
    req = urllib.request.Request(
        mk.url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


SUB = "/api/v1/namespaces/default/pods/{}/ephemeralcontainers"


def test_discovery_lists_the_subresource(mk: Minikubelet) -> None:
    resources = {r["name"]: r for r in mk.get_json("/api/v1")["resources"]}
    assert resources["pods/ephemeralcontainers"]["kind"] == "Pod"
    assert sorted(resources["pods/ephemeralcontainers"]["verbs"]) == ["get", "patch", "update"]
    got = mk.get_json(SUB.format("web"))
    assert got["kind"] == "Pod"
    assert got["metadata"]["name"] == "web"


def test_debug_runs_once_and_logs_show_its_output(mk: Minikubelet) -> None:
    before = set(debugger_names(mk, "web"))
    kubectl_ok(mk, "debug", "web", "--image=busybox", "--", "sh", "-c", "echo hi")
    (name,) = set(debugger_names(mk, "web")) - before
    assert name.startswith("debugger-")
    status = mk.wait_for(
        "the debug container terminated",
        lambda: (s := ephemeral_status(mk, "web", name))["state"].get("terminated") and s,
        timeout=WAIT,
    )
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["state"]["terminated"]["reason"] == "Completed"
    assert status["ready"] is False
    assert "started" not in status
    assert status["restartCount"] == 0
    assert status["lastState"] == {}
    assert mk.wait_for(
        "its log", lambda: kubectl_ok(mk, "logs", "web", "-c", name) == "hi\n", timeout=WAIT
    )
    # the pod's restartPolicy is Always, yet it is not started again
    assert ephemeral_status(mk, "web", name)["restartCount"] == 0
    pod = mk.pod("web")
    assert pod["status"]["phase"] == "Running"
    ready = condition(pod, "Ready")
    assert ready is not None
    assert ready["status"] == "True"
    assert [s["name"] for s in pod["status"]["containerStatuses"]] == ["app"]
    paths = {
        (e["reason"], e["involvedObject"].get("fieldPath"))
        for e in mk.events()
        if e["involvedObject"]["name"] == "web"
    }
    for reason in ("Created", "Started"):
        assert (reason, f"spec.ephemeralContainers{{{name}}}") in paths


def test_debug_interactive_with_a_target(mk: Minikubelet) -> None:
    out, err, code = kubectl(
        mk,
        "debug", "web", "-i", "--image=busybox", "--target=app", "--container=shell",
        "--", "sh",
        stdin="echo from-the-debugger $((6 * 7))\nexit 0\n",
    )  # fmt: skip
    assert code == 0, err
    assert "from-the-debugger 42" in out
    spec = next(c for c in mk.pod("web")["spec"]["ephemeralContainers"] if c["name"] == "shell")
    assert spec["targetContainerName"] == "app"
    assert spec["stdin"] is True
    mk.wait_for(
        "the shell exited",
        lambda: ephemeral_status(mk, "web", "shell")["state"].get("terminated"),
        timeout=WAIT,
    )


def test_the_api_servers_rules(mk: Minikubelet) -> None:
    path = SUB.format("other")
    merge = "application/strategic-merge-patch+json"
    bad = {"name": "app", "image": "busybox", "ports": [{"containerPort": 80}],
           "targetContainerName": "nope", "readinessProbe": {"exec": {"command": ["true"]}}}  # fmt: skip
    code, status = request(mk, "PATCH", path, {"spec": {"ephemeralContainers": [bad]}}, merge)
    assert code == 422, status
    causes = {(c["field"], c["message"]) for c in status["details"]["causes"]}
    assert causes >= {
        ("spec.ephemeralContainers[0].name", 'Duplicate value: "app"'),
        ("spec.ephemeralContainers[0].targetContainerName", 'Not found: "nope"'),
        ("spec.ephemeralContainers[0].ports", "Forbidden: cannot be set for an Ephemeral Container"),
        ("spec.ephemeralContainers[0].readinessProbe",
         "Forbidden: cannot be set for an Ephemeral Container"),
    }  # fmt: skip
    add = [{"op": "add", "path": "/spec/ephemeralContainers", "value": [
        {"name": "sleeper", "image": "busybox", "command": ["sh", "-c", "exec sleep 6001"]}]}]  # fmt: skip
    code, pod = request(mk, "PATCH", path, add, "application/json-patch+json")
    assert code == 200, pod
    assert [c["name"] for c in pod["spec"]["ephemeralContainers"]] == ["sleeper"]
    assert pod["spec"]["ephemeralContainers"][0]["terminationMessagePolicy"] == "File"
    mk.wait_for(
        "the sleeper running",
        lambda: "running" in ephemeral_status(mk, "other", "sleeper")["state"],
        timeout=WAIT,
    )
    # existing ones may be neither removed nor changed, here or through the pod itself
    current = mk.pod("other")
    code, status = request(mk, "PUT", path, {**current, "spec": {**current["spec"],
                           "ephemeralContainers": []}}, "application/json")  # fmt: skip
    assert code == 422, status
    assert 'existing ephemeral containers "sleeper" may not be removed' in status["message"]
    changed = [{"op": "replace", "path": "/spec/ephemeralContainers/0/image", "value": "alpine"}]
    code, status = request(mk, "PATCH", path, changed, "application/json-patch+json")
    assert code == 422
    assert 'containers "sleeper" may not be changed' in status["message"]
    code, status = request(
        mk, "PATCH", "/api/v1/namespaces/default/pods/other", changed,
        "application/json-patch+json",
    )  # fmt: skip
    assert code == 422
    assert "spec: Forbidden: pod updates may not change fields" in status["message"]
    # a label is still an update as any other
    kubectl_ok(mk, "label", "pod", "other", "debugged=yes")
    assert mk.pod("other")["metadata"]["labels"] == {"debugged": "yes"}
    # the pod's deletion ends the ephemeral container with the others
    assert sorted(sleepers()) == [["sleep", "6001"], ["sleep", "6002"]]
    kubectl_ok(mk, "delete", "pod", "other", "--grace-period=1")
    mk.wait_for("other gone", lambda: kubectl(mk, "get", "pod", "other")[2] != 0, timeout=WAIT)
    mk.wait_for("its processes gone", lambda: sleepers() == [], timeout=WAIT)


def sleepers() -> list[list[str]]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline in (["sleep", "6001"], ["sleep", "6002"]):
            found.append(cmdline)
    return found


def test_copy_to_makes_a_new_pod(mk: Minikubelet) -> None:
    kubectl_ok(mk, "debug", "web", "--copy-to=web-copy", "--container=app", "--",
               "sh", "-c", "echo copied; exec sleep 600")  # fmt: skip
    mk.wait_for(
        "the copy's log",
        lambda: kubectl(mk, "logs", "web-copy", "-c", "app")[0] == "copied\n",
        timeout=WAIT,
    )
    assert mk.pod("web-copy")["spec"].get("ephemeralContainers") is None
    kubectl_ok(mk, "delete", "pod", "web-copy", "--grace-period=1")


def test_debug_it_under_a_terminal(mk: Minikubelet) -> None:
    """`kubectl debug -it` as from a shell: kubectl on a pseudo-terminal (raw mode: Enter is
    a carriage return), the container on one of its own, what is typed echoed back."""
    argv = [KUBECTL, "--kubeconfig", "/dev/null", "--server", mk.url, "debug", "web", "-it",
            "--image=busybox", "--target=app", "--container=term", "--", "sh"]  # fmt: skip
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on the terminal
        os.execv(argv[0], argv)
    seen = b""

    def read_until(text: bytes) -> bool:
        nonlocal seen
        deadline = time.monotonic() + WAIT
        while text not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        return text in seen

    try:
        assert read_until(b"try pressing enter"), seen
        mk.wait_for(
            "the terminal's container running",
            lambda: "running" in ephemeral_status(mk, "web", "term")["state"],
            timeout=WAIT,
        )
        os.write(fd, b"echo typed-$((2 + 3))\r")
        assert read_until(b"typed-5\r\n"), seen
        assert b"echo typed-$((2 + 3))" in seen  # the terminal echoed it
        os.write(fd, b"exit\r")
        assert read_until(b"Session ended"), seen
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
    spec = next(c for c in mk.pod("web")["spec"]["ephemeralContainers"] if c["name"] == "term")
    assert spec["tty"] is True
    mk.wait_for(
        "the shell exited",
        lambda: ephemeral_status(mk, "web", "term")["state"].get("terminated"),
        timeout=WAIT,
    )
