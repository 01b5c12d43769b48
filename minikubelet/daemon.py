"""Composition root: the store, the node agent, the pods' registry and the HTTP server wired
together; signals, the shutdown order, the CI-mode verdict.

The object store holds every object served (`store/`); the node agent runs the pods and writes
them into it (`node/agent.py`); the registry answers the API from it, with admission
(`podregistry.py`). Shutdown: every pod is terminated gracefully at once (each within its own
grace period); a second signal cancels everything, which kills at once.
"""

from __future__ import annotations

import asyncio
import resource
import signal
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import structlog

from minikubelet.core import verdict
from minikubelet.core.settings import Settings, kubernetes_service_env
from minikubelet.core.spec import Pod
from minikubelet.node import report
from minikubelet.node.agent import NodeAgent
from minikubelet.podregistry import PodRegistry
from minikubelet.runtime import gcpolicy, watchdog
from minikubelet.runtime import process as runtime
from minikubelet.store.objects import ObjectStore

if TYPE_CHECKING:
    from aiohttp.web import AppRunner

log = structlog.get_logger("minikubelet.daemon")

STREAMS_GRACE = 1.0  # seconds open API streams get to end at shutdown


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    address: str = "127.0.0.1"
    port: int = 10255
    token: str | None = None
    until: str | None = None  # "ready" | "complete"
    timeout: float | None = None
    # the CLI: nothing we start may outlive us; our subtree is killed at exit, and a watchdog
    # kills whatever carries our marker if we die without running any code (SIGKILL)
    sweep_descendants: bool = False
    tls: ssl.SSLContext | None = None  # serve HTTPS
    # the CLI: the heap is frozen out of the collector's walks as the pod set changes
    manage_gc: bool = False


class Daemon:
    def __init__(self, settings: Settings, options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        self._watchdog: watchdog.Watchdog | None = None
        if self.options.sweep_descendants:
            self._watchdog = watchdog.Watchdog()
            settings = replace(settings, base_env=self._watchdog.env(settings.base_env))
        self.settings = settings
        self.store = ObjectStore()
        self._freezer = gcpolicy.Freezer() if self.options.manage_gc else None
        self.agent = NodeAgent(
            settings, self.store, on_change=self._check_until, freezer=self._freezer
        )
        self.registry = PodRegistry(self.agent)
        self.url = ""
        self.verdict: int | None = None  # CI mode: the exit code once decided
        self.verdict_snapshot: report.Snapshot | None = None
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self._signals = 0
        self._main: asyncio.Task[Any] | None = None
        self._listener: asyncio.AbstractServer | None = None

    # --- lifecycle -------------------------------------------------------------------------

    async def run(self, pods: list[Pod], *, on_ready: Callable[[str], None] | None = None) -> int:
        runtime.use_pidfd_child_watcher()
        runtime.become_subreaper()
        self._main = asyncio.current_task()
        if self._watchdog is not None:
            self._watchdog.start()
            watchdog.install(self._watchdog)
        try:
            return await self._run(pods, on_ready)
        finally:
            if self._watchdog is not None:
                watchdog.install(None)
                self._watchdog.close()  # it kills whatever of ours left our tree
            if self.options.sweep_descendants:
                await runtime.kill_all_descendants()

    async def _run(self, pods: list[Pod], on_ready: Callable[[str], None] | None) -> int:
        # The port is bound before anything starts (a busy port starts nothing), but the HTTP
        # stack is imported and served only once the containers are on their way: importing
        # it takes longer than starting them.
        sock = self._bind()
        site_runner: AppRunner | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                self.agent.attach(tg)
                for pod in pods:
                    self.agent.start_pod(pod)
                site_runner = await self._serve(sock)
                if on_ready is not None:
                    on_ready(self.url)
                self._started.set()
                self._check_until()
                await self._wait_stop()
                await self.agent.terminate_all()
        finally:
            self.agent.attach(None)
            if self._freezer is not None:
                self._freezer.cancel()
            if self._listener is not None:
                self._listener.close()  # no new connections while the runner shuts down
            if site_runner is not None:
                await site_runner.cleanup()
            sock.close()
        return self.verdict if self.verdict is not None else 0

    def _bind(self) -> socket.socket:
        """Binds the API's socket and fixes the URL and the Service variables from it."""
        host, port = self.options.address, self.options.port
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        port = int(sock.getsockname()[1])
        scheme = "https" if self.options.tls is not None else "http"
        self.url = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
        service_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        self.settings = replace(
            self.settings, service_env=kubernetes_service_env(service_host, port)
        )
        self.agent.settings = self.settings
        return sock

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)

    def _on_signal(self, sig: int) -> None:
        self._signals += 1
        if self._signals == 1:
            log.info("stopping", signal=signal.Signals(sig).name)
            self._stop.set()
        elif self._main is not None:
            log.warning("stopping now", signal=signal.Signals(sig).name)
            self._main.cancel()

    async def _serve(self, sock: socket.socket) -> AppRunner:
        # Importing the HTTP stack takes a few hundred ms; in a thread, the containers'
        # starts go on meanwhile on the loop.
        await asyncio.to_thread(_import_http_stack)
        from aiohttp import web

        from minikubelet.api import server

        app = server.make_app(
            self.registry,
            token=self.options.token,
            node_name=self.settings.node_name,
            started_at=self.settings.daemon_started_at or time.time(),
            state_dir=self.settings.state_dir,
        )
        # At shutdown the pods are already stopped: a watch or a log follow still open has
        # nothing more to say, and must not hold the exit for aiohttp's 2 x 60 s
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=STREAMS_GRACE
        )
        await runner.setup()
        limit = server.max_connections_for(resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        listener = await server.serve(
            runner, sock, ssl_context=self.options.tls, max_connections=limit
        )
        self._listener = listener
        log.info("serving", url=self.url, max_connections=limit)
        return runner

    async def _wait_stop(self) -> None:
        timeout = self.options.timeout
        try:
            async with asyncio.timeout(timeout):
                await self._stop.wait()
        except TimeoutError:
            log.warning("timed out", until=self.options.until, timeout_s=timeout)
            if self.verdict is None:
                self._decide(
                    1, f"FAILED: --until {self.options.until} not met: timed out after {timeout:g}s"
                )

    # --- the CI verdict ----------------------------------------------------------------------

    def _check_until(self) -> None:
        """CI mode: decide the exit code as soon as the answer is known."""
        until = self.options.until
        if until is None or not self._started.is_set() or self.verdict is not None:
            return
        runners = self.agent.runners.values()
        found = verdict.decide(until, [(r.pod.name, r.status) for r in runners])
        if found is not None:
            self._decide(found.code, found.text)

    def _decide(self, code: int, verdict: str) -> None:
        self.verdict = code
        started = self.settings.daemon_started_at or time.time()
        self.verdict_snapshot = report.take(self.agent.runners.values(), verdict, started)
        self._stop.set()


def _import_http_stack() -> None:
    import aiohttp.web  # noqa: F401

    import minikubelet.api.server  # noqa: F401
