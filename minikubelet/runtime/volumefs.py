"""The filesystem side of volumes: hostPath type checks, emptyDir usage, a pod's tmpfs
directory, subPath directories. Blocking calls with upstream's error texts; callers run them
in a thread (usage walks a whole tree).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

SHM = Path("/dev/shm")  # a tmpfs on Linux: where `medium: Memory` volumes live


def go_error(op: str, e: OSError, path: str | os.PathLike[str]) -> str:
    """Go's *PathError text: `mkdir /x: permission denied`."""
    reason = (e.strerror or str(e)).lower()
    return f"{op} {e.filename or path}: {reason}"


def check_host_path(path: str, kind: str) -> str | None:
    """pkg/volume/hostpath/host_path.go checkType (checkTypeInternal): the error, or None.
    DirectoryOrCreate makes the directory (0755, parents too); FileOrCreate makes the file
    (0644, not its parents); an empty type checks nothing, and a path that does not exist
    is made a directory, as the container runtime makes a missing bind-mount source (CRI
    containerd: WithMounts)."""
    if kind == "":
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except FileExistsError:
            pass  # something other than a directory: mounted as it is
        except OSError as e:
            return go_error("mkdir", e, path)
        return None
    if kind == "DirectoryOrCreate" and not os.path.exists(path):
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except OSError as e:
            return go_error("mkdir", e, path)
        return None
    if kind == "FileOrCreate" and not os.path.exists(path):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_RDONLY, 0o644))
        except OSError as e:
            return go_error("open", e, path)
        return None
    tests = {
        "DirectoryOrCreate": (stat.S_ISDIR, "a directory"),
        "Directory": (stat.S_ISDIR, "a directory"),
        "FileOrCreate": (stat.S_ISREG, "a file"),
        "File": (stat.S_ISREG, "a file"),
        "Socket": (stat.S_ISSOCK, "a socket file"),
        "CharDevice": (stat.S_ISCHR, "a character device"),
        "BlockDevice": (stat.S_ISBLK, "a block device"),
    }
    if kind not in tests:
        return f"{kind} is an invalid volume type"
    test, what = tests[kind]
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = 0
    if not test(mode):
        return f"hostPath type check failed: {path} is not {what}"
    return None


def disk_usage(path: Path) -> int:
    """Bytes used under `path`, as `du` counts them (allocated blocks, hard links once);
    what the kubelet's emptyDir sizeLimit check measures."""
    seen: set[tuple[int, int]] = set()
    total = 0
    stack = [str(path)]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                stack.append(entry.path)
    return total


def memory_root(pod_uid: str) -> Path:
    """Where a pod's `medium: Memory` emptyDirs live: on the tmpfs at /dev/shm."""
    return SHM / f"minikubelet-{pod_uid}"


def memory_dir(pod_uid: str, volume: str) -> Path:
    return memory_root(pod_uid) / volume


def fresh_dir(path: Path) -> None:
    """An empty directory at `path` (what a previous run left there removed)."""
    if path.exists() or path.is_symlink():
        remove_tree(path)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o777)  # empty_dir.go setupDir: 0777 whatever the umask


def remove_tree(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_symlink() or path.is_file():
            path.unlink()
        else:
            shutil.rmtree(path)


def prepare_sub_path(volume: Path, sub_path: str) -> Path:
    """kubelet_pods.go makeMounts: the subPath inside the volume, made (0777 less the umask,
    as SafeMakeDir) if it does not exist; it must stay inside the volume (a symlink that
    leads out of it is refused, as PrepareSafeSubpath refuses it). Raises OSError or
    ValueError with the kubelet's message."""
    path = volume / sub_path
    if not os.path.lexists(path):
        try:
            path.mkdir(mode=0o777, parents=True, exist_ok=True)
        except OSError as e:
            raise ValueError(f'failed to mkdir "{sub_path}": {go_error("mkdir", e, path)}') from e
    real, root = os.path.realpath(path), os.path.realpath(volume)
    if os.path.commonpath([real, root]) != root:
        raise ValueError(f"subpath {real!r} not within volume path {root!r}")
    return Path(real)
