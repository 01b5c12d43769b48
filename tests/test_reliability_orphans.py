"""No orphans, ever: after SIGTERM and after SIGKILL to the real `minikubelet run`, nothing it
started survives anywhere in the process table: containers, their children, double-forked
grandchildren that left the session, processes that cleared their environment, exec probes and
hooks in flight, and a container that forked a thousand children.

Every process of a test carries `RELIABILITY_TAG=<uuid>` in its environment (the container's
`env`, inherited by children, probes and hooks; `env -i TAG=...` keeps only the tag), so the
whole table can be searched for survivors, not only the daemon's tree.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
from daemon_harness import Minikubelet
from reliability_helpers import TAG, kill_tagged, new_tag, start, tagged, wait_until

from minikubelet.runtime import watchdog

pytestmark = pytest.mark.slow


def escapees_pod(tag: str) -> str:
    env = f'env: [{{name: {TAG}, value: "{tag}"}}]'
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: escapees}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: double-fork
    image: busybox
    {env}
    # a grandchild in its own session, re-parented away from the container
    command: ["sh", "-c", "(setsid sh -c 'sleep 1000 & exec sleep 1001' &); exec sleep 1002"]
  - name: clean-env
    image: busybox
    command: ["env", "-i", "{TAG}={tag}", "/bin/sh", "-c", "sleep 1003 & exec sleep 1004"]
  - name: probed
    image: busybox
    {env}
    command: ["sleep", "1005"]
    livenessProbe:
      exec: {{command: ["sh", "-c", "sleep 1006 & exec sleep 1007"]}}
      periodSeconds: 1
      timeoutSeconds: 600
  - name: hooked
    image: busybox
    {env}
    command: ["sleep", "1008"]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "(setsid sleep 1009 &); exec sleep 1010"]}}
"""


# every process the pod makes: the containers, their children, the probe's and the hook's
EXPECTED = {f"sleep {n}" for n in range(1000, 1011)}


def running_commands(tag: str) -> set[str]:
    out = set()
    for proc in tagged(tag):
        try:
            out.add(" ".join(proc.cmdline()))
        except psutil.Error:
            continue
    return out


def wait_all_running(mk: Minikubelet, tag: str) -> None:
    def all_running() -> bool:
        mk._remember_tree()
        return running_commands(tag) >= EXPECTED

    wait_until("every process of the pod to run", all_running, timeout=15)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_nothing_survives_the_daemon(tmp_path: Path, sig: signal.Signals) -> None:
    tag = new_tag()
    mk = start(tmp_path, escapees_pod(tag))
    try:
        wait_all_running(mk, tag)
        mk.signal(sig)
        code = mk.wait_exit(timeout=20)
        assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)
        # after SIGKILL the watchdog needs a moment; after SIGTERM all is gone on exit
        wait_until("no tagged process", lambda: tagged(tag) == [], timeout=10)
        wait_until("no process of the daemon's tree", lambda: mk.survivors() == [], timeout=5)
    finally:
        mk.close()
        kill_tagged(tag)


def test_sigkill_to_the_daemons_process_group(tmp_path: Path) -> None:
    """`kill -9 -PGID` (a terminal's or a supervisor's group kill) spares the watchdog, which
    is in its own session, and it still sweeps."""
    tag = new_tag()
    mk = start(tmp_path, escapees_pod(tag))
    try:
        wait_all_running(mk, tag)
        mk._remember_tree()
        os.killpg(mk.proc.pid, signal.SIGKILL)
        mk.wait_exit(timeout=10)
        wait_until("no tagged process", lambda: tagged(tag) == [], timeout=5)
        wait_until("no process of the daemon's tree", lambda: mk.survivors() == [], timeout=5)
    finally:
        mk.close()
        kill_tagged(tag)


FORKER = """
apiVersion: v1
kind: Pod
metadata: {{name: forker}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: thousand
    image: busybox
    env: [{{name: {tag_name}, value: "{tag}"}}]
    command: ["sh", "-c", "trap '' TERM; i=0; while [ $i -lt 1000 ]; do sleep 1000 & i=$((i+1)); done; wait"]
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_thousand_children_are_stopped_whole(tmp_path: Path, sig: signal.Signals) -> None:
    tag = new_tag()
    mk = start(tmp_path, FORKER.format(tag_name=TAG, tag=tag))
    try:
        wait_until("1001 processes", lambda: len(tagged(tag)) >= 1001, timeout=20)
        mk._remember_tree()
        mk.signal(sig)
        mk.wait_exit(timeout=20)
        wait_until("no tagged process", lambda: tagged(tag) == [], timeout=10)
    finally:
        mk.close()
        kill_tagged(tag)


def test_watchdog_sweep_freezes_a_fork_loop() -> None:
    """The sweep itself: a process that forks without pause is frozen, then killed whole."""
    token = "test-" + new_tag()
    env = {**os.environ, watchdog.MARKER: token}
    script = "while true; do sleep 1000 & done"
    proc = subprocess.Popen(["sh", "-c", script], env=env, start_new_session=True)
    marker = f"{watchdog.MARKER}={token}".encode()
    try:
        wait_until("a few forks", lambda: len(watchdog.scan(marker, {}, set())) > 20)
        killed = watchdog.sweep(token, {})
        assert killed > 20
        proc.wait(5)
        wait_until("none left", lambda: watchdog.scan(marker, {}, set()) == set(), timeout=5)
    finally:
        for pid in watchdog.scan(marker, {}, set()):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
