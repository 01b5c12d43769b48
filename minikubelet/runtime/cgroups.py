"""CPU limits through cgroup v2, where the daemon may write one.

The kubelet enforces `limits.cpu` with the CFS quota of the container's cgroup
(`cpu.max = <quota> <period>`, `MilliCPUToQuota`). minikubelet can do the same only when it
runs on the unified (v2) hierarchy, in a cgroup it may write, with the `cpu` controller
available, as under `systemd-run --user --scope -p Delegate=yes` or in a container of its own.
Cgroup v2 lets a cgroup hand controllers to its children only when it holds no process
itself, so the daemon first moves itself into a leaf (`minikubelet.daemon`), then enables
`+cpu` for the children, and gives each limited container instance a child cgroup with its
`cpu.max`. Where any step is refused the limiter is not used and the daemon warns once that CPU
limits are not enforced; nothing else changes.
"""

from __future__ import annotations

import contextlib
import math
import os
from decimal import Decimal
from pathlib import Path

import structlog

log = structlog.get_logger("minikubelet.cgroups")

ROOT = Path("/sys/fs/cgroup")
CFS_PERIOD_US = 100_000  # kubelet: QuotaPeriod
MIN_QUOTA_US = 1_000  # kubelet: MinQuotaPeriod
DAEMON_LEAF = "minikubelet.daemon"


def cpu_max(limit_cores: Decimal, period_us: int = CFS_PERIOD_US) -> str:
    """kubelet: MilliCPUToQuota, as the cgroup v2 `cpu.max` line."""
    milli = math.ceil(limit_cores * 1000)
    quota = max(milli * period_us // 1000, MIN_QUOTA_US)
    return f"{quota} {period_us}"


def _own_cgroup(proc_self_cgroup: Path) -> str | None:
    """The unified hierarchy's path of this process (`0::/path`), if it is on one."""
    try:
        lines = proc_self_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("0::"):
            return line[3:]
    return None


class CpuLimiter:
    """Gives container processes a child cgroup with a `cpu.max`. Build it with `detect()`."""

    def __init__(self, base: Path) -> None:
        self.base = base

    @classmethod
    def detect(
        cls,
        *,
        root: Path = ROOT,
        proc_self_cgroup: Path = Path("/proc/self/cgroup"),
        pid: int | None = None,
    ) -> CpuLimiter | None:
        if not (root / "cgroup.controllers").exists():
            return None  # not the unified hierarchy (cgroup v1 or hybrid)
        own = _own_cgroup(proc_self_cgroup)
        if own is None:
            return None
        base = root / own.lstrip("/")
        if base.name == DAEMON_LEAF:  # already moved by an earlier detect()
            base = base.parent
        try:
            if "cpu" not in (base / "cgroup.controllers").read_text().split():
                return None
            cls._delegate(base, pid if pid is not None else os.getpid())
        except OSError as e:
            log.debug("cgroup v2 cpu controller not usable", cgroup=str(base), error=str(e))
            return None
        return cls(base)

    @staticmethod
    def _delegate(base: Path, pid: int) -> None:
        """Moves the daemon into a leaf and enables +cpu for the children; undone if the
        kernel refuses (another process in the cgroup, no write access)."""
        leaf = base / DAEMON_LEAF
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(f"{pid}\n")
        try:
            enabled = (base / "cgroup.subtree_control").read_text().split()
            if "cpu" not in enabled:
                (base / "cgroup.subtree_control").write_text("+cpu\n")
        except OSError:
            with contextlib.suppress(OSError):
                (base / "cgroup.procs").write_text(f"{pid}\n")
            raise

    def limit(self, name: str, pid: int, limit_cores: Decimal) -> Path | None:
        """Puts `pid` (a new container instance) in its own cgroup with the CPU limit."""
        group = self.base / f"minikubelet-{name}"
        try:
            group.mkdir(exist_ok=True)
            (group / "cpu.max").write_text(cpu_max(limit_cores) + "\n")
            (group / "cgroup.procs").write_text(f"{pid}\n")
        except OSError as e:
            log.warning("cpu limit not applied", cgroup=str(group), error=str(e))
            self.release(group)
            return None
        return group

    @staticmethod
    def release(group: Path) -> None:
        """Removes an instance's cgroup once its processes are gone."""
        with contextlib.suppress(OSError):
            group.rmdir()
