"""What `minikubelet run` leaves out of its start (issue 18): the CLI's modules import no
rendering, YAML, process, metrics or HTTP library, and by the time the first container is
spawned the daemon has imported none of what only other commands or a CI verdict need."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

# never needed before the first container starts; the HTTP stack's thread imports the others
NEVER_AT_START = ("rich", "pygments", "minikubelet.explain", "minikubelet.node.report",
                  "minikubelet.tui", "minikubelet.manifest.yamldocs")  # fmt: skip
# nor by the CLI's own modules
NOT_BY_THE_CLI = (*NEVER_AT_START, "yaml", "psutil", "prometheus_client", "aiohttp",
                  "zoneinfo", "minikubelet.api.server", "minikubelet.controllers")  # fmt: skip


def test_the_cli_imports_no_library_that_run_does_not_need_at_once() -> None:
    script = (
        "import json, sys\nimport minikubelet.cli\n"
        f"print(json.dumps([m for m in {list(NOT_BY_THE_CLI)!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_the_first_container_starts_before_those_modules_are_imported(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.json"
    command = ["sleep", "100000", "startup-imports-test"]
    manifest.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "first"},
                "spec": {
                    "terminationGracePeriodSeconds": 2,
                    "containers": [{"name": "c", "image": "local", "command": command}],
                },
            }
        )
    )
    seen = tmp_path / "modules.json"
    # the daemon is a fork of this process: the container's spawn (asyncio's subprocess
    # transport starts it with subprocess.Popen) writes down what is imported at that moment
    script = textwrap.dedent(f"""
        import json, subprocess, sys
        spawn = subprocess.Popen.__init__
        def watched(self, args, *rest, **kw):
            if list(args) == {command!r}:
                with open({str(seen)!r}, "w") as out:
                    json.dump(sorted(sys.modules), out)
            spawn(self, args, *rest, **kw)
        subprocess.Popen.__init__ = watched
        from minikubelet.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    argv = [sys.executable, "-c", script, "run", str(manifest), "--port", "0", "--state-dir",
            str(tmp_path / "state"), "--log-format", "json", "--until", "ready", "--timeout",
            "120"]  # fmt: skip
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, out + err
    imported = set(json.loads(seen.read_text()))
    assert "minikubelet.node.agent" in imported  # the snapshot is the daemon's
    assert [m for m in NEVER_AT_START if m in imported] == []
