"""`minikubelet explain` end to end: the real command on the examples and on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def explain(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minikubelet", "explain", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        input=stdin,
    )


def as_json(*args: str, stdin: str | None = None) -> list[dict[str, Any]]:
    result = explain(*args, "--format", "json", stdin=stdin)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    return data


def test_text_for_the_liveness_http_example() -> None:
    result = explain("examples/liveness-http.yaml")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "pod default/liveness-http (restartPolicy Always)"
    assert "    liveness: httpGet :8082/healthz, delay 3s, every 3s, timeout 1s, failure 3" in lines
    rows = {line.split()[0]: line for line in lines if line.startswith("      ")}
    assert rows["first"].split()[2] == "3s-6s"
    assert rows["killed"].split()[1] == "6s-10s"
    assert rows["tolerance"].split()[1] == "6s-9s"
    assert "10s, 20s, 40s, 1m20s, 2m40s, 5m0s" in result.stdout
    assert "no startupProbe: the app must answer this liveness probe within 9s" in result.stdout
    # aligned: every window of the block ends in the same column
    ends = {line.index("s  ") for line in lines if line.startswith("      ")}
    assert len(ends) == 1, result.stdout


def test_json_for_the_startup_probe_example() -> None:
    data = as_json("examples/startup-probe.yaml")
    by_probe = {d["probe"]: d for d in data}
    assert list(by_probe) == ["startup", "liveness", "readiness"]
    for d in data:
        assert (d["pod"], d["container"]) == ("slow-start", "app")
        for key in ("firstProbe", "readyAfterHealthy", "unreadyAfterUnhealthy"):
            assert key in d
        assert isinstance(d["warnings"], list)
    startup, liveness, readiness = by_probe["startup"], by_probe["liveness"], by_probe["readiness"]
    assert startup["startupBudget"] == [29, 30]  # not 30 x 1 s
    assert startup["killAfterUnhealthy"] == [29, 31]
    assert liveness["killAfterUnhealthy"] == [0, 6]
    assert liveness["firstProbeFrom"] == "started"
    assert readiness["firstProbe"] == [0, 2]  # at once, but for a daemon start's jitter
    assert readiness["firstProbeTriggered"] is True
    assert readiness["readyAfterHealthy"] == [0, 3]
    assert readiness["unreadyAfterUnhealthy"] == [4, 7]
    assert readiness["killAfterUnhealthy"] is None
    assert liveness["restartDelays"] == [0, 10, 20, 40, 80, 160, 300]
    assert any("liveness tolerates a stall of only 0s" in w for w in liveness["warnings"])


def test_backoff_flags_and_stdin() -> None:
    text = (ROOT / "examples/liveness-exec.yaml").read_text()
    data = as_json("-", "--backoff-initial", "1", "--backoff-max", "5", stdin=text)
    assert [d["restartDelays"] for d in data] == [[0, 1, 2, 4, 5]]


def test_a_directory_and_sidecars() -> None:
    data = as_json("examples")
    pods = {d["pod"] for d in data}
    assert {"liveness-http", "liveness-exec", "slow-start", "web"} <= pods
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: meshed}
spec:
  restartPolicy: Never
  initContainers:
  - name: setup
    image: busybox
    command: ["true"]
  - name: proxy
    image: envoy
    restartPolicy: Always
    command: ["sleep", "3600"]
    startupProbe: {tcpSocket: {port: 15000}, periodSeconds: 2, failureThreshold: 10}
  containers:
  - name: app
    image: app
    command: ["sleep", "3600"]
    readinessProbe: {httpGet: {path: /ready, port: 8080}, successThreshold: 2}
"""
    data = as_json("-", stdin=manifest)
    assert [(d["container"], d["containerKind"], d["probe"]) for d in data] == [
        ("proxy", "sidecar", "startup"),
        ("app", "container", "readiness"),
    ]
    assert data[0]["restartDelays"][:2] == [0, 10]  # a sidecar restarts even with Never
    assert data[1]["restartDelays"] == []
    assert any("successThreshold 2" in w for w in data[1]["warnings"])
    text = explain("-", stdin=manifest).stdout
    assert "  init container setup\n" in text
    assert "  sidecar proxy\n" in text
    assert "never (restartPolicy Never)" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers:\n"
            "  - name: c\n    image: b\n    livenessProbe: {exec: {command: ['true']}, periodSeconds: -1}\n",
            "spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1",
        ),
        ("kind: Pod\n", "error: "),
        ("{{{", "error: "),
    ],
)
def test_bad_manifest_exits_2_with_the_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = explain(str(path))
    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_missing_file_and_bad_flags_exit_2() -> None:
    result = explain("no/such/file.yaml")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    result = explain("examples/web.yaml", "--backoff-initial", "soon")
    assert result.returncode == 2
    assert "--backoff-initial" in result.stderr
    assert "Traceback" not in result.stderr


def test_readme_example_is_the_real_output() -> None:
    readme = (ROOT / "README.md").read_text()
    command = "$ minikubelet explain examples/startup-probe.yaml\n"
    shown = readme[readme.index(command) + len(command) :].split("```", 1)[0]
    result = explain("examples/startup-probe.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown
