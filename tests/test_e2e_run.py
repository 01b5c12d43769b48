"""`minikubelet run` end to end, as a user runs it: real processes, the real HTTP API.

Covers running, crash loops with backoff, run-to-completion under Never and OnFailure, status
shape, events, logs, bad manifests (nothing started) and shutdown with nothing left behind.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from daemon_harness import Minikubelet, condition
from daemon_harness import write_manifest as write

ROOT = Path(__file__).resolve().parent.parent
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def daemon(tmp_path: Path, manifest: Path | str, *args: str, stdin: str = "") -> Minikubelet:
    return Minikubelet(manifest, *args, state_dir=tmp_path / "state", stdin=stdin)


SLEEPER = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: sleeper
      labels: {app: demo}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "echo hello from app; exec sleep 1000"]
"""


def test_running_pod_status_shape(tmp_path: Path) -> None:
    with daemon(tmp_path, write(tmp_path, SLEEPER)) as mk:
        pod = mk.wait_for(
            "Ready",
            lambda: (
                (p := mk.pod("sleeper"))["status"]["phase"] == "Running"
                and condition(p, "Ready")["status"] == "True"
                and p
            ),
        )
        status = pod["status"]
        assert [c["type"] for c in status["conditions"]] == [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        assert all(c["status"] == "True" for c in status["conditions"])
        assert all(RFC3339.match(c["lastTransitionTime"]) for c in status["conditions"])
        (app,) = status["containerStatuses"]
        assert app["name"] == "app"
        assert app["ready"] is True
        assert app["started"] is True
        assert app["restartCount"] == 0
        assert app["containerID"].startswith("minikubelet://")
        assert RFC3339.match(app["state"]["running"]["startedAt"])
        assert app["lastState"] == {}
        assert status["hostIP"] == status["podIP"] == "127.0.0.1"
        assert status["qosClass"] == "BestEffort"
        assert RFC3339.match(status["startTime"])
        assert pod["metadata"]["namespace"] == "default"
        assert pod["spec"]["restartPolicy"] == "Always"
        assert pod["spec"]["terminationGracePeriodSeconds"] == 30

        code, body = mk.get("/healthz")
        assert (code, body) == (200, b"ok")
        podlist = mk.get_json("/pods")
        assert podlist["kind"] == "PodList"
        assert [p["metadata"]["name"] for p in podlist["items"]] == ["sleeper"]

        code, body = mk.get("/api/v1/namespaces/default/pods/nope")
        assert code == 404
        st = json.loads(body)
        assert (st["kind"], st["status"], st["reason"], st["code"]) == (
            "Status",
            "Failure",
            "NotFound",
            404,
        )
        assert st["message"] == 'pods "nope" not found'

        log_dir = next((tmp_path / "state" / "pods").glob("default_sleeper_*")) / "app"
        line = (log_dir / "0.log").read_text().splitlines()[0]
        assert re.match(r"^\S+Z stdout F hello from app$", line)
        mk.wait_for("console echo", lambda: "[sleeper/app] hello from app" in mk.stdout_lines)

        events = mk.events()
        reasons = [(e["reason"], e["message"]) for e in events]
        assert ("Created", "Created container: app") in reasons
        assert ("Started", "Started container app") in reasons
        started = next(e for e in events if e["reason"] == "Started")
        assert started["involvedObject"]["fieldPath"] == "spec.containers{app}"
        assert started["involvedObject"]["name"] == "sleeper"


CRASHER = """
    apiVersion: v1
    kind: Pod
    metadata: {name: crasher}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "echo boom >&2; exit 1"]
"""


def test_crash_loop_backoff(tmp_path: Path) -> None:
    """First crash restarts at once; later ones wait, doubling, shown as CrashLoopBackOff."""
    path = write(tmp_path, CRASHER)
    with daemon(tmp_path, path, "--backoff-initial", "1", "--backoff-max", "2") as mk:
        uid = mk.pod("crasher")["metadata"]["uid"]
        app = mk.wait_for(
            "CrashLoopBackOff 2s",
            lambda: (
                (c := mk.container("crasher", "app"))["state"]
                .get("waiting", {})
                .get("message", "")
                .startswith("back-off 2s")
                and c
            ),
        )
        assert app["state"]["waiting"] == {
            "reason": "CrashLoopBackOff",
            "message": f"back-off 2s restarting failed container=app pod=crasher_default({uid})",
        }
        assert app["restartCount"] >= 2
        last = app["lastState"]["terminated"]
        assert (last["exitCode"], last["reason"]) == (1, "Error")
        assert RFC3339.match(last["startedAt"])
        assert RFC3339.match(last["finishedAt"])
        assert app["ready"] is False
        pod = mk.pod("crasher")
        assert pod["status"]["phase"] == "Running"
        ready = condition(pod, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "ContainersNotReady")
        assert ready["message"] == "containers with unready status: [app]"
        backoff = [e for e in mk.events() if e["reason"] == "BackOff"]
        assert backoff
        assert backoff[0]["type"] == "Warning"
        assert backoff[0]["message"] == (
            f"Back-off restarting failed container app in pod crasher_default({uid})"
        )


def test_never_runs_to_completion(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: job}
        spec:
          restartPolicy: Never
          containers:
          - name: ok
            image: busybox
            args: ["sh", "-c", "echo done"]
          - name: bad
            image: busybox
            command: ["sh", "-c", "exit 7"]
    """,
    )
    with daemon(tmp_path, path) as mk:
        pod = mk.wait_for(
            "Failed", lambda: (p := mk.pod("job"))["status"]["phase"] == "Failed" and p
        )
        by_name = {c["name"]: c for c in pod["status"]["containerStatuses"]}
        assert list(by_name) == ["bad", "ok"]  # sorted by name
        assert by_name["ok"]["state"]["terminated"]["reason"] == "Completed"
        assert by_name["ok"]["state"]["terminated"]["exitCode"] == 0
        assert by_name["bad"]["state"]["terminated"]["reason"] == "Error"
        assert by_name["bad"]["state"]["terminated"]["exitCode"] == 7
        assert all(c["restartCount"] == 0 for c in by_name.values())
        ready = condition(pod, "Ready")
        assert ready is not None
        assert (ready["status"], ready["reason"]) == ("False", "PodFailed")


def test_onfailure_restarts_until_success(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    path = write(
        tmp_path,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: retry}}
        spec:
          restartPolicy: OnFailure
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", "if [ -e {marker} ]; then exit 0; fi; touch {marker}; exit 3"]
    """,
    )
    with daemon(tmp_path, path) as mk:
        pod = mk.wait_for(
            "Succeeded", lambda: (p := mk.pod("retry"))["status"]["phase"] == "Succeeded" and p
        )
        (app,) = pod["status"]["containerStatuses"]
        assert app["restartCount"] == 1
        assert app["state"]["terminated"]["exitCode"] == 0
        assert app["lastState"]["terminated"]["exitCode"] == 3
        ready = condition(pod, "Ready")
        assert ready is not None
        assert ready["reason"] == "PodCompleted"


def test_until_complete_exit_codes(tmp_path: Path) -> None:
    ok = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: ok}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [sh, -c, "echo fine"]}]
    """,
        "ok.yaml",
    )
    bad = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: bad}
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox, command: [sh, -c, "echo broken >&2; exit 4"]}]
    """,
        "bad.yaml",
    )
    mk = daemon(tmp_path, ok, "--until", "complete", "--timeout", "30")
    try:
        assert mk.wait_exit() == 0
        assert any("OK: every pod Succeeded" in line for line in mk.stdout_lines)
    finally:
        mk.close()
    mk = daemon(tmp_path, bad, "--until", "complete", "--timeout", "30")
    try:
        assert mk.wait_exit() == 1
        out = "\n".join(mk.stdout_lines)
        assert "FAILED: pod bad Failed" in out
        assert "Terminated: Error (exit code 4)" in out
        assert "| broken" in out
    finally:
        mk.close()


def test_stdin_manifest_and_quiet_logs(tmp_path: Path) -> None:
    with daemon(tmp_path, "-", "--quiet-logs", stdin=textwrap.dedent(SLEEPER)) as mk:
        mk.wait_for("running", lambda: mk.pod("sleeper")["status"]["phase"] == "Running")
        assert not any(line.startswith("[sleeper/app]") for line in mk.stdout_lines)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: bad}
            spec:
              containers: [{name: Web, image: busybox, command: [sleep, "1"]}]
            """,
            'spec.containers[0].name: Invalid value: "Web": a lowercase RFC 1123 label',
            id="bad-name",
        ),
        pytest.param(
            """
            apiVersion: v1
            kind: Pod
            metadata: {name: bad}
            spec:
              containers:
              - name: web
                image: busybox
                command: [sleep, "1"]
                livenessprobe: {exec: {command: [true]}}
            """,
            'unknown field "spec.containers[0].livenessprobe"',
            id="unknown-field",
        ),
    ],
)
def test_invalid_manifest_starts_nothing(tmp_path: Path, text: str, expected: str) -> None:
    marker = tmp_path / "started"
    good = write(
        tmp_path,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: good}}
        spec:
          containers: [{{name: c, image: busybox, command: [touch, "{marker}"]}}]
    """,
        "good.yaml",
    )
    bad = write(tmp_path, text, "bad.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "minikubelet", "run", str(good), str(bad), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not marker.exists()


def test_shutdown_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGTERM: every container gets SIGTERM to its group, then SIGKILL after the grace
    period; the daemon exits 0 once all is reaped; no grandchild survives."""
    path = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: stubborn}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: grandchild
            image: busybox
            command: ["sh", "-c", "sleep 1000 & wait"]
          - name: ignores-term
            image: busybox
            command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
    """,
    )
    mk = daemon(tmp_path, path)
    try:
        mk.wait_serving()
        mk.wait_for(
            "both running",
            lambda: (
                all(
                    "running" in c["state"]
                    for c in mk.pod("stubborn")["status"].get("containerStatuses", [])
                )
                and len(mk.survivors()) >= 4
            ),
        )
        mk.signal(signal.SIGTERM)
        assert mk.wait_exit(timeout=20) == 0  # well before a SIGKILL-less wait would end
        assert mk.survivors() == []
    finally:
        mk.close()


def test_second_sigint_kills_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: slow}
        spec:
          terminationGracePeriodSeconds: 60
          containers:
          - name: app
            image: busybox
            command: ["sh", "-c", "trap '' TERM INT; while true; do sleep 0.2; done"]
    """,
    )
    mk = daemon(tmp_path, path)
    try:
        mk.wait_serving()
        mk.wait_for("running", lambda: mk.pod("slow")["status"]["phase"] == "Running")
        mk.signal(signal.SIGINT)
        mk.wait_for("Killing event", lambda: any(e["reason"] == "Killing" for e in mk.events()))
        mk.signal(signal.SIGINT)
        assert mk.wait_exit(timeout=10) == 130
        assert mk.survivors() == []
    finally:
        mk.close()


def test_docs_command_demo_sees_the_kubernetes_service_variables(tmp_path: Path) -> None:
    """The Kubernetes docs' `command-demo` pod prints HOSTNAME and KUBERNETES_PORT under
    OnFailure: the kubelet gives every container the `kubernetes` Service's variables."""
    path = write(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata:
          name: command-demo
          labels:
            purpose: demonstrate-command
        spec:
          containers:
          - name: command-demo-container
            image: debian
            command: ["printenv"]
            args: ["HOSTNAME", "KUBERNETES_PORT"]
          restartPolicy: OnFailure
    """,
    )
    mk = daemon(tmp_path, path, "--until", "complete", "--timeout", "30")
    try:
        assert mk.wait_exit() == 0
        port = mk.url.rsplit(":", 1)[1]
        assert "[command-demo/command-demo-container] command-demo" in mk.stdout_lines
        assert f"[command-demo/command-demo-container] tcp://127.0.0.1:{port}" in mk.stdout_lines
    finally:
        mk.close()


def test_unusable_state_dir_is_a_clear_error(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    path = write(
        tmp_path,
        f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: good}}
        spec:
          containers: [{{name: c, image: busybox, command: [touch, "{marker}"]}}]
    """,
    )
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "minikubelet",
            "run",
            str(path),
            "--port",
            "0",
            "--state-dir",
            str(blocker / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: --state-dir {blocker / 'state'}: cannot write there: Not a directory\n"
    )
    assert not marker.exists()


@pytest.mark.parametrize("until", ["ready", "complete"])
def test_until_with_no_pods_is_an_error(tmp_path: Path, until: str) -> None:
    """Nothing to become Ready or to finish: exit 2 at once, not a wait until the timeout."""
    empty = write(tmp_path, "", "empty.yaml")
    mk = daemon(tmp_path, empty, "--until", until, "--timeout", "600")
    what = "pods or Jobs" if until == "complete" else "pods or workloads to roll out"
    try:
        assert mk.wait_exit(timeout=60) == 2
        assert mk.stderr_lines == [
            f"error: --until {until}: there is nothing to wait for: {empty} holds no {what}"
        ]
        assert not mk.url  # nothing was served
    finally:
        mk.close()
    mk = daemon(tmp_path, "-", "--until", until, stdin="---\n---\n")
    try:
        assert mk.wait_exit(timeout=60) == 2
        assert f"there is nothing to wait for: stdin holds no {what}" in mk.stderr_lines[0]
    finally:
        mk.close()


def test_each_run_has_its_own_logs(tmp_path: Path) -> None:
    """The same manifest run again (same pod UID, same log directory) starts with empty logs:
    the report and `kubectl logs` show this run only; the previous run's directory is kept
    aside as `<dir>.previous`, and the one before that removed."""
    job = ROOT / "examples" / "job-never.yaml"
    steps = ["step 1", "step 2", "step 3"]
    for _ in range(2):
        mk = daemon(tmp_path, job, "--until", "complete", "--timeout", "120")
        try:
            assert mk.wait_exit(timeout=150) == 0
            logged = [line.split("| ", 1)[1] for line in mk.stdout_lines if "| step" in line]
            assert logged == steps
        finally:
            mk.close()
    with daemon(tmp_path, job) as mk:
        mk.wait_for(
            "Succeeded", lambda: mk.pod("job-never")["status"]["phase"] == "Succeeded", timeout=60
        )
        out = subprocess.run(
            [str(Path(sys.executable).parent / "kubectl"), "--server", mk.url, "logs", "job-never"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (out.stdout, out.returncode) == ("step 1\nstep 2\nstep 3\n", 0)
    dirs = sorted(p.name for p in (tmp_path / "state" / "pods").iterdir())
    assert len(dirs) == 2
    assert dirs[1] == dirs[0] + ".previous"
    kept = tmp_path / "state" / "pods" / dirs[1] / "count" / "0.log"
    assert [line.split(" ", 3)[3] for line in kept.read_text().splitlines()] == steps
