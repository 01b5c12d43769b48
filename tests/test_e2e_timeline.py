"""The pod timeline end to end: `/debug/timeline` from a real daemon for a crash-looping pod
and a pod whose readiness flips, the `--record` file replayed by `minikubelet timeline`, the
console's story lines, the CI report's timeline and JUnit XML, and the `/ui` page in a real
headless browser (Debian's chromium) matching the recorded JSON."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet, run_manifest

CRASHER = """
    apiVersion: v1
    kind: Pod
    metadata: {name: crasher}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "echo starting; exit 3"]
"""


def flipper(flag: Path, name: str = "flip") -> str:
    return f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: {name}}}
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sleep", "1000"]
        readinessProbe:
          exec: {{command: ["test", "-f", "{flag}"]}}
          periodSeconds: 1
          failureThreshold: 2
    """


def records(mk: Minikubelet, pod: str, kind: str | None = None) -> list[dict[str, Any]]:
    body = mk.get_json(f"/debug/timeline?pod=default/{pod}")
    return [r for r in body["records"] if kind is None or r["kind"] == kind]


def backoffs(mk: Minikubelet, count: int) -> list[dict[str, Any]]:
    return list(mk.wait_for(f"{count} back-off waits", lambda: (
        len(found := records(mk, "crasher", "backoff")) >= count and found
    ), timeout=60))  # fmt: skip


def test_crash_loop_timeline_and_its_replay(tmp_path: Path) -> None:
    record = tmp_path / "run.jsonl"
    mk = run_manifest(tmp_path, CRASHER, "--backoff-initial", "0.2", "--record", str(record))
    with mk:
        waits = backoffs(mk, 3)
        delays = [w["delay"] for w in waits[:3]]
        assert delays == [0.2, 0.4, 0.8]  # the kubelet's doubling, each wait's length
        assert all(w["container"] == "app" for w in waits)
        states = records(mk, "crasher", "state")
        exits = [s for s in states if s["state"] == "terminated"]
        assert exits
        assert all(s["exitCode"] == 3 and s["reason"] == "Error" for s in exits)
        assert any(s["state"] == "waiting" and s["reason"] == "CrashLoopBackOff" for s in states)
        restarts = [s["restartCount"] for s in states if s["state"] == "running"]
        assert restarts[:3] == [0, 1, 2]
        events = records(mk, "crasher", "event")
        assert any(e["reason"] == "BackOff" and e["container"] == "app" for e in events)
        seqs = [r["seq"] for r in records(mk, "crasher")]
        assert seqs == sorted(seqs)
        last = seqs[-1]
        newer = mk.get_json(f"/debug/timeline?pod=default/crasher&since={last}")["records"]
        assert all(r["seq"] > last for r in newer)
        code, body = mk.get("/debug/timeline?since=x")
        assert code == 400
        assert b"since" in body
    assert mk.wait_exit() == 0
    assert not any(line.startswith("»") for line in mk.stderr_lines)  # JSON logs: no story
    replay = subprocess.run(
        [sys.executable, "-m", "minikubelet", "timeline", str(record)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    out = replay.stdout
    assert out.startswith("pod default/crasher:\n")
    assert "app: Terminated: Error (exit code 3)" in out
    assert "app: CrashLoopBackOff: restart in 0.2s" in out
    assert "app: CrashLoopBackOff: restart in 0.4s" in out
    other = subprocess.run(
        [sys.executable, "-m", "minikubelet", "timeline", str(record), "--pod", "other"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert other.stdout.strip() == ""
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"seq": 1, "kind": "created"}\nnot json\n')
    failed = subprocess.run([sys.executable, "-m", "minikubelet", "timeline", str(bad)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert failed.returncode == 2
    assert f"error: {bad}:2: not a timeline record" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_readiness_flips_in_the_timeline_and_the_story(tmp_path: Path) -> None:
    flag = tmp_path / "ready-flag"
    flag.touch()
    mk = run_manifest(tmp_path, flipper(flag), "--log-format", "console")
    with mk:

        def ready_values() -> list[bool]:
            return [r["value"] for r in records(mk, "flip", "ready")]

        mk.wait_for("ready", lambda: ready_values() == [True])
        flag.unlink()
        mk.wait_for("not ready", lambda: ready_values() == [True, False])
        flag.touch()
        mk.wait_for("ready again", lambda: ready_values() == [True, False, True])
        probes = records(mk, "flip", "probe")
        assert {p["probe"] for p in probes} == {"readiness"}
        assert {p["result"] for p in probes} == {"success", "failure"}
        fired = [p for p in probes if p["result"] == "failure" and p["fired"]]
        assert [(p["run"], p["threshold"]) for p in fired] == [(2, 2)]
        assert all(p["seconds"] >= 0 and "container" in p for p in probes)
        conditions = [r["status"] for r in records(mk, "flip", "condition") if r["type"] == "Ready"]
        assert conditions[-3:] == ["True", "False", "True"]
        story = mk.wait_for("the story", lambda: (
            len(lines := [s for s in mk.stderr_lines if s.startswith("» flip")]) >= 5 and lines
        ))  # fmt: skip
        assert "» flip/web: Ready" in story
        assert "» flip/web: readiness probe failed (2/2)" in story
        assert story.index("» flip/web: not Ready") > story.index("» flip/web: Ready")
        assert not any("\x1b[" in s for s in story)  # not a terminal: no colours
        assert not any(line.startswith("»") for line in mk.stdout_lines)


def _junit(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    return root


def test_until_ready_failure_prints_the_timeline_and_writes_junit(tmp_path: Path) -> None:
    flag = tmp_path / "never"
    good = tmp_path / "good"
    good.touch()
    text = flipper(good, "good") + "---" + flipper(flag, "bad")
    junit = tmp_path / "report.xml"
    mk = run_manifest(tmp_path, text, "--until", "ready", "--timeout", "4", "--report", str(junit))
    with mk:
        assert mk.wait_exit(60) == 1
    out = "\n".join(mk.stdout_lines)
    assert "minikubelet: timeline of the pods that failed:" in out
    story = out.split("minikubelet: timeline of the pods that failed:", 1)[1]
    assert "pod default/bad:" in story
    assert "pod default/good:" not in story
    assert "web: readiness probe failed (2/2)" in story
    suite = _junit(junit).find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "2"
    assert suite.get("failures") == "1"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {"default/good", "default/bad"}
    assert cases["default/good"].find("failure") is None
    failure = cases["default/bad"].find("failure")
    assert failure is not None
    assert "timed out" in (failure.get("message") or "")
    assert "pod default/bad: Running" in (failure.text or "")
    assert "web: readiness probe failed (2/2)" in (failure.text or "")


def test_until_ready_success_writes_a_passing_junit(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    flag.touch()
    junit = tmp_path / "report.xml"
    mk = run_manifest(tmp_path, flipper(flag, "good"), "--until", "ready", "--timeout", "60",
                      "--report", str(junit))  # fmt: skip
    with mk:
        assert mk.wait_exit(60) == 0
    assert not any("timeline of the pods that failed" in line for line in mk.stdout_lines)
    root = _junit(junit)
    assert root.get("failures") == "0"
    (case,) = root.iter("testcase")
    assert case.get("name") == "default/good"
    assert case.find("failure") is None
    assert "pod default/good: Running" in (case.findtext("system-out") or "")


def test_report_needs_until(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(CRASHER)
    done = subprocess.run(
        [sys.executable, "-m", "minikubelet", "run", str(manifest), "--report", "x.xml"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--report needs --until" in done.stderr


# --- the page in a real browser ----------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(browser: str, url: str, profile: Path) -> str:
    argv = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={profile}", "--virtual-time-budget=5000", "--dump-dom", url]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=90)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return out.decode()


@pytest.mark.skipif(chromium() is None, reason="no chromium: apt-get install -y chromium")
def test_ui_draws_the_recorded_timeline(tmp_path: Path) -> None:
    browser = chromium()
    assert browser is not None
    flag = tmp_path / "ready-flag"
    flag.touch()
    text = CRASHER + "---" + flipper(flag)
    mk = run_manifest(tmp_path, text, "--backoff-initial", "0.2")
    with mk:
        backoffs(mk, 2)
        mk.wait_for("ready", lambda: [r["value"] for r in records(mk, "flip", "ready")] == [True])
        flag.unlink()
        mk.wait_for("not ready", lambda: len(records(mk, "flip", "ready")) == 2)
        dom = dump_dom(browser, mk.url + "/ui?once=1", tmp_path / "profile")
        body = mk.get_json("/debug/timeline")  # a superset of what the page drew
    parser = _Elements()
    parser.feed(dom)
    elements = parser.found
    shown = int(next(a["data-seq"] for tag, a in elements if tag == "body"))
    recs = [r for r in body["records"] if r["seq"] <= shown]
    by_seq = {r["seq"]: r for r in recs}
    lanes = {a["data-lane"] for tag, a in elements if "data-lane" in a}
    assert {"pod:phase", "pod:events", "container:app", "container:web",
            "container:web:ready", "container:web:probe:readiness"} <= lanes  # fmt: skip
    hatched = [a for tag, a in elements if tag == "rect" and a.get("class") == "backoff"]
    waits = [r for r in recs if r["kind"] == "backoff"]
    assert sorted(int(a["data-seq"]) for a in hatched) == [r["seq"] for r in waits]
    assert [float(a["data-delay"]) for a in hatched] == [r["delay"] for r in waits]
    ticks = [a for tag, a in elements if tag == "line" and "tick" in a.get("class", "")]
    probes = [r for r in recs if r["kind"] == "probe"]
    assert sorted(int(a["data-seq"]) for a in ticks) == [r["seq"] for r in probes]
    for a in ticks:
        rec = by_seq[int(a["data-seq"])]
        assert f"tick-{rec['result']}" in a["class"]
        assert ("data-fired" in a) == bool(rec["fired"])
    fired = [a["data-fired"] for a in ticks if "data-fired" in a and a["data-result"] == "failure"]
    assert "2/2" in fired
    bands = {int(a["data-seq"]): a for tag, a in elements if "band" in a.get("class", "").split()}
    for rec in recs:
        if rec["kind"] in ("state", "ready", "phase"):
            assert rec["seq"] in bands, rec
    exits = [bands[r["seq"]] for r in recs if r["kind"] == "state" and r["state"] == "terminated"]
    assert exits
    assert all(a["data-label"] == "Error (3)" for a in exits)
    assert all("state-terminated" in a["class"] for a in exits)
    flip = [r for r in recs if r["pod"] == "default/flip" and r["kind"] == "ready"]
    ready = [bands[r["seq"]]["class"] for r in flip]
    assert [c.split()[0] for c in ready] == ["flag-true", "flag-false"]


def test_probe_access_logs_stay_off_the_console(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = f"echo serving; exec {sys.executable} -m http.server {port} --bind 127.0.0.1"
    text = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: web}}
    spec:
      containers:
      - name: web
        image: python
        command: ["sh", "-c", "{server}"]
        readinessProbe:
          httpGet: {{path: /, port: {port}}}
          periodSeconds: 1
    """
    mk = run_manifest(tmp_path, text)
    with mk:
        mk.wait_for("two probe runs", lambda: len(records(mk, "web", "probe")) >= 2)
        # in the container's log (the server writes its access line after it answered)
        mk.wait_for(
            "the probe's access line in the container's log",
            lambda: (
                b'"GET / HTTP/1.1" 200'
                in mk.get("/api/v1/namespaces/default/pods/web/log", accept="*/*")[1]
            ),
        )
        mk.wait_for("the first line", lambda: "[web/web] serving" in mk.stdout_lines)
    assert not [line for line in mk.stdout_lines if "GET / " in line]  # not on the console


STUBBORN = """
    apiVersion: v1
    kind: Pod
    metadata: {name: stubborn}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.2; done"]
        lifecycle:
          preStop:
            exec: {command: ["sh", "-c", "sleep 0.5; exit 1"]}
        livenessProbe:
          exec: {command: ["false"]}
          periodSeconds: 1
          failureThreshold: 1
"""


def test_kill_hook_and_sigkill_in_the_timeline(tmp_path: Path) -> None:
    mk = run_manifest(tmp_path, STUBBORN, "--log-format", "console")
    with mk:
        mk.wait_for("SIGKILL", lambda: records(mk, "stubborn", "killed"), timeout=60)
        recs = records(mk, "stubborn")
        kinds = [r["kind"] for r in recs]
        kill = recs[kinds.index("kill")]
        assert kill["message"] == "Container app failed liveness probe, will be restarted"
        assert (kill["signal"], kill["grace"]) == ("SIGTERM", 2.0)
        fired = [r for r in recs[: kinds.index("kill")] if r["kind"] == "probe"][-1]
        assert (fired["result"], fired["fired"]) == ("failure", True)
        hook = recs[kinds.index("hook")]
        assert hook["hook"] == "preStop"
        assert hook["error"]  # it exited 1
        assert hook["seconds"] >= 0.5
        assert hook["began"] >= kill["t"]
        killed = recs[kinds.index("killed")]
        assert killed["signal"] == "SIGKILL"
        assert killed["t"] - kill["t"] >= 2.0  # the grace period ran out first
        mk.wait_for("the exit", lambda: [
            r for r in records(mk, "stubborn", "state") if r["state"] == "terminated"
        ])  # fmt: skip
        story = mk.wait_for("the story of the kill", lambda: (
            any("grace period over: SIGKILL" in s for s in mk.stderr_lines) and mk.stderr_lines
        ))  # fmt: skip
        assert "» stubborn/app: liveness probe failed (1/1)" in story
        assert any(s.startswith("» stubborn/app: preStop hook ran") for s in story)


@pytest.mark.skipif(chromium() is None, reason="no chromium: apt-get install -y chromium")
def test_ui_in_token_mode_sends_the_token_from_its_fragment(tmp_path: Path) -> None:
    browser = chromium()
    assert browser is not None
    token = tmp_path / "token"
    token.write_text("s3cret-token\n")
    mk = run_manifest(tmp_path, CRASHER, "--backoff-initial", "0.2", "--token-file", str(token))
    with mk:
        without = mk.get("/debug/timeline")
        assert without[0] == 401  # the data needs the token
        dom = dump_dom(browser, mk.url + "/ui?once=1#token=s3cret-token", tmp_path / "profile")
    parser = _Elements()
    parser.feed(dom)
    lanes = {a["data-lane"] for tag, a in parser.found if "data-lane" in a}
    assert {"pod:phase", "container:app"} <= lanes


PROBED = """
    apiVersion: v1
    kind: Pod
    metadata: {name: probed}
    spec:
      containers:
      - name: web
        image: busybox
        command: ["sleep", "1000"]
        startupProbe:
          exec: {command: ["true"]}
          periodSeconds: 2
          failureThreshold: 5
        readinessProbe:
          exec: {command: ["true"]}
          initialDelaySeconds: 1
          periodSeconds: 3
        livenessProbe:
          exec: {command: ["true"]}
          periodSeconds: 1
          failureThreshold: 2
"""


@pytest.mark.skipif(chromium() is None, reason="no chromium: apt-get install -y chromium")
def test_ui_shows_each_probes_timing_windows_as_explain_computes_them(tmp_path: Path) -> None:
    browser = chromium()
    assert browser is not None
    manifest = tmp_path / "probed.yaml"
    manifest.write_text(textwrap.dedent(PROBED))
    explained = subprocess.run(
        [sys.executable, "-m", "minikubelet", "explain", str(manifest), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    expected = {(p["container"], p["probe"]): p for p in json.loads(explained)}
    mk = run_manifest(tmp_path, textwrap.dedent(PROBED))
    with mk:
        mk.wait_for("created", lambda: records(mk, "probed", "created"))
        dom = dump_dom(browser, mk.url + "/ui?once=1", tmp_path / "profile")
    parser = _Elements()
    parser.feed(dom)
    elements = parser.found
    rows = [a for tag, a in elements if tag == "tr" and "data-probe" in a]
    assert {(a["data-container"], a["data-probe"]) for a in rows} == set(expected)
    cells = [a for tag, a in elements if tag == "td" and "data-key" in a]
    assert len(cells) == 5 * len(expected)
    windows = [a.get("data-window") for a in cells]
    order = [(a["data-container"], a["data-probe"]) for a in rows]
    keys = ["firstProbe", "startupBudget", "readyAfterHealthy", "unreadyAfterUnhealthy",
            "killAfterUnhealthy"]  # fmt: skip
    for i, probe in enumerate(order):
        for j, key in enumerate(keys):
            want = expected[probe][key]
            got = windows[i * len(keys) + j]
            assert got == (",".join(str(v) for v in want) if want else None), (probe, key)
    labels = [a for tag, a in elements if tag == "text" and "data-timing" in a]
    assert len(labels) == len(expected)
    assert any("killed after failing" in a["data-timing"] for a in labels)
