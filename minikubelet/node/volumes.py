"""A pod's volumes: made before its first container starts, kept up to date while it runs,
removed with it (the kubelet's volume manager and its plugins, for local processes).

- Each volume is a directory: an emptyDir under the pod's directory in the state dir (on the
  /dev/shm tmpfs for `medium: Memory`), shared by every container of the pod and kept across
  their restarts; a hostPath is the path itself, after upstream's type check; a claim is
  `<state-dir>/claims/<namespace>/<claim>`, which outlives the pod and the daemon; configMap,
  secret, downwardAPI and projected volumes are written by the atomic writer and written
  again when what they project changes in the store (`notify`).
- Every volume a container mounts must be set up before any container starts (volume
  manager WaitForAttachAndMount): until then the containers wait in ContainerCreating and
  each failed try is a `FailedMount` event in upstream's words (operation_generator.go
  `MountVolume.SetUp failed for volume "x" : ...`), tried again on a store change or after a
  backoff.
- An emptyDir with a `sizeLimit` is measured on an interval, off the loop; over the limit the
  pod is evicted as the eviction manager does (eviction_manager.go emptyDirLimitEviction).
- What a container sees of them is node/mounts.py's `container_mounts`. Where there is no
  mount namespace (host mode) the container gets `MINIKUBELET_VOLUME_<NAME>` instead and one
  warning per mount says where its files are.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from minikubelet.core import events as ev
from minikubelet.core import projection
from minikubelet.core.envsources import Lookup
from minikubelet.core.events import EventRecorder
from minikubelet.core.settings import Settings
from minikubelet.core.spec import (
    ClaimSource,
    Container,
    DownwardAPISource,
    EmptyDirSource,
    HostPathSource,
    Pod,
    ProjectedSource,
    ResourceFieldSelector,
    Volume,
)
from minikubelet.node.mounts import Mount, container_mounts, env_name
from minikubelet.runtime import atomicwriter, volumefs
from minikubelet.runtime.containerenv import resource_value

log = structlog.get_logger("minikubelet.volumes")

VOLUMES_DIR = "_volumes"  # `_` is in no DNS label, so in no container's name
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"  # controller/certificates/rootcacertpublisher
RETRY_INITIAL = 0.5  # the volume manager's exponential backoff: 500 ms doubling
RETRY_MAX = 30.0
EVICTED = "Evicted"
EMPTY_DIR_MESSAGE = 'Usage of EmptyDir volume "{}" exceeds the limit "{}". '  # emptyDirMessageFmt


class PodVolumes:
    """The volumes of one pod. The pod's runner is its only user: `mount_all` before the
    containers, `maintain` while they run, `teardown` when the pod goes. (A little over
    ~250 lines: the three phases share the pod's volume directories and their state.)"""

    def __init__(
        self,
        pod: Callable[[], Pod],
        *,
        settings: Settings,
        events: EventRecorder,
        lookup: Lookup | None,
    ) -> None:
        self._pod = pod  # the runner's current pod: labels and annotations may change
        self.settings = settings
        self.events = events
        self._store: Lookup = lookup or (lambda resource, namespace, name: None)
        p = pod()
        # beside the containers' log directories, under a name no container can have
        pod_dir = settings.state_dir / "pods" / f"{p.namespace}_{p.name}_{p.uid}"
        self.root = pod_dir / VOLUMES_DIR
        self.dirs: dict[str, Path] = {}
        self.mounted = False
        self.torn_down = False
        # no mount namespace: the containers find their volumes through MINIKUBELET_VOLUME_*
        # (the only mode until containers are started in a mount namespace with `mounts`)
        self.host_mode = True
        self._changed = asyncio.Event()
        self._warned: set[tuple[str, str]] = set()
        self._metadata = (dict(p.labels), dict(p.annotations))  # what the projections saw
        self._log = log.bind(pod=f"{p.namespace}/{p.name}")

    @property
    def pod(self) -> Pod:
        return self._pod()

    # --- what they are -------------------------------------------------------------------

    def lookup(self, resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The store's objects, and the `kube-root-ca.crt` ConfigMap the root CA publisher
        puts in every namespace (what a `kube-api-access-*` volume projects as ca.crt)."""
        found = self._store(resource, namespace, name)
        if found is None and (resource, name) == ("configmaps", ROOT_CA_CONFIGMAP):
            return {"data": {"ca.crt": self.settings.service_account_ca}}
        return found

    @property
    def used(self) -> list[Volume]:
        """The volumes some container mounts (the ones the volume manager waits for)."""
        names = {m.name for c in self.pod.spec.all_containers() for m in c.volume_mounts}
        return [v for v in self.pod.spec.volumes if v.name in names]

    def path(self, volume: Volume) -> Path:
        source = volume.source
        if isinstance(source, HostPathSource):
            return Path(source.path)
        if isinstance(source, ClaimSource):
            return claim_dir(self.settings.state_dir, self.pod.namespace, source.claim_name)
        if (
            isinstance(source, EmptyDirSource)
            and source.medium == "Memory"
            and volumefs.SHM.is_dir()
        ):
            return volumefs.memory_dir(self.pod.uid, volume.name)  # else (macOS) on disk
        return self.root / volume.name

    @property
    def read_only(self) -> frozenset[str]:
        return frozenset(
            v.name for v in self.pod.spec.volumes
            if projection.is_projection(v.source)
            or (isinstance(v.source, ClaimSource) and v.source.read_only)
        )  # fmt: skip

    def env(self, container: Container) -> dict[str, str]:
        """Host mode: `MINIKUBELET_VOLUME_<NAME>` for each volume the container mounts."""
        if not self.host_mode:
            return {}
        out = {}
        for m in container.volume_mounts:
            if m.name in self.dirs:
                out[env_name(m.name)] = str(self.dirs[m.name])
        return out

    async def mounts(self, container: Container, env: Mapping[str, str]) -> list[Mount]:
        """`container_mounts` off the loop; raises MountError."""
        dirs = dict(self.dirs)
        return await asyncio.to_thread(container_mounts, container, dirs, env, self.read_only)

    def warn_host_mode(self, container: Container, mounts: Sequence[Mount]) -> None:
        """Once per mount: in host mode the files are not at their mountPath."""
        if not self.host_mode:
            return
        for m, spec_mount in zip(mounts, container.volume_mounts, strict=True):
            key = (container.name, m.target)
            if key in self._warned:
                continue
            self._warned.add(key)
            self._log.warning(
                "volume not at its mountPath",
                container=container.name,
                mount_path=m.target,
                files=m.source,
                variable=env_name(spec_mount.name),
                message=f"no mount namespace here: the files of {m.target} are in {m.source}; "
                f"the container finds that path in ${env_name(spec_mount.name)}",
            )

    # --- setting up ----------------------------------------------------------------------

    def pod_changed(self) -> None:
        """The pod's labels or annotations may have changed: a downwardAPI file of them is
        written again (downwardapi.go: the kubelet's sync updates it)."""
        pod = self.pod
        metadata = (dict(pod.labels), dict(pod.annotations))
        if metadata != self._metadata and any(
            isinstance(v.source, DownwardAPISource | ProjectedSource) for v in self.used
        ):
            self._metadata = metadata
            self._changed.set()

    def notify(self, resource: str, namespace: str, name: str) -> None:
        """A ConfigMap, Secret or PersistentVolumeClaim changed in the store."""
        if namespace != self.pod.namespace:
            return
        for v in self.pod.spec.volumes:
            if (resource, name) in projection.referenced_objects(v.source) or (
                resource == "persistentvolumeclaims"
                and isinstance(v.source, ClaimSource)
                and v.source.claim_name == name
            ):
                self._changed.set()
                return

    async def mount_all(self) -> bool:
        """Sets up every used volume, trying again until all are; True when they are."""
        delay = RETRY_INITIAL
        while True:
            self._changed.clear()
            failures = await self._set_up(self.used, fresh=not self.dirs)
            if not failures:
                self.mounted = True
                return True
            for message in failures:
                self.events.record(self.pod, reason="FailedMount", message=message,
                                   type=ev.WARNING)  # fmt: skip
                self._log.warning("volume setup failed", message=message)
            try:
                async with asyncio.timeout(delay):
                    await self._changed.wait()
            except TimeoutError:
                delay = min(delay * 2, RETRY_MAX)

    async def _set_up(self, volumes: Sequence[Volume], *, fresh: bool) -> list[str]:
        """Each volume's directory; the FailedMount messages of those that failed."""
        failures = []
        if fresh:
            await asyncio.to_thread(self._fresh_root)
        for volume in volumes:
            error = await self._set_up_one(volume)
            if error is not None:
                failures.append(error)
        return failures

    def _fresh_root(self) -> None:
        """The emptyDirs start empty: what an earlier run of the same pod (same UID) left is
        removed."""
        volumefs.remove_tree(self.root)
        volumefs.remove_tree(volumefs.memory_root(self.pod.uid))
        self.root.mkdir(parents=True, exist_ok=True)

    async def _set_up_one(self, volume: Volume) -> str | None:
        source, path = volume.source, self.path(volume)
        setup = f'MountVolume.SetUp failed for volume "{volume.name}" : '
        if isinstance(source, ClaimSource):
            problem = self._claim_problem(source.claim_name)
            if problem is not None:
                return problem
        if projection.is_projection(source):
            try:
                files = projection.payload(
                    source, self.pod, self.lookup, resource_value=self._resource_value,
                    token=self._token(),
                )  # fmt: skip
            except projection.ProjectionError as e:
                return setup + str(e)
            error = await asyncio.to_thread(_write, path, files)
        elif isinstance(source, HostPathSource):
            error = await asyncio.to_thread(volumefs.check_host_path, source.path, source.type)
        else:
            error = await asyncio.to_thread(_make_dir, path, volume.name not in self.dirs
                                            and not isinstance(source, ClaimSource))  # fmt: skip
        if error is not None:
            return setup + error
        self.dirs[volume.name] = path
        return None

    def _claim_problem(self, claim: str) -> str | None:
        """desired_state_of_world_populator.go getPVCExtractPV: the claim must exist and be
        bound (the local provisioner binds every claim)."""
        ns = self.pod.namespace
        obj = self.lookup("persistentvolumeclaims", ns, claim)
        prefix = f"error processing PVC {ns}/{claim}: "
        if obj is None:
            return (prefix + "failed to fetch PVC from API server: persistentvolumeclaims "
                    f'"{claim}" not found')  # fmt: skip
        if (obj.get("status") or {}).get("phase") != "Bound":
            return prefix + "PVC is not bound"
        return None

    def _resource_value(self, ref: ResourceFieldSelector) -> str:
        target = next(
            (c for c in self.pod.spec.all_containers() if c.name == ref.container_name),
            self.pod.spec.containers[0],
        )
        return resource_value(self.pod, target, ref.resource, ref.divisor)

    def _token(self) -> str:
        return service_account_token(self.pod, self.settings.service_account_token)

    # --- while the pod runs ----------------------------------------------------------------

    async def maintain(self, evict: Callable[[str], None]) -> None:
        """Writes the projections again when what they read changes (not the emptyDirs, the
        claims or the host paths); measures the emptyDirs that have a sizeLimit. Runs until
        cancelled, or until it has evicted the pod."""
        limited = [
            v for v in self.used
            if isinstance(v.source, EmptyDirSource) and v.source.size_limit is not None
            and v.source.size_limit.value > 0
        ]  # fmt: skip
        interval = self.settings.volume_usage_interval
        projections = [v for v in self.used if projection.is_projection(v.source)]
        while True:
            try:
                async with asyncio.timeout(interval if limited else None):
                    await self._changed.wait()
            except TimeoutError:
                pass
            if self._changed.is_set():
                self._changed.clear()
                for message in await self._set_up(projections, fresh=False):
                    self.events.record(self.pod, reason="FailedMount", message=message,
                                       type=ev.WARNING)  # fmt: skip
            over = await self._over_limit(limited)
            if over is not None:
                evict(over)
                return

    async def _over_limit(self, volumes: Sequence[Volume]) -> str | None:
        """eviction_manager.go emptyDirLimitEviction: the eviction message, or None."""
        for v in volumes:
            assert isinstance(v.source, EmptyDirSource)
            assert v.source.size_limit is not None
            path = self.dirs.get(v.name)
            if path is None:
                continue
            used = await asyncio.to_thread(volumefs.disk_usage, path)
            if used > v.source.size_limit.value:
                self._log.warning("emptyDir over its size limit", volume=v.name, used=used)
                return EMPTY_DIR_MESSAGE.format(v.name, v.source.size_limit.text)
        return None

    async def teardown(self) -> None:
        """The pod's own volume directories go (emptyDirs, projections); claims and host
        paths stay."""
        if self.torn_down:
            return
        self.torn_down = True
        await asyncio.to_thread(self._remove)

    def _remove(self) -> None:
        volumefs.remove_tree(self.root)
        volumefs.remove_tree(volumefs.memory_root(self.pod.uid))


def claim_dir(state_dir: Path, namespace: str, claim: str) -> Path:
    """A claim's data: it outlives the pods that mount it and the daemon's runs."""
    return state_dir / "claims" / namespace / claim


def _write(path: Path, files: projection.Payload) -> str | None:
    try:
        atomicwriter.write(path, files)
    except atomicwriter.WriteError as e:
        return str(e)
    except OSError as e:
        return volumefs.go_error("write", e, path)
    return None


def _make_dir(path: Path, fresh: bool) -> str | None:
    try:
        if fresh:
            volumefs.fresh_dir(path)
        else:
            path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return volumefs.go_error("mkdir", e, path)
    return None


def service_account_token(pod: Pod, daemon_token: str) -> str:
    """The token a serviceAccountToken projection holds: the daemon's bearer token when it
    requires one (so the process can call its API as a pod calls the API server), else an
    unsigned token with the claims a real one has (`alg: none`: nothing verifies it)."""
    if daemon_token:
        return daemon_token

    def part(obj: object) -> str:
        raw = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    account = str(pod.manifest.get("spec", {}).get("serviceAccountName") or "default")
    claims = {
        "iss": "https://kubernetes.default.svc.cluster.local",
        "sub": f"system:serviceaccount:{pod.namespace}:{account}",
        "kubernetes.io": {
            "namespace": pod.namespace,
            "pod": {"name": pod.name, "uid": pod.uid},
            "serviceaccount": {"name": account},
        },
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."
