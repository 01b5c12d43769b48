"""CPU limits through cgroup v2: the kubelet's quota arithmetic, detection of a cgroup the
daemon may use (simulated trees: this project's CI machines run cgroup v1), the fallback,
and a real container process placed in its own cgroup by the running daemon."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import time
from decimal import Decimal
from pathlib import Path

import psutil
import pytest

from minikubelet.core.settings import Settings
from minikubelet.daemon import Daemon, ServeOptions
from minikubelet.manifest.load import pod_from_document
from minikubelet.runtime.cgroups import DAEMON_LEAF, CpuLimiter, cpu_max
from minikubelet.runtime.reaper import PR_SET_CHILD_SUBREAPER


@pytest.mark.parametrize(
    ("cores", "line"),
    [
        pytest.param("0.5", "50000 100000", id="500m"),
        pytest.param("1", "100000 100000", id="one-core"),
        pytest.param("2.5", "250000 100000", id="two-and-a-half"),
        pytest.param("0.001", "1000 100000", id="1m-is-the-minimum-quota"),
        pytest.param("0.0001", "1000 100000", id="below-1m-rounds-up-then-minimum"),
    ],
)
def test_cpu_max_is_the_kubelets_quota(cores: str, line: str) -> None:
    assert cpu_max(Decimal(cores)) == line


def fake_tree(tmp_path: Path, *, controllers: str = "cpu memory pids") -> tuple[Path, Path, Path]:
    root = tmp_path / "cgroup"
    base = root / "user.slice" / "app.scope"
    base.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.controllers").write_text(controllers + "\n")
    (base / "cgroup.subtree_control").write_text("\n")
    (base / "cgroup.procs").write_text("")
    proc_self = tmp_path / "proc-self-cgroup"
    proc_self.write_text("0::/user.slice/app.scope\n")
    return root, base, proc_self


def test_detect_moves_the_daemon_to_a_leaf_and_enables_cpu(tmp_path: Path) -> None:
    root, base, proc_self = fake_tree(tmp_path)
    limiter = CpuLimiter.detect(root=root, proc_self_cgroup=proc_self, pid=4242)
    assert limiter is not None
    assert limiter.base == base
    assert (base / DAEMON_LEAF / "cgroup.procs").read_text() == "4242\n"
    assert (base / "cgroup.subtree_control").read_text() == "+cpu\n"


def test_limit_writes_cpu_max_and_moves_the_process(tmp_path: Path) -> None:
    _, base, _ = fake_tree(tmp_path)
    group = CpuLimiter(base).limit("uid-app-0", 777, Decimal("0.25"))
    assert group == base / "minikubelet-uid-app-0"
    assert (group / "cpu.max").read_text() == "25000 100000\n"
    assert (group / "cgroup.procs").read_text() == "777\n"


@pytest.mark.parametrize("case", ["cgroup-v1", "no-cpu-controller", "not-on-unified", "read-only"])
def test_detect_falls_back_to_none(tmp_path: Path, case: str) -> None:
    root, base, proc_self = fake_tree(
        tmp_path, controllers="memory pids" if case == "no-cpu-controller" else "cpu memory"
    )
    if case == "cgroup-v1":
        (root / "cgroup.controllers").unlink()
    if case == "not-on-unified":
        proc_self.write_text("4:memory:/x\n")
    if case == "read-only":
        base.chmod(0o500)
        (base / "cgroup.subtree_control").chmod(0o400)
        if psutil.Process().uids().effective == 0:
            pytest.skip("root may write read-only files")
    try:
        assert CpuLimiter.detect(root=root, proc_self_cgroup=proc_self, pid=1) is None
    finally:
        base.chmod(0o700)


def test_this_machine_without_a_writable_cgroup_v2_is_detected_as_such() -> None:
    """On the hybrid/v1 hierarchy (as here and in CI) there is no limiter, so the daemon
    warns instead; the e2e QoS test checks that warning."""
    if Path("/sys/fs/cgroup/cgroup.controllers").exists():
        pytest.skip("this machine runs the unified hierarchy")
    assert CpuLimiter.detect() is None


async def test_daemon_puts_a_limited_container_in_its_cgroup(tmp_path: Path) -> None:
    _, base, _ = fake_tree(tmp_path)
    doc = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "limited"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "command": ["sleep", "600"],
                    "resources": {"limits": {"cpu": "500m"}},
                }
            ]
        },
    }
    pod, _ = pod_from_document(doc, source="test", node_name="node")
    settings = Settings(state_dir=tmp_path / "state", echo_logs=False)
    daemon = Daemon(settings, ServeOptions(port=0))
    daemon.agent._detect_cpu_limiter = lambda: CpuLimiter(base)
    run = asyncio.ensure_future(daemon.run([pod]))
    procs = base / f"minikubelet-{pod.uid}-app-0" / "cgroup.procs"
    try:
        deadline = time.monotonic() + 10
        while not procs.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        pid = int(procs.read_text())
        assert psutil.Process(pid).cmdline() == ["sleep", "600"]
        assert (procs.parent / "cpu.max").read_text() == "50000 100000\n"
    finally:
        daemon.stop()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(run, 40)
        # The daemon made this test process a subreaper; left so, every process orphaned in
        # later tests of this worker would stay its zombie (nobody reaps them any more).
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    assert run.result() == 0
