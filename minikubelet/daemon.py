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

from minikubelet.api.registry import JSON, LogSource, PodExists, WatchEvent
from minikubelet.core import deletion, serialize, verdict
from minikubelet.core.events import Event, EventRecorder
from minikubelet.core.settings import Settings, kubernetes_service_env
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.manifest import statusupdate
from minikubelet.manifest.specbuild import build_pod_spec
from minikubelet.node import report
from minikubelet.node.pod import PodRunner
from minikubelet.runtime import process as runtime
from minikubelet.runtime import watchdog
from minikubelet.runtime.cgroups import CpuLimiter
from minikubelet.runtime.crilog import log_files
from minikubelet.store.objects import ObjectStore

if TYPE_CHECKING:
    from aiohttp.web import AppRunner

log = structlog.get_logger("minikubelet.daemon")


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
        self.store = ObjectStore()
        self.events = EventRecorder(
            node_name=settings.node_name,
            on_change=self._event_changed,
            on_evict=self._event_evicted,
        )
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

        app = make_app(
            self,
            token=self.options.token,
            node_name=self.settings.node_name,
            started_at=self.settings.daemon_started_at or time.time(),
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

    def _remove(self, runner: PodRunner) -> JSON | None:
        """Takes the pod out of the registry (a DELETED event); returns its last object."""
        key = runner.pod.key
        if self.runners.get(key) is not runner:
            return None
        del self.runners[key]
        return self.store.remove("pods", *key)

    # --- change feed -----------------------------------------------------------------------

    def _pod_object(
        self, runner: PodRunner, mark: deletion.DeletionMark | None, resource_version: int
    ) -> JSON:
        return serialize.pod_json(
            runner.pod,
            runner.status,
            resource_version=resource_version,
            deletion_timestamp=mark.timestamp if mark is not None else None,
            deletion_grace_period_seconds=mark.grace_period_seconds if mark else None,
        )

    def _pod_changed(
        self, runner: PodRunner, kind: Literal["ADDED", "MODIFIED"] = "MODIFIED"
    ) -> None:
        if self.runners.get(runner.pod.key) is not runner:
            return
        self.store.put("pods", self._pod_object(runner, _deletion_mark(runner), 0))
        self._check_until()

    def _event_changed(self, event: Event) -> Event:
        stored = self.store.put("events", serialize.event_json(event))
        return replace(event, resource_version=int(stored["metadata"]["resourceVersion"]))

    def _event_evicted(self, event: Event) -> None:
        self.store.remove("events", event.namespace, event.name)

    def _check_until(self) -> None:
        """CI mode: decide the exit code as soon as the answer is known."""
        until = self.options.until
        if until is None or not self._started.is_set() or self.verdict is not None:
            return
        found = verdict.decide(until, [(r.pod.name, r.status) for r in self.runners.values()])
        if found is not None:
            self._decide(found.code, found.text)

    def _decide(self, code: int, verdict: str) -> None:
        self.verdict = code
        started = self.settings.daemon_started_at or time.time()
        self.verdict_snapshot = report.take(self.runners.values(), verdict, started)
        self._stop.set()

    # --- Registry ----------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self.store.resource_version

    def list_pods(self, namespace: str | None = None) -> list[JSON]:
        return self.store.list("pods", namespace)

    def get_pod(self, namespace: str, name: str) -> JSON | None:
        return self.store.get("pods", namespace, name)

    def list_events(self, namespace: str | None = None) -> list[JSON]:
        return self.store.list("events", namespace)

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        return self.store.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        self.store.unsubscribe(queue)

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
            return serialize.pod_json(pod, runner.status, resource_version=self.resource_version)
        runner = self._start_pod(pod)
        return self._stored(runner.pod.key)

    async def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
    ) -> JSON | None:
        """Graceful deletion as the API server does it (apiserver: registry/generic/registry/
        store.go Store.Delete, rest/delete.go BeforeDelete, core/pod/strategy.go
        CheckGracefulDelete): the pod is marked with deletionTimestamp = now + grace period
        and published at once (MODIFIED), then stopped; a pod with nothing left to stop (a
        finished one) is removed at once (DELETED). A second DELETE may only shorten the
        grace period. A dry run answers the marked pod and changes nothing."""
        runner = self.runners.get((namespace, name))
        if runner is None:
            return None
        spec_grace = runner.pod.spec.termination_grace_period_seconds
        period = deletion.graceful_delete_period(
            runner.status.phase, grace_period_seconds, spec_grace
        )
        current = _deletion_mark(runner)
        mark, changed = deletion.before_delete(current, grace_period_seconds, period, time.time())
        if dry_run:
            version = self._stored(runner.pod.key)["metadata"]["resourceVersion"]
            return self._pod_object(runner, mark, int(version))
        if changed:
            runner.mark_deleted(mark.timestamp, mark.grace_period_seconds)
            self._pod_changed(runner)
            runner.terminate(mark.grace_period_seconds, deleting=True)
        if runner.finished.is_set():
            return self._remove(runner)
        return self.get_pod(namespace, name)

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        spec: Mapping[str, Any] | None = None,
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
        updated = replace(
            pod,
            labels=dict(labels),
            annotations=dict(annotations),
            manifest={**pod.manifest, "metadata": meta},
        )
        if spec is None:
            runner.pod = updated
        else:
            # checked by ValidatePodUpdate's rules: images, the deadline, tolerations
            new_spec = {**spec, "nodeName": pod.spec.node_name}
            runner.update_spec(
                replace(
                    updated,
                    spec=build_pod_spec(new_spec),
                    manifest={**updated.manifest, "spec": new_spec},
                )
            )
        self._pod_changed(runner)
        return self._stored((namespace, name))

    async def update_pod_status(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        status: Mapping[str, Any],
    ) -> JSON | None:
        """A write to `pods/{name}/status` (already prepared and validated): the labels and
        annotations are taken (the status strategy keeps metadata), the conditions the
        kubelet does not own are kept and the status computed again over them, as the
        kubelet computes it over the API's copy (kubelet_pods.go generateAPIPodStatus)."""
        runner = self.runners.get((namespace, name))
        if runner is None:
            return None
        version = self.resource_version
        moved = self._set_metadata(runner, labels, annotations)
        runner.set_api_status(
            statusupdate.external_conditions(status),
            str(status.get("reason") or ""),
            str(status.get("message") or ""),
        )
        if moved and self.resource_version == version:
            self._pod_changed(runner)
        return self._stored((namespace, name))

    def _stored(self, key: tuple[str, str]) -> JSON:
        """The stored object of a pod the daemon runs (there is always one)."""
        obj = self.store.get("pods", *key)
        assert obj is not None, key
        return obj

    def _set_metadata(
        self, runner: PodRunner, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> bool:
        pod = runner.pod
        if dict(labels) == dict(pod.labels) and dict(annotations) == dict(pod.annotations):
            return False
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
        return True

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


def _deletion_mark(runner: PodRunner) -> deletion.DeletionMark | None:
    if runner.deletion_timestamp is None or runner.deletion_grace is None:
        return None
    return deletion.DeletionMark(runner.deletion_timestamp, runner.deletion_grace)


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
