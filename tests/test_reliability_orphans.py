"""No orphans, ever: after SIGTERM and after SIGKILL to the real `minikubelet run`, nothing it
started survives anywhere in the process table: containers, their children, double-forked
grandchildren that left the session, processes that cleared their environment, exec probes and
hooks in flight, and a container that forked a thousand children.

Every process of a test carries `RELIABILITY_TAG=<uuid>` in its environment (the container's
`env`, inherited by children, probes and hooks; `env -i TAG=...` keeps only the tag), so the
whole table can be searched for survivors, not only the daemon's tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest
from daemon_harness import Minikubelet
from reliability_helpers import (
    TAG,
    guard_chain,
    kill_tagged,
    new_tag,
    start,
    tagged,
    wait_until,
)

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
  - name: clean-env-setsid
    image: busybox
    {env}
    # a grandchild without the daemon's marker, in a session of its own, orphaned at once
    command: ["sh", "-c", "(env -i {TAG}={tag} setsid /bin/sh -c 'sleep 1011 & exec sleep 1012' &); exec sleep 1013"]
  # last: its postStart hook never returns, and containers start one at a time, each after
  # the previous one's postStart (kubelet: SyncPod, startContainer)
  - name: hooked
    image: busybox
    {env}
    command: ["sleep", "1008"]
    lifecycle:
      postStart:
        exec: {{command: ["sh", "-c", "(setsid sleep 1009 &); exec sleep 1010"]}}
"""


# every process the pod makes: the containers, their children, the probe's and the hook's
EXPECTED = {f"sleep {n}" for n in range(1000, 1014)}


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


def sweeper_of(daemon: psutil.Process) -> psutil.Process | None:
    for child in daemon.children():
        with contextlib.suppress(psutil.Error):
            if "minikubelet.runtime.watchdog" in child.cmdline():
                return child
    return None


# (what is killed or stopped, in order); the last is always the daemon, by SIGKILL
ORDERS = {
    "daemon": [],
    "inner-guard-killed": [("inner", signal.SIGKILL)],
    "outer-guard-killed": [("outer", signal.SIGKILL)],
    "inner-guard-stopped": [("inner", signal.SIGSTOP)],
    "outer-guard-stopped": [("outer", signal.SIGSTOP)],
    "sweeper-killed": [("sweeper", signal.SIGKILL)],
    "sweeper-and-inner-killed": [("sweeper", signal.SIGKILL), ("inner", signal.SIGKILL)],
}


@pytest.mark.parametrize("order", sorted(ORDERS))
def test_nothing_survives_sigkill_of_the_daemon_in_any_order(tmp_path: Path, order: str) -> None:
    """kill -9 of the daemon process itself, right after a guard or the sweeper was killed or
    stopped: the guard left (or the sweeper) kills everything, wherever it went."""
    tag = new_tag()
    mk = start(tmp_path, escapees_pod(tag))
    chain: list[psutil.Process] = []
    try:
        wait_all_running(mk, tag)
        chain = guard_chain(mk)
        assert len(chain) == 3, chain
        outer, inner, daemon = chain
        sweeper = sweeper_of(daemon)
        assert sweeper is not None
        who = {"outer": outer, "inner": inner, "sweeper": sweeper}
        mk._remember_tree()
        for name, sig in ORDERS[order]:
            who[name].send_signal(sig)
        daemon.send_signal(signal.SIGKILL)
        wait_until("no tagged process", lambda: tagged(tag) == [], timeout=10)
        wait_until("no process of the daemon's tree", lambda: mk.survivors() == [], timeout=10)
        if order == "daemon":  # `minikubelet run` exits as its daemon did
            assert mk.wait_exit(timeout=20) == -signal.SIGKILL
    finally:
        for proc in chain:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            mk.wait_exit(timeout=20)
        mk.close()
        kill_tagged(tag)


def test_the_daemon_notices_a_dead_guard_and_a_dead_sweeper(tmp_path: Path) -> None:
    tag = new_tag()
    mk = start(tmp_path, escapees_pod(tag))
    try:
        wait_all_running(mk, tag)
        _outer, inner, daemon = guard_chain(mk)
        first = sweeper_of(daemon)
        assert first is not None
        first.kill()
        mk.wait_for(
            "a new sweeper",
            lambda: (s := sweeper_of(daemon)) is not None and s.pid != first.pid,
        )
        inner.kill()
        mk.wait_for(
            "the error about the inner guard",
            lambda: any("the inner guard process died" in line for line in mk.stderr_lines),
        )
        assert any("the sweeper process died" in line for line in mk.stderr_lines)
        assert mk.get("/healthz")[0] == 200
        # still guarded: the daemon's SIGKILL leaves nothing
        mk._remember_tree()
        daemon.kill()
        wait_until("no tagged process", lambda: tagged(tag) == [], timeout=10)
    finally:
        mk.close()
        kill_tagged(tag)


SIGHUP_POD = """
apiVersion: v1
kind: Pod
metadata: {{name: hup}}
spec:
  terminationGracePeriodSeconds: 10
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "trap 'echo term > {marks}/term; exit 0' TERM; while true; do sleep 0.1; done"]
    lifecycle:
      preStop:
        exec: {{command: ["sh", "-c", "echo pre > {marks}/prestop"]}}
"""


def test_sighup_stops_gracefully(tmp_path: Path) -> None:
    """The terminal closed: preStop, the stop signal and the grace period, as for SIGTERM."""
    marks = tmp_path / "marks"
    marks.mkdir()
    mk = start(tmp_path, SIGHUP_POD.format(marks=marks))
    try:
        mk.wait_for("running", lambda: "running" in mk.container("hup", "app")["state"])
        mk.signal(signal.SIGHUP)
        assert mk.wait_exit(timeout=30) == 0
        assert (marks / "prestop").read_text() == "pre\n"
        assert (marks / "term").read_text() == "term\n"
    finally:
        mk.close()


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
        proc.wait(30)
        # thousands of SIGKILLed processes exit one by one: a loaded machine takes seconds
        wait_until("none left", lambda: watchdog.scan(marker, {}, set()) == set(), timeout=60)
    finally:
        for pid in watchdog.scan(marker, {}, set()):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_watchdog_sweep_takes_the_children_of_what_it_froze() -> None:
    """A child whose environment no longer shows the marker (cleared here with `env -i`, as a
    child caught in execve() shows none at all) is still swept: it is a child of a process
    the sweep froze."""
    token = "test-" + new_tag()
    env = {**os.environ, watchdog.MARKER: token}
    proc = subprocess.Popen(
        ["sh", "-c", "env -i sleep 1000 & echo $!; wait"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    marker = f"{watchdog.MARKER}={token}".encode()
    try:
        wait_until("the child exec'd sleep", lambda: psutil.Process(child).name() == "sleep")
        assert watchdog.scan(marker, {}, set()) == {proc.pid}  # the child has no marker
        assert watchdog.sweep(token, {}) == 2
        proc.wait(30)
        wait_until("the child killed", lambda: not _running(child))
    finally:
        with contextlib.suppress(OSError):
            os.kill(child, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
