"""The real kubectl against a live daemon running real processes.

Each test runs `kubectl --server URL ...` as a user would and asserts on what it prints,
stdout and stderr: get (STATUS column for running, crash-looping, completed, failed and
initialising pods), wide/yaml/json/jsonpath, describe, logs, events, create/apply with the API
server's errors, delete with graceful termination, and watch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from daemon_harness import Minikubelet

KUBECTL = str(Path(sys.executable).parent / "kubectl")

PODS = """
    apiVersion: v1
    kind: Pod
    metadata: {name: web, labels: {app: web}}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "echo serving; echo warn >&2; exec sleep 600"]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: crash}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "echo crashing; exit 1"]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: done}
    spec:
      restartPolicy: Never
      containers: [{name: app, image: busybox, command: [sh, -c, "echo finished"]}]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: failed}
    spec:
      restartPolicy: Never
      containers: [{name: app, image: busybox, command: [sh, -c, "exit 3"]}]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: initing}
    spec:
      initContainers:
      - {name: wait, image: busybox, command: [sleep, "600"]}
      containers: [{name: app, image: busybox, command: [sleep, "600"]}]
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Minikubelet:
    tmp = tmp_path_factory.mktemp("kubectl")
    path = tmp / "pods.yaml"
    path.write_text(textwrap.dedent(PODS))
    daemon = Minikubelet(path, "--backoff-initial", "30", state_dir=tmp / "state")
    daemon.wait_serving()
    daemon.wait_for(
        "pods settled",
        lambda: (
            daemon.pod("done")["status"]["phase"] == "Succeeded"
            and daemon.pod("failed")["status"]["phase"] == "Failed"
            and "waiting" in daemon.container("crash", "app")["state"]
            and daemon.container("crash", "app")["restartCount"] >= 1
            and daemon.pod("web")["status"]["containerStatuses"][0]["ready"]
        ),
    )
    yield daemon  # type: ignore[misc]
    daemon.close()


def kubectl(
    mk: Minikubelet, *args: str, stdin: str = "", timeout: float = 20
) -> tuple[str, str, int]:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    result = subprocess.run(
        [KUBECTL, "--server", mk.url, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return result.stdout, result.stderr, result.returncode


def rows(out: str) -> dict[str, list[str]]:
    lines = out.strip().splitlines()
    return {line.split()[0]: line.split() for line in lines[1:]}


def test_get_pods_status_column(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "get", "pods")
    assert (err, code) == ("", 0)
    assert out.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    table = rows(out)
    assert table["web"][1:4] == ["1/1", "Running", "0"]
    assert table["crash"][1:3] == ["0/1", "CrashLoopBackOff"]
    assert table["done"][1:4] == ["0/1", "Completed", "0"]
    assert table["failed"][1:4] == ["0/1", "Error", "0"]
    assert table["initing"][1:3] == ["0/1", "Init:0/1"]


def test_get_wide_namespaces_and_formats(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "get", "pods", "-o", "wide", "-A")
    assert (err, code) == ("", 0)
    header = out.splitlines()[0].split()
    assert header[:2] == ["NAMESPACE", "NAME"]
    assert "IP" in header
    assert "NODE" in header
    assert "127.0.0.1" in out
    out, err, code = kubectl(mk, "get", "pod", "web", "-o", "json")
    assert (err, code) == ("", 0)
    pod = json.loads(out)
    assert (pod["kind"], pod["metadata"]["name"], pod["status"]["phase"]) == (
        "Pod",
        "web",
        "Running",
    )
    out, _, _ = kubectl(
        mk, "get", "pod", "web", "-o", "jsonpath={.status.containerStatuses[0].ready}"
    )
    assert out == "true"
    out, err, code = kubectl(mk, "get", "pod", "web", "-o", "yaml")
    assert (err, code) == ("", 0)
    assert "phase: Running" in out
    out, err, code = kubectl(mk, "get", "pods", "-l", "app=web", "-o", "name")
    assert (out, err, code) == ("pod/web\n", "", 0)
    out, err, code = kubectl(mk, "get", "pods", "-n", "other")
    assert (out, code) == ("", 0)
    assert err == "No resources found in other namespace.\n"


def test_get_missing_pod(mk: Minikubelet) -> None:
    _out, err, code = kubectl(mk, "get", "pod", "nope")
    assert code == 1
    assert err == 'Error from server (NotFound): pods "nope" not found\n'


def test_describe(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "describe", "pod", "crash")
    assert (err, code) == ("", 0)
    assert "Status:       Running" in out
    assert "Reason:       CrashLoopBackOff" in out
    assert "Last State:     Terminated" in out
    assert "Exit Code:    1" in out
    assert "Ready                       False" in out
    assert "Back-off restarting failed container app in pod crash_default(" in out
    assert "Started container app" in out


def test_logs(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "logs", "web")
    assert (out, err, code) == ("serving\nwarn\n", "", 0)
    out, _, code = kubectl(mk, "logs", "web", "--tail", "1")
    assert (out, code) == ("warn\n", 0)
    out, _, _ = kubectl(mk, "logs", "web", "--timestamps")
    assert out.splitlines()[0].endswith("Z serving")
    out, err, code = kubectl(mk, "logs", "crash", "--previous")
    assert (out, code) == ("crashing\n", 0)
    out, err, code = kubectl(mk, "logs", "initing", "-c", "app")
    assert code == 1
    assert 'container "app" in pod "initing" is waiting to start: PodInitializing' in err


def test_events(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "get", "events", "--field-selector", "involvedObject.name=crash")
    assert (err, code) == ("", 0)
    assert "BackOff" in out
    assert "pod/web" not in out


def test_create_apply_invalid_and_delete(mk: Minikubelet, tmp_path: Path) -> None:
    good = textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: added}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    """)
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=good)
    assert (out, err, code) == ("pod/added created\n", "", 0)
    mk.wait_for("added running", lambda: mk.pod("added")["status"]["phase"] == "Running")
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=good)
    assert code == 1
    assert 'pods "added" already exists' in err

    bad = good.replace("name: app", "name: App")
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=bad.replace("added", "broken"))
    assert code == 1
    assert 'The Pod "broken" is invalid: spec.containers[0].name: Invalid value: "App"' in err
    assert "broken" not in kubectl(mk, "get", "pods")[0]

    out, err, code = kubectl(mk, "apply", "-f", "-", stdin=good.replace("added", "applied"))
    assert (out, code) == ("pod/applied created\n", 0)

    out, err, code = kubectl(mk, "delete", "pod", "added", timeout=30)
    assert (out, err, code) == ('pod "added" deleted from default namespace\n', "", 0)
    out, err, code = kubectl(mk, "get", "pod", "added")
    assert code == 1


def test_watch_streams_changes(mk: Minikubelet) -> None:
    proc = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "get", "pods", "-w", "--request-timeout=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUBECONFIG": "/dev/null"},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split()[0] == "NAME"
        pod = textwrap.dedent("""
            apiVersion: v1
            kind: Pod
            metadata: {name: watched}
            spec:
              containers: [{name: app, image: busybox, command: [sleep, "600"]}]
        """)
        assert kubectl(mk, "create", "-f", "-", stdin=pod)[2] == 0
        deadline = time.monotonic() + 15
        seen: list[str] = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            seen.append(line)
            if line.startswith("watched") and "Running" in line:
                break
        assert any(line.startswith("watched") and "Running" in line for line in seen), seen
    finally:
        proc.kill()
        proc.wait(5)


def test_token_over_tls(tmp_path: Path) -> None:
    """With --token-file every request needs the token; kubectl sends one only over HTTPS,
    so the daemon serves TLS with --tls-cert-file / --tls-private-key-file."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-nodes",
            "-days",
            "1",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    pod = tmp_path / "pod.yaml"
    pod.write_text(textwrap.dedent(PODS).split("---")[0])
    args = ["--token-file", str(token), "--tls-cert-file", str(cert)]
    args += ["--tls-private-key-file", str(key)]
    with Minikubelet(pod, *args, state_dir=tmp_path / "state") as mk:
        assert mk.url.startswith("https://127.0.0.1:")
        secure = ["--insecure-skip-tls-verify"]
        out, err, code = kubectl(
            mk, *secure, "--token", "s3cret", "get", "pod", "web", "-o", "name"
        )
        assert (out, err, code) == ("pod/web\n", "", 0)
        out, err, code = kubectl(mk, *secure, "--token", "wrong", "get", "pods")
        assert code == 1
        assert "Unauthorized" in err or "must be logged in" in err
