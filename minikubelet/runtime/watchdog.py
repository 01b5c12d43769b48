"""The sweeper: the third line that takes what the daemon started with it when it dies.

A graceful stop kills and reaps everything (`runtime.kill_all_descendants`), but a SIGKILLed
daemon runs no code. Under `minikubelet run` two guard processes above the daemon catch every
orphan of its tree (`guard.py`); this sweeper is for when both guards are gone too (or the
daemon runs without them). The daemon starts one small watchdog process (in its own session,
so a signal to the daemon's process group spares it) and holds the only write end of a pipe
to it; if it dies, the daemon logs an error and starts another. When the daemon is gone, for any
reason, the pipe reads end-of-file and the watchdog kills:

- every process whose environment carries this daemon's marker (`MINIKUBELET_SANDBOX`, put in
  the environment of every container, exec probe and hook): this catches descendants that left
  the process group and session (double-forked, `setsid`), wherever they were re-parented;
- every process in a session the daemon started (the daemon streams each spawned pid over the
  pipe), which catches processes that cleared their environment (`env -i`).

Victims are frozen with SIGSTOP until a scan of /proc finds no new one (a forking process
cannot outrun it), then SIGKILLed. Spawning costs the daemon one small non-blocking write.

The watchdog side (`main`) uses the standard library only, so it starts fast.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping

from minikubelet.runtime import proctree

MARKER = "MINIKUBELET_SANDBOX"
PRUNE_EVERY = 4096  # session leaders recorded before dead ones are forgotten

# --- the daemon's side ----------------------------------------------------------------------


class Watchdog:
    """The daemon's handle: `start()`, `env()` for spawned processes, `track(pid)`, `close()`."""

    def __init__(self) -> None:
        self.token = f"{os.getpid()}-{secrets.token_hex(8)}"
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, leaders: Iterable[int] = ()) -> None:
        """Starts the watchdog (again, after `reap()`), telling it the live `leaders`."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        read_fd, write_fd = os.pipe()  # both close-on-exec: no container inherits the pipe
        try:
            env = {k: v for k, v in os.environ.items() if k != MARKER}
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "minikubelet.runtime.watchdog", self.token],
                stdin=read_fd,
                stdout=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except BaseException:
            os.close(write_fd)
            raise
        finally:
            os.close(read_fd)
        os.set_blocking(write_fd, False)
        self._fd = write_fd
        for pid in leaders:
            if pid != self._proc.pid:
                self.track(pid)

    def reap(self) -> int | None:
        """After the watchdog died: its exit code (it is reaped), and forgets it."""
        proc, self._proc = self._proc, None
        return proc.poll() if proc is not None else None

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        return {**base, MARKER: self.token}

    def track(self, pid: int) -> None:
        """Records a new session leader. Never blocks: if the pipe were full, the environment
        marker still covers the process."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._fd, b"%d\n" % pid)

    def close(self, timeout: float = 5.0) -> None:
        """Ends the watchdog: it sweeps (finding nothing after a graceful stop) and exits."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


_current: Watchdog | None = None


def install(watchdog: Watchdog | None) -> None:
    """Makes `track()` report to this watchdog (None: to nobody)."""
    global _current
    _current = watchdog


def track(pid: int) -> None:
    """Called by every spawn of a new session (containers, exec probes, hooks)."""
    if _current is not None:
        _current.track(pid)


# --- the watchdog's side ----------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, session id, start time in clock ticks) from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return fields[0].decode(), int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None


def _has_marker(pid: int, marker: bytes) -> bool:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return marker in f.read().split(b"\0")
    except OSError:
        return False


def _pids() -> Iterator[int]:
    with contextlib.suppress(OSError):
        for name in os.listdir("/proc"):
            if name.isdigit():
                yield int(name)


def _ours(pid: int, marker: bytes, leaders: Mapping[int, int]) -> bool:
    st = _stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    _state, sid, _started = st
    if sid in leaders:
        leader = _stat(sid)
        # a leader alive with another start time is a reused pid: not our session
        if leader is None or leader[2] == leaders[sid]:
            return True
    return _has_marker(pid, marker)


def scan(marker: bytes, leaders: Mapping[int, int], skip: set[int]) -> set[int]:
    return {p for p in _pids() if p not in skip and _ours(p, marker, leaders)}


def sweep(token: str, leaders: Mapping[int, int]) -> int:
    """Freezes every process of ours until no new one appears, then kills them all."""
    marker = f"{MARKER}={token}".encode()
    me = os.getpid()
    return proctree.freeze_and_kill(lambda stopped: scan(marker, leaders, stopped | {me}))


def _prune(leaders: dict[int, int]) -> None:
    """Forgets leaders whose session is empty, so the table stays small over a long run."""
    live_sids = {st[1] for p in _pids() if (st := _stat(p)) is not None}
    for pid in [p for p in leaders if p not in live_sids]:
        del leaders[pid]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m minikubelet.watchdog TOKEN < pipe", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    leaders: dict[int, int] = {}
    pending = b""
    added = 0
    while True:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data:
            break
        *lines, pending = (pending + data).split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                pid = int(line)
                st = _stat(pid)
                if st is not None:
                    leaders[pid] = st[2]
                    added += 1
        if added >= PRUNE_EVERY:
            _prune(leaders)
            added = 0
    sweep(argv[1], leaders)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
