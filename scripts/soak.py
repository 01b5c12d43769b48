"""Soak test (not run in CI): 50 crash-looping and probe-failing containers under the real
`minikubelet run` for a long time, sampling the daemon's memory, descriptors, threads and
asyncio tasks, the /healthz latency and the restart count at a fixed interval.

    python scripts/soak.py --minutes 30                 # the full run
    python scripts/soak.py --minutes 5 --interval 30    # a shorter one

Writes `<output>.json` (every sample) and `<output>.md` (a table and the growth of the floor,
from the first third of the samples after warm-up to the last third), and checks that nothing
survives the daemon's stop.
Exit code 0 when memory, descriptors and tasks stayed flat, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

PODS = 10  # five containers each: 50 in all
CONTAINERS = """
  - name: crash
    image: busybox
    command: ["sh", "-c", "echo crashing; echo oops >&2; exit 1"]
  - name: liveness-exec
    image: busybox
    command: ["sh", "-c", "while true; do echo tick; sleep 0.2; done"]
    livenessProbe:
      exec: {command: ["sh", "-c", "exit 1"]}
      periodSeconds: 1
      failureThreshold: 2
  - name: readiness-http
    image: busybox
    command: ["sleep", "100000"]
    readinessProbe:
      httpGet: {port: 1, path: /ready}
      periodSeconds: 1
  - name: liveness-tcp
    image: busybox
    command: ["sh", "-c", "sleep 100000 & wait"]
    livenessProbe:
      tcpSocket: {port: 1}
      periodSeconds: 1
      failureThreshold: 3
  - name: flapping
    image: busybox
    command: ["sh", "-c", "exec sleep 100000"]
    readinessProbe:
      exec: {command: ["sh", "-c", "test $(( $(date +%s) % 2 )) -eq 0"]}
      periodSeconds: 1
"""
# growth of the floor allowed between the first and the last window after warm-up
LIMITS = {"rss_mb": 8.0, "fds": 10, "tasks": 20, "threads": 2, "zombies": 5}


def manifest() -> str:
    docs = []
    for i in range(PODS):
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata: {{name: soak-{i}}}\n"
            f"spec:\n  terminationGracePeriodSeconds: 1\n  containers:{CONTAINERS}"
        )
    return "---\n".join(docs)


def get(url: str, timeout: float = 10) -> tuple[float, bytes]:
    began = time.monotonic()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = resp.read()
    return time.monotonic() - began, body


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def floor(daemon: psutil.Process, url: str) -> tuple[int, int, float]:
    """(descriptors, tasks, worst /healthz seconds) over ten readings in two seconds: the
    lowest descriptor and task counts, so that a leak (a rising floor) is not hidden by how
    many containers and probes happen to be running at the instant of a single reading."""
    fds, tasks, worst = [], [], 0.0
    for _ in range(10):
        latency, _ = get(url + "/healthz")
        _, raw = get(url + "/metrics")
        worst = max(worst, latency)
        fds.append(daemon.num_fds())
        tasks.append(int(metric(raw.decode(), "minikubelet_asyncio_tasks")))
        time.sleep(0.2)
    return min(fds), min(tasks), worst


def sample(daemon: psutil.Process, url: str, began: float) -> dict[str, Any]:
    fds, tasks, latency = floor(daemon, url)
    _, pods = get(url + "/api/v1/pods")
    restarts = sum(
        c.get("restartCount", 0)
        for pod in json.loads(pods)["items"]
        for c in pod["status"].get("containerStatuses", [])
    )
    children = daemon.children(recursive=True)
    with daemon.oneshot():
        return {
            "minute": round((time.monotonic() - began) / 60, 2),
            "rss_mb": round(daemon.memory_info().rss / 2**20, 2),
            "fds": fds,
            "threads": daemon.num_threads(),
            "tasks": tasks,
            "processes": len(children),
            "zombies": sum(1 for c in children if _zombie(c)),
            "healthz_ms": round(latency * 1000, 1),
            "restarts": restarts,
            "cpu_s": round(sum(daemon.cpu_times()[:2]), 1),
        }


def _zombie(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def start(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    path = workdir / "soak.yaml"
    path.write_text(manifest())
    argv = [sys.executable, "-m", "minikubelet", "run", str(path), "--port", "0"]
    argv += ["--state-dir", str(workdir / "state"), "--quiet-logs", "--log-format", "json"]
    argv += ["--backoff-initial", "1", "--backoff-max", "5", "--log-max-size", "64Ki"]
    argv += ["--log-max-files", "2"]
    log = (workdir / "daemon.log").open("wb")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    assert proc.stdout is not None
    for raw in iter(proc.stdout.readline, b""):
        line = raw.decode().strip()
        if line.startswith("minikubelet: serving on "):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep it drained
            return proc, line.split()[-1]
    raise SystemExit(f"the daemon did not start; see {workdir / 'daemon.log'}")


def stop(proc: subprocess.Popen[bytes]) -> tuple[int, list[int]]:
    seen = {p.pid: p.create_time() for p in psutil.Process(proc.pid).children(recursive=True)}
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(60)
    time.sleep(0.5)
    survivors = []
    for pid, created in seen.items():
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            if abs(p.create_time() - created) < 0.05 and p.status() != psutil.STATUS_ZOMBIE:
                survivors.append(pid)
                p.kill()
    return code, survivors


def growth(samples: list[dict[str, Any]], warmup: int) -> dict[str, float]:
    """The floor (the minimum) of the last third of the samples after warm-up minus that of
    the first third. A leak raises the floor; a sample that happens to fall on a burst of
    restarts (more processes, descriptors and tasks for a moment) raises only a peak, and a
    comparison of the last samples with the first judged a flat run growing on one."""
    after = samples[min(warmup, len(samples) - 1) :]
    size = max(1, len(after) // 3)
    first, last = after[:size], after[-size:]
    return {
        key: round(min(s[key] for s in last) - min(s[key] for s in first), 2) for key in LIMITS
    }


def report(samples: list[dict[str, Any]], grew: dict[str, float], args: Any, **extra: Any) -> str:
    cols = list(samples[0])
    lines = [
        f"# minikubelet soak: {PODS * 5} containers, {args.minutes:g} minutes",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(str(s[c]) for c in cols) + " |" for s in samples]
    base = samples[min(args.warmup, len(samples) - 1)]["minute"]
    lines += [
        "",
        f"Growth (the minimum of the last third of the samples minus that of the first third, "
        f"from minute {base}): " + ", ".join(f"{k} {v:+g}" for k, v in grew.items()),
        "Limits: " + ", ".join(f"{k} {v:+g}" for k, v in LIMITS.items()),
        f"Verdict: {'flat' if extra['flat'] else 'GROWING'}; daemon exit code "
        f"{extra['exit_code']}; survivors after stop: {extra['survivors']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--warmup", type=int, default=1, help="samples before the baseline")
    parser.add_argument("--output", default="soak-result", help="path without extension")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="minikubelet-soak-") as tmp:
        proc, url = start(Path(tmp))
        daemon = psutil.Process(proc.pid)
        began = time.monotonic()
        samples: list[dict[str, Any]] = []
        try:
            while True:
                samples.append(sample(daemon, url, began))
                print(json.dumps(samples[-1]), flush=True)
                if time.monotonic() - began >= args.minutes * 60:
                    break
                time.sleep(
                    min(args.interval, max(args.minutes * 60 - (time.monotonic() - began), 0))
                )
        finally:
            code, survivors = stop(proc)
    grew = growth(samples, args.warmup)
    flat = all(grew[key] <= limit for key, limit in LIMITS.items())
    result = {"samples": samples, "growth": grew, "limits": LIMITS, "flat": flat,
              "exit_code": code, "survivors": survivors, "containers": PODS * 5}  # fmt: skip
    Path(args.output + ".json").write_text(json.dumps(result, indent=2) + "\n")
    text = report(samples, grew, args, flat=flat, exit_code=code, survivors=len(survivors))
    Path(args.output + ".md").write_text(text)
    print(text)
    return 0 if flat and not survivors and code == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
