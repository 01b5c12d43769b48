"""The machinery every streaming session shares: admission (a cap on concurrent sessions and
their stop events), the websocket side of a remote-command channel (serialised writes, the
idle clock, the closing Status), a bounded output queue between a process and its client,
a pseudo-terminal's master side, and the loop that reads the client's stdin, CLOSE and resize
messages. The framing is `channels.py`'s; the verbs are `streaming.py` and `portforward.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import struct
import termios
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from minikubelet.api import channels as ch
from minikubelet.api import status_errors as se
from minikubelet.runtime.aio import wait_event

HIGH_WATER = 1 << 20  # output queued for a slow client before the process is paused
LOW_WATER = 1 << 18
MAX_MESSAGE = 1 << 20  # largest message accepted from a client
CHUNK = 32 * 1024  # client-go reads 32 KiB per websocket message


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """kubelet: streamingConnectionIdleTimeout (4h) and the CRI streaming server's bound on
    concurrent streams."""

    max_sessions: int = 32
    idle_timeout: float = 4 * 3600.0
    close_timeout: float = 10.0  # waiting for the client's close frame after the status


@dataclass(slots=True)
class Sessions:
    """The live sessions of one app: admitted up to the cap, each with a stop event that the
    app's shutdown sets."""

    limits: StreamLimits = field(default_factory=StreamLimits)
    active: set[asyncio.Event] = field(default_factory=set)

    @contextlib.contextmanager
    def admit(self) -> Iterator[asyncio.Event]:
        if len(self.active) >= self.limits.max_sessions:
            raise se.StatusError(
                429,
                "TooManyRequests",
                f"too many streaming sessions (at most {self.limits.max_sessions} at once)",
            )
        stop = asyncio.Event()
        self.active.add(stop)
        try:
            yield stop
        finally:
            self.active.discard(stop)

    def stop_all(self) -> None:
        for stop in list(self.active):
            stop.set()


SESSIONS = web.AppKey("streaming_sessions", Sessions)


def sessions(request: web.Request) -> Sessions:
    return request.app[SESSIONS]


# --- a session's output: a bounded queue between the process and the client ----------------


class ChannelSink:
    """Output of a process for one client, as (channel, bytes) in order. Past HIGH_WATER
    bytes queued the source is paused (`pause`), and resumed below LOW_WATER."""

    def __init__(self, channels: dict[str, int]) -> None:
        self._channels = channels
        self._queue: deque[tuple[int, bytes]] = deque()
        self._size = 0
        self._ready = asyncio.Event()
        self.closed = False
        self.pause: Callable[[bool], None] = lambda paused: None
        self._paused = False

    def feed(self, stream: str, data: bytes) -> None:
        channel = self._channels.get(stream)
        if channel is None or self.closed or not data:
            return
        self._queue.append((channel, data))
        self._size += len(data)
        self._ready.set()
        if self._size > HIGH_WATER and not self._paused:
            self._paused = True
            self.pause(True)

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def next(self) -> tuple[int, bytes] | None:
        """The next chunk, or None once closed and empty."""
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        channel, data = self._queue.popleft()
        self._size -= len(data)
        if self._paused and self._size < LOW_WATER:
            self._paused = False
            self.pause(False)
        return channel, data


# --- the websocket side -------------------------------------------------------------------


class Channel:
    """One upgraded websocket speaking a remote-command protocol; writes are serialised."""

    def __init__(self, ws: web.WebSocketResponse, limits: StreamLimits) -> None:
        self.ws = ws
        self.protocol = ws.ws_protocol or ""
        self.text = ch.is_base64(self.protocol)
        self.limits = limits
        self._lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        self.last_activity = loop.time()

    def touch(self) -> None:
        self.last_activity = asyncio.get_running_loop().time()

    async def send(self, channel: int, data: bytes) -> None:
        message = ch.encode(channel, data, text=self.text)
        async with self._lock:
            if isinstance(message, str):
                await self.ws.send_str(message)
            else:
                await self.ws.send_bytes(message)
        self.touch()

    async def finish(self, status: dict[str, Any]) -> None:
        """Reports the status on the error channel, then the close frame; waits (bounded)
        for the client's close, as the API server's `conns.finish` does."""
        with contextlib.suppress(Exception):
            payload = ch.error_channel_payload(status, self.protocol)
            if payload:
                await self.send(ch.ERROR, payload)
        with contextlib.suppress(Exception):
            async with asyncio.timeout(self.limits.close_timeout):
                await self.ws.close()

    async def idle(self, stop: asyncio.Event) -> None:
        """Returns once nothing was sent or received for the idle timeout."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = self.last_activity + self.limits.idle_timeout - loop.time()
            if remaining <= 0:
                return
            if await wait_event(stop, remaining):
                return


async def pump_output(channel: Channel, sink: ChannelSink) -> None:
    while (item := await sink.next()) is not None:
        await channel.send(*item)


class Terminal:
    """The master side of an exec session's pseudo-terminal."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        self._reading = False

    def start_reading(self, sink: ChannelSink) -> None:
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(self.master, CHUNK)
            except BlockingIOError:
                return
            except OSError:  # EIO: every holder of the slave side has gone
                data = b""
            if not data:
                self.stop_reading()
                sink.close()
                return
            sink.feed("stdout", data)

        def pause(paused: bool) -> None:
            if paused:
                self.stop_reading()
            elif not sink.closed and not self._reading:
                loop.add_reader(self.master, readable)
                self._reading = True

        sink.pause = pause
        pause(False)

    def stop_reading(self) -> None:
        if self._reading:
            asyncio.get_running_loop().remove_reader(self.master)
            self._reading = False

    def close_slave(self) -> None:
        if self.slave >= 0:
            os.close(self.slave)
            self.slave = -1

    async def write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
                view = view[n:]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self.master, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(self.master)
            except OSError as exc:
                if exc.errno in (errno.EIO, errno.EBADF):
                    return
                raise

    def resize(self, size: ch.TerminalSize) -> None:
        winsize = struct.pack("HHHH", size.height, size.width, 0, 0)
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, winsize)

    def close(self) -> None:
        self.stop_reading()
        self.close_slave()
        with contextlib.suppress(OSError):
            os.close(self.master)


@dataclass(slots=True)
class Input:
    """Where the client's stdin and resize messages go."""

    write: Callable[[bytes], Any] | None = None  # coroutine function, or None to drop
    close: Callable[[], None] | None = None
    resize: Callable[[ch.TerminalSize], None] | None = None


async def read_client(channel: Channel, into: Input) -> None:
    """Reads the client's messages until it closes; a protocol error ends the session."""
    resizes = ch.ResizeDecoder()
    async for msg in channel.ws:
        if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
            break
        channel.touch()
        number, data = ch.decode(msg.data, text=channel.text)
        closed = ch.closed_channel(number, data, channel.protocol)
        if closed is not None:
            if closed == ch.STDIN and into.close is not None:
                into.close()
        elif number == ch.STDIN and into.write is not None:
            await into.write(data)
        elif number == ch.RESIZE and into.resize is not None:
            for size in resizes.feed(data):
                into.resize(size)


async def first(*aws: asyncio.Future[Any]) -> None:
    await asyncio.wait(set(aws), return_when=asyncio.FIRST_COMPLETED)


def cancel(*futures: asyncio.Future[Any]) -> None:
    for fut in futures:
        if not fut.done():
            fut.cancel()


async def settle(*futures: asyncio.Future[Any]) -> None:
    """Waits for cancelled helpers, retrieving their outcome (errors were the session's)."""
    for fut in futures:
        with contextlib.suppress(BaseException):
            await fut
