"""The daemon's settings, from the command line; one frozen value passed down to every pod."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from minikubelet.core import envvars
from minikubelet.core.images import ImageOverlay


def default_state_dir() -> Path:
    """Per user: $XDG_STATE_HOME/minikubelet, else ~/.local/state/minikubelet."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "minikubelet"


def default_node_name() -> str:
    return socket.gethostname().split(".")[0].lower() or "localhost"


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    state_dir: Path = field(default_factory=default_state_dir)
    node_name: str = field(default_factory=default_node_name)
    backoff_initial: float = 10.0  # kubelet: initialCrashLoopBackOff
    backoff_max: float = 300.0  # kubelet: MaxContainerBackOff
    log_max_bytes: int = 10 * 1024 * 1024  # kubelet: containerLogMaxSize 10Mi
    log_max_files: int = 5  # kubelet: containerLogMaxFiles
    echo_logs: bool = True
    echo_probe_logs: bool = False  # echo a container's access-log lines of its HTTP probes
    base_env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    daemon_started_at: float = 0.0
    memory_poll_interval: float = 0.05
    # the `kubernetes` Service's variables, which the kubelet gives every container; here
    # they point at minikubelet's own API (set by the daemon once it listens)
    service_env: Mapping[str, str] = field(default_factory=dict)
    # what images run: `--image` flags, the local file, the built-in base images
    images: ImageOverlay = field(default_factory=ImageOverlay)
    # how often an emptyDir with a sizeLimit is measured (the eviction manager's monitoring
    # period is 10 s)
    volume_usage_interval: float = 10.0
    # what a serviceAccountToken projection holds: the daemon's bearer token, if it has one
    service_account_token: str = ""
    # the `ca.crt` of the kube-root-ca.crt ConfigMap every namespace has: the serving
    # certificate with TLS, else empty
    service_account_ca: str = ""
    # where volumes are (--volumes, `auto` resolved at start): "namespace", each container
    # with volume mounts in a mount namespace of its own with them at their mountPath
    # (runtime/mountns.py, its scratch dirs under mount_dir); "host", directories named in
    # MINIKUBELET_VOLUME_<NAME>
    volume_mode: str = "host"

    @property
    def mount_dir(self) -> Path:
        return self.state_dir / "mountns"


def kubernetes_service_env(host: str, port: int) -> dict[str, str]:
    """kubelet: envvars.FromServices for the `kubernetes` Service in the default namespace."""
    return envvars.from_service("kubernetes", host, [{"name": "https", "port": port}])
