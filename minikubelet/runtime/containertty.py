"""A container's terminal (`tty: true`): the pseudo-terminal the runtime gives its process as
stdin, stdout and stderr (CRI `tty`), whose output goes to the container's log and to the
clients attached, and whose input is what `kubectl attach -t` (`kubectl debug -it`) types.
The reads are event-loop callbacks on the master side, as the pipes' are.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios
from collections.abc import Callable

CHUNK = 64 * 1024


class ContainerTerminal:
    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        self._reading = False
        self.closed = False
        self.ended = asyncio.Event()  # closed: all its output read

    def close_slave(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    def start_reading(self, feed: Callable[[bytes], None]) -> None:
        """`feed(chunk)` gets the terminal's output until every holder of the slave side has
        gone (EIO), when the master is closed."""
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(self.master, CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            feed(data)

        loop.add_reader(self.master, readable)
        self._reading = True

    async def write(self, data: bytes) -> bool:
        """The input, as typed; False once the terminal is closed."""
        view = memoryview(data)
        while view and not self.closed:
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                await asyncio.sleep(0.01)  # the line discipline's buffer is full
                continue
            except OSError:
                return False
            view = view[written:]
        return not self.closed

    def resize(self, width: int, height: int) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                size = struct.pack("HHHH", height, width, 0, 0)
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)

    def close(self) -> None:
        self.close_slave()
        if self.closed:
            return
        self.closed = True
        self.ended.set()
        if self._reading:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self.master)
            self._reading = False
        os.close(self.master)
