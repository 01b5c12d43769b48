"""Probes end to end: real apps probed by the running daemon, with the kubelet's effects.

Readiness gates Ready without restarts; liveness and startup failures kill and restart with
the kubelet's Killing and Unhealthy texts; startup gates the others; probe errors are
reported and never counted; CI mode's `--until ready` verdicts and report.
"""

from __future__ import annotations

import itertools
import socket
from pathlib import Path

from daemon_harness import condition
from daemon_harness import event_messages as events_of
from daemon_harness import run_manifest as run

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "examples" / "apps" / "flaky_server.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_readiness_gates_ready_without_restart(tmp_path: Path) -> None:
    port = free_port()
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: slow}}
        spec:
          containers:
          - name: app
            image: python
            command: [python3, "{SERVER}", --port, "{port}", --ready-after, "2"]
            ports: [{{name: http, containerPort: {port}}}]
            readinessProbe:
              httpGet: {{path: /healthz, port: http}}
              periodSeconds: 1
    """
    with run(tmp_path, pod) as mk:
        first = mk.wait_for(
            "running", lambda: (p := mk.pod("slow"))["status"]["phase"] == "Running" and p
        )
        app = first["status"]["containerStatuses"][0]
        assert app["ready"] is False
        assert app["started"] is True
        mk.wait_for(
            "Ready", lambda: (c := condition(mk.pod("slow"), "Ready")) and c["status"] == "True"
        )
        assert mk.container("slow", "app")["restartCount"] == 0
        failures = events_of(mk, "Unhealthy")
        assert "Readiness probe failed: HTTP probe failed with statuscode: 500" in failures
        assert all(m.startswith("Readiness probe failed: ") for m in failures)


def test_liveness_failure_restarts_container(tmp_path: Path) -> None:
    flag = tmp_path / "healthy"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: live}}
        spec:
          containers:
          - name: app
            image: busybox
            args: [/bin/sh, -c, "touch {flag}; sleep 1; rm -f {flag}; sleep 600"]
            livenessProbe:
              exec: {{command: [cat, "{flag}"]}}
              periodSeconds: 1
              failureThreshold: 2
    """
    with run(tmp_path, pod) as mk:
        app = mk.wait_for(
            "restart", lambda: (c := mk.container("live", "app"))["restartCount"] >= 1 and c
        )
        assert app["lastState"]["terminated"]["exitCode"] == 143
        assert "Container app failed liveness probe, will be restarted" in events_of(mk, "Killing")
        unhealthy = events_of(mk, "Unhealthy")
        assert f"Liveness probe failed: cat: {flag}: No such file or directory\n" in unhealthy


def test_startup_probe_gates_liveness(tmp_path: Path) -> None:
    port = free_port()
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: boot}}
        spec:
          containers:
          - name: app
            image: python
            command: [python3, "{SERVER}", --port, "{port}", --start-delay, "2"]
            startupProbe:
              tcpSocket: {{port: {port}}}
              periodSeconds: 1
              failureThreshold: 10
            livenessProbe:
              tcpSocket: {{port: {port}}}
              periodSeconds: 1
              failureThreshold: 1
    """
    with run(tmp_path, pod) as mk:
        early = mk.wait_for(
            "running", lambda: (c := mk.container("boot", "app"))["state"].get("running") and c
        )
        assert early["started"] is False
        assert early["ready"] is False
        started = mk.wait_for(
            "started", lambda: (c := mk.container("boot", "app"))["started"] and c
        )
        assert started["restartCount"] == 0
        assert started["ready"] is True
        assert not any(m.startswith("Liveness") for m in events_of(mk, "Unhealthy"))
        startup = events_of(mk, "Unhealthy")
        assert all(
            m.startswith(f"Startup probe failed: dial tcp 127.0.0.1:{port}: connect:")
            for m in startup
        )


def test_liveness_under_never_stays_terminated(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: once}
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            livenessProbe:
              exec: {command: [sh, -c, "exit 1"]}
              periodSeconds: 1
              failureThreshold: 1
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for(
            "Failed", lambda: (p := mk.pod("once"))["status"]["phase"] == "Failed" and p
        )
        app = p["status"]["containerStatuses"][0]
        assert app["restartCount"] == 0
        assert app["state"]["terminated"]["exitCode"] == 143
        assert "Container app failed liveness probe" in events_of(mk, "Killing")


def test_probe_error_is_reported_not_counted(tmp_path: Path) -> None:
    """A named port that does not exist is a probe error: an Unhealthy 'errored' event each
    time, and no restart."""
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: errs}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            livenessProbe:
              httpGet: {path: /, port: http}
              periodSeconds: 1
              failureThreshold: 1
    """
    with run(tmp_path, pod) as mk:
        msgs = mk.wait_for("errored events", lambda: len(m := events_of(mk, "Unhealthy")) and m)
        assert msgs[0] == (
            "Liveness probe errored and resulted in unknown state: "
            'strconv.Atoi: parsing "http": invalid syntax'
        )
        mk.wait_for(
            "several",
            lambda: any(e["count"] >= 2 for e in mk.events() if e["reason"] == "Unhealthy"),
        )
        assert mk.container("errs", "app")["restartCount"] == 0
        assert events_of(mk, "Killing") == []


def test_until_ready_ok_and_timeout_report(tmp_path: Path) -> None:
    port = free_port()
    ok = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: web}}
        spec:
          containers:
          - name: app
            image: python
            command: [python3, "{SERVER}", --port, "{port}"]
            readinessProbe:
              httpGet: {{path: /healthz, port: {port}}}
              periodSeconds: 1
    """
    mk = run(tmp_path, ok, "--until", "ready", "--timeout", "30")
    try:
        assert mk.wait_exit() == 0
        assert "minikubelet: OK: every pod is Ready" in "\n".join(mk.stdout_lines)
        assert mk.survivors() == []
    finally:
        mk.close()

    never = """
        apiVersion: v1
        kind: Pod
        metadata: {name: never-ready}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "echo starting up; sleep 600"]
            readinessProbe:
              exec: {command: [sh, -c, "echo not yet; exit 1"]}
              periodSeconds: 1
    """
    mk = run(tmp_path, never, "--until", "ready", "--timeout", "3")
    try:
        assert mk.wait_exit() == 1
        out = "\n".join(mk.stdout_lines)
        assert "FAILED: --until ready not met: timed out after 3s" in out
        assert "container app: Running since" in out
        assert "not ready" in out
        assert "Readiness probe failed: not yet" in out
        assert "| starting up" in out
        assert mk.survivors() == []
    finally:
        mk.close()


def test_hanging_probe_longer_than_its_period(tmp_path: Path) -> None:
    """timeoutSeconds 2 >= periodSeconds 1: each probe hangs until its timeout and fails with
    the kubelet's text; the probes never overlap (the Go ticker delivers at most the one tick
    that fell due meanwhile) and probing goes on, each start after the previous timed out."""
    starts = tmp_path / "starts"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: hang}}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            readinessProbe:
              exec: {{command: [sh, -c, "date +%s.%N >> {starts}; exec sleep 30"]}}
              timeoutSeconds: 2
              periodSeconds: 1
    """
    with run(tmp_path, pod) as mk:
        mk.wait_for(
            "four probes", lambda: starts.exists() and len(starts.read_text().split()) >= 4, 90
        )
        times = [float(t) for t in starts.read_text().split()]
        assert all(b - a >= 1.9 for a, b in itertools.pairwise(times)), times
        messages = events_of(mk, "Unhealthy")
        assert any(
            m.startswith('Readiness probe failed: command "sh -c date') and "timed out" in m
            for m in messages
        ), messages
        assert condition(mk.pod("hang"), "Ready")["status"] == "False"  # type: ignore[index]
