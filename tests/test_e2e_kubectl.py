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
from daemon_harness import event_messages as events_of

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

TOLERATIONS_WARNING = (
    "Warning: spec.tolerations: has no local meaning in minikubelet and is ignored "
    "(there is one node)\n"
)


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
    mk: Minikubelet, *args: str, stdin: str = "", timeout: float = 60
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


def kubectl_ok(mk: Minikubelet, *args: str, stdin: str = "", timeout: float = 60) -> str:
    """kubectl's stdout, the test failing with its stderr unless it exits 0."""
    out, err, code = kubectl(mk, *args, stdin=stdin, timeout=timeout)
    assert code == 0, err
    return out


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


UPDATABLE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
    "set to 1 if it was previously negative)"
)
UPDATED = """
    apiVersion: v1
    kind: Pod
    metadata: {name: upd}
    spec:
      terminationGracePeriodSeconds: 2
      tolerations: [{key: a, operator: Exists}]
      initContainers:
      - {name: side, image: busybox:1, restartPolicy: Always, command: [sleep, "600"]}
      containers:
      - {name: app, image: busybox:1, command: [sh, -c, "echo run; exec sleep 600"]}
      - {name: other, image: busybox:1, command: [sleep, "600"]}
"""


def _statuses(mk: Minikubelet, key: str = "containerStatuses") -> dict[str, tuple[str, int, bool]]:
    status = mk.pod("upd")["status"]
    return {
        c["name"]: (c["image"], c["restartCount"], "running" in c["state"]) for c in status[key]
    }


def test_set_image_restarts_only_that_container(tmp_path: Path) -> None:
    """kubectl set image / patch: ValidatePodUpdate allows new images; the kubelet kills the
    running container ("definition changed") and starts it again at once, whatever the restart
    policy; a sidecar likewise; the others go on."""
    path = tmp_path / "pod.yaml"
    path.write_text(textwrap.dedent(UPDATED).replace(
        "      tolerations: [{key: a, operator: Exists}]\n", "      restartPolicy: Never\n"
    ))  # fmt: skip
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_for("running", lambda: all(r for _, _, r in _statuses(mk).values()))
        assert kubectl(mk, "set", "image", "pod/upd", "app=busybox:2") == (
            "pod/upd image updated\n", "", 0
        )  # fmt: skip
        mk.wait_for(
            "app restarted with the new image",
            lambda: _statuses(mk) == {
                "app": ("busybox:2", 1, True), "other": ("busybox:1", 0, True)
            },
        )  # fmt: skip
        assert "Container app definition changed, will be restarted" in events_of(mk, "Killing")
        assert mk.pod("upd")["spec"]["containers"][0]["image"] == "busybox:2"
        patch = '{"spec":{"initContainers":[{"name":"side","image":"busybox:3"}]}}'
        assert kubectl(mk, "patch", "pod", "upd", "-p", patch) == ("pod/upd patched\n", "", 0)
        mk.wait_for(
            "sidecar restarted",
            lambda: _statuses(mk, "initContainerStatuses") == {"side": ("busybox:3", 1, True)},
        )
        assert "Init container side definition changed" in events_of(mk, "Killing")
        out, _, _ = kubectl(mk, "logs", "upd", "-c", "app")
        assert out == "run\n"  # the new container's own log
        # PUT (kubectl replace) of the pod as served, with another image
        served = json.loads(kubectl(mk, "get", "pod", "upd", "-o", "json")[0])
        served["spec"]["containers"][1]["image"] = "busybox:4"
        replaced = kubectl(mk, "replace", "-f", "-", stdin=json.dumps(served))
        # the pod's tolerations mean nothing here, and kubectl prints the server's warning
        assert replaced == ("pod/upd replaced\n", TOLERATIONS_WARNING, 0)
        mk.wait_for(
            "other restarted",
            lambda: _statuses(mk)["other"] == ("busybox:4", 1, True),
        )


def test_active_deadline_may_be_set_or_lowered_and_takes_effect(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(textwrap.dedent(UPDATED))
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_for("running", lambda: mk.pod("upd")["status"]["phase"] == "Running")
        ok = ("pod/upd patched\n", "", 0)
        assert (
            kubectl(mk, "patch", "pod", "upd", "-p", '{"spec":{"activeDeadlineSeconds":600}}') == ok
        )
        _out, err, code = kubectl(
            mk, "patch", "pod", "upd", "-p", '{"spec":{"activeDeadlineSeconds":700}}'
        )
        assert (err, code) == (
            'The Pod "upd" is invalid: spec.activeDeadlineSeconds: Invalid value: 700: '
            "must be less than or equal to previous value\n",
            1,
        )
        _out, err, code = kubectl(
            mk, "patch", "pod", "upd", "--type", "json",
            "-p", '[{"op": "remove", "path": "/spec/activeDeadlineSeconds"}]',
        )  # fmt: skip
        assert (err, code) == (
            'The Pod "upd" is invalid: spec.activeDeadlineSeconds: Invalid value: null: '
            "must not update from a positive integer to nil value\n",
            1,
        )
        assert mk.pod("upd")["spec"]["activeDeadlineSeconds"] == 600
        assert (
            kubectl(mk, "patch", "pod", "upd", "-p", '{"spec":{"activeDeadlineSeconds":2}}') == ok
        )
        pod = mk.wait_for(
            "Failed", lambda: (p := mk.pod("upd"))["status"]["phase"] == "Failed" and p, timeout=60
        )
        assert pod["status"]["reason"] == "DeadlineExceeded"
        assert events_of(mk, "DeadlineExceeded") == [
            "Pod was active on the node longer than the specified deadline"
        ]


def test_forbidden_spec_updates_keep_the_api_servers_text(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(textwrap.dedent(UPDATED))
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_for("running", lambda: mk.pod("upd")["status"]["phase"] == "Running")
        _out, err, code = kubectl(
            mk, "patch", "pod", "upd", "-p", '{"spec":{"restartPolicy":"Never"}}'
        )
        assert code == 1
        assert err == (
            f'The Pod "upd" is invalid: spec: Forbidden: {UPDATABLE}\n'
            "  core.PodSpec{\n"
            '- \trestartPolicy: "Always",\n'
            '+ \trestartPolicy: "Never",\n'
            "  }\n"
        )
        added = '{"spec":{"containers":[{"name":"more","image":"busybox","command":["true"]}]}}'
        _out, err, code = kubectl(mk, "patch", "pod", "upd", "-p", added)
        assert (err, code) == (
            'The Pod "upd" is invalid: spec.containers: Forbidden: pod updates may not add or '
            "remove containers\n",
            1,
        )
        more = '{"spec":{"tolerations":[{"key":"b","operator":"Exists"}]}}'
        patched = kubectl(mk, "patch", "pod", "upd", "-p", more)
        assert patched == ("pod/upd patched\n", TOLERATIONS_WARNING, 0)
        keys = [t["key"] for t in mk.pod("upd")["spec"]["tolerations"]]
        assert keys == ["a", "b"]
        changed = '[{"op":"replace","path":"/spec/tolerations/0/operator","value":"Equal"}]'
        _out, err, code = kubectl(mk, "patch", "pod", "upd", "--type", "json", "-p", changed)
        assert (err, code) == (
            'The Pod "upd" is invalid: spec.tolerations: Forbidden: existing toleration can not '
            "be modified except its tolerationSeconds\n",
            1,
        )
        statuses = _statuses(mk)
        assert all(count == 0 for _, count, _ in statuses.values())  # nothing restarted
