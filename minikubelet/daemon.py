"""Composition root: pods, the HTTP server, signals, the shutdown order, the CI-mode verdict.

`Daemon` also implements the API's `Registry`: it keeps each pod's JSON (rebuilt only when the
pod's status or metadata changes), a single resource version shared by pods and events, and
the watch subscribers. Shutdown: every pod is terminated gracefully at once (each within its
own grace period); a second signal cancels everything, which kills at once.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import structlog

from minikubelet.api.registry import JSON, ContainerTarget, LogSource, PodExists, WatchEvent
from minikubelet.core import serialize
from minikubelet.core.events import Event, EventRecorder
from minikubelet.core.model import ConditionType, Phase
from minikubelet.core.settings import Settings, kubernetes_service_env
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.node import report
from minikubelet.node.pod import PodRunner
from minikubelet.runtime import process as runtime
from minikubelet.runtime import watchdog
from minikubelet.runtime.cgroups import CpuLimiter
from minikubelet.runtime.crilog import log_files

if TYPE_CHECKING:
    from aiohttp.web import AppRunner

log = structlog.get_logger("minikubelet.daemon")

MAX_QUEUE = 10_000


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
    stream_idle_timeout: float = 4 * 3600.0  # kubelet: streamingConnectionIdleTimeout


class Daemon:
    def __init__(self, settings: Settings, options: ServeOptions | None = None) -> None:
        self.options = options or ServeOptions()
        self._watchdog: watchdog.Watchdog | None = None
        if self.options.sweep_descendants:
            self._watchdog = watchdog.Watchdog()
            settings = replace(settings, base_env=self._watchdog.env(settings.base_env))
        self.settings = settings
        self.runners: dict[tuple[str, str], PodRunner] = {}
        self.url = ""
        self.verdict: int | None = None  # CI mode: the exit code once decided
        self.verdict_snapshot: report.Snapshot | None = None
        self._rv = 0
        self._pod_json: dict[tuple[str, str], JSON] = {}
        self._subscribers: set[asyncio.Queue[WatchEvent]] = set()
        self.events = EventRecorder(node_name=settings.node_name, on_change=self._event_changed)
        self._tg: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        self._started = asyncio.Event()
        self._signals = 0
        self._cpu_checked = False
        self.cpu_limiter: CpuLimiter | None = None
        self._detect_cpu_limiter: Callable[[], CpuLimiter | None] = CpuLimiter.detect
        self._main: asyncio.Task[Any] | None = None

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
                self._tg = tg
                for pod in pods:
                    self._start_pod(pod)
                site_runner = await self._serve(sock)
                if on_ready is not None:
                    on_ready(self.url)
                self._started.set()
                self._check_until()
                await self._wait_stop()
                await self._terminate_all()
        finally:
            self._tg = None
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

        from minikubelet.api.server import make_app
        from minikubelet.api.sessions import StreamLimits

        app = make_app(
            self,
            token=self.options.token,
            node_name=self.settings.node_name,
            started_at=self.settings.daemon_started_at or time.time(),
            stream_limits=StreamLimits(idle_timeout=self.options.stream_idle_timeout),
        )
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.SockSite(runner, sock, ssl_context=self.options.tls)
        await site.start()
        log.info("serving", url=self.url)
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

    async def _terminate_all(self) -> None:
        for runner in list(self.runners.values()):
            runner.terminate()
        await asyncio.gather(*(r.finished.wait() for r in list(self.runners.values())))

    def _start_pod(self, pod: Pod) -> PodRunner:
        assert self._tg is not None
        self._prepare_cpu_limits(pod)
        runner = PodRunner(
            pod,
            settings=self.settings,
            events=self.events,
            on_change=self._pod_changed,
            cpu_limiter=self.cpu_limiter,
        )
        self.runners[pod.key] = runner
        self._pod_changed(runner, kind="ADDED")
        self._tg.create_task(self._run_pod(runner), name=f"pod:{pod.namespace}/{pod.name}")
        return runner

    def _prepare_cpu_limits(self, pod: Pod) -> None:
        """At the first pod with a CPU limit: use cgroup v2 `cpu.max` where the daemon may
        write one, else say once that CPU limits are not enforced (memory limits are, by the
        daemon's own watchdog)."""
        if self._cpu_checked:
            return
        field = _first_cpu_limit(pod)
        if field is None:
            return
        self._cpu_checked = True
        self.cpu_limiter = self._detect_cpu_limiter()
        if self.cpu_limiter is None:
            log.warning(
                "cpu limits are not enforced",
                pod=f"{pod.namespace}/{pod.name}",
                field=field,
                message="minikubelet has no writable cgroup v2 with the cpu controller here; "
                "the limit only sets the QoS class and resourceFieldRef values",
            )
        else:
            log.info("cpu limits enforced", cgroup=str(self.cpu_limiter.base))

    async def _run_pod(self, runner: PodRunner) -> None:
        await runner.run()
        if runner.deleting:
            self._remove(runner)

    def _remove(self, runner: PodRunner) -> None:
        key = runner.pod.key
        if self.runners.get(key) is not runner:
            return
        del self.runners[key]
        obj = self._pod_json.pop(key, None)
        if obj is not None:
            self._rv += 1
            obj = {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(self._rv)}}
            self._broadcast(WatchEvent("DELETED", "Pod", obj, self._rv))

    # --- change feed -----------------------------------------------------------------------

    def _pod_changed(
        self, runner: PodRunner, kind: Literal["ADDED", "MODIFIED"] = "MODIFIED"
    ) -> None:
        if self.runners.get(runner.pod.key) is not runner:
            return
        self._rv += 1
        obj = serialize.pod_json(
            runner.pod,
            runner.status,
            resource_version=self._rv,
            deletion_timestamp=runner.deletion_timestamp,
            deletion_grace_period_seconds=runner.deletion_grace,
        )
        self._pod_json[runner.pod.key] = obj
        self._broadcast(WatchEvent(kind, "Pod", obj, self._rv))
        self._check_until()

    def _event_changed(self, event: Event) -> Event:
        self._rv += 1
        event = replace(event, resource_version=self._rv)
        kind: Literal["ADDED", "MODIFIED"] = "ADDED" if event.count == 1 else "MODIFIED"
        self._broadcast(WatchEvent(kind, "Event", serialize.event_json(event), self._rv))
        return event

    def _broadcast(self, event: WatchEvent) -> None:
        for queue in list(self._subscribers):
            if queue.qsize() < MAX_QUEUE:
                queue.put_nowait(event)

    def _check_until(self) -> None:
        """CI mode: decide the exit code as soon as the answer is known."""
        until = self.options.until
        if until is None or not self._started.is_set() or self.verdict is not None:
            return
        runners = list(self.runners.values())
        statuses = [r.status for r in runners]
        if until == "ready" and statuses and all(_is_ready(s) for s in statuses):
            self._decide(0, "OK: every pod is Ready")
        elif until == "complete":
            failed = [r.pod.name for r in runners if r.status.phase == Phase.FAILED]
            if failed:
                self._decide(1, f"FAILED: pod {', '.join(failed)} Failed")
            elif statuses and all(s.phase == Phase.SUCCEEDED for s in statuses):
                self._decide(0, "OK: every pod Succeeded")

    def _decide(self, code: int, verdict: str) -> None:
        self.verdict = code
        started = self.settings.daemon_started_at or time.time()
        self.verdict_snapshot = report.take(self.runners.values(), verdict, started)
        self._stop.set()

    # --- Registry ----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def list_pods(self, namespace: str | None = None) -> list[JSON]:
        return [
            obj
            for (ns, _), obj in sorted(self._pod_json.items())
            if namespace is None or ns == namespace
        ]

    def get_pod(self, namespace: str, name: str) -> JSON | None:
        return self._pod_json.get((namespace, name))

    def list_events(self, namespace: str | None = None) -> list[JSON]:
        return [serialize.event_json(e) for e in self.events.events(namespace)]

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        self._subscribers.discard(queue)

    async def create_pod(self, document: Mapping[str, Any], *, dry_run: bool = False) -> JSON:
        pod, warnings = manifest.pod_from_document(
            document, source="api", node_name=self.settings.node_name
        )
        for warning in warnings:
            log.warning("manifest warning", pod=f"{pod.namespace}/{pod.name}", message=warning)
        if pod.key in self.runners:
            raise PodExists(pod.namespace, pod.name)
        if dry_run or self._tg is None:
            runner = PodRunner(pod, settings=self.settings, events=self.events)
            return serialize.pod_json(pod, runner.status, resource_version=self._rv)
        runner = self._start_pod(pod)
        return self._pod_json[runner.pod.key]

    async def delete_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> JSON | None:
        runner = self.runners.get((namespace, name))
        if runner is None:
            return None
        runner.terminate(grace_period_seconds, deleting=True)
        return self._pod_json.get((namespace, name))

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> JSON | None:
        runner = self.runners.get((namespace, name))
        if runner is None:
            return None
        pod = runner.pod
        meta = {**pod.manifest.get("metadata", {})}
        for key, value in (("labels", labels), ("annotations", annotations)):
            if value:
                meta[key] = dict(value)
            else:
                meta.pop(key, None)
        runner.pod = replace(
            pod,
            labels=dict(labels),
            annotations=dict(annotations),
            manifest={**pod.manifest, "metadata": meta},
        )
        self._pod_changed(runner)
        return self._pod_json[(namespace, name)]

    def log_source(
        self, namespace: str, name: str, container: str, *, previous: bool = False
    ) -> LogSource:
        runner = self.runners.get((namespace, name))
        if runner is None:
            raise LookupError(f'pod "{name}" does not exist')
        sup = runner.supervisor(container)
        if sup is None:
            raise LookupError(f'container "{container}" not found in pod "{name}"')
        instances = sup.instances if not previous else sup.instances[:-1]
        if not instances:
            if previous:
                raise LookupError(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            state = sup.status(pod_has_init=bool(runner.init_supervisors)).state
            reason = getattr(state, "reason", "") or "ContainerCreating"
            raise LookupError(
                f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        inst = instances[-1]
        running = inst.terminated is None and not previous
        return LogSource(log_files(inst.log_path, self.settings.log_max_files), running)

    def container_pids(self, namespace: str, name: str) -> Mapping[str, int]:
        runner = self.runners.get((namespace, name))
        if runner is None:
            return {}
        pids: dict[str, int] = {}
        for sup in runner.init_supervisors + runner.supervisors:
            cur = sup.current
            if cur is not None and cur.process is not None and cur.terminated is None:
                pids[sup.container.name] = cur.process.pid
        return pids

    def container_target(self, namespace: str, name: str, container: str) -> ContainerTarget:
        """kubelet: kubelet_pods.go GetExec / GetAttach (findContainer among running ones)."""
        runner = self.runners.get((namespace, name))
        sup = runner.supervisor(container) if runner is not None else None
        cur = sup.current if sup is not None else None
        if runner is None or sup is None or cur is None or cur.process is None:
            raise LookupError(f'container not found ("{container}")')
        if cur.terminated is not None or cur.process.exited:
            raise LookupError(f'container not found ("{container}")')
        c, s = sup.container, runner.settings
        env, _own = runtime.container_env(runner.pod, c, base=s.base_env, service_env=s.service_env)
        return ContainerTarget(
            container_id=cur.container_id,
            env=env,
            cwd=c.working_dir or None,
            process=cur.process,
            stdin=c.stdin,
            stdin_once=c.stdin_once,
        )


def _is_ready(status: Any) -> bool:
    return any(c.type == ConditionType.READY and c.status == "True" for c in status.conditions)


def _import_http_stack() -> None:
    import aiohttp.web  # noqa: F401

    import minikubelet.api.server  # noqa: F401


def _first_cpu_limit(pod: Pod) -> str | None:
    """The path of the first container CPU limit in the pod, if any."""
    for kind, containers in (
        ("initContainers", pod.spec.init_containers),
        ("containers", pod.spec.containers),
    ):
        for i, c in enumerate(containers):
            if "cpu" in c.resources.limits:
                return f"spec.{kind}[{i}].resources.limits.cpu"
    return None
