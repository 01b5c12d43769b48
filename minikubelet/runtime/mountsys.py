"""The syscalls of a mount namespace, resolved once in the parent for the forked child.

`unshare`, `setns`, `mount`, `umount2` and `pivot_root` through ctypes (the child of a
threaded daemon may import nothing and allocate little between fork and exec), their flags,
and the Go-style error texts (`mount /x: permission denied`) the container status shows.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

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


_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "armv7l": 218, "ppc64le": 203}
OLD_ROOT = "/.oldroot"


def errno_text(code: int) -> str:
    text = os.strerror(code)
    return text[:1].lower() + text[1:]


def os_error(e: OSError) -> str:
    """As Go prints a *PathError: `mkdir /usr/x: permission denied` (ours carry the op)."""
    if e.filename is not None:
        return f"{e.filename}: {errno_text(e.errno or 0)}"
    return str(e.strerror or e)


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
            raise OSError(code, f"{what}: {errno_text(code)}")

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


def syscalls() -> _Sys:
    global _sys
    if _sys is None:
        _sys = _Sys()
    return _sys


def write_file(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
