"""The CI mode with real workloads, as a user runs it: `minikubelet run FILE --until
ready|complete --report FILE` on a Deployment that rolls out, one that stalls on a failing
readiness probe past its progressDeadlineSeconds, a Job that completes and one that fails
with BackoffLimitExceeded. The exit code, the report naming the workload, its condition and
reason and the pods holding it back with their last probe failure, and a JUnit test case
per workload as well as per pod."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from daemon_harness import run_manifest

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 2
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: busybox
        command: [sleep, "600"]
        readinessProbe:
          exec: {command: [sh, -c, 'test -f READY_FILE || { echo no READY_FILE >&2; exit 1; }']}
          periodSeconds: 1
"""
JOB = """
apiVersion: batch/v1
kind: Job
metadata: {name: NAME}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: busybox, command: [sh, -c, 'echo working; exit CODE']}
"""


def cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    found = {c.get("name") or "": c for c in suite.findall("testcase")}
    assert suite.get("tests") == str(len(found))
    assert root.get("failures") == str(sum(c.find("failure") is not None for c in found.values()))
    return found


def deployment(name: str, ready_file: Path) -> str:
    return DEPLOYMENT.replace("NAME", name).replace("READY_FILE", str(ready_file))


def test_until_ready_exits_0_once_the_deployment_rolled_out(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.touch()
    junit = tmp_path / "report.xml"
    mk = run_manifest(tmp_path, deployment("rolls", ready), "--until", "ready",
                      "--timeout", "120", "--report", str(junit))  # fmt: skip
    with mk:
        assert mk.wait_exit(150) == 0, mk.stdout_lines[-20:]
    out = "\n".join(mk.stdout_lines)
    assert "minikubelet: OK: every workload rolled out" in out
    assert 'deployment default/rolls: deployment "rolls" successfully rolled out' in out
    found = cases(junit)
    case = found.pop("deployment default/rolls")
    assert case.find("failure") is None
    assert "successfully rolled out" in (case.findtext("system-out") or "")
    assert len(found) == 2  # the two pods
    assert all(c.find("failure") is None for c in found.values())
    assert mk.survivors() == []


def test_until_ready_exits_1_for_a_rollout_past_its_progress_deadline(tmp_path: Path) -> None:
    never = tmp_path / "never"
    junit = tmp_path / "report.xml"
    mk = run_manifest(tmp_path, deployment("stalls", never), "--until", "ready",
                      "--timeout", "300", "--report", str(junit))  # fmt: skip
    with mk:
        assert mk.wait_exit(330) == 1, mk.stdout_lines[-20:]
    out = "\n".join(mk.stdout_lines)
    assert 'minikubelet: FAILED: deployment "stalls" exceeded its progress deadline' in out
    assert "timed out after" not in out
    assert "Progressing=False (ProgressDeadlineExceeded: ReplicaSet" in out
    held = [line for line in mk.stdout_lines if line.startswith("  held back by pod default/")]
    assert len(held) == 2
    assert all("Ready=False" in line for line in held)
    assert "last probe failure: " in out
    assert f"Readiness probe failed: no {never}" in out
    found = cases(junit)
    failure = found["deployment default/stalls"].find("failure")
    assert failure is not None
    assert failure.get("message") == 'deployment "stalls" exceeded its progress deadline'
    text = failure.text or ""
    assert "ProgressDeadlineExceeded" in text
    assert "held back by pod default/stalls-" in text
    assert "readiness probe failed" in text  # the held pods' timelines
    pods = [name for name in found if name.startswith("default/stalls-")]
    assert len(pods) == 2
    assert all(found[p].find("failure") is not None for p in pods)
    assert mk.survivors() == []


def test_until_complete_with_a_job_that_completes(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    text = JOB.replace("NAME", "works").replace("CODE", "0")
    mk = run_manifest(tmp_path, text, "--until", "complete", "--timeout", "120",
                      "--report", str(junit))  # fmt: skip
    with mk:
        assert mk.wait_exit(150) == 0, mk.stdout_lines[-20:]
    assert any(line.startswith("minikubelet: OK: every job Complete") for line in mk.stdout_lines)
    found = cases(junit)
    assert found["job default/works"].find("failure") is None
    assert "Complete=True" in (found["job default/works"].findtext("system-out") or "")
    assert mk.survivors() == []


def test_until_complete_exits_1_at_once_for_a_job_past_its_backoff_limit(tmp_path: Path) -> None:
    junit = tmp_path / "report.xml"
    text = JOB.replace("NAME", "fails").replace("CODE", "3")
    mk = run_manifest(tmp_path, text, "--until", "complete", "--timeout", "300",
                      "--report", str(junit))  # fmt: skip
    with mk:
        assert mk.wait_exit(330) == 1, mk.stdout_lines[-20:]
    out = "\n".join(mk.stdout_lines)
    assert 'minikubelet: FAILED: job "fails" Failed (BackoffLimitExceeded: ' in out
    assert "timed out after" not in out
    assert "  held back by pod default/fails-" in out
    failure = cases(junit)["job default/fails"].find("failure")
    assert failure is not None
    assert "Failed=True (BackoffLimitExceeded" in (failure.text or "")
    assert mk.survivors() == []
