"""Load faults of the real `minikubelet run`: orphans are reaped while pods run, and the event
loop keeps answering while `/stats/summary` is polled and memory limits are watched.

Behaviour only (no latency bounds; those are in `benchmarks/`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import (
    daemon_process,
    kill_tagged,
    new_tag,
    start,
    wait_until,
    zombie_children,
)

pytestmark = pytest.mark.slow


def orphans_pod(tag: str, marks: Path) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: orphans}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: bg
    image: busybox
    env: [{{name: RELIABILITY_TAG, value: "{tag}"}}]
    # the shell idiom `(cmd &)`: cmd is orphaned at once, re-parented to the daemon
    command: ["sh", "-c", "i=0; while [ $i -lt 40 ]; do (true &); i=$((i+1)); done; touch {marks}/bg; exec sleep 1000"]
  - name: probed
    image: busybox
    env: [{{name: RELIABILITY_TAG, value: "{tag}"}}]
    command: ["sleep", "1000"]
    livenessProbe:
      # an exec probe that leaves a child in its own session behind (given a moment to leave
      # the probe's process group, which is killed when the probe ends)
      exec: {{command: ["sh", "-c", "setsid sh -c 'echo x >> {marks}/probe; sleep 0.5' & sleep 0.3; exit 0"]}}
      periodSeconds: 1
"""


def test_orphans_are_reaped_while_the_pod_runs(tmp_path: Path) -> None:
    tag, marks = new_tag(), tmp_path / "marks"
    marks.mkdir()
    mk = start(tmp_path, orphans_pod(tag, marks))
    try:
        daemon = daemon_process(mk)
        wait_until("40 orphans made", lambda: (marks / "bg").exists(), timeout=20)

        def probe_orphans() -> int:
            try:
                return len((marks / "probe").read_text().splitlines())
            except OSError:
                return 0

        wait_until("3 probe orphans made", lambda: probe_orphans() >= 3, timeout=90)
        # every orphan has exited; none may stay a zombie of the daemon
        wait_until("no zombie child of the daemon", lambda: not zombie_children(daemon))
        assert mk.container("orphans", "bg")["state"].get("running")
        assert mk.container("orphans", "probed")["restartCount"] == 0
    finally:
        mk.close()
        kill_tagged(tag)


HOG_CHILD = """
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: python
    # the allocator is a child of the container's shell, started after the watch began
    command: ["sh", "-c", "sleep 0.5; python3 -c 'import time\\nx=[]\\nwhile True:\\n x.append(bytearray(8<<20))\\n time.sleep(0.02)'; echo survived"]
    resources:
      limits: {memory: 64Mi}
"""


def test_a_fast_allocating_child_is_oomkilled(tmp_path: Path) -> None:
    mk = start(tmp_path, HOG_CHILD)
    try:
        pod = mk.wait_for(
            "Failed", lambda: (p := mk.pod("hog"))["status"]["phase"] == "Failed" and p
        )
        term = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    finally:
        mk.close()


def busy_pod(containers: int) -> str:
    items = "\n".join(
        f"""  - name: c{i}
    image: busybox
    command: ["sleep", "1000"]
    resources: {{limits: {{memory: 256Mi}}}}"""
        for i in range(containers)
    )
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: busy}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
{items}
  - name: probed
    image: busybox
    command: ["sleep", "1000"]
    livenessProbe:
      exec: {{command: ["true"]}}
      periodSeconds: 1
      timeoutSeconds: 1
      failureThreshold: 1
"""


def test_stats_polling_does_not_starve_probes(tmp_path: Path) -> None:
    """/stats/summary polled back to back with many memory-limited containers: the loop keeps
    answering /healthz and the healthy probed container is never killed."""
    mk = start(tmp_path, busy_pod(80))
    try:
        mk.wait_for(
            "all running",
            lambda: all(
                "running" in c["state"] for c in mk.pod("busy")["status"]["containerStatuses"]
            ),
            timeout=60,
        )
        polls = 0
        while polls < 40:
            code, _ = mk.get("/stats/summary")
            assert code == 200
            assert mk.get("/healthz")[0] == 200
            polls += 1
        probed = mk.container("busy", "probed")
        assert probed["restartCount"] == 0, probed
        assert "running" in probed["state"]
        assert not [e for e in mk.events() if e["reason"] == "Unhealthy"]
    finally:
        mk.close()
