"""Mount namespaces: a container's volumes at their real mountPath, nothing changed on the host.

A container with volume mounts runs in a mount namespace of its own (and, when the daemon is
not root, a user namespace that maps only the daemon's own uid and gid, `setgroups deny`: no
fake root, the app keeps its real uid). The namespace is built in the forked child between
`fork` and `exec` (a `preexec_fn` of ctypes syscalls, prepared in the parent):

1. `unshare(CLONE_NEWNS)` (root) or `unshare(CLONE_NEWUSER|CLONE_NEWNS)` + the uid/gid maps;
2. `/` made recursively private, so nothing mounted here propagates to the host;
3. a new root on a tmpfs under the state dir: each top-level entry of `/` bind-mounted
   recursively (so /proc, /dev, /sys, /run and whatever is mounted below them work),
   top-level symlinks (`/bin -> usr/bin`) copied as symlinks;
4. `pivot_root` into it, the old root kept at `/.oldroot` for the sources, so that absolute
   symlinks in a mountPath (`/var/run -> /run`) resolve as the app will see them;
5. each mount point created: at the top level on the tmpfs; deeper, in a directory that is
   already ours (one we created or a volume), or else by an overlayfs of the nearest existing
   ancestor with its upper dir in the state dir (the submounts the overlay would hide are
   bound again on top of it); each volume bound there (`MS_BIND|MS_REC`, as containerd's
   `rbind`), remounted read-only for `readOnly`, a file bound onto a file for a file source;
6. the working directory entered again in the new root (made there if missing), the old root
   detached; exec.

Host networking, /etc/hosts, /etc/resolv.conf, host PIDs and the real uid are kept: only the
view of the file system differs, and only where a volume is mounted. The namespace dies with
its last process. An exec probe, a hook or `kubectl exec` joins it (`enter_preexec`:
`setns` into the container's user namespace, if it has one, then its mount namespace).

Why in the child and not a helper: measured on this machine (Debian 12, kernel 6.18, 2 shared
cores, root, medians of 20 to 40 starts of /bin/true from the daemon's interpreter): the
namespace steps themselves take 2 to 3 ms in the child (the rbinds of / about 1 ms, an overlay
about 1.5 ms more); the start of a container with a top-level mount costs ~6 ms end to end
against ~1-2 ms plain (most of the difference is `fork`, which a `preexec_fn` needs, instead
of `vfork`), `unshare -m true` ~2 ms; a Python helper costs ~12 ms before it does anything
(`python -S` start-up alone; ~40 ms with the setup, as the issue measured). When the last
process of a namespace with an overlay exits, the kernel's teardown adds a few ms to that
exit. The child is single-threaded after fork, which `unshare(CLONE_NEWUSER)` requires; it
imports nothing and calls only syscalls and `os` functions prepared beforehand.

Mount order: parents first (containerd pkg/cri/opts/spec_linux.go WithMounts sorts the
mounts by the number of path components, "so that /etc is mounted before /etc/resolv.conf").
The error wording follows runc's (libcontainer/rootfs_linux.go mountToRootfs: `error mounting
"SRC" to rootfs at "DST": ...`), which the kubelet shows as the CreateContainerError message.

This module decides nothing about volumes (which sources, which paths: node/); it only builds
the view it is given, and detects (`available()`) whether this host lets it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2
# statvfs f_flag bits -> the mount flags a remount in a user namespace must keep (locked)
_LOCKED_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "armv7l": 218, "ppc64le": 203}
OLD_ROOT = "/.oldroot"
DENY_ENV = "MINIKUBELET_MOUNTNS_DENY"  # a test seam: behave as if the host denied it


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # absolute host path: a directory, or a file (subPath of a file)
    target: str  # the mountPath in the container (absolute)
    read_only: bool = False


class MountError(Exception):
    """A mount that cannot be made; the message is the container's CreateContainerError."""


def _errno_text(code: int) -> str:
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def _os_error(e: OSError) -> str:
    """As Go prints a *PathError: `mkdir /usr/x: permission denied` (ours carry the op)."""
    if e.filename is not None:
        return f"{e.filename}: {_errno_text(e.errno or 0)}"
    return str(e.strerror or e)


# --- syscalls (resolved once, in the parent) -----------------------------------------------


class _Sys:
    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._mount = libc.mount
        self._mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        self._umount2 = libc.umount2
        self._umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self._unshare = libc.unshare
        self._unshare.argtypes = [ctypes.c_int]
        self._setns = libc.setns
        self._setns.argtypes = [ctypes.c_int, ctypes.c_int]
        self._syscall = libc.syscall
        self._pivot_nr = _PIVOT_ROOT.get(platform.machine())

    @staticmethod
    def _check(rc: int, what: str) -> None:
        if rc != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{what}: {_errno_text(code)}")

    def mount(
        self, src: str | None, dst: str, fstype: str | None, flags: int, data: str = ""
    ) -> None:
        rc = self._mount(
            src.encode() if src is not None else None,
            dst.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data else None,
        )
        self._check(rc, f"mount {dst}")

    def umount(self, path: str, flags: int) -> None:
        self._check(self._umount2(path.encode(), flags), f"umount {path}")

    def unshare(self, flags: int) -> None:
        self._check(self._unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._setns(fd, nstype), "setns")

    def pivot_root(self, new: str, old: str) -> None:
        if self._pivot_nr is None:
            raise OSError(errno.ENOSYS, f"pivot_root: not known on {platform.machine()}")
        rc = self._syscall(ctypes.c_long(self._pivot_nr), new.encode(), old.encode())
        self._check(rc, "pivot_root")


_sys: _Sys | None = None


def _syscalls() -> _Sys:
    global _sys
    if _sys is None:
        _sys = _Sys()
    return _sys


# --- the plan, made in the parent ----------------------------------------------------------


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
            raise MountError(f"{where}: stat {m.source}: {_errno_text(e.errno or 0)}") from e
        target = os.path.normpath(m.target)
        if target == "/":
            raise MountError(f'{where}: invalid mount destination "/"')
        fixed = Mount(os.path.realpath(m.source), target, m.read_only)
        checked.append((fixed, stat.S_ISDIR(st.st_mode)))
    return sorted(checked, key=lambda item: _depth(item[0].target))


class _Setup:
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
        self.sys = _syscalls()
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
            message = f"{step}: {_os_error(e)}"
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
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{self.uid} {self.uid} 1")
        _write("/proc/self/gid_map", f"{self.gid} {self.gid} 1")

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


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


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


# --- what spawn uses -----------------------------------------------------------------------


@dataclass(slots=True)
class Prepared:
    """A spawn's namespace: `preexec` for the child, `failure()` for the parent to read
    the child's reason after the spawn failed, `close()` once the spawn returned."""

    preexec: Callable[[], None]
    read_fd: int
    write_fd: int
    scratch: str | None = None
    extra_fds: tuple[int, ...] = ()  # the namespace files an entering child joins

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd, *self.extra_fds):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self.write_fd = -1
        self.extra_fds = ()

    def failure(self) -> str:
        """What the child wrote before it gave up ('' when it did not get that far)."""
        with contextlib.suppress(OSError):
            os.close(self.write_fd)
        self.write_fd = -1
        try:
            os.set_blocking(self.read_fd, False)
            return os.read(self.read_fd, 65536).decode("utf-8", "replace")
        except OSError:
            return ""


def default_scratch_base() -> str:
    return os.path.join(tempfile.gettempdir(), f"minikubelet-mountns-{os.getuid()}")


def prepare(mounts: Sequence[Mount], *, cwd: str | None, scratch_base: str | None) -> Prepared:
    """The namespace for a new container process; raises MountError for a mount that is
    wrong before anything starts (a missing source, a relative path)."""
    if not sys.platform.startswith("linux"):
        raise MountError("mount namespaces need Linux: run with --volumes=host")
    base = scratch_base or default_scratch_base()
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix="ns-", dir=base)
        os.mkdir(os.path.join(scratch, "root"), 0o755)
    except OSError as e:
        raise MountError(f"create the mount namespace's directory in {base}: {e.strerror}") from e
    read_fd, write_fd = os.pipe()
    try:
        setup = _Setup(
            mounts,
            scratch=scratch,
            cwd=cwd or os.getcwd(),
            report_fd=write_fd,
            user_ns=os.geteuid() != 0,
        )
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        remove_scratch(scratch)
        raise
    return Prepared(setup, read_fd, write_fd, scratch)


def enter_preexec(pid: int, *, cwd: str | None) -> Prepared:
    """Joins the namespaces of process `pid` (a running container's main process): its user
    namespace first when it has its own, then its mount namespace; then the working directory
    as the container sees it. The namespace files are opened here, in the parent, so a
    container that is gone is an error now rather than in the child."""
    user_fd = mnt_fd = -1
    try:
        if _ns_id(pid, "user") != _ns_id(os.getpid(), "user"):
            user_fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
        mnt_fd = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        for fd in (user_fd, mnt_fd):
            if fd >= 0:
                os.close(fd)
        raise MountError(
            f"enter the container's mount namespace: {_errno_text(e.errno or 0)}"
        ) from e
    read_fd, write_fd = os.pipe()
    calls = _syscalls()
    where = cwd or os.getcwd()  # what the container's own setup entered (`prepare`)

    def join() -> None:
        step = "enter the container's mount namespace"
        try:
            if user_fd >= 0:
                calls.setns(user_fd, CLONE_NEWUSER)
            calls.setns(mnt_fd, CLONE_NEWNS)
            step = f"chdir to cwd ({where!r}) set in config.json failed"
            os.chdir(where)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.write(write_fd, f"{step}: {_os_error(e)}".encode())
            raise

    return Prepared(join, read_fd, write_fd, extra_fds=(user_fd, mnt_fd))


def _ns_id(pid: int, kind: str) -> str:
    return os.readlink(f"/proc/{pid}/ns/{kind}")


def remove_scratch(path: str) -> None:
    """Removes a namespace's directory (overlay upper and work dirs: the kernel makes
    `work/work` with mode 0, hence the chmod)."""

    def fix(func: Callable[..., object], p: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
        with contextlib.suppress(OSError):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                func(p)

    shutil.rmtree(path, onerror=fix)


# --- detection -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    reason: str = ""  # why not, in a sentence
    fix: str = ""  # what the user can do on this host


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def _in_container() -> bool:
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    cgroup = _read("/proc/1/cgroup") or ""
    return any(word in cgroup for word in ("docker", "containerd", "kubepods", "libpod"))


def _seccomp_filtered() -> bool:
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("Seccomp:"):
            return line.split()[-1] == "2"
    return False


APPARMOR_FIX = (
    "Ubuntu 23.10+ (and GitHub's ubuntu-latest runners) confine unprivileged user "
    "namespaces through AppArmor. Either allow them once: "
    "`sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (in a GitHub Actions "
    "workflow, a step before minikubelet runs it: "
    "`- run: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0`), or give this "
    "interpreter an AppArmor profile with `userns,`: "
    "printf 'abi <abi/4.0>,\\ninclude <tunables/global>\\nprofile minikubelet {exe} "
    "flags=(unconfined) {{\\n  userns,\\n}}\\n' | sudo tee /etc/apparmor.d/minikubelet && "
    "sudo apparmor_parser -r /etc/apparmor.d/minikubelet"
)
DOCKER_FIX = (
    "Docker's default seccomp profile blocks unshare(2) in a container: run the container "
    "with `--security-opt seccomp=unconfined` (and `--security-opt apparmor=unconfined` on "
    "an AppArmor host), or `--privileged`; or use --volumes=host"
)
MACOS_FIX = (
    "macOS has no mount namespaces: volumes are directories passed in "
    "MINIKUBELET_VOLUME_<NAME> (--volumes=host)"
)


def _diagnose(step: str, code: int) -> Availability:
    """Which host this is and its exact fix, from where the trial failed."""
    what = f"{step}: {_errno_text(code)}" if code else step
    exe = os.path.realpath(sys.executable)
    if os.geteuid() != 0 and _read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return Availability(False, f"AppArmor denies it ({what})", APPARMOR_FIX.format(exe=exe))
    if _in_container() or _seccomp_filtered():
        return Availability(
            False, f"the container's seccomp profile denies it ({what})", DOCKER_FIX
        )
    if _read("/proc/sys/user/max_user_namespaces") == "0":
        fix = "`sudo sysctl -w user.max_user_namespaces=15000`"
        return Availability(False, f"user namespaces are disabled ({what})", fix)
    if _read("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        fix = "`sudo sysctl -w kernel.unprivileged_userns_clone=1`"
        return Availability(False, f"unprivileged user namespaces are disabled ({what})", fix)
    return Availability(False, what, "run as root, or use --volumes=host")


_FORCED = {
    "apparmor": lambda: Availability(
        False,
        "AppArmor denies it (write /proc/self/uid_map: operation not permitted)",
        APPARMOR_FIX.format(exe=os.path.realpath(sys.executable)),
    ),
    "docker": lambda: Availability(
        False,
        "the container's seccomp profile denies it (unshare: operation not permitted)",
        DOCKER_FIX,
    ),
    "macos": lambda: Availability(False, "macOS has no namespaces", MACOS_FIX),
}


def available(*, deny: str | None = None) -> Availability:
    """Can this process make a mount namespace (and a user namespace when not root) and
    mount in it? Tried once in a forked child, which makes a tmpfs, an overlay and a bind.
    `deny` (by default $MINIKUBELET_MOUNTNS_DENY): apparmor, docker, macos or any other
    text: answer as that host would, for tests; "" tries for real."""
    deny = os.environ.get(DENY_ENV, "") if deny is None else deny
    if deny:
        forced = _FORCED.get(deny)
        return forced() if forced else Availability(False, f"denied ({deny})", "use --volumes=host")
    if sys.platform == "darwin":
        return Availability(False, "macOS has no namespaces", MACOS_FIX)
    if not sys.platform.startswith("linux"):
        return Availability(False, f"{sys.platform} has no Linux namespaces", MACOS_FIX)
    base = default_scratch_base()
    try:
        scratch = tempfile.mkdtemp(prefix="ns-check-", dir=_ensure(base))
    except OSError as e:
        return Availability(False, f"no scratch directory: {e.strerror}", "check $TMPDIR")
    try:
        step, code = _trial(scratch)
    finally:
        remove_scratch(scratch)
        with contextlib.suppress(OSError):
            os.rmdir(base)  # unless another check or spawn is using it
    return Availability(True) if not step else _diagnose(step, code)


def _ensure(path: str) -> str:
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def _trial(scratch: str) -> tuple[str, int]:
    """Forks a child that tries the real steps; ('', 0) or (the step that failed, errno)."""
    calls = _syscalls()
    read_fd, write_fd = os.pipe()
    for name in ("root", "lower", "upper", "work", "src"):
        os.mkdir(os.path.join(scratch, name))
    uid, gid = os.getuid(), os.getgid()  # in a new user namespace, unmapped: 65534
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_fd)
        step = "unshare"
        try:
            if os.geteuid() != 0:
                calls.unshare(CLONE_NEWUSER | CLONE_NEWNS)
                step = "write /proc/self/uid_map"
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"{uid} {uid} 1")
                _write("/proc/self/gid_map", f"{gid} {gid} 1")
            else:
                calls.unshare(CLONE_NEWNS)
            step = "mount --make-rprivate /"
            calls.mount(None, "/", None, MS_REC | MS_PRIVATE)
            root = os.path.join(scratch, "root")
            step = "mount tmpfs"
            calls.mount("tmpfs", root, "tmpfs", 0, "mode=0755")
            os.mkdir(root + "/x")
            step = "mount --bind"
            calls.mount(os.path.join(scratch, "src"), root + "/x", None, MS_BIND | MS_REC)
            step = "mount overlay"
            lower, upper, work = (os.path.join(scratch, n) for n in ("lower", "upper", "work"))
            calls.mount("overlay", lower, "overlay", 0,
                        f"lowerdir={lower},upperdir={upper},workdir={work}")  # fmt: skip
            os.write(write_fd, b"ok")
            os._exit(0)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.write(write_fd, f"{step}\0{e.errno or 0}".encode())
            os._exit(1)
        finally:
            os._exit(2)
    os.close(write_fd)
    try:
        data = _read_all(read_fd)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    if data == b"ok":
        return "", 0
    step, _, code = data.decode("utf-8", "replace").partition("\0")
    return (step or "the trial namespace did not report", int(code) if code.isdigit() else 0)


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def describe(mounts: Iterable[Mount]) -> str:
    return ", ".join(f"{m.source}:{m.target}{':ro' if m.read_only else ''}" for m in mounts)
