"""Desired state: a defaulted, validated v1 Pod as frozen dataclasses.

Only `manifest.py` builds these, from untrusted YAML; everything past it reads them and never
sees a raw dict. Field names are the API's in snake_case; enum values are the API's strings.
Defaults here are the API server's (`pkg/apis/core/v1/defaults.go`), so a dataclass built with
only the required fields is already a defaulted object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class RestartPolicy(StrEnum):
    ALWAYS = "Always"
    ON_FAILURE = "OnFailure"
    NEVER = "Never"


class ProbeType(StrEnum):
    """Printed as the kubelet prints probe types in events and metrics."""

    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A resource quantity: the text as written (`128Mi`) and its exact value (134217728)."""

    text: str
    value: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecAction:
    command: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPHeader:
    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPGetAction:
    port: int | str  # a number, or the name of one of the container's ports
    path: str = "/"
    host: str = ""  # empty: the pod IP, which is 127.0.0.1 here
    scheme: str = "HTTP"
    http_headers: tuple[HTTPHeader, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class TCPSocketAction:
    port: int | str
    host: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class GRPCAction:
    port: int
    service: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SleepAction:
    seconds: int


Handler = ExecAction | HTTPGetAction | TCPSocketAction | GRPCAction | SleepAction


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    handler: Handler
    initial_delay_seconds: int = 0
    timeout_seconds: int = 1
    period_seconds: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifecycle:
    post_start: Handler | None = None
    pre_stop: Handler | None = None
    stop_signal: str | None = None  # e.g. "SIGUSR1"; None: SIGTERM


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    container_port: int
    name: str = ""
    protocol: str = "TCP"
    host_port: int = 0
    host_ip: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectFieldSelector:
    field_path: str  # e.g. "metadata.name", "metadata.labels['app']"
    api_version: str = "v1"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceFieldSelector:
    resource: str  # e.g. "limits.memory"
    container_name: str = ""
    divisor: Quantity = field(default_factory=lambda: Quantity("1", Decimal(1)))


@dataclass(frozen=True, slots=True, kw_only=True)
class KeySelector:
    """configMapKeyRef / secretKeyRef."""

    name: str
    key: str
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvVar:
    name: str
    value: str = ""
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: KeySelector | None = None
    secret_key_ref: KeySelector | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvFromSource:
    """envFrom[]: every key of a ConfigMap (`kind` "ConfigMap") or Secret, prefixed."""

    kind: str
    name: str
    prefix: str = ""
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Resources:
    requests: Mapping[str, Quantity] = field(default_factory=dict)
    limits: Mapping[str, Quantity] = field(default_factory=dict)


# --- volumes (v1 Volume, VolumeMount) ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyToPath:
    """An `items[]` entry of a configMap or secret source: one key written at `path`."""

    key: str
    path: str
    mode: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DownwardAPIFile:
    path: str
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmptyDirSource:
    medium: str = ""  # "" (the node's disk) or "Memory" (a tmpfs)
    size_limit: Quantity | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HostPathSource:
    path: str
    type: str = ""  # "" (no check), DirectoryOrCreate, Directory, FileOrCreate, File, ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectSource:
    """A configMap or secret volume, or one of a projected volume's sources (`kind` is
    "ConfigMap" or "Secret"); `default_mode` is None inside a projection (the projection's)."""

    kind: str
    name: str
    items: tuple[KeyToPath, ...] = ()
    default_mode: int | None = 0o644
    optional: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DownwardAPISource:
    items: tuple[DownwardAPIFile, ...] = ()
    default_mode: int | None = 0o644


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceAccountTokenSource:
    path: str
    audience: str = ""
    expiration_seconds: int = 3600


ProjectionSource = ObjectSource | DownwardAPISource | ServiceAccountTokenSource


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectedSource:
    sources: tuple[ProjectionSource, ...] = ()
    default_mode: int = 0o644


@dataclass(frozen=True, slots=True, kw_only=True)
class ClaimSource:
    claim_name: str
    read_only: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NonLocalSource:
    """A source with no local meaning (nfs, csi, awsElasticBlockStore, ...): an empty dir."""

    field: str  # its key in the API, e.g. "nfs"


VolumeSource = (
    EmptyDirSource
    | HostPathSource
    | ObjectSource
    | DownwardAPISource
    | ProjectedSource
    | ClaimSource
    | NonLocalSource
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    name: str
    source: VolumeSource


@dataclass(frozen=True, slots=True, kw_only=True)
class VolumeMount:
    name: str
    mount_path: str
    read_only: bool = False
    sub_path: str = ""
    sub_path_expr: str = ""
    mount_propagation: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    name: str
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    working_dir: str = ""
    env: tuple[EnvVar, ...] = ()
    env_from: tuple[EnvFromSource, ...] = ()
    ports: tuple[ContainerPort, ...] = ()
    resources: Resources = field(default_factory=Resources)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    # Container-level restartPolicy: only "Always", only on init containers (a sidecar).
    restart_policy: str | None = None
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    image_pull_policy: str = "IfNotPresent"
    # stdin: the process's stdin is a pipe that `kubectl attach` writes to (else /dev/null);
    # stdin_once: closed when the first attached client detaches
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False  # its process runs on a terminal (`kubectl attach -t`)
    volume_mounts: tuple[VolumeMount, ...] = ()
    # an ephemeral container's (pods/ephemeralcontainers): the container whose namespaces it
    # shares; "" for every other container
    target_container_name: str = ""

    @property
    def is_sidecar(self) -> bool:
        return self.restart_policy == "Always"

    @property
    def argv(self) -> tuple[str, ...]:
        """command + args; with no command the args are the whole command line, as an image
        with no ENTRYPOINT runs them (before `$(VAR)` expansion)."""
        return self.command + self.args

    @property
    def memory_limit_bytes(self) -> int | None:
        limit = self.resources.limits.get("memory")
        return int(limit.value) if limit is not None and limit.value > 0 else None

    def probe(self, probe_type: ProbeType) -> Probe | None:
        return {
            ProbeType.LIVENESS: self.liveness_probe,
            ProbeType.READINESS: self.readiness_probe,
            ProbeType.STARTUP: self.startup_probe,
        }[probe_type]


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSpec:
    containers: tuple[Container, ...]
    init_containers: tuple[Container, ...] = ()
    restart_policy: RestartPolicy = RestartPolicy.ALWAYS
    termination_grace_period_seconds: int = 30
    active_deadline_seconds: int | None = None
    node_name: str = ""
    readiness_gates: tuple[str, ...] = ()  # condition types
    volumes: tuple[Volume, ...] = ()
    # added only through pods/ephemeralcontainers: each run once, never restarted or probed
    ephemeral_containers: tuple[Container, ...] = ()

    def volume(self, name: str) -> Volume | None:
        return next((v for v in self.volumes if v.name == name), None)

    def all_containers(self) -> tuple[Container, ...]:
        return self.init_containers + self.containers


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    name: str
    namespace: str = "default"
    uid: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    spec: PodSpec
    # The defaulted object in the API's spelling ({"apiVersion", "kind", "metadata", "spec"}),
    # served back as it is; status is computed, never stored here.
    manifest: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""  # the file it came from, "-" for stdin, "api" for kubectl create

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.name)

    @property
    def full_name(self) -> str:
        """`format.Pod`: name_namespace(uid), as the kubelet writes it in messages."""
        return f"{self.name}_{self.namespace}({self.uid})"
