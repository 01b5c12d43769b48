"""What the scaling sections (API at scale, Deployment, volumes, exec) share: the real
kubectl, timed; N sleeping single-container pods; a stamp a container writes at its first
instruction; and figures whose target is judged only at the sizes it is stated for."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import JSON, BenchmarkError, container_doc, pod_doc
from benchmarks.report import Figure, above, below
from benchmarks.stats import percentile

SLEEPER = ["sleep", "100000"]
# the container's first instruction: the wall clock into the file named by $0 (no fork)
STAMP_SCRIPT = 'echo "$EPOCHREALTIME" > "$0.tmp" && mv "$0.tmp" "$0"; exec sleep 100000'
CONFIG_MAP: JSON = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "bench-config"},
    "data": {"app.conf": "mode=bench\n"},
}


def find_kubectl() -> str | None:
    """As the tests find it: beside this interpreter (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("kubectl")


NO_KUBECTL = "skipped: no kubectl beside the interpreter or on PATH"


async def kubectl(exe: str, url: str, home: Path, *args: str, within: float = 60.0) -> float:
    """Runs `kubectl --server URL ARGS` (no kubeconfig, its discovery cached under `home`);
    returns its wall time in seconds, from the exec to its exit; raises if it fails."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "KUBECONFIG": "/dev/null"}
    argv = [exe, "--server", url, "--cache-dir", str(home / "cache"), *args]
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        async with asyncio.timeout(within):
            _, err = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise BenchmarkError(f"kubectl {' '.join(args)} did not finish in {within:g}s") from None
    took = time.perf_counter() - began
    if proc.returncode != 0:
        raise BenchmarkError(f"kubectl {' '.join(args)}: exit {proc.returncode}: {err.decode()}")
    return took


def sleepers(n: int, prefix: str = "p") -> list[JSON]:
    return [pod_doc(f"{prefix}-{i:04d}", [container_doc("c", SLEEPER)]) for i in range(n)]


def stamped_argv(stamp: Path) -> list[str]:
    return ["bash", "-c", STAMP_SCRIPT, str(stamp)]


def read_stamp(path: Path) -> float | None:
    try:
        return float(path.read_text().strip())
    except (OSError, ValueError):
        return None


def p50_p99_ms(seconds: Sequence[float]) -> tuple[float, float]:
    ms = [s * 1000 for s in seconds]
    return percentile(ms, 50), percentile(ms, 99)


def judged(
    kind: str,
    section: str,
    name: str,
    value: float,
    unit: str,
    limit: float,
    at: bool,
    **kw: Any,
) -> Figure:
    """`below`/`above` where the target is stated for this size (`at`), else a plain point
    of the curve (no target)."""
    if not at:
        return Figure(section, name, value, unit, **kw)
    return (below if kind == "<" else above)(section, name, value, unit, limit, **kw)


def skipped(section: str, name: str, unit: str, why: str) -> Figure:
    return Figure(section, name, math.nan, unit, note=why)
