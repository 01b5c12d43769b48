"""Composition root: the store, the node agent, the pods' registry and the HTTP server wired
together; signals, the shutdown order, the CI-mode verdict.

The object store holds every object served (`store/`); the node agent runs the pods and writes
them into it (`node/agent.py`); the registry answers the API from it, with admission
(`podregistry.py`). Shutdown: every pod is terminated gracefully at once (each within its own
grace period); a second signal cancels everything, which kills at once.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any

import structlog

from minikubelet.api import stackimport
from minikubelet.core import nodelabels, rollout, verdict
from minikubelet.core.settings import Settings, kubernetes_service_env
from minikubelet.core.spec import Pod
from minikubelet.node import timeline
from minikubelet.node.agent import NodeAgent
from minikubelet.podregistry import PodRegistry
from minikubelet.runtime import gcpolicy, guard, watchdog
from minikubelet.runtime import reaper as runtime
from minikubelet.runtime.aio import wait_event
from minikubelet.store import kinds
from minikubelet.store.objects import JSON, ObjectStore

if TYPE_CHECKING:
    from aiohttp.web import AppRunner

    from minikubelet.node import report

log = structlog.get_logger("minikubelet.daemon")

STREAMS_GRACE = 1.0  # seconds open API streams get to end at shutdown
MAX_SWEEPER_RESTARTS = 10
SWITCH_INTERVAL = 0.001  # seconds; CPython's default is 0.005


@dataclass(frozen=True, slots=True, kw_only=True)
class ServeOptions:
    address: str = "127.0.0.1"
    port: int = 10255
    token: str | None = None
    until: str | None = None  # "ready" | "complete"
    timeout: float | None = None
    # the CLI: nothing we start may outlive us; our subtree is killed at exit, the guards above
    # us kill it if we die without running any code (SIGKILL), and a sweeper process kills
    # whatever carries our marker if the guards are gone too
    sweep_descendants: bool = False
    tls: ssl.SSLContext | None = None  # serve HTTPS
    # the CLI: the heap is frozen out of the collector's walks as the pod set changes
    manage_gc: bool = False
    guarded: guard.Guarded | None = None  # the CLI's guards above us (see guard.py)
    stream_idle_timeout: float = 4 * 3600.0  # kubelet: streamingConnectionIdleTimeout
    record: IO[str] | None = None  # --record: the timeline as JSON lines
    story: bool = False  # the lifecycle in plain words on stderr (console logs)


class Daemon:
    """The daemon's lifecycle: run, serve, the guards and the sweeper, signals, the CI
    verdict. Over the ~250-line mark (about 300) because the guards, the sweeper and the
    signals all act on the run's one main task and its ServeOptions; moving them out is the
    next step once ServeOptions lives in a module of its own."""

    def __init__(self, settings: Settings, options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        self._watchdog: watchdog.Watchdog | None = None
        if self.options.sweep_descendants:
            self._watchdog = watchdog.Watchdog()
            settings = replace(settings, base_env=self._watchdog.env(settings.base_env))
        self.settings = settings
        self.store = ObjectStore()
        kinds.seed(self.store)
        self._freezer = gcpolicy.Freezer() if self.options.manage_gc else None
        self.timeline = timeline.Recorder()
        self._record_file: timeline.RecordFile | None = None
        if self.options.record is not None:
            self._record_file = timeline.RecordFile(self.options.record)
            self.timeline.listen(self._record_file)
        if self.options.story:
            self.timeline.listen(timeline.Story())
        self.agent = NodeAgent(
            settings,
            self.store,
            on_change=self._check_until,
            freezer=self._freezer,
            timeline=self.timeline,
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
        self._closing = False
        self._sweeper_restarts = 0

    # --- lifecycle -------------------------------------------------------------------------

    async def run(
        self,
        pods: list[Pod],
        *,
        on_ready: Callable[[str], None] | None = None,
        objects: Sequence[tuple[kinds.Kind, JSON]] = (),
    ) -> int:
        """`objects`: the admitted objects of other kinds the files hold, stored before any
        pod starts (a pod's ConfigMap may come after it in a file)."""
        for kind, obj in objects:
            kinds.put_object(self.store, kind, obj)
        runtime.use_pidfd_child_watcher()
        was_subreaper = runtime.is_subreaper()
        runtime.become_subreaper()
        # Worker threads (the HTTP stack's import, /stats/summary) hold the GIL for up to the
        # switch interval each time the loop wants it back, several times per request: 5 ms
        # by default, 1 ms here keeps the loop's lag small while they run.
        sys.setswitchinterval(SWITCH_INTERVAL)
        reaper = runtime.install_orphan_reaper()
        self._main = asyncio.current_task()
        if self._watchdog is not None:
            self._start_sweeper()
            watchdog.install(self._watchdog)
        self._watch_guards()
        try:
            return await self._run(pods, on_ready)
        finally:
            self._closing = True
            if reaper:
                runtime.remove_orphan_reaper()
            if self._watchdog is not None:
                watchdog.install(None)
                pid = self._watchdog.pid
                self._watchdog.close()  # it kills whatever of ours left our tree
                runtime.disown_child(pid or 0)
            if self.options.sweep_descendants:
                await runtime.kill_all_descendants()
            runtime.reap_orphans()
            if not was_subreaper:
                runtime.become_subreaper(False)

    async def _run(self, pods: list[Pod], on_ready: Callable[[str], None] | None) -> int:
        # The port is bound before anything starts (a busy port starts nothing), but the HTTP
        # stack is imported and served only once the containers are on their way: importing
        # it takes longer than starting them.
        sock = self._bind()
        site_runner: AppRunner | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                self.agent.attach(tg)
                follower = tg.create_task(
                    timeline.follow(self.store, self.timeline), name="timeline"
                )
                node = nodelabels.scheduling_node(
                    self.settings.node_name, nodelabels.go_arch(platform.machine())
                )
                controllers = tg.create_task(self._run_controllers(node), name="controllers")
                workloads = tg.create_task(self._follow_workloads(), name="until-workloads")
                volume_sources = tg.create_task(
                    self.agent.follow_volume_sources(), name="volume-sources"
                )
                for pod in pods:
                    self.agent.start_pod(pod)
                site_runner = await self._serve(sock)
                tg.create_task(self._load_tls_defaults(), name="tls-defaults")
                if on_ready is not None:
                    on_ready(self.url)
                self._started.set()
                self._check_until()
                await self._wait_stop()
                # the controllers stop first: a StatefulSet or DaemonSet would make again the
                # pods the node is stopping
                controllers.cancel()
                await asyncio.wait({controllers})
                await self.agent.terminate_all()
                follower.cancel()
                workloads.cancel()
                volume_sources.cancel()
        finally:
            self.agent.attach(None)
            if self._record_file is not None:
                self._record_file.close()
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
        """SIGINT, SIGTERM and SIGHUP (the terminal closed) stop gracefully: preStop hooks,
        stop signals, grace periods; a second one stops at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal, sig)

    # --- the guards and the sweeper ------------------------------------------------------------

    def _watch_guards(self) -> None:
        guarded = self.options.guarded
        if guarded is None:
            return
        loop = asyncio.get_running_loop()
        loop.add_reader(guarded.outer_fd, self._outer_guard_died)
        loop.add_reader(guarded.inner_fd, self._inner_guard_died)

    def _outer_guard_died(self) -> None:
        """`minikubelet run` itself was killed (SIGKILL: it forwards every other signal):
        nothing may outlive it, so everything is killed now, before we can be killed too."""
        guarded = self.options.guarded
        assert guarded is not None
        asyncio.get_running_loop().remove_reader(guarded.outer_fd)
        log.error("the guard process died; killing every container now", pid=guarded.outer_pid)
        sweeper = self._watchdog.pid if self._watchdog is not None else None
        guard.sweep_tree(os.getpid(), frozenset({sweeper} if sweeper else ()))
        if self._main is not None:
            self._main.cancel()

    def _inner_guard_died(self) -> None:
        guarded = self.options.guarded
        assert guarded is not None
        asyncio.get_running_loop().remove_reader(guarded.inner_fd)
        log.error(
            "the inner guard process died; the outer guard still guards the daemon",
            pid=guarded.inner_pid,
        )

    def _start_sweeper(self) -> None:
        """The sweeper (watchdog.py) is the third line, for when both guards are gone."""
        assert self._watchdog is not None
        self._watchdog.start(runtime.own_children_alive())
        pid = self._watchdog.pid
        if pid is None:
            return
        runtime.own_child(pid)  # its Popen reaps it
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return
        loop = asyncio.get_running_loop()

        def died() -> None:
            loop.remove_reader(fd)
            os.close(fd)
            if self._closing or self._watchdog is None:
                return
            code = self._watchdog.reap()
            runtime.disown_child(pid)
            self._sweeper_restarts += 1
            if self._sweeper_restarts > MAX_SWEEPER_RESTARTS:
                log.error("the sweeper process died; not restarting it", exit_code=code)
                return
            log.error("the sweeper process died; restarting it", pid=pid, exit_code=code)
            self._start_sweeper()

        loop.add_reader(fd, died)

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
        await asyncio.to_thread(stackimport.import_http_stack)
        from aiohttp import web

        from minikubelet.api import server
        from minikubelet.api.sessions import StreamLimits

        app = server.make_app(
            self.registry,
            token=self.options.token,
            node_name=self.settings.node_name,
            started_at=self.settings.daemon_started_at or time.time(),
            state_dir=self.settings.state_dir,
            stream_limits=StreamLimits(idle_timeout=self.options.stream_idle_timeout),
            timeline=self.timeline,
            store=self.store,
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

    async def _load_tls_defaults(self) -> None:
        """What the HTTP stack's import put off (api/stackimport.py), now that the API serves."""
        try:
            await asyncio.to_thread(stackimport.load_deferred)
        except Exception:  # aiohttp's client, which we do not use, keeps its contexts as they are
            log.exception("loading the default TLS verify paths failed")

    async def _run_controllers(self, node: JSON) -> None:
        """The controllers (Deployments, Jobs, ...) start once the API serves, imported off
        the loop meanwhile: a plain `run` of pods does not wait for their modules before its
        containers start and `/healthz` answers. They read the store as they start, so the
        workloads the files hold are taken up then."""
        await self._started.wait()
        await asyncio.to_thread(_import_controllers)
        from minikubelet.controllers import hpa, loop, registry

        usage = hpa.UsageSnapshot()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._sample_pod_usage(usage), name="pod-usage")
            await loop.run(self.store, self.registry, controllers=registry.for_node(node, usage))

    async def _sample_pod_usage(self, usage: Any) -> None:
        """The usage of the pods the HorizontalPodAutoscalers target (their namespaces'),
        sampled as `kubectl top pod` samples it, every sync period, in a thread; nothing is
        sampled while there is no HPA."""
        from minikubelet.api import metrics_api, stats
        from minikubelet.core import autoscaling

        sampler = stats.CpuSampler()
        while True:
            namespaces = {
                h["metadata"].get("namespace", "default")
                for h in self.store.list("horizontalpodautoscalers")
            }
            pods = [
                (p, self.registry.container_pids(p["metadata"].get("namespace", "default"),
                                                 p["metadata"]["name"]))
                for ns in sorted(namespaces) for p in self.store.list("pods", ns)
            ]  # fmt: skip

            def sample(pods: list[tuple[JSON, Any]] = pods) -> dict[tuple[str, str], Any]:
                now = time.time()
                found = {}
                for pod, pids in pods:
                    if not pids:
                        continue
                    try:
                        one = metrics_api.pod_usage(pod, pids, sampler, now)
                    except Exception:  # a pod that went away while it was walked
                        continue
                    if one is not None:
                        meta = pod["metadata"]
                        found[(meta.get("namespace", "default"), meta["name"])] = one
                return found

            if pods:
                try:
                    usage.replace(await asyncio.to_thread(sample))
                except Exception:  # a failed sample stays here: the HPAs see no new one
                    log.exception("sampling the pods' usage failed")
            await asyncio.sleep(autoscaling.SYNC_PERIOD)

    async def _wait_stop(self) -> None:
        timeout = self.options.timeout
        if not await wait_event(self._stop, timeout):
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
        found = verdict.decide_objects(until, self.store.list("pods"), self._workloads())
        if found is not None:
            self._decide(found.code, found.text)

    def _workloads(self) -> list[JSON]:
        return [obj for resource in rollout.RESOURCES.values() for obj in self.store.list(resource)]

    async def _follow_workloads(self) -> None:
        """CI mode: a workload's status written by its controller may decide the verdict."""
        queue = self.store.subscribe()
        try:
            while True:
                change = await queue.get()
                if change.kind in rollout.RESOURCES:
                    self._check_until()
        finally:
            self.store.unsubscribe(queue)

    def _decide(self, code: int, verdict_text: str) -> None:
        from minikubelet.node import report  # here: only a CI-mode run gives a verdict

        self.verdict = code
        started = self.settings.daemon_started_at or time.time()
        until = self.options.until or "ready"
        held = verdict.held_back(until, self.store.list("pods"), self._workloads())
        self.verdict_snapshot = report.take(
            self.agent.runners.values(), verdict_text, started, report.workload_reports(held)
        )
        self._stop.set()


def _import_controllers() -> None:
    import minikubelet.controllers.loop
    import minikubelet.controllers.registry  # noqa: F401
