"""A container's mount namespace, the plan: computed in the parent, run in the forked child.

`Setup` is the `preexec_fn` `mountns.prepare` hands to the spawn: it takes the checked
mounts (parents first), the top-level entries of `/`, the uid and gid maps, and in the child
builds the new root, binds each volume at its mountPath (through an overlay where the
mountPath's parent is not ours) and pivots into it, as `mountns`'s docstring describes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass

from minikubelet.runtime.mountsys import (
    CLONE_NEWNS,
    CLONE_NEWUSER,
    MNT_DETACH,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    OLD_ROOT,
    errno_text,
    os_error,
    syscalls,
    write_file,
)

# statvfs f_flag bits -> the mount flags a remount in a user namespace must keep (locked)
_LOCKED_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # absolute host path: a directory, or a file (subPath of a file)
    target: str  # the mountPath in the container (absolute)
    read_only: bool = False


class MountError(Exception):
    """A mount that cannot be made; the message is the container's CreateContainerError."""


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    kind: str  # "dir", "file", "link"
    link: str = ""


def _top_level() -> list[_Entry]:
    entries: list[_Entry] = []
    for name in sorted(os.listdir("/")):
        path = "/" + name
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            entries.append(_Entry(name, "link", os.readlink(path)))
        elif stat.S_ISDIR(st.st_mode):
            entries.append(_Entry(name, "dir"))
        else:
            entries.append(_Entry(name, "file"))
    return entries


def _depth(path: str) -> int:
    return len([part for part in path.split("/") if part])


def _check_mounts(mounts: Sequence[Mount]) -> list[tuple[Mount, bool]]:
    """(mount, source is a directory), sorted parents first; MountError for a bad one."""
    checked: list[tuple[Mount, bool]] = []
    for m in mounts:
        where = f'error mounting "{m.source}" to rootfs at "{m.target}"'
        if not os.path.isabs(m.target):
            raise MountError(f"{where}: the mount destination must be an absolute path")
        if not os.path.isabs(m.source):
            raise MountError(f"{where}: the mount source must be an absolute path")
        try:
            st = os.stat(m.source)
        except OSError as e:
            raise MountError(f"{where}: stat {m.source}: {errno_text(e.errno or 0)}") from e
        target = os.path.normpath(m.target)
        if target == "/":
            raise MountError(f'{where}: invalid mount destination "/"')
        fixed = Mount(os.path.realpath(m.source), target, m.read_only)
        checked.append((fixed, stat.S_ISDIR(st.st_mode)))
    return sorted(checked, key=lambda item: _depth(item[0].target))


class Setup:
    """The child's side: everything it needs is computed here, in the parent."""

    def __init__(
        self,
        mounts: Sequence[Mount],
        *,
        scratch: str,
        cwd: str,
        report_fd: int,
        user_ns: bool,
    ) -> None:
        self.mounts = _check_mounts(mounts)
        self.scratch = scratch
        self.root = os.path.join(scratch, "root")
        self.cwd = cwd
        self.report_fd = report_fd
        self.user_ns = user_ns
        self.uid, self.gid = os.getuid(), os.getgid()
        self.entries = _top_level()
        self.sys = syscalls()
        self.ours: list[str] = []  # paths in the new root that are ours to mkdir in
        self.overlays = 0

    def __call__(self) -> None:
        step = "prepare the mount namespace"
        try:
            step = "create the mount namespace"
            self._unshare()
            step = "build the container's root"
            self._new_root()
            for m, is_dir in self.mounts:
                step = f'error mounting "{m.source}" to rootfs at "{m.target}"'
                self._mount_one(m, is_dir)
            step = f"chdir to cwd ({self.cwd!r}) set in config.json failed"
            self._enter_cwd()  # while the scratch dir (an overlay's layer) is reachable
            step = "detach the host's root"
            self.sys.umount(OLD_ROOT, MNT_DETACH)
            os.rmdir(OLD_ROOT)
        except OSError as e:
            message = f"{step}: {os_error(e)}"
            with contextlib.suppress(OSError):
                os.write(self.report_fd, message.encode("utf-8", "replace"))
            raise

    def _enter_cwd(self) -> None:
        """runc creates a missing working directory in the container's root file system
        (libcontainer/rootfs_linux.go createCwd); here in the container's view only."""
        try:
            os.chdir(self.cwd)
        except FileNotFoundError:
            os.chdir(self._mount_point(self.cwd, True))

    def _unshare(self) -> None:
        if not self.user_ns:
            self.sys.unshare(CLONE_NEWNS)
            return
        self.sys.unshare(CLONE_NEWUSER | CLONE_NEWNS)
        write_file("/proc/self/setgroups", "deny")
        write_file("/proc/self/uid_map", f"{self.uid} {self.uid} 1")
        write_file("/proc/self/gid_map", f"{self.gid} {self.gid} 1")

    def _new_root(self) -> None:
        s, root = self.sys, self.root
        s.mount(None, "/", None, MS_REC | MS_PRIVATE)
        s.mount("tmpfs", root, "tmpfs", 0, "mode=0755")
        for entry in self.entries:
            path = f"{root}/{entry.name}"
            if entry.kind == "link":
                os.symlink(entry.link, path)
                continue
            if entry.kind == "dir":
                os.mkdir(path)
            else:
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
            try:
                s.mount("/" + entry.name, path, None, MS_BIND | MS_REC)
            except OSError:
                if entry.kind == "dir":  # a top-level dir that cannot be bound stays empty
                    continue
                os.unlink(path)
        os.mkdir(root + OLD_ROOT)
        s.pivot_root(root, root + OLD_ROOT)
        os.chdir("/")
        # the rbind of the dir holding the state dir brought a copy of our tmpfs along
        with contextlib.suppress(OSError):
            s.umount(root, MNT_DETACH)

    def _mount_one(self, m: Mount, is_dir: bool) -> None:
        target = self._mount_point(m.target, is_dir)
        source = OLD_ROOT + m.source
        self.sys.mount(source, target, None, MS_BIND | MS_REC)
        if m.read_only:
            flags = MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(target)
            self.sys.mount(None, target, None, flags)
        self.ours.append(target)

    def _mount_point(self, path: str, is_dir: bool) -> str:
        """Creates the mount point (as the app will see it) and returns its real path."""
        parts = [p for p in path.split("/") if p]
        have = "/"
        index = 0
        while index < len(parts) and os.path.exists(os.path.join(have, parts[index])):
            have = os.path.realpath(os.path.join(have, parts[index]))
            index += 1
        rest = parts[index:]
        if not rest:
            if os.path.isdir(have) != is_dir:
                kind = "directory" if is_dir else "file"
                raise OSError(errno.ENOTDIR, f"{have} exists and is not a {kind}")
            return have
        if have != "/" and not self._is_ours(have):
            self._overlay(have)
        current = have
        self.ours.append(os.path.join(have, rest[0]))  # what we create is ours to create in
        for i, name in enumerate(rest):
            current = os.path.join(current, name)
            if i == len(rest) - 1 and not is_dir:
                os.close(os.open(current, os.O_CREAT | os.O_WRONLY, 0o644))
            else:
                os.mkdir(current, 0o755)
        return current

    def _is_ours(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.ours)

    def _overlay(self, lower: str) -> None:
        """A writable layer over a host dir, so a mount point can be made in it; the host's
        dir is untouched. Submounts under it (Docker's /etc/hosts, say) are bound again on
        top, from descriptors opened before the overlay hides them."""
        self.overlays += 1
        base = f"{OLD_ROOT}{self.scratch}/overlay{self.overlays}"
        upper, work = base + "/upper", base + "/work"
        os.mkdir(base, 0o700)
        os.mkdir(upper, 0o755)
        os.mkdir(work, 0o700)
        st = os.stat(lower)
        with contextlib.suppress(OSError):
            os.chmod(upper, stat.S_IMODE(st.st_mode))
        subs = [(p, os.open(p, os.O_PATH)) for p in _submounts(lower)]
        try:
            options = f"lowerdir={_esc(lower)},upperdir={_esc(upper)},workdir={_esc(work)}"
            try:
                self.sys.mount("overlay", lower, "overlay", 0, options)
            except OSError:
                # the state dir cannot hold an upper layer (it is itself on an overlayfs, as
                # in a container, or inside `lower`): the layer goes on a tmpfs instead
                self.sys.mount("tmpfs", base, "tmpfs", 0, "mode=0700")
                os.mkdir(upper, stat.S_IMODE(st.st_mode))
                os.mkdir(work, 0o700)
                self.sys.mount("overlay", lower, "overlay", 0, options)
            for path, fd in subs:
                self.sys.mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        finally:
            for _path, fd in subs:
                os.close(fd)
        self.ours.append(lower)


def _esc(path: str) -> str:
    """overlayfs option values escape `\\`, `,` and `:` with a backslash."""
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def _locked_flags(path: str) -> int:
    flags = 0
    f_flag = os.statvfs(path).f_flag
    for st_bit, ms_bit in _LOCKED_FLAGS:
        if f_flag & st_bit:
            flags |= ms_bit
    return flags


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (`\\040`)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _submounts(under: str) -> list[str]:
    """The outermost mount points strictly below `under` (not below /.oldroot)."""
    fd = os.open("/proc/self/mountinfo", os.O_RDONLY)  # raw reads: no io machinery in a
    try:  # child forked from a threaded daemon
        raw = b"".join(iter(lambda: os.read(fd, 65536), b""))
    finally:
        os.close(fd)
    lines = raw.decode("utf-8", "surrogateescape").splitlines()
    points = [_unescape(line.split(" ")[4]) for line in lines if line.strip()]
    prefix = under.rstrip("/") + "/"
    below = sorted({p for p in points if p.startswith(prefix)}, key=_depth)
    outer: list[str] = []
    for p in below:
        if not any(p.startswith(o.rstrip("/") + "/") for o in outer):
            outer.append(p)
    return outer
