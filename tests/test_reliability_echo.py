"""A log flood with console echo on (the default): the daemon echoes every line on its
stdout, keeps the log files under their cap, and keeps answering /healthz promptly."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from daemon_harness import Minikubelet

FLOOD = """
    apiVersion: v1
    kind: Pod
    metadata: {name: flood}
    spec:
      restartPolicy: Never
      containers:
      - name: flood
        image: busybox
        command: ["sh", "-c", "sleep 1; head -c 30000000 /dev/zero | tr '\\\\0' x | fold -w 100"]
"""


def test_flood_with_console_echo(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(textwrap.dedent(FLOOD))
    args = ("--log-max-size", "1Mi", "--log-max-files", "2")
    with Minikubelet(path, *args, state_dir=tmp_path / "state") as mk:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            code, _ = mk.get("/healthz")  # answered within the client's timeout
            assert code == 200
            if "terminated" in mk.container("flood", "flood")["state"]:
                break
            time.sleep(0.02)
        assert "terminated" in mk.container("flood", "flood")["state"]
        mk.wait_for(
            "every line echoed",
            lambda: (
                sum(1 for line in mk.stdout_lines if line.startswith("[flood/flood] x")) == 300_000
            ),
            timeout=30,
            interval=0.5,
        )
        (log_dir,) = (tmp_path / "state" / "pods").glob("default_flood_*/flood")
        assert all(f.stat().st_size <= 1024 * 1024 for f in log_dir.iterdir())
