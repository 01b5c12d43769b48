"""`kubectl logs -f` across rotations: a follower gets every line still on disk, in order.

A fast writer rotates a 256 KiB log several times between two looks of the follower; it used
to reopen the live name and skip the files rotated meanwhile (9,284 of 20,000 lines arrived).
The writer waits for a gate file, so the follower is attached before the first rotation.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from daemon_harness import Minikubelet

pytestmark = pytest.mark.slow

KUBECTL = str(Path(sys.executable).parent / "kubectl")
LINES = 20_000

WRITER = """
import os, sys, time
print("attached?", flush=True)
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
for i in range({lines}):
    sys.stdout.write(f"line {{i:06d}} " + "x" * 60 + "\\n")
sys.stdout.flush()
"""


def test_a_follower_gets_every_line_across_rotations(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER.format(lines=LINES)))
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: fast}}
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: python
            command: ["{sys.executable}", "{script}", "{gate}"]
        """)
    )
    mk = Minikubelet(
        manifest,
        "--quiet-logs",
        "--log-max-size",
        "256Ki",
        "--log-max-files",
        "20",
        state_dir=tmp_path / "state",
    )
    follower: subprocess.Popen[str] | None = None
    try:
        mk.wait_serving()
        mk.wait_for(
            "the writer started", lambda: mk.container("fast", "app")["state"].get("running")
        )
        follower = subprocess.Popen(
            [KUBECTL, "--server", mk.url, "logs", "-f", "fast"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        )
        assert follower.stdout is not None
        assert follower.stdout.readline() == "attached?\n"
        gate.touch()
        out, err = follower.communicate(timeout=120)  # ends when the container has exited
        assert follower.returncode == 0, err
        lines = out.splitlines()
        expected = [f"line {i:06d} " + "x" * 60 for i in range(LINES)]
        assert len(lines) == LINES, f"{len(lines)} of {LINES} lines; first missing: " + next(
            (e for e, got in zip(expected, lines, strict=False) if e != got), "(at the end)"
        )
        assert lines == expected
        rotated = list((tmp_path / "state").rglob("0.log.*"))
        assert len(rotated) >= 4  # the log did rotate, several times
    finally:
        if follower is not None and follower.poll() is None:
            follower.kill()
            follower.wait()
        mk.close()
    assert mk.survivors() == []
