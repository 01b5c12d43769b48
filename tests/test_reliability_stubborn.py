"""Stubborn containers and log floods against the real daemon.

A process that ignores SIGTERM is SIGKILLed when the grace period ends; one that closes its
stdout and stderr is still tracked (Running, then its exit noticed); one whose main process
exits while a child holds the pipes is seen to exit at once. A container writing 200 MB to
stdout as fast as it can keeps its log under the size cap with rotation, while the daemon
answers /healthz within 100 ms and another container's probe keeps its period.
"""

from __future__ import annotations

import re
import signal
import statistics
import time
from pathlib import Path

import pytest
from daemon_harness import Minikubelet
from reliability_helpers import TAG, kill_tagged, new_tag, start, tagged, wait_until

pytestmark = pytest.mark.slow


def test_sigterm_ignored_is_killed_when_the_grace_period_ends(tmp_path: Path) -> None:
    pod = """
apiVersion: v1
kind: Pod
metadata: {name: deaf}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
"""
    mk = start(tmp_path, pod)
    try:
        mk.wait_for("running", lambda: "running" in mk.container("deaf", "app")["state"])
        began = time.monotonic()
        mk.signal(signal.SIGTERM)
        assert mk.wait_exit(timeout=15) == 0
        took = time.monotonic() - began
        assert 1.9 <= took < 4.5, took
        assert mk.survivors() == []
    finally:
        mk.close()


def test_closed_stdout_is_still_tracked(tmp_path: Path) -> None:
    release = tmp_path / "release"
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: mute}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo before; exec >&- 2>&-; while [ ! -e {release} ]; do sleep 0.05; done; exit 3"]
"""
    mk = start(tmp_path, pod)
    try:
        mk.wait_for(
            "its last output read",
            lambda: mk.get("/api/v1/namespaces/default/pods/mute/log") == (200, b"before\n"),
        )
        # It has closed stdout and stderr (the pipes are at end of file) yet keeps running until
        # released: for the next second it must still be Running, not mistaken for exited.
        held = time.monotonic() + 1
        while time.monotonic() < held:
            assert "running" in mk.container("mute", "app")["state"]
            time.sleep(0.05)
        release.touch()
        state = mk.wait_for(
            "terminated", lambda: mk.container("mute", "app")["state"].get("terminated"), 10
        )
        assert state["exitCode"] == 3
        code, body = mk.get("/api/v1/namespaces/default/pods/mute/log")
        assert (code, body) == (200, b"before\n")
    finally:
        mk.close()


def test_exit_is_noticed_while_a_child_holds_the_pipes(tmp_path: Path) -> None:
    tag = new_tag()
    pod = f"""
apiVersion: v1
kind: Pod
metadata: {{name: holder}}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    env: [{{name: {TAG}, value: "{tag}"}}]
    command: ["sh", "-c", "sleep 1000 & sleep 0.5; exit 3"]
"""
    mk = start(tmp_path, pod)
    try:
        state = mk.wait_for(
            "terminated", lambda: mk.container("holder", "app")["state"].get("terminated"), 10
        )
        assert state["exitCode"] == 3
        wait_until("the child killed with its container", lambda: tagged(tag) == [], 5)
    finally:
        mk.close()
        kill_tagged(tag)


FLOOD = """
apiVersion: v1
kind: Pod
metadata: {name: flood}
spec:
  restartPolicy: Never
  containers:
  - name: flood
    image: busybox
    command: ["sh", "-c", "sleep 1; head -c 200000000 /dev/zero | tr '\\\\0' x | fold -w 100"]
  - name: ticker
    image: busybox
    command: ["sleep", "1000"]
    readinessProbe:
      exec: {command: ["true"]}
      periodSeconds: 1
"""
PROBES_RUN = re.compile(
    r'^prober_probe_total\{[^}]*container="ticker"[^}]*\} ([0-9.e+]+)$', re.MULTILINE
)


def probe_runs(mk: Minikubelet) -> float:
    code, body = mk.get("/metrics/probes", accept="text/plain")
    assert code == 200
    return sum(float(v) for v in PROBES_RUN.findall(body.decode()))


def test_log_flood_is_capped_and_the_daemon_stays_responsive(tmp_path: Path) -> None:
    mk = start(tmp_path, FLOOD, "--log-max-size", "1Mi", "--log-max-files", "3")
    try:
        mk.wait_for("flood running", lambda: "running" in mk.container("flood", "flood")["state"])
        runs_before = probe_runs(mk)
        began = time.monotonic()
        latencies: list[float] = []
        while time.monotonic() - began < 60:
            t = time.monotonic()
            code, _ = mk.get("/healthz")
            latencies.append(time.monotonic() - t)
            assert code == 200
            if "terminated" in mk.container("flood", "flood")["state"]:
                break
            time.sleep(0.02)
        flooded = time.monotonic() - began
        runs = probe_runs(mk) - runs_before
        state = mk.container("flood", "flood")["state"]["terminated"]
        assert state["exitCode"] == 0
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99)]
        assert p99 < 0.1, (p99, latencies[-5:], statistics.median(latencies))
        assert latencies[-1] < 0.5, latencies[-5:]
        assert runs >= flooded - 2.5, (runs, flooded)
        (log_dir,) = (tmp_path / "state" / "pods").glob("default_flood_*/flood")
        files = sorted(log_dir.iterdir())
        assert 1 <= len(files) <= 3, files
        assert all(f.stat().st_size <= 1024 * 1024 for f in files), [
            (f.name, f.stat().st_size) for f in files
        ]
    finally:
        mk.close()
