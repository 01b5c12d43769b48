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
the view it is given, and detects (`available()`) whether this host lets it. This module is
the parent's side (prepare, enter, clean up, detect and the fix texts); the plan the child
runs is `mountsetup.py`'s, the syscalls `mountsys.py`'s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from minikubelet.runtime.mountsetup import Mount as Mount  # re-exported: what callers pass
from minikubelet.runtime.mountsetup import MountError as MountError
from minikubelet.runtime.mountsetup import Setup
from minikubelet.runtime.mountsys import (
    CLONE_NEWNS,
    CLONE_NEWUSER,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    errno_text,
    os_error,
    syscalls,
    write_file,
)

DENY_ENV = "MINIKUBELET_MOUNTNS_DENY"  # a test seam: behave as if the host denied it


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
        setup = Setup(
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
            f"enter the container's mount namespace: {errno_text(e.errno or 0)}"
        ) from e
    read_fd, write_fd = os.pipe()
    calls = syscalls()
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
                os.write(write_fd, f"{step}: {os_error(e)}".encode())
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
    what = f"{step}: {errno_text(code)}" if code else step
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
    calls = syscalls()
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
                write_file("/proc/self/setgroups", "deny")
                write_file("/proc/self/uid_map", f"{uid} {uid} 1")
                write_file("/proc/self/gid_map", f"{gid} {gid} 1")
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
