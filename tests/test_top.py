"""`minikubelet top`: the rows (pure, as tables), their rendering (rich's recording console),
the subcommand without rich, and the real terminal (tmux) against a real daemon."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from minikubelet import tui
from minikubelet.core.toprows import Row, build_rows
from tests.daemon_harness import run_manifest

T0 = 1_000_000.0


def pod(
    name: str, containers: list[dict[str, Any]], statuses: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "metadata": {"namespace": "default", "name": name},
        "spec": {"containers": containers},
        "status": {"phase": "Running", "containerStatuses": statuses},
    }


READY_POD = pod(
    "web",
    [
        {
            "name": "app",
            "readinessProbe": {"periodSeconds": 5},
            "livenessProbe": {"periodSeconds": 10},
        }
    ],
    [{"name": "app", "state": {"running": {}}, "ready": True, "started": True, "restartCount": 0}],
)
CRASH_POD = pod(
    "crash",
    [{"name": "app"}],
    [
        {
            "name": "app",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "ready": False,
            "restartCount": 3,
        }
    ],
)


def rec(seq: int, t: float, kind: str, pod: str = "default/web", **fields: Any) -> dict[str, Any]:
    return {"seq": seq, "t": t, "pod": pod, "kind": kind, "container": "app", **fields}


def probe(
    seq: int, t: float, ptype: str, result: str, run: int = 1, threshold: int = 3
) -> dict[str, Any]:
    return rec(seq, t, "probe", probe=ptype, result=result, run=run, threshold=threshold)


@pytest.mark.parametrize(
    ("pods", "records", "now", "expected"),
    [
        pytest.param(
            [READY_POD],
            [],
            T0,
            {"state": "Running", "ready": True, "last_probe": None, "next_probe": None},
            id="no probe run yet",
        ),
        pytest.param(
            [READY_POD],
            [probe(1, T0, "readiness", "success"), probe(2, T0 + 1, "liveness", "success")],
            T0 + 2,
            {"last_probe": "liveness success", "next_probe": 3.0, "next_probe_type": "readiness"},
            id="the soonest of the probes is next",
        ),
        pytest.param(
            [READY_POD],
            [probe(1, T0, "readiness", "success"), probe(2, T0 + 1, "liveness", "failure", 2)],
            T0 + 9,
            {
                "last_probe": "liveness failure (2/3)",
                "next_probe": 0.0,
                "next_probe_type": "readiness",
            },
            id="a failure with its count; an overdue probe is due now",
        ),
        pytest.param(
            [CRASH_POD],
            [rec(1, T0, "backoff", pod="default/crash", delay=20.0, remaining=19.5)],
            T0 + 4.5,
            {
                "state": "CrashLoopBackOff",
                "restarts": 3,
                "backoff_left": 15.0,
                "backoff_delay": 20.0,
            },
            id="back-off countdown from its record",
        ),
        pytest.param(
            [CRASH_POD],
            [rec(1, T0, "backoff", pod="default/crash", delay=10.0, remaining=10.0)],
            T0 + 30,
            {"backoff_left": 0.0},
            id="a back-off past its end counts no lower than 0",
        ),
        pytest.param(
            [READY_POD],
            [rec(1, T0, "backoff", delay=10.0, remaining=10.0)],
            T0 + 1,
            {"backoff_left": None},
            id="no countdown once the container runs again",
        ),
        pytest.param(
            [READY_POD],
            [probe(1, T0, "readiness", "failure") | {"pod": "default/other"}],
            T0 + 1,
            {"last_probe": None},
            id="records of another pod are not this one's",
        ),
    ],
)
def test_rows(
    pods: list[dict[str, Any]], records: list[dict[str, Any]], now: float, expected: dict[str, Any]
) -> None:
    rows = build_rows({"items": pods}, records, now)
    assert len(rows) == 1
    got = {k: getattr(rows[0], k) for k in expected}
    assert got == expected


def test_rows_init_containers_first_and_missing_status() -> None:
    p = {
        "metadata": {"namespace": "ns", "name": "p"},
        "spec": {"initContainers": [{"name": "setup"}], "containers": [{"name": "app"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                {"name": "setup", "state": {"terminated": {"reason": "Error", "exitCode": 1}}}
            ],
        },
    }
    rows = build_rows({"items": [p]}, [], T0)
    assert [(r.pod, r.container, r.init, r.state) for r in rows] == [
        ("ns/p", "setup", True, "Error (exit 1)"),
        ("ns/p", "app", False, "Waiting"),
    ]


def _text(
    rows: list[Row], records: list[dict[str, Any]], error: str | None = None, width: int = 160
) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(tui.render(rows, records, server="http://127.0.0.1:1", error=error))
    return console.export_text()


def test_render_crash_looping_pod_shows_the_countdown() -> None:
    records = [
        rec(
            1,
            T0,
            "state",
            pod="default/crash",
            state="terminated",
            reason="Error",
            exitCode=1,
            restartCount=3,
        ),
        rec(2, T0 + 0.5, "backoff", pod="default/crash", delay=40.0, remaining=39.5),
    ]
    text = _text(build_rows({"items": [CRASH_POD]}, records, T0 + 10), records)
    line = next(x for x in text.splitlines() if x.startswith("crash/app"))
    assert "CrashLoopBackOff" in line
    assert "30s of 40s" in line
    assert " 3 " in line
    assert "CrashLoopBackOff: restart in 40s" in text  # the timeline's own words


def test_render_ready_pod_shows_last_probe_and_next() -> None:
    records = [probe(1, T0, "readiness", "success"), probe(2, T0 + 1, "liveness", "success")]
    text = _text(build_rows({"items": [READY_POD]}, records, T0 + 2), records)
    line = next(x for x in text.splitlines() if x.startswith("web/app"))
    assert "Running" in line
    assert "yes" in line
    assert "liveness success" in line
    assert "readiness 3s" in line
    assert "daemon not reachable" not in text


def test_render_on_a_narrow_terminal_keeps_every_column() -> None:
    records = [rec(1, T0, "backoff", pod="default/crash", delay=40.0, remaining=40.0)]
    rows = build_rows({"items": [CRASH_POD, READY_POD]}, records, T0 + 10)
    lines = _text(rows, records, width=80).splitlines()
    crash = next(x for x in lines if x.startswith("crash/app"))
    assert crash.split() == ["crash/app", "CrashLoopBackOff", "no", "3", "30s", "of", "40s"]
    assert "BACK-OFF" in lines[1]


def test_render_daemon_not_reachable() -> None:
    text = _text([], [], error="Connection refused")
    assert "daemon not reachable: Connection refused (retrying)" in text
    assert "(no pods)" in text


def test_top_without_rich_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['rich'] = None\n"
        "from minikubelet.cli import main\n"
        "sys.exit(main(['top', '--server', 'http://127.0.0.1:9']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "pip install 'minikubelet[tui]'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_top_without_a_recorded_daemon(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "minikubelet", "top", "--state-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "no running daemon recorded in" in proc.stderr
    assert "Traceback" not in proc.stderr


MANIFEST = """
    apiVersion: v1
    kind: Pod
    metadata: {name: steady}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "sleep 3600"]
        readinessProbe:
          exec: {command: ["true"]}
          periodSeconds: 1
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: crashy}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "exit 1"]
"""


def _pane(session: str) -> str:
    return subprocess.run(
        ["tmux", "-L", session, "capture-pane", "-p", "-t", session],
        capture_output=True, text=True, timeout=30,
    ).stdout  # fmt: skip


def _wait(what: str, check: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("key", ["q", "C-c"])
def test_top_in_a_real_terminal(tmp_path: Path, key: str) -> None:
    """The pods on the screen; the daemon stopping shows, and the view keeps retrying; `q`
    or Ctrl-C ends it with exit 0 and the terminal's own screen back."""
    session = f"mk-top-{uuid.uuid4().hex[:8]}"
    with run_manifest(tmp_path, MANIFEST, "--backoff-initial", "30") as daemon:
        daemon.wait_for("steady Ready", lambda: daemon.container("steady", "app").get("ready"))
        daemon.wait_for(
            "crashy in CrashLoopBackOff",
            lambda: (
                daemon.container("crashy", "app")["state"].get("waiting", {}).get("reason")
                == "CrashLoopBackOff"
            ),
        )
        argv = [sys.executable, "-m", "minikubelet", "top", "--state-dir", str(daemon.state_dir)]
        exited = tmp_path / "top-exit-code"
        # the shell outlives a Ctrl-C (a trap with a command: the view gets SIGINT as usual)
        shell = f'trap : INT; "$@"; echo $? > {exited}; sleep 600'
        # a tmux server of its own (-L): other sessions' options do not apply
        tmux = ["tmux", "-L", session, "-f", "/dev/null"]
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "50",
             "sh", "-c", shell, "sh", *argv],
            check=True, timeout=30,
        )  # fmt: skip
        # the window's size as asked, whatever the tmux version makes of -x/-y when detached
        subprocess.run([*tmux, "resize-window", "-t", session, "-x", "200", "-y", "50"], timeout=30)
        try:
            wanted = ("crashy/app", "steady/app", "s of 30s", "readiness ")

            seen = [""]

            def shown() -> str | None:
                seen[0] = _pane(session)
                return seen[0] if all(w in seen[0] for w in wanted) else None

            try:
                screen = _wait("the pods on the screen", shown)
            except AssertionError as e:
                raise AssertionError(f"{e}\nthe screen:\n{seen[0]}") from None
            steady = next(x for x in screen.splitlines() if x.startswith("steady/app"))
            crashy = next(x for x in screen.splitlines() if x.startswith("crashy/app"))
            assert "Running" in steady
            assert "yes" in steady
            assert "CrashLoopBackOff" in crashy
            daemon.close()
            _wait("the daemon's absence shown", lambda: "daemon not reachable" in _pane(session))
            subprocess.run([*tmux, "send-keys", "-t", session, key], check=True, timeout=30)
            _wait("top to exit", lambda: exited.exists() and exited.read_text().strip())
            assert exited.read_text().strip() == "0"
            after = _pane(session)
            assert "Traceback" not in after
            assert "steady/app" not in after  # the alternate screen is gone
        finally:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                subprocess.run([*tmux, "kill-server"], timeout=30)
