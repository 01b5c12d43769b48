"""An in-memory Registry for the API tests, pods in the kubelet's v1 shape, and helpers that
serve the app on 127.0.0.1 (an ephemeral port) and run the real kubectl against it."""

from __future__ import annotations

import asyncio
import copy
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from minikubelet.api.registry import (
    ContainerTarget,
    InvalidPod,
    LogSource,
    PodExists,
    WatchEvent,
)
from minikubelet.api.server import make_app

JSON = dict[str, Any]
KUBECTL = Path(sys.executable).parent / "kubectl"  # the test environment's own
NODE = "testnode"


def ts(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def cri(t: float, text: str, stream: str = "stdout", tag: str = "F") -> str:
    frac = int((t % 1) * 1e9)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{frac:09d}Z {stream} {tag} {text}"
    )


def running(started: float) -> JSON:
    return {"running": {"startedAt": ts(started)}}


def waiting(reason: str, message: str = "") -> JSON:
    body = {"reason": reason, **({"message": message} if message else {})}
    return {"waiting": body}


def terminated(code: int, reason: str, started: float, finished: float) -> JSON:
    return {
        "terminated": {
            "exitCode": code,
            "reason": reason,
            "startedAt": ts(started),
            "finishedAt": ts(finished),
            "containerID": "minikubelet://0c3d",
        }
    }


def cstatus(
    name: str, state: JSON, *, ready: bool = False, restarts: int = 0, last: JSON | None = None
) -> JSON:
    return {
        "name": name,
        "state": state,
        "lastState": last or {},
        "ready": ready,
        "restartCount": restarts,
        "image": "busybox:1.36",
        "imageID": "",
        "containerID": "minikubelet://0c3d",
        "started": "running" in state,
    }


def condition(type_: str, ok: bool, at: float, reason: str = "") -> JSON:
    cond = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": ts(at),
    }
    if reason:
        cond["reason"] = reason
    return cond


def container(name: str) -> JSON:
    return {
        "name": name,
        "image": "busybox:1.36",
        "command": ["sleep", "3600"],
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }


def pod(
    name: str,
    now: float,
    statuses: list[JSON],
    *,
    namespace: str = "default",
    phase: str = "Running",
    init: list[JSON] | None = None,
    age: float = 300,
    restart_policy: str = "Always",
    ready: bool = False,
) -> JSON:
    created = now - age
    init = init or []
    conditions = [
        condition("PodReadyToStartContainers", True, created),
        condition("Initialized", all("terminated" in s["state"] for s in init), created),
        condition("Ready", ready, created, "" if ready else "ContainersNotReady"),
        condition("ContainersReady", ready, created, "" if ready else "ContainersNotReady"),
        condition("PodScheduled", True, created),
    ]
    status: JSON = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": "127.0.0.1",
        "podIP": "127.0.0.1",
        "podIPs": [{"ip": "127.0.0.1"}],
        "startTime": ts(created),
        "containerStatuses": statuses,
        "qosClass": "BestEffort",
    }
    if init:
        status["initContainerStatuses"] = init
    spec: JSON = {
        "containers": [container(s["name"]) for s in statuses],
        "restartPolicy": restart_policy,
        "nodeName": NODE,
        "terminationGracePeriodSeconds": 30,
    }
    if init:
        spec["initContainers"] = [container(s["name"]) for s in init]
    uid = f"uid-{namespace}-{name}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": uid,
            "resourceVersion": "1",
            "creationTimestamp": ts(created),
            "labels": {"app": name},
            "annotations": {"kubernetes.io/config.source": "file"},
        },
        "spec": spec,
        "status": status,
    }


def sample_pods(now: float) -> list[JSON]:
    """One pod per STATUS that kubectl prints."""
    started = now - 290
    crash_last = terminated(1, "Error", now - 25, now - 20)
    return [
        pod("web", now, [cstatus("app", running(started), ready=True)], ready=True),
        pod(
            "crash",
            now,
            [
                cstatus(
                    "app", waiting("CrashLoopBackOff", "back-off 40s"), restarts=3, last=crash_last
                )
            ],
        ),
        pod(
            "init",
            now,
            [cstatus("app", waiting("PodInitializing"))],
            phase="Pending",
            init=[
                cstatus("setup", running(started)),
                cstatus("migrate", waiting("PodInitializing")),
            ],
        ),
        pod(
            "done",
            now,
            [cstatus("app", terminated(0, "Completed", started, now - 200))],
            phase="Succeeded",
            restart_policy="Never",
        ),
        pod(
            "failed",
            now,
            [cstatus("app", terminated(1, "Error", started, now - 200))],
            phase="Failed",
            restart_policy="Never",
        ),
        pod(
            "oom",
            now,
            [cstatus("app", terminated(137, "OOMKilled", started, now - 100))],
            phase="Failed",
            restart_policy="Never",
        ),
        pod(
            "multi",
            now,
            [
                cstatus("a", running(started), ready=True),
                cstatus("b", running(started), ready=True),
            ],
            ready=True,
        ),
        pod(
            "tool",
            now,
            [cstatus("app", running(started), ready=True)],
            namespace="tools",
            ready=True,
        ),
    ]


def event(
    pod_json: JSON,
    reason: str,
    message: str,
    now: float,
    *,
    type_: str = "Normal",
    count: int = 1,
    age: float = 60,
    field_path: str = "",
) -> JSON:
    meta = pod_json["metadata"]
    return {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": f"{meta['name']}.{reason.lower()}",
            "namespace": meta["namespace"],
            "resourceVersion": "1",
            "creationTimestamp": ts(now - age),
        },
        "involvedObject": {
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "apiVersion": "v1",
            "fieldPath": field_path,
        },
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet", "host": NODE},
        "firstTimestamp": ts(now - age),
        "lastTimestamp": ts(now - 10),
        "count": count,
        "type": type_,
        "eventTime": None,
        "reportingComponent": "kubelet",
        "reportingInstance": NODE,
    }


@dataclass
class FakeRegistry:
    """In memory; `publish()` feeds watches as the daemon will."""

    now: float = field(default_factory=time.time)
    pods: dict[tuple[str, str], JSON] = field(default_factory=dict)
    events: list[JSON] = field(default_factory=list)
    logs: dict[tuple[str, str, str, bool], LogSource] = field(default_factory=dict)
    pids: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    targets: dict[tuple[str, str, str], ContainerTarget] = field(default_factory=dict)
    version: int = 1
    queues: list[asyncio.Queue[WatchEvent]] = field(default_factory=list)
    delete_delay: float = 0.3

    def __post_init__(self) -> None:
        for p in sample_pods(self.now):
            self.pods[(p["metadata"]["namespace"], p["metadata"]["name"])] = p
        web_pod, crash = self.pods[("default", "web")], self.pods[("default", "crash")]
        self.events = [
            event(
                web_pod,
                "Started",
                "Started container app",
                self.now,
                field_path="spec.containers{app}",
            ),
            event(
                crash,
                "BackOff",
                "Back-off restarting failed container app in pod crash_default(uid-default-crash)",
                self.now,
                type_="Warning",
                count=5,
                field_path="spec.containers{app}",
            ),
        ]

    @property
    def resource_version(self) -> int:
        return self.version

    def publish(self, type_: str, obj: JSON, kind: str = "Pod") -> None:
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)
        for q in self.queues:
            q.put_nowait(WatchEvent(type_, kind, copy.deepcopy(obj), self.version))  # type: ignore[arg-type]

    def list_pods(self, namespace: str | None = None) -> list[JSON]:
        return [
            copy.deepcopy(p) for (ns, _), p in sorted(self.pods.items()) if namespace in (None, ns)
        ]

    def get_pod(self, namespace: str, name: str) -> JSON | None:
        found = self.pods.get((namespace, name))
        return copy.deepcopy(found) if found else None

    def list_events(self, namespace: str | None = None) -> list[JSON]:
        return [e for e in self.events if namespace in (None, e["metadata"]["namespace"])]

    def subscribe(self) -> asyncio.Queue[WatchEvent]:
        queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self.queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[WatchEvent]) -> None:
        self.queues.remove(queue)

    async def create_pod(self, document: Mapping[str, Any], *, dry_run: bool = False) -> JSON:
        doc = copy.deepcopy(dict(document))
        meta = doc.get("metadata", {})
        name, ns = meta.get("name", ""), meta.get("namespace", "default")
        errors = [
            f"spec.containers[{i}].image: Required value"
            for i, c in enumerate(doc.get("spec", {}).get("containers", []))
            if not c.get("image")
        ]
        if not name:
            errors.insert(0, "metadata.name: Required value: name or generateName is required")
        if errors:
            raise InvalidPod(name, errors)
        if (ns, name) in self.pods:
            raise PodExists(ns, name)
        meta.update(uid=f"uid-{ns}-{name}", creationTimestamp=ts(time.time()))
        doc["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        if not dry_run:
            self.pods[(ns, name)] = doc
            self.publish("ADDED", doc)
        return copy.deepcopy(doc)

    async def delete_pod(
        self,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        dry_run: bool = False,
        finalizers: Sequence[str] | None = None,
    ) -> JSON | None:
        found = self.pods.get((namespace, name))
        if found is None:
            return None
        if dry_run:
            return copy.deepcopy(found)
        found["metadata"]["deletionTimestamp"] = ts(time.time())
        self.publish("MODIFIED", found)
        delay = 0 if grace_period_seconds == 0 else self.delete_delay
        asyncio.get_running_loop().call_later(delay, self._remove, namespace, name)
        return copy.deepcopy(found)

    def _remove(self, namespace: str, name: str) -> None:
        found = self.pods.pop((namespace, name), None)
        if found is not None:
            self.publish("DELETED", found)

    async def update_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        spec: Mapping[str, Any] | None = None,
        managed_fields: list[JSON] | None = None,
        finalizers: Sequence[str] | None = None,
        owner_references: Sequence[JSON] | None = None,
    ) -> JSON | None:
        found = self.pods.get((namespace, name))
        if found is None:
            return None
        found["metadata"].update(labels=dict(labels), annotations=dict(annotations))
        if managed_fields is not None:
            found["metadata"]["managedFields"] = copy.deepcopy(managed_fields)
        if spec is not None:
            found["spec"] = copy.deepcopy(dict(spec))
        self.publish("MODIFIED", found)
        return copy.deepcopy(found)

    async def update_pod_status(
        self,
        namespace: str,
        name: str,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
        status: Mapping[str, Any],
    ) -> JSON | None:
        found = self.pods.get((namespace, name))
        if found is None:
            return None
        found["metadata"].update(labels=dict(labels), annotations=dict(annotations))
        found["status"] = copy.deepcopy(dict(status))
        self.publish("MODIFIED", found)
        return copy.deepcopy(found)

    def log_source(
        self, namespace: str, name: str, container: str, *, previous: bool = False
    ) -> LogSource:
        source = self.logs.get((namespace, name, container, previous))
        if source is None and previous:
            raise LookupError(
                f'previous terminated container "{container}" in pod "{name}" not found'
            )
        if source is None:
            raise LookupError(
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
        return source

    def container_pids(self, namespace: str, name: str) -> Mapping[str, int]:
        return self.pids.get((namespace, name), {})

    def container_target(self, namespace: str, name: str, container: str) -> ContainerTarget:
        target = self.targets.get((namespace, name, container))
        if target is None:
            raise LookupError(f'container not found ("{container}")')
        return target


@dataclass
class Server:
    url: str
    registry: FakeRegistry
    cache_dir: Path
    app: web.Application


@asynccontextmanager
async def serve(
    registry: FakeRegistry, cache_dir: Path, *, token: str | None = None
) -> AsyncIterator[Server]:
    app = make_app(registry, token=token, node_name=NODE, started_at=registry.now - 3600)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", registry, cache_dir, app)
    finally:
        await runner.cleanup()


@dataclass
class Result:
    code: int
    out: str
    err: str


async def kubectl(server: Server, *args: str, timeout: float = 30) -> Result:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(server.cache_dir), "TZ": "UTC"}
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL),
        "--server",
        server.url,
        "--cache-dir",
        str(server.cache_dir / "cache"),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Result(proc.returncode or 0, out.decode(), err.decode())
